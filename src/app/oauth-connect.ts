/**
 * Connecting a Jira Cloud connection with OAuth 2.0 (3LO):
 *   start(connectionId)   → the authorize URL, with a random `state` stored (hashed) with an expiry
 *                           and the redirect URI `${public_url}/oauth/callback`;
 *   callback(code, state) → the state is checked and spent (single use), the code exchanged, the
 *                           site picked from accessible-resources by the connection's site_url,
 *                           and the cloud id and tokens stored (sealed).
 */
import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '../core/errors.js';
import {
  accessibleResources,
  authorizeUrl,
  DEFAULT_OAUTH_SCOPES,
  exchangeCode,
  OAuthGrantError,
  type OAuthAppCredentials,
  type OAuthHttpOptions,
} from '../jira/oauth-client.js';
import { missingScopes, missingScopesMessage } from '../core/oauth-scopes.js';
import type { Logger } from '../log/logger.js';
import type { SecretBox } from '../security/secret-box.js';
import { appendAudit } from '../store/audit.js';
import type { Store } from '../store/store.js';
import { saveConnectedTokens } from './oauth-tokens.js';

/** What the flow needs to know about an OAuth connection. */
export interface OAuthConnectionInfo {
  id: string;
  siteUrl: string;
  app: OAuthAppCredentials;
  scopes?: string[];
}

export interface OAuthConnectOptions {
  store: Store;
  box: SecretBox;
  /** The base URL browsers reach the service at (server.public_url). */
  publicUrl: () => string;
  /** The OAuth connection by id; undefined when it does not exist or is not an OAuth (Cloud) connection. */
  connection: (id: string) => OAuthConnectionInfo | undefined;
  /** Called after tokens are stored (e.g. rebuild the connection's Jira client with the cloud id). */
  onConnected?: (r: ConnectedSite) => Promise<void> | void;
  logger?: Logger;
  clock?: () => number;
  /** How long an authorization request stays valid (default 10 minutes). */
  stateTtlMs?: number;
  http?: OAuthHttpOptions;
}

export interface ConnectedSite {
  connectionId: string;
  cloudId: string;
  siteUrl: string;
  scope: string;
  /** Scopes the connection's mappings need that the consent did not grant (empty when all were). */
  missingScopes: string[];
}

export interface OAuthConnect {
  start(connectionId: string, actor: string): Promise<{ authorize_url: string; expires_at: number }>;
  callback(p: { code?: string; state?: string; error?: string; error_description?: string }): Promise<ConnectedSite>;
  /** Deletes expired authorization requests; returns how many. */
  purgeExpired(): Promise<number>;
}

export const CALLBACK_PATH = '/oauth/callback';
const hash = (state: string): string => createHash('sha256').update(state).digest('base64url');
const normalise = (u: string): string => {
  try {
    const x = new URL(u);
    return `${x.protocol}//${x.host}${x.pathname.replace(/\/+$/, '')}`.toLowerCase();
  } catch {
    return u.replace(/\/+$/, '').toLowerCase();
  }
};

