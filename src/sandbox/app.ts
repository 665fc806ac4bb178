import multipart from '@fastify/multipart';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from '../log/logger.js';
import { requiredScopes, SCOPE_MISMATCH_BODY, splitScopes } from '../core/oauth-scopes.js';
import { authenticate } from './auth.js';
import { CallCounter } from './calls.js';
import { JiraError, unauthorized } from './errors.js';
import { SandboxKnobsController, type SandboxKnobs } from './knobs.js';
import type { Flavour } from './model.js';
import { IssueOperations } from './operations.js';
import { registerAttachmentRoutes } from './routes/attachments.js';
import { registerCommentRoutes } from './routes/comments.js';
import { baseUrlOf, rewriteLatestUrl, RouteRegistry, type SandboxDeps } from './routes/context.js';
import { registerControlRoutes } from './routes/control.js';
import { registerIssueLinkRoutes } from './routes/issuelinks.js';
import { registerIssueRoutes } from './routes/issues.js';
import { registerMetaRoutes } from './routes/meta.js';
import { registerPeopleRoutes } from './routes/people.js';
import { registerPropertyRoutes } from './routes/properties.js';
import { registerRemoteLinkRoutes } from './routes/remotelinks.js';
import { registerSearchRoutes } from './routes/search.js';
import { registerServiceDeskRoutes } from './routes/servicedesk.js';
import { registerTransitionRoutes } from './routes/transitions.js';
import { registerWebhookRoutes } from './routes/webhooks.js';
import { seedState, type SeedName } from './seed.js';
import {
  authenticateExJira,
  exJiraCloudId,
  isOAuthPath,
  registerOAuthRoutes,
  rewriteExJiraUrl,
  SandboxOAuthServer,
  type OAuthSettings,
} from './oauth/index.js';
import { applySite, type CompiledSite } from './site.js';
import { SandboxState } from './state.js';
import { WebhookDispatcher } from './webhooks/dispatcher.js';
import { toWebhookEvent } from './webhook-events.js';

export interface SandboxAppOptions {
  flavour?: Flavour;
  seed?: SeedName;
  knobs?: Partial<SandboxKnobs>;
  logger?: Logger;
  /** Attachment size limit in bytes (413 above). Default 10 MiB. */
  maxAttachmentBytes?: number;
  /** Sees every parsed REST request (contract checks of what a client sends, debugging). */
  inspect?: (req: InspectedRequest) => void;
  /** Sees every REST response (status and parsed JSON body) before it is sent. */
  inspectResponse?: (res: InspectedResponse) => void;
  /** A declared site (see site.ts) instead of the seeded one; `seed` is then ignored. */
  site?: CompiledSite;
  /** The OAuth 2.0 (3LO) authorization server: token lifetimes and a fixed cloud id (default random). */
  oauth?: { settings?: Partial<OAuthSettings>; cloudId?: string };
}

export interface InspectedRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  /** The matched route template, e.g. /rest/api/3/issue/:issueIdOrKey. */
  route: string;
  contentType: string | undefined;
  body: unknown;
}

export interface InspectedResponse {
  method: string;
  /** Path and query as requested. */
  url: string;
  route: string;
  status: number;
  /** The JSON body, parsed; undefined when the response is not JSON. */
  body: unknown;
}

