/**
 * The sandbox's OAuth 2.0 (3LO) authorization server, playing auth.atlassian.com and
 * api.atlassian.com: registered apps, single-use authorization codes, access tokens with a
 * configurable lifetime, rotating refresh tokens (each refresh returns a new one and invalidates
 * the one sent), and the cloud id of the one site it serves. State only; the HTTP surface is in
 * ./routes.ts. Time comes from an injectable clock.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { KNOWN_SCOPES, splitScopes } from '../../core/oauth-scopes.js';
import type { SandboxUser } from '../model.js';

export interface OAuthApp {
  clientId: string;
  clientSecret: string;
  name: string;
  /** Exact redirect URIs (no prefix matching). */
  redirectUris: string[];
  /** Seeded sandbox app: also accepts any http://127.0.0.1:<port>/… or http://localhost:<port>/… redirect. */
  allowLoopbackRedirects: boolean;
}

export interface OAuthCounters {
  /** Successful authorization_code grants. */
  codeGrants: number;
  /** Successful refresh_token grants. */
  refreshGrants: number;
  /** Refresh grants refused (unknown, rotated-out, revoked or expired refresh token). */
  refreshRejected: number;
  /** Every POST /oauth/token answered, whatever the outcome. */
  tokenRequests: number;
  /** accessible-resources calls answered 200. */
  accessibleResources: number;
}

export interface OAuthSettings {
  /** Access-token lifetime in seconds (expires_in). Default 3600. */
  accessTokenTtlSec: number;
  /** Authorization-code lifetime in seconds. Default 600 (Atlassian: short-lived). */
  codeTtlSec: number;
  /** Refresh-token idle lifetime in seconds. Default 90 days. */
  refreshTokenTtlSec: number;
  /** Delay before the token endpoint handles a request, in ms (widens races in tests). Default 0. */
  tokenLatencyMs: number;
}

export const DEFAULT_OAUTH_SETTINGS: OAuthSettings = {
  accessTokenTtlSec: 3600,
  codeTtlSec: 600,
  refreshTokenTtlSec: 90 * 24 * 3600,
  tokenLatencyMs: 0,
};

export const SEEDED_CLIENT_ID = 'sandbox-oauth-client';
export const SEEDED_CLIENT_SECRET = 'sandbox-oauth-client-secret';
export const DEFAULT_SCOPES = ['read:jira-work', 'write:jira-work', 'read:jira-user', 'manage:jira-webhook'];

interface Grant {
  clientId: string;
  accountId: string;
  scope: string;
}

interface CodeEntry extends Grant {
  redirectUri: string;
  expiresAt: number;
}

interface AccessEntry extends Grant {
  expiresAt: number;
}

interface RefreshEntry extends Grant {
  expiresAt: number;
}

export type TokenResult =
  | {
      ok: true;
      body: { access_token: string; expires_in: number; token_type: 'Bearer'; scope: string; refresh_token?: string };
    }
  | { ok: false; status: number; body: { error: string; error_description: string } };

const token = (prefix: string): string => `${prefix}${randomBytes(24).toString('base64url')}`;

export class SandboxOAuthServer {
  readonly cloudId: string;
  private readonly apps = new Map<string, OAuthApp>();
  private readonly codes = new Map<string, CodeEntry>();
  private readonly access = new Map<string, AccessEntry>();
  private readonly refresh = new Map<string, RefreshEntry>();
  private settings: OAuthSettings;
  readonly counters: OAuthCounters = {
    codeGrants: 0,
    refreshGrants: 0,
    refreshRejected: 0,
    tokenRequests: 0,
    accessibleResources: 0,
  };

  constructor(
    opts: { cloudId?: string; settings?: Partial<OAuthSettings> } = {},
    private readonly clock: () => number = Date.now,
  ) {
    this.cloudId = opts.cloudId ?? randomUUID();
    this.settings = { ...DEFAULT_OAUTH_SETTINGS, ...opts.settings };
    this.seed();
  }