export function createOAuthConnect(o: OAuthConnectOptions): OAuthConnect {
  const clock = o.clock ?? Date.now;
  const ttl = o.stateTtlMs ?? 10 * 60_000;
  const http: OAuthHttpOptions = { clock, ...o.http };

  const connectionOf = (id: string): OAuthConnectionInfo => {
    const c = o.connection(id);
    if (!c) {
      throw new AppError(
        'NOT_FOUND',
        `No OAuth connection "${id}": only Jira Cloud connections with auth.type "oauth" (client_id, client_secret) can be connected with Atlassian`,
      );
    }
    return c;
  };

  const fail = (message: string, details?: unknown): AppError =>
    new AppError('VALIDATION_FAILED', message, details === undefined ? {} : { details });

  return {
    async start(connectionId, actor) {
      const c = connectionOf(connectionId);
      const state = randomBytes(32).toString('base64url');
      const redirectUri = `${o.publicUrl().replace(/\/+$/, '')}${CALLBACK_PATH}`;
      const now = clock();
      const expires = now + ttl;
      await o.store.db
        .insertInto('oauth_states')
        .values({
          state_hash: hash(state),
          connection_id: c.id,
          redirect_uri: redirectUri,
          actor,
          expires_at: expires,
          created_at: now,
        })
        .execute();
      return {
        authorize_url: authorizeUrl(c.app, { state, redirectUri, ...(c.scopes ? { scopes: c.scopes } : {}) }),
        expires_at: expires,
      };
    },

    async callback(p) {
      if (!p.state) throw fail('The callback has no state: start again from the connection (Connect with Atlassian)');
      const h = hash(p.state);
      const row = await o.store.db
        .selectFrom('oauth_states')
        .selectAll()
        .where('state_hash', '=', h)
        .executeTakeFirst();
      // Spend the state whatever happens next: single use, even for a denied or failed attempt.
      const spent = await o.store.db.deleteFrom('oauth_states').where('state_hash', '=', h).executeTakeFirst();
      if (!row || Number(spent.numDeletedRows) !== 1) {
        throw fail(
          'This authorization link is unknown or was already used: start again from the connection (Connect with Atlassian)',
        );
      }
      if (Number(row.expires_at) <= clock()) {
        throw fail(
          `This authorization request expired (they last ${Math.round(ttl / 60_000)} minutes): start again from the connection`,
        );
      }
      if (p.error) {
        throw fail(
          `Atlassian did not authorize the connection "${row.connection_id}" (${p.error}${p.error_description ? `: ${p.error_description}` : ''}); start again and choose Accept`,
        );
      }
      if (!p.code) throw fail('The callback has no code: start again from the connection');
      const c = connectionOf(row.connection_id);
      let tokens;
      try {
        tokens = await exchangeCode(c.app, p.code, row.redirect_uri, http);
      } catch (err) {
        if (err instanceof OAuthGrantError) {
          throw fail(
            `Atlassian refused the authorization code (${err.error}: ${err.description}); codes are single-use and short-lived: start again`,
          );
        }
        throw err;
      }
      if (tokens.refreshToken === null) {
        o.logger?.warn(
          { connectionId: c.id },
          'OAuth grant without offline_access: no refresh token, reconnect when it expires',
        );
      }
      const sites = await accessibleResources(c.app, tokens.accessToken, http);
      const site = sites.find((s) => normalise(s.url) === normalise(c.siteUrl));
      if (!site) {
        const names = sites.map((s) => `${s.url} (${s.name})`).join(', ') || 'none';
        throw fail(
          `The Atlassian account authorized no site matching connection "${c.id}" site_url ${c.siteUrl}. Sites available: ${names}. ` +
            `Set site_url to one of them, or authorize with an account that has access to ${c.siteUrl}.`,
          { sites: sites.map((s) => ({ url: s.url, name: s.name, id: s.id })) },
        );
      }
      const now = clock();
      await o.store.transaction(async (trx) => {
        await saveConnectedTokens(trx, o.box, { connectionId: c.id, cloudId: site.id, siteUrl: site.url, tokens }, now);
        await appendAudit(trx, {
          actor: row.actor,
          action: 'connection.oauth_connected',
          target: `connection:${c.id}`,
          after: { cloud_id: site.id, site_url: site.url, scope: tokens.scope },
          at: now,
        });
      });
      const missing = missingScopes(c.scopes ?? DEFAULT_OAUTH_SCOPES, tokens.scope);
      if (missing.length > 0) {
        o.logger?.warn(
          { connectionId: c.id, missing, granted: tokens.scope },
          `connection ${c.id}: ${missingScopesMessage(missing)}`,
        );
      }
      const result: ConnectedSite = {
        connectionId: c.id,
        cloudId: site.id,
        siteUrl: site.url,
        scope: tokens.scope,
        missingScopes: missing,
      };
      await o.onConnected?.(result);
      return result;
    },

    async purgeExpired() {
      const r = await o.store.db.deleteFrom('oauth_states').where('expires_at', '<=', clock()).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
