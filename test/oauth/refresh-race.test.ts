import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOAuthConnect } from '../../src/app/oauth-connect.js';
import { createOAuthTokenProvider, readTokens, type OAuthTokenProvider } from '../../src/app/oauth-tokens.js';
import { isAppError } from '../../src/core/errors.js';
import type { OAuthAppCredentials } from '../../src/jira/oauth-client.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { createSecretBox } from '../../src/security/secret-box.js';
import { openStore, type Store } from '../../src/store/index.js';
import { freshPostgres, pgUnreachableReason, type TestDb } from '../helpers/db.js';
import { consent } from './helpers.js';

const pgReason = await pgUnreachableReason();
if (pgReason !== null)
  console.warn(`*** PostgreSQL unreachable (${pgReason}): the OAuth refresh race suite is SKIPPED ***`);

/**
 * Two replicas (two Store instances, two providers) on the same PostgreSQL schema ask for a token
 * when it has expired: exactly one refresh grant reaches Atlassian (the sandbox), both get a
 * working token, and the rotated refresh token is never lost.
 */
describe.skipIf(pgReason !== null)('OAuth refresh across replicas [postgres]', () => {
  let sb: RunningSandbox;
  let db: TestDb;
  let storeB: Store;
  let app: OAuthAppCredentials;
  let offsetMs = 0;
  const clock = (): number => Date.now() + offsetMs;
  const box = createSecretBox(randomBytes(32));
  const CONN = 'cloud1';

  const provider = (store: Store, extra: Partial<Parameters<typeof createOAuthTokenProvider>[0]> = {}) =>
    createOAuthTokenProvider({ store, box, connectionId: CONN, app, clock, pollMs: 10, ...extra });
  const works = async (token: string): Promise<number> =>
    (
      await fetch(`${sb.baseUrl}/ex/jira/${sb.oauth.cloudId}/rest/api/3/myself`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).status;
  /** Makes the stored access token expired from every replica's point of view (and dead at Atlassian). */
  const expireAll = (): void => {
    sb.oauth.expireAccessTokens();
    offsetMs += 3600_000;
  };

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    db = await freshPostgres();
    storeB = await openStore(db.openOpts); // a second replica: its own pool on the same schema
    app = {
      clientId: sb.credentials.oauthClient.clientId,
      clientSecret: sb.credentials.oauthClient.clientSecret,
      authUrl: sb.baseUrl,
      apiUrl: sb.baseUrl,
    };
    const connect = createOAuthConnect({
      store: db.store,
      box,
      publicUrl: () => 'http://127.0.0.1:1',
      connection: (id) => (id === CONN ? { id, siteUrl: sb.baseUrl, app } : undefined),
      clock,
    });
    const { authorize_url } = await connect.start(CONN, 'admin:test');
    const back = await consent(authorize_url);
    await connect.callback({ code: back.searchParams.get('code')!, state: back.searchParams.get('state')! });
  });
  afterAll(async () => {
    await storeB?.close();
    await db?.cleanup();
    await sb?.close();
  });

  it('two replicas at once: one refresh grant, both get the same working token, the connection keeps working', async () => {
    const a = provider(db.store);
    const b = provider(storeB);
    expect(await works(await a.getAccessToken())).toBe(200);
    expireAll();
    const grants = sb.oauth.counters.refreshGrants;
    const [ta, tb] = await Promise.all([a.getAccessToken(), b.getAccessToken()]);
    expect(sb.oauth.counters.refreshGrants).toBe(grants + 1);
    expect(sb.oauth.counters.refreshRejected).toBe(0);
    expect(ta).toBe(tb);
    expect(await works(ta)).toBe(200);
    // And the next expiry still refreshes fine (the stored refresh token is the live one).
    expireAll();
    const t2 = await b.getAccessToken();
    expect(t2).not.toBe(ta);
    expect(await works(t2)).toBe(200);
    expect(sb.oauth.counters.refreshGrants).toBe(grants + 2);
    expect(sb.oauth.liveRefreshTokens()).toBe(1);
  });

  it('many times over, with a slow token endpoint and several callers per replica', async () => {
    sb.oauth.setSettings({ tokenLatencyMs: 15 });
    try {
      const replicas: OAuthTokenProvider[] = [
        provider(db.store),
        provider(db.store),
        provider(storeB),
        provider(storeB),
      ];
      for (let i = 0; i < 25; i++) {
        expireAll();
        const grants = sb.oauth.counters.refreshGrants;
        const before = (await readTokens(db.store.db, box, CONN))!;
        const got = await Promise.all(replicas.flatMap((p) => [p.getAccessToken(), p.getAccessToken()]));
        expect(sb.oauth.counters.refreshGrants, `round ${i}`).toBe(grants + 1);
        expect(new Set(got).size, `round ${i}`).toBe(1);
        expect(await works(got[0]!), `round ${i}`).toBe(200);
        const after = (await readTokens(storeB.db, box, CONN))!;
        expect(after.version).toBe(before.version + 1);
        expect(after.refreshToken).not.toBe(before.refreshToken);
      }
      expect(sb.oauth.counters.refreshRejected).toBe(0);
      expect(sb.oauth.liveRefreshTokens()).toBe(1);
    } finally {
      sb.oauth.setSettings({ tokenLatencyMs: 0 });
    }
  });

  it('a lease that runs out mid-refresh: the loser gets invalid_grant, re-reads the row and uses the winner’s tokens', async () => {
    // The token endpoint answers after 300 ms but the lease lasts 50 ms: B takes the lease while A's
    // refresh is in flight and sends the same refresh token, which Atlassian refuses.
    sb.oauth.setSettings({ tokenLatencyMs: 300 });
    try {
      const slow = { lockTtlMs: 50, http: { timeoutMs: 5000 } };
      const a = provider(db.store, slow);
      const b = provider(storeB, slow);
      await a.getAccessToken();
      expireAll();
      const grants = sb.oauth.counters.refreshGrants;
      const rejected = sb.oauth.counters.refreshRejected;
      const pa = a.getAccessToken();
      await new Promise((r) => setTimeout(r, 120));
      const tb = await b.getAccessToken();
      const ta = await pa;
      expect(sb.oauth.counters.refreshGrants).toBe(grants + 1);
      expect(sb.oauth.counters.refreshRejected).toBe(rejected + 1);
      expect(tb).toBe(ta);
      expect(await works(tb)).toBe(200);
    } finally {
      sb.oauth.setSettings({ tokenLatencyMs: 0 });
    }
  });

  it('a revoked grant: every replica gets the reconnect error, none loops', async () => {
    sb.oauth.revokeApp(app.clientId);
    expireAll();
    const errs = await Promise.all(
      [provider(db.store), provider(storeB)].map((p) => p.getAccessToken().catch((e: unknown) => e)),
    );
    for (const e of errs) {
      expect(isAppError(e) && e.code).toBe('JIRA_UNAUTHORIZED');
      expect((e as Error).message).toMatch(/reconnect with Atlassian/);
    }
  });
});
