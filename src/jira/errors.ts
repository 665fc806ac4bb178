/**
 * Maps Jira's answers and transport failures onto the service's AppError codes. Messages name what
 * failed and the fix; Jira's own errorMessages/errors travel in `details` for 400s.
 */
import { AppError } from '../core/errors.js';
import { parseReset, parseRetryAfter } from './pacer.js';

export interface JiraErrorBody {
  errorMessages?: string[];
  errors?: Record<string, string>;
  /** Service Management's servicedeskapi answers `{errorMessage, i18nErrorMessage}` instead. */
  errorMessage?: string;
  message?: string;
}

export type Flavour = 'cloud' | 'datacenter';

/** Jira's error text, joined: `errorMessages` then `field: message` pairs (or Service Management's `errorMessage`). */
export function jiraErrorText(body: unknown): string {
  if (typeof body === 'string') return body.slice(0, 500);
  const b = (body ?? {}) as JiraErrorBody;
  const parts = [
    ...(Array.isArray(b.errorMessages) ? b.errorMessages : []),
    ...(typeof b.errorMessage === 'string' && b.errorMessage ? [b.errorMessage] : []),
    ...Object.entries(b.errors && typeof b.errors === 'object' ? b.errors : {}).map(([k, v]) => `${k}: ${v}`),
  ];
  if (!parts.length && typeof b.message === 'string') parts.push(b.message);
  return parts.join('; ');
}

/** The body's messages as a list, whichever API (platform or Service Management) answered. */
function errorMessagesOf(b: JiraErrorBody | undefined): string[] {
  if (Array.isArray(b?.errorMessages)) return b.errorMessages;
  return typeof b?.errorMessage === 'string' && b.errorMessage ? [b.errorMessage] : [];
}

export function credentialHint(flavour: Flavour, authType: string): string {
  if (authType === 'oauth')
    return 'the OAuth access token was refused: reconnect the Jira site (authorize again) so a fresh refresh token is stored';
  if (authType === 'password')
    return flavour === 'cloud'
      ? 'Jira Cloud does not accept a password over its API: use the account email with an API token (https://id.atlassian.com/manage-profile/security/api-tokens)'
      : 'check the username and password (a changed or expired password, a locked account, or a CAPTCHA after failed logins — log in to Jira in a browser once to clear it); Jira with personal access tokens can use auth type pat instead';
  return flavour === 'cloud'
    ? 'regenerate the API token at https://id.atlassian.com/manage-profile/security/api-tokens and check the account email'
    : 'create a new Personal Access Token in Jira (Profile → Personal Access Tokens) and check it has not expired';
}

export interface ResponseErrorContext {
  method: string;
  route: string;
  status: number;
  body: unknown;
  headers: { get(name: string): string | null };
  flavour: Flavour;
  authType: string;
  now?: number;
}

