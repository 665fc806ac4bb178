/**
 * The stored OAuth 2.0 (3LO) tokens of a connection and the provider that hands the Jira client a
 * live access token.
 *
 * Refresh tokens rotate: each refresh spends the token sent and returns a new one, so two
 * replicas refreshing with the same token would leave one of them holding a dead token (and,
 * if it overwrote the row, brick the connection). Refreshes are therefore serialized through the
 * database: a named lease (`locks`) per connection, then a re-read of the row after winning it —
 * if another replica already rotated the tokens, theirs are used and the now-stale refresh token
 * is never sent — and the new tokens are written sealed, atomically with a version bump that is
 * compared-and-swapped against the version read. An `invalid_grant` is only believed after a
 * re-read of the row shows nobody else rotated in the meantime.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AppError } from '../core/errors.js';
import {
  OAuthGrantError,
  refreshTokens,
  type OAuthAppCredentials,
  type OAuthHttpOptions,
  type TokenSet,
} from '../jira/oauth-client.js';
import type { Logger } from '../log/logger.js';
import type { SecretBox } from '../security/secret-box.js';
import { releaseLock, tryAcquireLock } from '../store/locks.js';
import type { Database } from '../store/schema.js';
import type { Store } from '../store/store.js';

export const accessAad = (connectionId: string): string => `oauth:${connectionId}:access`;
export const refreshAad = (connectionId: string): string => `oauth:${connectionId}:refresh`;

/** A connection's tokens, opened. */
export interface StoredTokens extends TokenSet {
  connectionId: string;
  cloudId: string;
  siteUrl: string;
  version: number;
}

/** The message every "the grant is gone" error carries. */
export const reconnectMessage = (connectionId: string): string =>
  `connection ${connectionId}: the Jira OAuth grant is no longer valid (refresh token revoked, expired or already used); ` +
  `reconnect with Atlassian: POST /api/v1/connections/${connectionId}/oauth/start (or the console's Connect button) and accept again`;

export async function readTokens(
  db: Kysely<Database>,
  box: SecretBox,
  connectionId: string,
): Promise<StoredTokens | null> {
  const row = await db
    .selectFrom('oauth_tokens')
    .selectAll()
    .where('connection_id', '=', connectionId)
    .executeTakeFirst();
  if (!row) return null;
  return {
    connectionId,
    accessToken: box.open(row.access_enc, accessAad(connectionId)),
    refreshToken: row.refresh_enc === null ? null : box.open(row.refresh_enc, refreshAad(connectionId)),
    expiresAt: Number(row.expires_at),
    scope: row.scope,
    cloudId: row.cloud_id,
    siteUrl: row.site_url,
    version: Number(row.version),
  };
}

/** Just the cloud ids of connected connections (no secret opened). */
export async function storedCloudIds(db: Kysely<Database>): Promise<Map<string, string>> {
  const rows = await db.selectFrom('oauth_tokens').select(['connection_id', 'cloud_id']).execute();
  return new Map(rows.map((r) => [r.connection_id, r.cloud_id]));
}

/**
 * Writes a fresh grant (after the consent callback): insert, or replace whatever was there with a
 * version bump (so a replica mid-refresh on the old grant loses its compare-and-swap).
 */
export async function saveConnectedTokens(
  db: Kysely<Database>,
  box: SecretBox,
  t: { connectionId: string; cloudId: string; siteUrl: string; tokens: TokenSet },
  now: number = Date.now(),
): Promise<number> {
  const sealed = {
    access_enc: box.seal(t.tokens.accessToken, accessAad(t.connectionId)),
    refresh_enc: t.tokens.refreshToken === null ? null : box.seal(t.tokens.refreshToken, refreshAad(t.connectionId)),
    expires_at: t.tokens.expiresAt,
    cloud_id: t.cloudId,
    site_url: t.siteUrl,
    scope: t.tokens.scope,
    updated_at: now,
  };
  const prev = await db
    .selectFrom('oauth_tokens')
    .select('version')
    .where('connection_id', '=', t.connectionId)
    .executeTakeFirst();
  if (!prev) {
    await db
      .insertInto('oauth_tokens')
      .values({ connection_id: t.connectionId, ...sealed, version: 1, created_at: now })
      .execute();
    return 1;
  }
  const version = Number(prev.version) + 1;
  await db
    .updateTable('oauth_tokens')
    .set({ ...sealed, version })
    .where('connection_id', '=', t.connectionId)
    .execute();
  return version;
}

