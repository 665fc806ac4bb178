import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, forbidden, JiraError, notFound } from '../errors.js';
import { JqlError } from '../jql/types.js';
import type { SandboxUser } from '../model.js';
import { jiraTime } from '../render/context.js';
import { APP_WEBHOOK_TTL_MS } from '../webhooks/dispatcher.js';
import type { WebhookInput, WebhookRegistration } from '../webhooks/types.js';
import { actor, api, baseUrlOf, bodyObject, intParam, params, query, route, type SandboxDeps } from './context.js';

const ADMIN_BASE = '/rest/webhooks/1.0/webhook';
const JQL_SECTION = 'issue-related-events-section';
const APP_EVENTS = new Set([
  'jira:issue_created',
  'jira:issue_updated',
  'jira:issue_deleted',
  'comment_created',
  'comment_updated',
  'comment_deleted',
  'issue_property_set',
  'issue_property_deleted',
]);
const MAX_APP_WEBHOOKS_PER_CALL = 100;

function requireAdmin(req: FastifyRequest): SandboxUser {
  const user = actor(req);
  if (!user.admin) throw forbidden('Only Jira administrators can manage webhooks.');
  return user;
}

/** Dispatcher validation errors (TypeError/RangeError/JqlError) → Jira's 400. */
function asJiraError(err: unknown): unknown {
  if (err instanceof JqlError || err instanceof TypeError || err instanceof RangeError) return badRequest(err.message);
  return err;
}

