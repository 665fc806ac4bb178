/**
 * The access decision the README's "Access" section documents, written independently of
 * src/core/access.ts (which this suite must not trust): who may call which operation.
 *
 *  - public: /healthz, /readyz, /metrics, /docs, /openapi.json, the OAuth callback, the console's
 *    static files; the Jira webhook intake is public but signed (without a valid signature: 401/403,
 *    never data);
 *  - everything else needs `Authorization: Bearer <token>`; no, unknown, revoked or expired → 401;
 *  - admin: everything;
 *  - `GET /api/v1/me`: any valid token;
 *  - tokens and the audit log: admin only;
 *  - operator: read, plus retry jobs, re-sync, backfill, apply a mapping to its linked records
 *    (and cancel that), connection check;
 *  - viewer: read only;
 *  - host: the record API (the record operations the README lists, the plan preview included), the
 *    change feed and `POST /api/v1/sync` only, limited to its scopes when it has any (the sync's
 *    scope is the record's, named in its body).
 */

export const CALLERS = [
  'none',
  'garbage',
  'revoked',
  'expired',
  'admin',
  'operator',
  'viewer',
  'host-scoped',
  'host-all',
] as const;
export type Caller = (typeof CALLERS)[number];

/** The one scope the scoped host token may use; seeded data also lives in OTHER_SCOPE. */
export const HOST_SCOPE = 'web';
export const OTHER_SCOPE = 'payroll';

export type Expected =
  | { kind: 'allow' }
  /** A scoped host token on a list without `?scope=`: refused, or answered within its scopes only. */
  | { kind: 'allow-within-scope' }
  | { kind: 'deny'; status: 401 | 403 }
  /** The signed Jira webhook intake without a signature. */
  | { kind: 'signed' };

const PUBLIC_EXACT = new Set(['/healthz', '/readyz', '/metrics', '/docs', '/openapi.json', '/oauth/callback']);

export function isPublic(template: string): boolean {
  return PUBLIC_EXACT.has(template) || template === '/console' || template.startsWith('/console/');
}

const OPERATOR_WRITES = new Set([
  'POST /api/v1/jobs/{id}/retry',
  'POST /api/v1/jobs/retry-dead',
  'POST /api/v1/sync',
  'POST /api/v1/backfill',
  'POST /api/v1/mappings/{id}/apply',
  'POST /api/v1/mappings/{id}/apply/{runId}/cancel',
  'POST /api/v1/connections/{id}/check',
]);

/**
 * "The record API and the change feed" — the operations the README's API and host sections list
 * (and its Access table: GET records, comments, attachments, log, plan, counts; PUT records, POST
 * comments and attachments, DELETE a record's link; GET /api/v1/changes; POST /sync within its scopes).
 */
const HOST_OPERATIONS = new Set([
  'PUT /api/v1/records/{scope}/{hostId}',
  'GET /api/v1/records/{scope}/{hostId}',
  'GET /api/v1/records',
  'GET /api/v1/records/counts',
  'POST /api/v1/records/{scope}/{hostId}/comments',
  'GET /api/v1/records/{scope}/{hostId}/comments',
  'POST /api/v1/records/{scope}/{hostId}/attachments',
  'GET /api/v1/records/{scope}/{hostId}/attachments',
  'GET /api/v1/records/{scope}/{hostId}/attachments/{attachmentId}/content',
  'GET /api/v1/records/{scope}/{hostId}/log',
  'GET /api/v1/records/{scope}/{hostId}/plan',
  'POST /api/v1/sync',
  'DELETE /api/v1/records/{scope}/{hostId}/link',
  'GET /api/v1/changes',
]);

const startsWithSegment = (template: string, prefix: string) =>
  template === prefix || template.startsWith(`${prefix}/`);

/**
 * `template` is the OpenAPI path (`/api/v1/records/{scope}/{hostId}`); `scope` the record scope the
 * request names (path parameter or `?scope=`), if any.
 */
export function expectedAccess(caller: Caller, method: string, template: string, scope?: string): Expected {
  if (template.startsWith('/webhooks/jira/')) return { kind: 'signed' };
  if (isPublic(template)) return { kind: 'allow' };
  if (caller === 'none' || caller === 'garbage' || caller === 'revoked' || caller === 'expired') {
    return { kind: 'deny', status: 401 };
  }
  const read = method === 'GET' || method === 'HEAD';
  if (caller === 'admin') return { kind: 'allow' };
  if (read && template === '/api/v1/me') return { kind: 'allow' };
  if (startsWithSegment(template, '/api/v1/tokens') || startsWithSegment(template, '/api/v1/audit')) {
    return { kind: 'deny', status: 403 };
  }
  if (caller === 'viewer') return read ? { kind: 'allow' } : { kind: 'deny', status: 403 };
  if (caller === 'operator') {
    return read || OPERATOR_WRITES.has(`${method} ${template}`) ? { kind: 'allow' } : { kind: 'deny', status: 403 };
  }
  // host tokens: the record API as the README's API section lists it, and the change feed; any
  // other operation (a record route the README does not list included) is refused: default deny.
  if (!HOST_OPERATIONS.has(`${method === 'HEAD' ? 'GET' : method} ${template}`)) return { kind: 'deny', status: 403 };
  if (caller === 'host-all') return { kind: 'allow' };
  if (scope === undefined) return { kind: 'allow-within-scope' };
  return scope === HOST_SCOPE ? { kind: 'allow' } : { kind: 'deny', status: 403 };
}