export function errorFromResponse(ctx: ResponseErrorContext): AppError {
  const where = `${ctx.method} ${ctx.route}`;
  const text = jiraErrorText(ctx.body);
  const suffix = text ? `: ${text}` : '';
  const now = ctx.now ?? Date.now();
  const details = { status: ctx.status, route: ctx.route, method: ctx.method, jira: ctx.body ?? null };
  switch (ctx.status) {
    case 400:
    case 409:
    case 422:
      return new AppError('JIRA_BAD_REQUEST', `Jira rejected ${where} (${ctx.status})${suffix}`, {
        details: {
          ...details,
          errorMessages: errorMessagesOf(ctx.body as JiraErrorBody | undefined),
          errors: (ctx.body as JiraErrorBody)?.errors ?? {},
        },
      });
    case 401:
      return new AppError(
        'JIRA_UNAUTHORIZED',
        `Jira rejected the credentials (401) on ${where}; ${credentialHint(ctx.flavour, ctx.authType)}`,
        {
          details: { ...details, hint: credentialHint(ctx.flavour, ctx.authType) },
        },
      );
    case 403: {
      const hint = text
        ? `the Jira user lacks a permission; Jira says: ${text}`
        : 'the Jira user lacks a permission for this operation (check project permissions such as Browse projects / Create issues)';
      return new AppError('JIRA_FORBIDDEN', `Jira denied permission (403) on ${where}${suffix}`, {
        details: { ...details, hint },
      });
    }
    case 404:
      return new AppError('JIRA_NOT_FOUND', `Jira does not know ${where} (404)${suffix}`, { details });
    case 429: {
      const ra =
        parseRetryAfter(ctx.headers.get('retry-after'), now) ??
        parseReset(ctx.headers.get('x-ratelimit-reset'), now) ??
        1000;
      return new AppError('JIRA_RATE_LIMITED', `Jira is rate limiting this connection (429) on ${where}`, {
        retryAfterMs: ra,
        details: { ...details, reason: ctx.headers.get('ratelimit-reason') },
      });
    }
    case 410:
      return new AppError('JIRA_NOT_FOUND', `Jira has removed ${where} (410)${suffix}`, { details });
    default: {
      if (ctx.status >= 500) {
        const ra = parseRetryAfter(ctx.headers.get('retry-after'), now);
        return new AppError('JIRA_UNAVAILABLE', `Jira answered ${ctx.status} on ${where}${suffix}`, {
          details,
          ...(ra !== null ? { retryAfterMs: ra } : {}),
        });
      }
      return new AppError('JIRA_BAD_REQUEST', `Jira answered ${ctx.status} on ${where}${suffix}`, { details });
    }
  }
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
  'EPROTO',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** Walks an error's cause chain for a Node/undici error code. */
function codes(err: unknown): string[] {
  const out: string[] = [];
  let e: unknown = err;
  for (let i = 0; i < 6 && e && typeof e === 'object'; i++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string') out.push(c);
    const name = (e as { name?: unknown }).name;
    if (typeof name === 'string') out.push(name);
    e = (e as { cause?: unknown }).cause;
  }
  return out;
}

function messageOf(err: unknown): string {
  let e: unknown = err;
  let msg = '';
  for (let i = 0; i < 6 && e && typeof e === 'object'; i++) {
    const m = (e as { message?: unknown }).message;
    if (typeof m === 'string' && m) msg = m;
    e = (e as { cause?: unknown }).cause;
  }
  return msg || String(err);
}

export type NetworkKind = 'dns' | 'refused' | 'reset' | 'timeout' | 'tls' | 'network';

/** Classifies a failure to get any HTTP answer: DNS, refused, timeout, TLS. */
export function errorFromTransport(
  err: unknown,
  ctx: { method: string; route: string; host: string; timeoutMs: number },
): AppError {
  const cs = codes(err);
  const msg = messageOf(err);
  const where = `${ctx.method} ${ctx.route}`;
  const tlsCode = cs.find((c) => TLS_CODES.has(c) || c.startsWith('ERR_TLS') || c.startsWith('ERR_SSL'));
  if (tlsCode) {
    const untrusted = /SELF_SIGNED|UNABLE_TO_(VERIFY|GET_ISSUER)|CERT_UNTRUSTED/.test(tlsCode);
    const hint = untrusted
      ? "the server's certificate is signed by a CA this service does not trust (self-signed or private CA): set tls.ca_file to that CA's PEM bundle, or paste the bundle as tls.ca_pem through the API or the console (only for testing: tls.verify: false)"
      : tlsCode === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? `the certificate does not cover ${ctx.host}: use the host name the certificate was issued for`
        : tlsCode === 'CERT_HAS_EXPIRED'
          ? "the server's certificate has expired: renew it on the Jira server"
          : 'the TLS handshake failed: check the site URL scheme/port and the server certificate';
    return new AppError('JIRA_TLS', `TLS to ${ctx.host} failed (${tlsCode}) on ${where}: ${msg}`, {
      cause: err,
      details: { kind: 'tls', code: tlsCode, hint },
    });
  }
  let kind: NetworkKind = 'network';
  let hint = 'check the site URL and that this machine can reach Jira';
  if (cs.some((c) => c === 'ENOTFOUND' || c === 'EAI_AGAIN' || c === 'EAI_NONAME')) {
    kind = 'dns';
    hint = `the host name ${ctx.host} does not resolve: check the site URL for typos`;
  } else if (cs.includes('ECONNREFUSED')) {
    kind = 'refused';
    hint = `nothing accepts connections at ${ctx.host}: check the port and that Jira is running`;
  } else if (
    cs.some(
      (c) =>
        c === 'TimeoutError' ||
        c === 'UND_ERR_CONNECT_TIMEOUT' ||
        c === 'UND_ERR_HEADERS_TIMEOUT' ||
        c === 'UND_ERR_BODY_TIMEOUT' ||
        c === 'ETIMEDOUT',
    )
  ) {
    kind = 'timeout';
    hint = `Jira did not answer within ${ctx.timeoutMs} ms: check network/proxy settings or raise the timeout`;
  } else if (cs.some((c) => c === 'ECONNRESET' || c === 'UND_ERR_SOCKET' || c === 'EPIPE')) {
    kind = 'reset';
    hint =
      'the connection was closed mid-request: retry; if it persists check proxies and the site URL scheme (http vs https)';
  }
  return new AppError('JIRA_NETWORK', `Jira could not be reached (${kind}) on ${where}: ${msg}`, {
    cause: err,
    details: { kind, hint },
  });
}
