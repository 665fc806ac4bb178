/**
 * Atlassian's OAuth 2.0 (3LO) endpoints, as plain HTTP: the authorize URL, the token endpoint
 * (authorization_code and refresh_token grants; refresh tokens rotate) and accessible-resources
 * (which sites, by cloud id, the token reaches). No storage here: see src/app/oauth-tokens.ts.
 *
 * Real Atlassian serves these from two hosts (auth.atlassian.com, api.atlassian.com); both are
 * configurable so the sandbox can play them on one base URL.
 */
import { fetch } from 'undici';
import { AppError } from '../core/errors.js';

export const DEFAULT_AUTH_URL = 'https://auth.atlassian.com';
export const DEFAULT_API_URL = 'https://api.atlassian.com';
export const AUDIENCE = 'api.atlassian.com';
/** What jira-bridge needs: issues, users, webhooks, and offline_access for a refresh token. */
export const DEFAULT_OAUTH_SCOPES = [
  'read:jira-work',
  'write:jira-work',
  'read:jira-user',
  'manage:jira-webhook',
  'offline_access',
];

export interface OAuthAppCredentials {
  clientId: string;
  clientSecret: string;
  /** Default https://auth.atlassian.com. */
  authUrl?: string;
  /** Default https://api.atlassian.com. */
  apiUrl?: string;
}

export interface TokenSet {
  accessToken: string;
  /** null when the grant had no offline_access. */
  refreshToken: string | null;
  /** Epoch ms when the access token expires. */
  expiresAt: number;
  scope: string;
}

export interface AccessibleResource {
  id: string;
  url: string;
  name: string;
  scopes: string[];
  avatarUrl?: string;
}

/** The token endpoint refused the grant (OAuth error body). `invalid_grant`: the code or refresh token is dead. */
export class OAuthGrantError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(`${error}: ${description}`);
    this.name = 'OAuthGrantError';
  }
}

const trim = (u: string): string => u.replace(/\/+$/, '');
export const authBase = (app: OAuthAppCredentials): string => trim(app.authUrl ?? DEFAULT_AUTH_URL);
export const apiBase = (app: OAuthAppCredentials): string => trim(app.apiUrl ?? DEFAULT_API_URL);

/** The Jira REST base for a cloud id: `${api}/ex/jira/{cloudId}`. */
export const jiraApiBase = (app: OAuthAppCredentials, cloudId: string): string =>
  `${apiBase(app)}/ex/jira/${encodeURIComponent(cloudId)}`;

/** Where the admin's browser goes to consent. */
export function authorizeUrl(
  app: OAuthAppCredentials,
  p: { state: string; redirectUri: string; scopes?: string[] },
): string {
  const u = new URL(`${authBase(app)}/authorize`);
  u.searchParams.set('audience', AUDIENCE);
  u.searchParams.set('client_id', app.clientId);
  u.searchParams.set('scope', (p.scopes ?? DEFAULT_OAUTH_SCOPES).join(' '));
  u.searchParams.set('redirect_uri', p.redirectUri);
  u.searchParams.set('state', p.state);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('prompt', 'consent');
  return u.toString();
}

export interface OAuthHttpOptions {
  timeoutMs?: number;
  clock?: () => number;
}

async function call(
  url: string,
  init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string },
  timeoutMs: number,
): Promise<{ status: number; body: unknown }> {
  const host = new URL(url).host;
  let res;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new AppError('JIRA_NETWORK', `Atlassian (${host}) could not be reached: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // keep the text
  }
  return { status: res.status, body };
}

async function tokenCall(
  app: OAuthAppCredentials,
  fields: Record<string, string>,
  opts: OAuthHttpOptions,
): Promise<TokenSet> {
  const clock = opts.clock ?? Date.now;
  const started = clock();
  const url = `${authBase(app)}/oauth/token`;
  const { status, body } = await call(
    url,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ ...fields, client_id: app.clientId, client_secret: app.clientSecret }),
    },
    opts.timeoutMs ?? 15_000,
  );
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (status >= 500) throw new AppError('JIRA_UNAVAILABLE', `Atlassian's token endpoint answered ${status}`);
  if (status === 429) throw new AppError('JIRA_RATE_LIMITED', `Atlassian's token endpoint is rate limiting (429)`);
  if (status !== 200) {
    const error = typeof b.error === 'string' ? b.error : `http_${status}`;
    const description = typeof b.error_description === 'string' ? b.error_description : '';
    if (error === 'invalid_grant') throw new OAuthGrantError(status, error, description);
    // access_denied / invalid_client: the app's own credentials were refused, not the grant.
    throw new AppError(
      'JIRA_UNAUTHORIZED',
      `Atlassian refused the OAuth app credentials (${error}${description ? `: ${description}` : ''}): check auth.client_id and auth.client_secret of the connection`,
      { details: { oauth_error: error } },
    );
  }
  if (typeof b.access_token !== 'string' || typeof b.expires_in !== 'number') {
    throw new AppError('JIRA_UNAVAILABLE', `Atlassian's token endpoint answered without access_token/expires_in`);
  }
  return {
    accessToken: b.access_token,
    refreshToken: typeof b.refresh_token === 'string' ? b.refresh_token : null,
    // Count from when the request was sent: never believe a token lives longer than it does.
    expiresAt: started + b.expires_in * 1000,
    scope: typeof b.scope === 'string' ? b.scope : '',
  };
}

/** authorization_code grant: the callback's code for tokens. */
export function exchangeCode(
  app: OAuthAppCredentials,
  code: string,
  redirectUri: string,
  opts: OAuthHttpOptions = {},
): Promise<TokenSet> {
  return tokenCall(app, { grant_type: 'authorization_code', code, redirect_uri: redirectUri }, opts);
}

/** refresh_token grant. The token sent is spent: persist the returned one before anything else. */
export function refreshTokens(
  app: OAuthAppCredentials,
  refreshToken: string,
  opts: OAuthHttpOptions = {},
): Promise<TokenSet> {
  return tokenCall(app, { grant_type: 'refresh_token', refresh_token: refreshToken }, opts);
}

/** The sites (cloud ids) an access token reaches. */
export async function accessibleResources(
  app: OAuthAppCredentials,
  accessToken: string,
  opts: OAuthHttpOptions = {},
): Promise<AccessibleResource[]> {
  const { status, body } = await call(
    `${apiBase(app)}/oauth/token/accessible-resources`,
    { method: 'GET', headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } },
    opts.timeoutMs ?? 15_000,
  );
  if (status === 401) throw new AppError('JIRA_UNAUTHORIZED', 'Atlassian refused the new access token (401)');
  if (status !== 200 || !Array.isArray(body)) {
    throw new AppError('JIRA_UNAVAILABLE', `accessible-resources answered ${status}`);
  }
  return body.filter(
    (r): r is AccessibleResource =>
      typeof r === 'object' && r !== null && typeof r.id === 'string' && typeof r.url === 'string',
  );
}