/** Admin webhooks (/rest/webhooks/1.0/webhook) and, on Cloud, app webhooks (/rest/api/3/webhook). */
export function registerWebhookRoutes(app: FastifyInstance, deps: SandboxDeps): void {
  const { webhooks, flavour, state } = deps;

  const renderAdmin = (req: FastifyRequest, r: WebhookRegistration): Record<string, unknown> => {
    const editor = state.user(state.adminAccountId);
    return {
      name: r.name,
      url: r.url,
      events: r.events,
      filters: { [JQL_SECTION]: r.jqlFilter ?? '' },
      excludeBody: r.excludeBody,
      enabled: r.enabled,
      ...(r.description !== undefined ? { description: r.description } : {}),
      self: `${baseUrlOf(req)}${ADMIN_BASE}/${r.id}`,
      lastUpdated: r.updatedAt,
      lastUpdatedUser: flavour === 'cloud' ? editor?.accountId : editor?.key,
      lastUpdatedDisplayName: editor?.displayName,
      lastUpdatedDate: jiraTime(r.updatedAt),
    };
  };

  const adminInput = (b: Record<string, unknown>, partial: boolean): Partial<WebhookInput> => {
    const filters = typeof b.filters === 'object' && b.filters !== null ? (b.filters as Record<string, unknown>) : {};
    const jql = filters[JQL_SECTION] ?? b.jqlFilter;
    const input: Partial<WebhookInput> = {};
    if (typeof b.name === 'string') input.name = b.name;
    else if (!partial) throw badRequest([], { name: 'A webhook name is required.' });
    if (typeof b.url === 'string') input.url = b.url;
    if (Array.isArray(b.events)) input.events = b.events.map(String);
    if (typeof jql === 'string') input.jqlFilter = jql;
    if (typeof b.secret === 'string') input.secret = b.secret;
    if (typeof b.excludeBody === 'boolean') input.excludeBody = b.excludeBody;
    if (typeof b.enabled === 'boolean') input.enabled = b.enabled;
    if (typeof b.description === 'string') input.description = b.description;
    return input;
  };

  const adminId = (req: FastifyRequest): number => {
    const id = Number(params(req).id);
    const reg = Number.isInteger(id) ? webhooks.get(id) : undefined;
    if (!reg || reg.expiresAt !== undefined) throw notFound(`Webhook with id '${params(req).id}' does not exist.`);
    return id;
  };

  route(app, deps, 'GET', ADMIN_BASE, (req) => {
    requireAdmin(req);
    return webhooks
      .list()
      .filter((r) => r.expiresAt === undefined)
      .map((r) => renderAdmin(req, r));
  });

  route(app, deps, 'POST', ADMIN_BASE, (req, reply) => {
    requireAdmin(req);
    try {
      const reg = webhooks.register(adminInput(bodyObject(req), false) as WebhookInput);
      return reply.status(201).send(renderAdmin(req, reg));
    } catch (err) {
      throw asJiraError(err);
    }
  });

  route(app, deps, 'GET', `${ADMIN_BASE}/:id`, (req) => {
    requireAdmin(req);
    return renderAdmin(req, webhooks.get(adminId(req)) as WebhookRegistration);
  });

  route(app, deps, 'PUT', `${ADMIN_BASE}/:id`, (req) => {
    requireAdmin(req);
    const id = adminId(req);
    try {
      return renderAdmin(req, webhooks.update(id, adminInput(bodyObject(req), true)) as WebhookRegistration);
    } catch (err) {
      throw asJiraError(err);
    }
  });

  route(app, deps, 'DELETE', `${ADMIN_BASE}/:id`, (req, reply) => {
    requireAdmin(req);
    webhooks.remove(adminId(req));
    return reply.status(204).send();
  });

  if (flavour !== 'cloud') return;

  // --- app (dynamic) webhooks: OAuth 2.0 / Connect apps only ------------------------------------
  const appCaller = (req: FastifyRequest): SandboxUser => {
    const user = actor(req);
    if (req.jiraAuthScheme !== 'bearer') throw forbidden('Only Connect and OAuth 2.0 apps can use this operation.');
    return user;
  };

  const webhookIds = (req: FastifyRequest): number[] => {
    const ids = bodyObject(req).webhookIds;
    if (!Array.isArray(ids) || ids.length === 0 || ids.some((x) => !Number.isInteger(Number(x)))) {
      throw badRequest('webhookIds must be a non-empty list of webhook ids.');
    }
    return ids.map(Number);
  };

  api(app, deps, 'POST', '/webhook', (req) => {
    const user = appCaller(req);
    const b = bodyObject(req);
    if (typeof b.url !== 'string') throw badRequest([], { url: 'The webhook url is required.' });
    if (!Array.isArray(b.webhooks) || b.webhooks.length === 0)
      throw badRequest([], { webhooks: 'At least one webhook is required.' });
    if (b.webhooks.length > MAX_APP_WEBHOOKS_PER_CALL)
      throw badRequest(`At most ${MAX_APP_WEBHOOKS_PER_CALL} webhooks can be registered in one call.`);
    const result = b.webhooks.map((w: unknown) => {
      const d = (typeof w === 'object' && w !== null ? w : {}) as Record<string, unknown>;
      const events = Array.isArray(d.events) ? d.events.map(String) : [];
      const bad = events.filter((e) => !APP_EVENTS.has(e));
      if (events.length === 0) return { errors: ['The webhook must have at least one event.'] };
      if (bad.length > 0) return { errors: [`Unsupported event(s): ${bad.join(', ')}.`] };
      if (typeof d.jqlFilter !== 'string' || d.jqlFilter.trim() === '')
        return { errors: ['The jqlFilter is required.'] };
      try {
        const reg = webhooks.register({
          url: b.url as string,
          events,
          jqlFilter: d.jqlFilter,
          owner: user.accountId,
          expiresAt: state.now() + APP_WEBHOOK_TTL_MS,
        });
        return { createdWebhookId: reg.id };
      } catch (err) {
        if (err instanceof JqlError || err instanceof TypeError) return { errors: [err.message] };
        throw err;
      }
    });
    return { webhookRegistrationResult: result };
  });

  api(app, deps, 'GET', '/webhook', (req) => {
    const user = appCaller(req);
    const q = query(req);
    const startAt = intParam(q.startAt, 0, 'startAt');
    const maxResults = intParam(q.maxResults, 100, 'maxResults', 1, 100);
    const mine = webhooks.list().filter((r) => r.owner === user.accountId && r.expiresAt !== undefined);
    const page = mine.slice(startAt, startAt + maxResults);
    return {
      startAt,
      maxResults,
      total: mine.length,
      isLast: startAt + page.length >= mine.length,
      values: page.map((r) => ({
        id: r.id,
        url: r.url,
        jqlFilter: r.jqlFilter ?? '',
        events: r.events,
        expirationDate: r.expiresAt,
      })),
    };
  });

  api(app, deps, 'DELETE', '/webhook', (req, reply) => {
    const user = appCaller(req);
    for (const id of webhookIds(req)) if (webhooks.get(id)?.owner === user.accountId) webhooks.remove(id);
    return reply.status(202).send();
  });

  api(app, deps, 'PUT', '/webhook/refresh', (req) => {
    const user = appCaller(req);
    const ids = webhookIds(req).filter((id) => webhooks.get(id)?.owner === user.accountId);
    if (ids.length === 0) throw new JiraError(400, ['None of the given webhooks belong to this app.']);
    return webhooks.refresh(ids);
  });
}
