import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { authorize, isAccess, type Access, type Principal } from '../core/access.js';
import { AppError } from '../core/errors.js';
import { RejectLimiter } from '../webhooks/reject-limiter.js';

/** How the HTTP layer authenticates API callers (the composition root's token service). */
export interface ApiAuth {
  /** False while the API is open (no token exists yet). */
  enforced(): Promise<boolean>;
  verify(token: string): Promise<Principal | null>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route (src/core/access.ts). A route without it refuses everyone. */
    access?: Access;
  }
  interface FastifyRequest {
    /** The authenticated caller of an /api/v1 route (null while the API is open). */
    principal: Principal | null;
  }
}

/** Who did it, for the audit log. */
export const actorOf = (req: FastifyRequest): string =>
  req.principal ? `${req.principal.role}:${req.principal.name}` : 'anonymous (open API)';

/** Failed bearer tokens allowed per client address and minute before it is answered 429. */
export const AUTH_FAILURE_LIMIT = 20;
export const AUTH_FAILURE_WINDOW_MS = 60_000;

/** Shorthands for route options: `config: access.admin`, `config: access.read.andHost`, … */
export const PUBLIC: { access: Access } = { access: { allow: 'public' } };
export const ANY_TOKEN: { access: Access } = { access: { allow: 'any' } };
export const READ: { access: Access } = { access: { allow: 'read' } };
export const READ_OR_HOST: { access: Access } = { access: { allow: 'read', host: true } };
export const OPERATE: { access: Access } = { access: { allow: 'operate' } };
/** Operators, and host tokens within their scopes where the handler finds the scope (see scopeDecision). */
export const OPERATE_OR_HOST_IN_HANDLER: { access: Access } = { access: { allow: 'operate', host: 'handler' } };
export const ADMIN: { access: Access } = { access: { allow: 'admin' } };
export const ADMIN_OR_HOST: { access: Access } = { access: { allow: 'admin', host: true } };

/** The declaration of a route as registered (what the access hook will read for it). */
export const accessOf = (route: Pick<RouteOptions, 'config'>): Access | undefined =>
  (route.config as { access?: Access } | undefined)?.access;

/**
 * Access by declaration, default deny. Each route declares in its own options who may call it
 * (`config: { access }`, see src/core/access.ts); this one hook decides from the route the router
 * *matched* — whatever spelling of the path got there — never from the URL's text. A matched
 * route with no (or a malformed) declaration refuses everyone, token or not. Unmatched paths go on
 * to the 404 handler, which answers nothing but "no such route".
 *
 * Tokens: `Authorization: Bearer <token>`; the role rule is the pure `authorize` of
 * src/core/access.ts. While the API is open (no token exists yet) every declared route is open.
 *
 * Guessing is slowed per client address (`req.ip`: the forwarded client with `server.trust_proxy`):
 * after `AUTH_FAILURE_LIMIT` unknown tokens in a minute, that address is answered 429 (with
 * Retry-After) before any token is looked at, until the minute is over. A request without a token
 * is not a guess and does not count; other addresses are not affected.
 */
export function installAuth(
  app: FastifyInstance,
  auth: ApiAuth,
  failures: RejectLimiter = new RejectLimiter(AUTH_FAILURE_LIMIT, AUTH_FAILURE_WINDOW_MS),
): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (req) => {
    if (req.is404) return;
    const access = req.routeOptions.config.access;
    const route = req.routeOptions.url ?? '(unmatched)';
    if (!isAccess(access)) {
      throw new AppError(
        'FORBIDDEN',
        `${req.method} ${route} declares no access, so no one may call it (a bug in jira-bridge: please report it)`,
      );
    }
    if (access.allow === 'public') return;
    if (!(await auth.enforced())) return;
    const header = req.headers.authorization;
    const token = typeof header === 'string' && /^bearer /i.test(header) ? header.slice(7).trim() : undefined;
    if (!token) throw new AppError('UNAUTHENTICATED', 'Send an API token as "Authorization: Bearer <token>"');
    const wait = failures.blockedFor(req.ip);
    if (wait > 0) {
      throw new AppError(
        'RATE_LIMITED',
        `Too many failed sign-ins from this address (${AUTH_FAILURE_LIMIT} unknown API tokens in a minute): wait ${Math.ceil(wait / 1000)} s, then sign in with a valid API token (an admin creates one with POST /api/v1/tokens)`,
        { retryAfterMs: wait },
      );
    }
    const p = await auth.verify(token);
    if (!p) {
      failures.reject(req.ip);
      throw new AppError('UNAUTHENTICATED', 'The API token is unknown, revoked or expired; ask an admin for a new one');
    }
    const params = (req.params ?? {}) as Record<string, unknown>;
    const query = (req.query ?? {}) as Record<string, unknown>;
    const d = authorize(p, access, params.scope !== undefined ? params.scope : query.scope);
    if (!d.ok)
      throw new AppError('FORBIDDEN', `Token "${p.name}" (${p.role}) may not ${req.method} ${route}: ${d.reason}`);
    req.principal = p;
  });
}