  private seed(): void {
    this.apps.set(SEEDED_CLIENT_ID, {
      clientId: SEEDED_CLIENT_ID,
      clientSecret: SEEDED_CLIENT_SECRET,
      name: 'jira-bridge (sandbox app)',
      redirectUris: [],
      allowLoopbackRedirects: true,
    });
  }

  /** Forgets every app, code and token and re-seeds the default app (counters restart). */
  reset(): void {
    this.apps.clear();
    this.codes.clear();
    this.access.clear();
    this.refresh.clear();
    this.settings = { ...DEFAULT_OAUTH_SETTINGS };
    for (const k of Object.keys(this.counters) as Array<keyof OAuthCounters>) this.counters[k] = 0;
    this.seed();
  }

  getSettings(): OAuthSettings {
    return { ...this.settings };
  }

  /** Changes token lifetimes (applies to tokens issued afterwards). */
  setSettings(patch: Partial<OAuthSettings>): OAuthSettings {
    const next = { ...this.settings, ...patch };
    for (const [k, v] of Object.entries(next)) {
      const min = k === 'tokenLatencyMs' ? 0 : 1;
      if (!Number.isInteger(v) || v < min) {
        throw new RangeError(`oauth setting ${k} must be an integer >= ${min} (${min ? 'seconds' : 'ms'})`);
      }
    }
    this.settings = next;
    return this.getSettings();
  }

  /** Registers an app (or replaces one with the same client id). Returns its credentials. */
  registerApp(app: { clientId?: string; clientSecret?: string; name?: string; redirectUris: string[] }): OAuthApp {
    const entry: OAuthApp = {
      clientId: app.clientId ?? token('app-'),
      clientSecret: app.clientSecret ?? token('secret-'),
      name: app.name ?? 'sandbox app',
      redirectUris: [...app.redirectUris],
      allowLoopbackRedirects: false,
    };
    this.apps.set(entry.clientId, entry);
    return { ...entry, redirectUris: [...entry.redirectUris] };
  }

  app(clientId: string): OAuthApp | undefined {
    return this.apps.get(clientId);
  }

  /** Whether the app may be sent back to `uri` (exact match, or loopback for the seeded app). */
  redirectAllowed(app: OAuthApp, uri: string): boolean {
    if (app.redirectUris.includes(uri)) return true;
    if (!app.allowLoopbackRedirects) return false;
    try {
      const u = new URL(uri);
      return u.protocol === 'http:' && (u.hostname === '127.0.0.1' || u.hostname === 'localhost') && u.hash === '';
    } catch {
      return false;
    }
  }

  /** The user consented: a single-use code bound to the app, the redirect URI and the user. */
  issueCode(clientId: string, redirectUri: string, user: SandboxUser, requested: string): string {
    const code = token('code-');
    // The consent grants what was asked, known scopes only (Atlassian ignores others).
    const scope = [...new Set(splitScopes(requested).filter((s) => KNOWN_SCOPES.has(s)))].join(' ');
    this.codes.set(code, {
      clientId,
      redirectUri,
      accountId: user.accountId,
      scope,
      expiresAt: this.clock() + this.settings.codeTtlSec * 1000,
    });
    return code;
  }

  private clientError(clientId: unknown, clientSecret: unknown): TokenResult | null {
    const app = typeof clientId === 'string' ? this.apps.get(clientId) : undefined;
    if (!app || typeof clientSecret !== 'string' || clientSecret !== app.clientSecret) {
      return { ok: false, status: 401, body: { error: 'access_denied', error_description: 'Unauthorized' } };
    }
    return null;
  }

