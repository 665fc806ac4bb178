/**
 * The HTTP surface of the sandbox authorization server, on the sandbox's one base URL (Atlassian
 * serves these from auth.atlassian.com and api.atlassian.com):
 *   GET  /authorize                          consent page (or a 400 page: never redirects to an unregistered URI)
 *   POST /authorize                          the consent form: Accept → redirect_uri?code&state, Deny → ?error=access_denied&state
 *   POST /oauth/token                        authorization_code and refresh_token grants (JSON or form body)
 *   GET  /oauth/token/accessible-resources   the sites the access token reaches ([{id: cloudId, url, name, scopes, avatarUrl}])
 *   /ex/jira/{cloudId}/rest/...              the Jira REST API with an issued access token (rewritten to /rest/...)
 * plus control routes under /_sandbox/oauth (apps, settings, counters, expire, revoke).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SandboxUser } from '../model.js';
import type { SandboxState } from '../state.js';
import type { OAuthSettings, SandboxOAuthServer } from './server.js';

export const AUDIENCE = 'api.atlassian.com';

/** Paths of the authorization server: exempt from the Jira REST hooks (they authenticate themselves). */
export function isOAuthPath(path: string): boolean {
  return path === '/authorize' || path === '/oauth/token' || path.startsWith('/oauth/token/');
}

const EX_JIRA = /^\/ex\/jira\/([^/?]+)(\/rest\/.*)$/;

/** Fastify `rewriteUrl`: /ex/jira/{cloudId}/rest/... is served by the /rest/... handlers. */
export function rewriteExJiraUrl(url: string): string {
  const m = EX_JIRA.exec(url);
  return m ? m[2]! : url;
}

/** The cloud id of an /ex/jira URL (as received, before rewriting), or null. */
export function exJiraCloudId(originalUrl: string): string | null {
  const m = EX_JIRA.exec(originalUrl);
  return m ? decodeURIComponent(m[1]!) : null;
}

/**
 * Who calls an /ex/jira URL: only a live access token issued by this server, for this cloud id.
 * 'unknown_site' when the cloud id is not this site's.
 */
