import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authorize, type Principal } from '../core/access.js';
import { AppError } from '../core/errors.js';

/** How the HTTP layer authenticates API callers (the composition root's token service). */
export interface ApiAuth {
  /** False while the API is open (no token exists yet). */
  enforced(): Promise<boolean>;
  verify(token: string): Promise<Principal | null>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller of an /api/v1 route (null while the API is open). */
    principal: Principal | null;
  }
}

/** Who did it, for the audit log. */
export const actorOf = (req: FastifyRequest): string =>
  req.principal ? `${req.principal.role}:${req.principal.name}` : 'anonymous (open API)';

/**
 * Bearer tokens on every `/api/v1` route (health, metrics, docs and the Jira webhook intake have
 * their own rules). The role rule is the pure `authorize` of src/core/access.ts.
 */
export function installAuth(app: FastifyInstance, auth: ApiAuth): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (req) => {
    if (!req.url.startsWith('/api/v1')) return;
    if (!(await auth.enforced())) return;
    const header = req.headers.authorization;
    const token = typeof header === 'string' && /^bearer /i.test(header) ? header.slice(7).trim() : undefined;
    if (!token) throw new AppError('UNAUTHENTICATED', 'Send an API token as "Authorization: Bearer <token>"');
    const p = await auth.verify(token);
    if (!p)
      throw new AppError('UNAUTHENTICATED', 'The API token is unknown, revoked or expired; ask an admin for a new one');
    const params = (req.params ?? {}) as Record<string, string | undefined>;
    const query = (req.query ?? {}) as Record<string, string | undefined>;
    const route = req.routeOptions.url ?? req.url.split('?')[0]!;
    const d = authorize(p, req.method, route, params.scope ?? query.scope);
    if (!d.ok)
      throw new AppError('FORBIDDEN', `Token "${p.name}" (${p.role}) may not ${req.method} ${route}: ${d.reason}`);
    req.principal = p;
  });
}