  private issueTokens(g: Grant): TokenResult {
    const now = this.clock();
    const accessToken = token('at-');
    this.access.set(accessToken, { ...g, expiresAt: now + this.settings.accessTokenTtlSec * 1000 });
    const offline = g.scope.split(/\s+/).includes('offline_access');
    let refreshToken: string | undefined;
    if (offline) {
      refreshToken = token('rt-');
      this.refresh.set(refreshToken, { ...g, expiresAt: now + this.settings.refreshTokenTtlSec * 1000 });
    }
    return {
      ok: true,
      body: {
        access_token: accessToken,
        expires_in: this.settings.accessTokenTtlSec,
        token_type: 'Bearer',
        scope: g.scope,
        ...(refreshToken ? { refresh_token: refreshToken } : {}),
      },
    };
  }

  /** POST /oauth/token with the body's fields (JSON or form). */
  tokenGrant(body: Record<string, unknown>): TokenResult {
    this.counters.tokenRequests++;
    const invalid = (description: string, error = 'invalid_request'): TokenResult => ({
      ok: false,
      status: error === 'invalid_grant' ? 403 : 400,
      body: { error, error_description: description },
    });
    const grantType = body.grant_type;
    if (grantType !== 'authorization_code' && grantType !== 'refresh_token') {
      return {
        ok: false,
        status: 400,
        body: {
          error: 'unsupported_grant_type',
          error_description: 'grant_type must be authorization_code or refresh_token',
        },
      };
    }
    const denied = this.clientError(body.client_id, body.client_secret);
    if (denied) return denied;
    const clientId = body.client_id as string;
    const now = this.clock();
    if (grantType === 'authorization_code') {
      if (typeof body.code !== 'string') return invalid('Missing code');
      if (typeof body.redirect_uri !== 'string') return invalid('Missing redirect_uri');
      const entry = this.codes.get(body.code);
      // Single use: a code is gone once presented, whatever the outcome.
      this.codes.delete(body.code);
      if (!entry || entry.expiresAt <= now || entry.clientId !== clientId) {
        return invalid('Invalid authorization code', 'invalid_grant');
      }
      if (entry.redirectUri !== body.redirect_uri) {
        return invalid('redirect_uri does not match the one used for the authorization request', 'invalid_grant');
      }
      this.counters.codeGrants++;
      return this.issueTokens(entry);
    }
    if (typeof body.refresh_token !== 'string') return invalid('Missing refresh_token');
    const entry = this.refresh.get(body.refresh_token);
    if (!entry || entry.expiresAt <= now || entry.clientId !== clientId) {
      this.counters.refreshRejected++;
      return invalid('Unknown or invalid refresh token.', 'invalid_grant');
    }
    // Rotation: the token sent is spent.
    this.refresh.delete(body.refresh_token);
    this.counters.refreshGrants++;
    return this.issueTokens(entry);
  }

  /** The grant behind a live access token, or null (unknown or expired). */
  accessGrant(accessToken: string): { accountId: string; clientId: string; scope: string } | null {
    const e = this.access.get(accessToken);
    if (!e) return null;
    if (e.expiresAt <= this.clock()) return null;
    return { accountId: e.accountId, clientId: e.clientId, scope: e.scope };
  }

  /** Expires every access token now (tests: force a refresh without waiting). */
  expireAccessTokens(): number {
    const now = this.clock();
    for (const e of this.access.values()) e.expiresAt = Math.min(e.expiresAt, now);
    return this.access.size;
  }

  /** Revokes every refresh token (and access token) of an app, as a user removing the app's access would. */
  revokeApp(clientId: string = SEEDED_CLIENT_ID): number {
    let n = 0;
    for (const [k, e] of this.refresh) {
      if (e.clientId === clientId) {
        this.refresh.delete(k);
        n++;
      }
    }
    for (const [k, e] of this.access) if (e.clientId === clientId) this.access.delete(k);
    return n;
  }

  /** How many refresh tokens are live (rotation keeps this at one per grant chain). */
  liveRefreshTokens(clientId?: string): number {
    const now = this.clock();
    return [...this.refresh.values()].filter((e) => e.expiresAt > now && (!clientId || e.clientId === clientId)).length;
  }
}