export function authenticateExJira(
  oauth: SandboxOAuthServer,
  state: SandboxState,
  cloudId: string,
  header: string | undefined,
): SandboxUser | null | 'unknown_site' {
  if (cloudId !== oauth.cloudId) return 'unknown_site';
  const m = /^bearer\s+(\S+)$/i.exec(header ?? '');
  if (!m) return null;
  const grant = oauth.accessGrant(m[1]!);
  if (!grant) return null;
  const user = state.user(grant.accountId);
  return user?.active ? user : null;
}

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><main><h1>${esc(title)}</h1>${body}</main></body></html>`;
}

function errorPage(reply: FastifyReply, message: string): FastifyReply {
  return reply
    .status(400)
    .type('text/html; charset=utf-8')
    .send(page('Something went wrong', `<p id="error">${esc(message)}</p>`));
}

function fields(req: FastifyRequest): Record<string, unknown> {
  const src = req.method === 'GET' ? req.query : req.body;
  return typeof src === 'object' && src !== null && !Array.isArray(src) ? (src as Record<string, unknown>) : {};
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function withParams(uri: string, params: Record<string, string>): string {
  const u = new URL(uri);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

export function registerOAuthRoutes(
  root: FastifyInstance,
  deps: { oauth: SandboxOAuthServer; state: SandboxState; siteUrl: () => string },
): void {
  const { oauth, state } = deps;

  /** Validates an authorization request; null with a 400 page sent when it is not acceptable. */
  const validated = (req: FastifyRequest, reply: FastifyReply) => {
    const f = fields(req);
    const clientId = str(f.client_id);
    const redirectUri = str(f.redirect_uri);
    const app = clientId ? oauth.app(clientId) : undefined;
    if (!app) {
      void errorPage(reply, `Unknown client_id "${clientId ?? ''}": no app is registered with it.`);
      return null;
    }
    if (!redirectUri || !oauth.redirectAllowed(app, redirectUri)) {
      void errorPage(
        reply,
        `The redirect_uri "${redirectUri ?? ''}" is not registered for the app "${app.name}". Register it as a callback URL.`,
      );
      return null;
    }
    if (req.method === 'GET') {
      if (str(f.audience) !== AUDIENCE) {
        void errorPage(reply, `audience must be ${AUDIENCE}.`);
        return null;
      }
      if (str(f.response_type) !== 'code') {
        void errorPage(reply, 'response_type must be code.');
        return null;
      }
    }
    const scope = str(f.scope)?.trim();
    if (!scope) {
      void errorPage(reply, 'scope is required (e.g. "read:jira-work write:jira-work offline_access").');
      return null;
    }
    const st = str(f.state);
    if (!st) {
      void errorPage(reply, 'state is required (a value your app checks on the callback, against CSRF).');
      return null;
    }
    return { app, redirectUri, scope, state: st };
  };

  void root.register(async (app) => {
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 64 * 1024 },
      (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    );

    app.get('/authorize', (req, reply) => {
      const v = validated(req, reply);
      if (!v) return reply;
      const users = [...state.users.values()].filter((u) => u.active && u.accountType === 'atlassian');
      const options = users
        .map(
          (u) =>
            `<option value="${esc(u.accountId)}"${u.accountId === state.adminAccountId ? ' selected' : ''}>${esc(u.displayName)} (${esc(u.name)})</option>`,
        )
        .join('');
      const hidden = (['client_id', 'redirect_uri', 'scope', 'state'] as const)
        .map((k) => {
          const value = { client_id: v.app.clientId, redirect_uri: v.redirectUri, scope: v.scope, state: v.state }[k];
          return `<input type="hidden" name="${k}" value="${esc(value)}">`;
        })
        .join('');
      const body =
        `<p><strong>${esc(v.app.name)}</strong> is requesting access to your Atlassian account.</p>` +
        `<p>Scopes: <code id="scopes">${esc(v.scope)}</code></p>` +
        `<form method="post" action="/authorize">${hidden}` +
        `<label>Use app on <select name="account_id">${options}</select></label> ` +
        `<button type="submit" name="decision" value="accept">Accept</button> ` +
        `<button type="submit" name="decision" value="deny">Deny</button></form>`;
      return reply.type('text/html; charset=utf-8').send(page('Authorize app', body));
    });

    app.post('/authorize', (req, reply) => {
      const v = validated(req, reply);
      if (!v) return reply;
      const f = fields(req);
      if (f.decision !== 'accept') {
        return reply.redirect(withParams(v.redirectUri, { error: 'access_denied', state: v.state }), 302);
      }
      const accountId = str(f.account_id) ?? state.adminAccountId;
      const user = state.user(accountId);
      if (!user?.active) return errorPage(reply, `No active sandbox user "${accountId}".`);
      const code = oauth.issueCode(v.app.clientId, v.redirectUri, user, v.scope);
      return reply.redirect(withParams(v.redirectUri, { code, state: v.state }), 302);
    });

    app.post('/oauth/token', async (req, reply) => {
      const latency = oauth.getSettings().tokenLatencyMs;
      if (latency > 0) await new Promise((r) => setTimeout(r, latency));
      const b = req.body;
      const body = typeof b === 'object' && b !== null && !Array.isArray(b) ? (b as Record<string, unknown>) : {};
      const result = oauth.tokenGrant(body);
      void reply.header('Cache-Control', 'no-store');
      return reply.status(result.ok ? 200 : result.status).send(result.body);
    });

    app.get('/oauth/token/accessible-resources', (req, reply) => {
      const m = /^bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
      const grant = m ? oauth.accessGrant(m[1]!) : null;
      if (!grant) return reply.status(401).send({ code: 401, message: 'Unauthorized' });
      oauth.counters.accessibleResources++;
      const site = deps.siteUrl();
      return [
        {
          id: oauth.cloudId,
          url: site,
          name: new URL(site).hostname,
          scopes: grant.scope.split(/\s+/).filter((s) => s && s !== 'offline_access'),
          avatarUrl: `${site}/images/site-avatar.png`,
        },
      ];
    });

    // Control API (not part of Atlassian).
    app.get('/_sandbox/oauth', () => ({
      cloudId: oauth.cloudId,
      settings: oauth.getSettings(),
      counters: { ...oauth.counters },
      liveRefreshTokens: oauth.liveRefreshTokens(),
    }));
    app.post('/_sandbox/oauth/settings', (req, reply) => {
      try {
        return oauth.setSettings((req.body ?? {}) as Partial<OAuthSettings>);
      } catch (err) {
        return reply.status(400).send({ errorMessages: [(err as Error).message], errors: {} });
      }
    });
    app.post('/_sandbox/oauth/apps', (req, reply) => {
      const b = (req.body ?? {}) as { redirectUris?: unknown; name?: unknown };
      if (!Array.isArray(b.redirectUris) || !b.redirectUris.every((u) => typeof u === 'string')) {
        return reply.status(400).send({ errorMessages: ['redirectUris must be a list of URLs'], errors: {} });
      }
      return reply.status(201).send(
        oauth.registerApp({
          redirectUris: b.redirectUris as string[],
          ...(typeof b.name === 'string' ? { name: b.name } : {}),
        }),
      );
    });
    app.post('/_sandbox/oauth/expire-access-tokens', () => ({ expired: oauth.expireAccessTokens() }));
    app.post('/_sandbox/oauth/revoke', (req) => {
      const clientId = str((req.body as Record<string, unknown> | undefined)?.client_id);
      return { revoked: oauth.revokeApp(clientId) };
    });
  });
}