/**
 * Compare-and-swap: writes rotated tokens only if the row is still at `expectedVersion`.
 * Returns whether it did. Access and refresh token and the version change in one statement.
 */
export async function swapTokens(
  db: Kysely<Database>,
  box: SecretBox,
  connectionId: string,
  expectedVersion: number,
  tokens: TokenSet,
  now: number = Date.now(),
): Promise<boolean> {
  const r = await db
    .updateTable('oauth_tokens')
    .set({
      access_enc: box.seal(tokens.accessToken, accessAad(connectionId)),
      // Atlassian always rotates with offline_access; keep the old one if a refresh ever omits it.
      ...(tokens.refreshToken !== null ? { refresh_enc: box.seal(tokens.refreshToken, refreshAad(connectionId)) } : {}),
      expires_at: tokens.expiresAt,
      ...(tokens.scope ? { scope: tokens.scope } : {}),
      version: expectedVersion + 1,
      updated_at: now,
    })
    .where('connection_id', '=', connectionId)
    .where('version', '=', expectedVersion)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Forgets a connection's tokens (disconnect). */
export async function deleteTokens(db: Kysely<Database>, connectionId: string): Promise<void> {
  await db.deleteFrom('oauth_tokens').where('connection_id', '=', connectionId).execute();
}

/** Re-seals every stored OAuth token under the box's current key (for `jira-bridge rotate-key`). */
export async function resealOAuthTokens(
  db: Kysely<Database>,
  box: SecretBox,
): Promise<{ resealed: number; current: number }> {
  let resealed = 0;
  let current = 0;
  const rows = await db.selectFrom('oauth_tokens').selectAll().execute();
  for (const r of rows) {
    const access = box.reseal(r.access_enc, accessAad(r.connection_id));
    const refresh = r.refresh_enc === null ? null : box.reseal(r.refresh_enc, refreshAad(r.connection_id));
    if (access === null && refresh === null) {
      current++;
      continue;
    }
    await db
      .updateTable('oauth_tokens')
      .set({ access_enc: access ?? r.access_enc, refresh_enc: refresh ?? r.refresh_enc })
      .where('connection_id', '=', r.connection_id)
      .where('version', '=', r.version)
      .execute();
    resealed++;
  }
  return { resealed, current };
}

export interface OAuthTokenProviderOptions {
  store: Store;
  box: SecretBox;
  connectionId: string;
  app: OAuthAppCredentials;
  logger?: Logger;
  clock?: () => number;
  /** A token expiring within this window is refreshed first (default 60 s). */
  skewMs?: number;
  /** How long a replica may hold the refresh lease (default 30 s; longer than the token call's timeout). */
  lockTtlMs?: number;
  /** Poll interval while another replica refreshes (default 100 ms). */
  pollMs?: number;
  /** Give up waiting for another replica's refresh after this long (default 45 s). */
  waitTimeoutMs?: number;
  http?: OAuthHttpOptions;
  sleep?: (ms: number) => Promise<void>;
}

export interface OAuthTokenProvider {
  readonly connectionId: string;
  /** A live access token: cached, or refreshed (once across replicas) when it expires within the skew. */
  getAccessToken(): Promise<string>;
  /** The stored cloud id, or null when the connection was never connected. */
  cloudId(): Promise<string | null>;
  /**
   * Drops the in-memory copy (e.g. after Jira answered 401): the next call re-reads the store, and
   * when `rejectedAccessToken` is still the stored one, refreshes it (another replica may have).
   */
  invalidate(rejectedAccessToken?: string): void;
}

const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function createOAuthTokenProvider(o: OAuthTokenProviderOptions): OAuthTokenProvider {
  const clock = o.clock ?? Date.now;
  const skew = o.skewMs ?? 60_000;
  const lockTtl = o.lockTtlMs ?? 30_000;
  const poll = o.pollMs ?? 100;
  const waitTimeout = o.waitTimeoutMs ?? 45_000;
  const sleep = o.sleep ?? realSleep;
  const lockName = `oauth-refresh:${o.connectionId}`;
  const http: OAuthHttpOptions = { timeoutMs: Math.min(15_000, lockTtl / 2), ...o.http, clock };
  let cached: StoredTokens | null = null;
  let inflight: Promise<string> | null = null;
  /** An access token Jira refused before its expiry (revoked): never handed out again. */
  let rejected: string | null = null;

  const fresh = (t: StoredTokens | null): boolean =>
    t !== null && t.expiresAt - skew > clock() && t.accessToken !== rejected;
  const notConnected = (): AppError =>
    new AppError(
      'JIRA_UNAUTHORIZED',
      `connection ${o.connectionId}: OAuth is not connected yet; connect it with Atlassian: POST /api/v1/connections/${o.connectionId}/oauth/start and open the authorize_url`,
    );
  const dead = (cause?: unknown): AppError =>
    new AppError('JIRA_UNAUTHORIZED', reconnectMessage(o.connectionId), {
      details: { reconnect: true },
      ...(cause ? { cause } : {}),
    });

  /** Holding the lease: re-read, and refresh only if nobody did already. */
  async function refreshHolding(): Promise<StoredTokens> {
    const row = await readTokens(o.store.db, o.box, o.connectionId);
    if (!row) throw notConnected();
    if (fresh(row)) return row; // another replica rotated while we waited for the lease
    if (row.refreshToken === null) throw dead();
    let tokens: TokenSet;
    try {
      tokens = await refreshTokens(o.app, row.refreshToken, http);
    } catch (err) {
      if (!(err instanceof OAuthGrantError)) throw err;
      // Before concluding the grant is dead: did someone else rotate (a lease that expired mid-call, a reconnect)?
      const again = await readTokens(o.store.db, o.box, o.connectionId);
      if (again && again.version !== row.version && fresh(again)) return again;
      o.logger?.warn({ connectionId: o.connectionId, oauthError: err.error }, 'OAuth refresh token refused');
      throw dead(err);
    }
    const now = clock();
    if (await swapTokens(o.store.db, o.box, o.connectionId, row.version, tokens, now)) {
      o.logger?.info({ connectionId: o.connectionId }, 'OAuth tokens refreshed');
      return { ...row, ...tokens, refreshToken: tokens.refreshToken ?? row.refreshToken, version: row.version + 1 };
    }
    // The row moved under us (a reconnect): what is stored is newer than what we hold.
    const now2 = await readTokens(o.store.db, o.box, o.connectionId);
    if (!now2) throw notConnected();
    return now2;
  }

  async function obtain(): Promise<string> {
    const deadline = clock() + waitTimeout;
    const owner = `${process.pid}:${randomBytes(6).toString('hex')}`;
    for (;;) {
      const row = await readTokens(o.store.db, o.box, o.connectionId);
      if (!row) throw notConnected();
      if (fresh(row)) {
        cached = row;
        return row.accessToken;
      }
      if (await tryAcquireLock(o.store.db, lockName, owner, lockTtl, clock())) {
        try {
          const t = await refreshHolding();
          cached = t;
          return t.accessToken;
        } finally {
          await releaseLock(o.store.db, lockName, owner).catch(() => undefined);
        }
      }
      if (clock() > deadline) {
        throw new AppError(
          'JIRA_UNAVAILABLE',
          `connection ${o.connectionId}: timed out waiting for another replica to refresh the OAuth token`,
        );
      }
      await sleep(poll);
    }
  }

  return {
    connectionId: o.connectionId,
    async getAccessToken() {
      if (cached && fresh(cached)) return cached.accessToken;
      inflight ??= obtain().finally(() => {
        inflight = null;
      });
      return inflight;
    },
    async cloudId() {
      if (cached) return cached.cloudId;
      const row = await o.store.db
        .selectFrom('oauth_tokens')
        .select('cloud_id')
        .where('connection_id', '=', o.connectionId)
        .executeTakeFirst();
      return row?.cloud_id ?? null;
    },
    invalidate(rejectedAccessToken) {
      cached = null;
      if (rejectedAccessToken) rejected = rejectedAccessToken;
    },
  };
}
