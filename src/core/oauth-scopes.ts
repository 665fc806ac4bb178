/**
 * OAuth 2.0 (3LO) scopes per Jira operation, as Atlassian documents them (the table is generated
 * from its OpenAPI descriptions: see scripts/gen-oauth-scopes.ts), and the scopes jira-bridge
 * needs for a connection's mappings: the platform ones always, the Service Management ones when a
 * mapping of the connection creates requests in a service desk.
 */
import { OPERATION_SCOPES } from './oauth-scopes.generated.js';

/** What Atlassian answers (401) when the token lacks a scope the operation requires. */
export const SCOPE_MISMATCH_BODY = { code: 401, message: 'Unauthorized; scope does not match' } as const;

export function isScopeMismatch(status: number, body: unknown): boolean {
  return (
    status === 401 &&
    typeof body === 'object' &&
    body !== null &&
    typeof (body as { message?: unknown }).message === 'string' &&
    (body as { message: string }).message.includes('scope does not match')
  );
}

/** "GET /rest/api/3/issue/{}" from a method and a route template (`:param` or `{param}`; v2 and latest read as v3). */
export function operationKey(method: string, route: string): string {
  const path = (route.split('?')[0] ?? route)
    .replace(/\/+$/, '')
    .replace(/^\/rest\/api\/(2|latest)(?=\/|$)/, '/rest/api/3')
    .replace(/\{[^}]+\}/g, '{}')
    .replace(/:[A-Za-z0-9_]+/g, '{}');
  return `${method.toUpperCase()} ${path}`;
}

/** The classic scopes the operation requires (all of them), or undefined when OAuth does not list it. */
export function requiredScopes(method: string, route: string): readonly string[] | undefined {
  return OPERATION_SCOPES[operationKey(method, route)];
}

/** Every classic scope Atlassian's descriptions name, plus offline_access (the consent grants only these). */
export const KNOWN_SCOPES: ReadonlySet<string> = new Set([...Object.values(OPERATION_SCOPES).flat(), 'offline_access']);

export const splitScopes = (scope: string | null | undefined): string[] => (scope ?? '').split(/\s+/).filter(Boolean);

/** The operations jira-bridge calls on the platform API (any connection). */
const PLATFORM_OPERATIONS = [
  'GET /rest/api/3/myself',
  'GET /rest/api/3/field',
  'GET /rest/api/3/priority',
  'GET /rest/api/3/status',
  'GET /rest/api/3/resolution',
  'GET /rest/api/3/project',
  'GET /rest/api/3/project/{}/statuses',
  'GET /rest/api/3/issue/{}',
  'POST /rest/api/3/issue',
  'PUT /rest/api/3/issue/{}',
  'POST /rest/api/3/issue/{}/comment',
  'POST /rest/api/3/issue/{}/transitions',
  'POST /rest/api/3/search/jql',
  'GET /rest/api/3/user/search',
  'POST /rest/api/3/webhook',
];

/** The Service Management operations a service-desk mapping needs. */
const SERVICE_DESK_OPERATIONS = [
  'GET /rest/servicedeskapi/servicedesk',
  'GET /rest/servicedeskapi/servicedesk/{}/requesttype',
  'POST /rest/servicedeskapi/request',
  'POST /rest/servicedeskapi/request/{}/comment',
];

const scopesOf = (ops: string[]): string[] => [...new Set(ops.flatMap((k) => OPERATION_SCOPES[k] ?? []))];

/** The scopes an OAuth connection asks for, from its mappings' kinds (offline_access for a refresh token). */
export function scopesForMappings(mappings: ReadonlyArray<{ kinds: Record<string, object> }>): string[] {
  const serviceDesk = mappings.some((m) => Object.values(m.kinds).some((k) => 'service_desk' in k));
  const scopes = scopesOf([...PLATFORM_OPERATIONS, ...(serviceDesk ? SERVICE_DESK_OPERATIONS : [])]);
  return [...scopes.sort(), 'offline_access'];
}

/** The scopes of `needed` the grant lacks (offline_access aside: without it only refresh is lost). */
export function missingScopes(needed: readonly string[], granted: string | readonly string[]): string[] {
  const have = new Set(typeof granted === 'string' ? splitScopes(granted) : granted);
  return needed.filter((s) => s !== 'offline_access' && !have.has(s));
}

export const missingScopesMessage = (missing: readonly string[]): string =>
  `this connection's token lacks ${missing.join(', ')}: connect with Atlassian again`;
