/**
 * Who may do what through the API, as a pure rule over (role, method, route template). Roles:
 *  - admin: everything (connections, mappings, tokens, audit, secrets);
 *  - operator: read everything, retry jobs, re-sync, backfill;
 *  - viewer: read everything except tokens and the audit log;
 *  - host: the record API and the change feed only, optionally limited to some scopes.
 */

export const ROLES = ['admin', 'operator', 'viewer', 'host'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  id: string;
  name: string;
  role: Role;
  /** host tokens: the scopes they may touch (empty: all). */
  scopes: string[];
}

const ADMIN_ONLY = [/^\/api\/v1\/tokens/, /^\/api\/v1\/audit/];
const OPERATOR_WRITES = [
  /^\/api\/v1\/jobs\/(:id\/retry|retry-dead)$/,
  /^\/api\/v1\/sync$/,
  /^\/api\/v1\/backfill$/,
  /^\/api\/v1\/connections\/:id\/check$/,
];
const HOST_ROUTES = [/^\/api\/v1\/records(\/|$)/, /^\/api\/v1\/changes$/];

export type Decision = { ok: true } | { ok: false; reason: string };

/**
 * `route` is the route template (`/api/v1/records/:scope/:hostId`); `scope` the record scope the
 * request names (path parameter or `?scope=`), if any.
 */
export function authorize(p: Principal, method: string, route: string, scope?: string | undefined): Decision {
  const read = method === 'GET' || method === 'HEAD';
  if (p.role === 'admin') return { ok: true };
  // Who am I: every token may ask (the console shows what the role allows).
  if (read && route === '/api/v1/me') return { ok: true };
  if (ADMIN_ONLY.some((r) => r.test(route))) return { ok: false, reason: `${route} is for admin tokens only` };
  if (p.role === 'viewer') return read ? { ok: true } : { ok: false, reason: 'viewer tokens are read-only' };
  if (p.role === 'operator') {
    if (read || OPERATOR_WRITES.some((r) => r.test(route))) return { ok: true };
    return {
      ok: false,
      reason: 'operator tokens may read, retry, re-sync and backfill; changing configuration needs an admin token',
    };
  }
  // host
  if (!HOST_ROUTES.some((r) => r.test(route))) {
    return { ok: false, reason: 'host tokens may use the record API and the change feed only' };
  }
  if (p.scopes.length) {
    if (scope === undefined)
      return { ok: false, reason: `this token is limited to scopes ${p.scopes.join(', ')}: name one` };
    if (!p.scopes.includes(scope)) return { ok: false, reason: `this token may not use scope "${scope}"` };
  }
  return { ok: true };
}
