/**
 * Who may do what through the API. Every route declares its access in its own options
 * (`config: { access }`); the HTTP layer decides from the *matched* route's declaration, never from
 * the URL's text, and a route that declares nothing refuses everyone. Roles:
 *  - admin: everything (connections, mappings, tokens, audit, secrets);
 *  - operator: read everything but tokens and the audit log, retry jobs, re-sync, backfill, check a connection;
 *  - viewer: read everything but tokens and the audit log;
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

/**
 * A route's declaration:
 *  - `public`: no token (probes, the API reference, the console's files, Jira's signed webhook
 *    intake and the OAuth callback, which authenticate themselves);
 *  - `any`: any valid token (who am I);
 *  - `read`: admin, operator, viewer;
 *  - `operate`: admin, operator (retry, re-sync, backfill, connection check);
 *  - `admin`: admin only (configuration, secrets, tokens, audit).
 * `host: true` lets host tokens in too, within their scopes: the request must name a scope (path
 * parameter `scope`, else `?scope=`) the token holds, unless the token holds all scopes.
 * `host: 'handler'` lets host tokens in where the scope is known only once the body is read or
 * the record found (`POST /api/v1/sync` by Jira issue key): the handler must ask `scopeDecision`
 * for the record's scope before it reads, queues or changes anything.
 */
export type AccessLevel = 'public' | 'any' | 'read' | 'operate' | 'admin';
export interface Access {
  allow: AccessLevel;
  host?: boolean | 'handler';
}

export const ACCESS_LEVELS: readonly AccessLevel[] = ['public', 'any', 'read', 'operate', 'admin'];

/** The roles each level admits (host tokens only through `host: true`). */
const LEVEL_ROLES: Record<Exclude<AccessLevel, 'public'>, readonly Role[]> = {
  any: ['admin', 'operator', 'viewer', 'host'],
  read: ['admin', 'operator', 'viewer'],
  operate: ['admin', 'operator'],
  admin: ['admin'],
};

const WHY: Record<Exclude<AccessLevel, 'public' | 'any'>, string> = {
  read: 'host tokens may use the record API and the change feed only',
  operate: 'operator tokens may read, retry, re-sync, backfill and check connections; viewers read only',
  admin: 'this route is for admin tokens only (configuration, secrets, tokens, audit)',
};

export type Decision = { ok: true } | { ok: false; reason: string };

/**
 * May this caller touch records of `scope`? Host tokens only within their scopes (none listed:
 * all); every other role that got past the route's declaration may.
 */
export function scopeDecision(p: Principal | null, scope: unknown): Decision {
  if (!p || p.role !== 'host' || !p.scopes.length) return { ok: true };
  if (typeof scope !== 'string')
    return { ok: false, reason: `this token is limited to scopes ${p.scopes.join(', ')}: name one` };
  if (!p.scopes.includes(scope)) return { ok: false, reason: `this token may not use scope "${scope}"` };
  return { ok: true };
}

/** Is `value` a well-formed declaration (used at start-up to refuse a route that declares nonsense)? */
export function isAccess(value: unknown): value is Access {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    ACCESS_LEVELS.includes(v.allow as AccessLevel) &&
    (v.host === undefined || typeof v.host === 'boolean' || v.host === 'handler') &&
    Object.keys(v).every((k) => k === 'allow' || k === 'host')
  );
}

/**
 * The decision for a caller holding a valid token. `access` is the matched route's declaration
 * (undefined: it declared none, so nobody may call it); `scope` the record scope the request names
 * (path parameter or `?scope=`; anything but one string counts as none).
 */
export function authorize(p: Principal, access: Access | undefined, scope?: unknown): Decision {
  if (!access || !isAccess(access))
    return { ok: false, reason: 'this route declares no access, so no one may call it' };
  if (access.allow === 'public') return { ok: true };
  if (p.role === 'host') {
    if (access.allow === 'any') return { ok: true };
    if (!access.host) return { ok: false, reason: 'host tokens may use the record API and the change feed only' };
    // The handler decides the scope once it knows it (scopeDecision).
    if (access.host === 'handler') return { ok: true };
    return scopeDecision(p, scope);
  }
  if (LEVEL_ROLES[access.allow].includes(p.role)) return { ok: true };
  return { ok: false, reason: WHY[access.allow as keyof typeof WHY] };
}