export interface SandboxApp {
  app: FastifyInstance;
  flavour: Flavour;
  state: SandboxState;
  ops: IssueOperations;
  knobs: SandboxKnobsController;
  calls: CallCounter;
  webhooks: WebhookDispatcher;
  /** The OAuth 2.0 (3LO) authorization server (auth.atlassian.com / api.atlassian.com). */
  oauth: SandboxOAuthServer;
  /** The base URL webhook bodies use for self links; set once the server listens. */
  setBaseUrl(url: string): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Paths that answer without credentials. */
const ANONYMOUS = [/^\/rest\/api\/[23]\/serverInfo$/];

/** Builds the sandbox's Fastify app (not listening): use app.inject() or listen(). */
export async function createSandboxApp(opts: SandboxAppOptions = {}): Promise<SandboxApp> {
  const flavour = opts.flavour ?? 'cloud';
  let baseUrl = 'http://localhost';
  const state = new SandboxState({
    serverTitle: flavour === 'cloud' ? 'Jira Sandbox (Cloud)' : 'Jira Sandbox (Data Center)',
  });
  if (opts.site) applySite(state, opts.site);
  else seedState(state, opts.seed ?? 'default');
  const knobs = new SandboxKnobsController(opts.knobs ?? {});
  const calls = new CallCounter();
  const webhooks = new WebhookDispatcher({
    flavour,
    baseUrl: () => baseUrl,
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
  const ops = new IssueOperations(state, (event) => {
    void webhooks.emit(toWebhookEvent(state, flavour, baseUrl, event));
  });

  const oauth = new SandboxOAuthServer({
    ...(opts.oauth?.cloudId ? { cloudId: opts.oauth.cloudId } : {}),
    ...(opts.oauth?.settings ? { settings: opts.oauth.settings } : {}),
  });

  // /ex/jira/{cloudId}/rest/... (api.atlassian.com) is served by the /rest/... handlers, and
  // /rest/api/latest/... by those of the newest version.
  const app = Fastify({
    logger: false,
    bodyLimit: 10 * 1024 * 1024,
    rewriteUrl: (req) => rewriteLatestUrl(rewriteExJiraUrl(req.url ?? '/'), flavour),
  });
  app.decorateRequest('jiraUser', null);
  app.decorateRequest('jiraAuthScheme', null);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new JiraError(400, ['Unexpected character in the request body: it is not valid JSON.']), undefined);
    }
  });
  await app.register(multipart, { limits: { fileSize: opts.maxAttachmentBytes ?? 10 * 1024 * 1024, files: 10 } });

  const deps: SandboxDeps = {
    state,
    ops,
    knobs,
    calls,
    webhooks,
    flavour,
    versions: flavour === 'cloud' ? ['2', '3'] : ['2'],
    routes: new RouteRegistry(),
    oauth,
    ...(opts.site ? { site: opts.site } : {}),
  };

  // Realism and auth for the Jira REST surface (the /_sandbox control API is exempt).
  app.addHook('onRequest', async (req, reply) => {
    if (req.url.startsWith('/_sandbox')) return;
    if (isOAuthPath(req.url.split('?')[0] ?? '')) return;
    const delay = knobs.delayMs();
    if (delay > 0) await sleep(delay);
    if (knobs.expiredAuth()) throw unauthorized();
    const injected = knobs.injectedError();
    if (injected !== null)
      throw new JiraError(
        injected,
        ['The service is temporarily unavailable (injected by the sandbox).'],
        {},
        injected === 503 ? { 'Retry-After': '1' } : {},
      );
    const rate = knobs.takeSite();
    for (const [k, v] of Object.entries(rate.headers)) void reply.header(k, v);
    if (!rate.ok) throw new JiraError(429, ['Rate limit exceeded.'], {}, rate.headers);
    const path = req.url.split('?')[0] ?? '';
    const cloudId = exJiraCloudId(req.originalUrl);
    if (cloudId !== null) {
      // Through api.atlassian.com: only access tokens issued by the authorization server.
      const user = authenticateExJira(oauth, state, cloudId, req.headers.authorization);
      if (user === 'unknown_site') throw new JiraError(404, [`No Jira site with cloud id ${cloudId}.`]);
      if (!user) throw unauthorized();
      // OAuth tokens are scoped: the operation's classic scopes (Atlassian's descriptions) must all
      // have been granted, else Atlassian's 401 (basic and PAT are not scoped).
      const needed = requiredScopes(req.method, req.routeOptions.url ?? path);
      if (needed) {
        const token = /^bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
        const granted = new Set(splitScopes(oauth.accessGrant(token)?.scope));
        if (needed.some((s) => !granted.has(s))) return reply.status(401).send(SCOPE_MISMATCH_BODY);
      }
      req.jiraUser = user;
      req.jiraAuthScheme = 'bearer';
      return;
    }
    const auth = authenticate(state, flavour, req.headers.authorization);
    req.jiraUser = auth?.user ?? null;
    req.jiraAuthScheme = auth?.scheme ?? null;
    if (!req.jiraUser && !ANONYMOUS.some((re) => re.test(path))) throw unauthorized();
  });

  if (opts.inspect) {
    const inspect = opts.inspect;
    app.addHook('preHandler', async (req) => {
      if (req.url.startsWith('/_sandbox')) return;
      inspect({
        method: req.method,
        url: req.url,
        route: req.routeOptions.url ?? 'unmatched',
        contentType: req.headers['content-type'],
        body: req.body,
      });
    });
  }

  if (opts.inspectResponse) {
    const inspectResponse = opts.inspectResponse;
    app.addHook('onSend', async (req, reply, payload) => {
      if (req.url.startsWith('/_sandbox')) return payload;
      let body: unknown = undefined;
      if (typeof payload === 'string' && String(reply.getHeader('content-type') ?? '').includes('application/json')) {
        try {
          body = JSON.parse(payload);
        } catch {
          body = undefined;
        }
      }
      inspectResponse({
        method: req.method,
        url: req.url,
        route: req.routeOptions.url ?? 'unmatched',
        status: reply.statusCode,
        body,
      });
      return payload;
    });
  }

  // Per-issue write limit.
  app.addHook('preHandler', async (req, reply) => {
    if (req.method === 'GET' || req.url.startsWith('/_sandbox')) return;
    const key = (req.params as Record<string, string> | undefined)?.issueIdOrKey;
    if (!key) return;
    const issue = state.issue(key);
    if (!issue) return;
    const rate = knobs.takeIssueWrite(issue.id);
    for (const [k, v] of Object.entries(rate.headers)) void reply.header(k, v);
    if (!rate.ok)
      throw new JiraError(429, [`Too many writes to issue ${issue.key}. Try again later.`], {}, rate.headers);
  });

  app.addHook('onResponse', async (req, reply) => {
    if (req.url.startsWith('/_sandbox')) return;
    calls.record(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode);
  });

  app.setErrorHandler((err: FastifyError | JiraError, _req, reply) => {
    if (err instanceof JiraError) {
      void reply.headers(err.headers);
      return reply.status(err.status).send(err.body());
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.code === 'FST_REQ_FILE_TOO_LARGE') {
      return reply.status(413).send({ errorMessages: ['The request entity is too large.'], errors: {} });
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.status(415).send({ errorMessages: ['Unsupported media type.'], errors: {} });
    }
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.status(err.statusCode).send({ errorMessages: [err.message], errors: {} });
    }
    opts.logger?.error({ err }, 'sandbox: internal error');
    return reply.status(500).send({ errorMessages: ['Internal server error'], errors: {} });
  });

  app.setNotFoundHandler((req, reply) => {
    const allowed = deps.routes.allowed(req.url);
    if (allowed.length > 0) {
      return reply
        .status(405)
        .header('Allow', allowed.join(', '))
        .send({ errorMessages: [`Method ${req.method} is not allowed on this resource.`], errors: {} });
    }
    return reply
      .status(404)
      .send({ errorMessages: [`No resource found at ${baseUrlOf(req)}${req.url.split('?')[0] ?? ''}`], errors: {} });
  });

  registerMetaRoutes(app, deps);
  registerIssueRoutes(app, deps);
  registerPeopleRoutes(app, deps);
  registerTransitionRoutes(app, deps);
  registerCommentRoutes(app, deps);
  registerAttachmentRoutes(app, deps);
  registerPropertyRoutes(app, deps);
  registerRemoteLinkRoutes(app, deps);
  registerIssueLinkRoutes(app, deps);
  registerSearchRoutes(app, deps);
  registerServiceDeskRoutes(app, deps);
  registerWebhookRoutes(app, deps);
  registerControlRoutes(app, deps);
  registerOAuthRoutes(app, { oauth, state, siteUrl: () => baseUrl });

  return {
    app,
    flavour,
    state,
    ops,
    knobs,
    calls,
    webhooks,
    oauth,
    setBaseUrl(url: string) {
      baseUrl = url.replace(/\/$/, '');
    },
  };
}
