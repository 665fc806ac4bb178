import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jiraConnectionOf } from '../../src/app/engine-wiring.js';
import { createOAuthWiring, type OAuthWiring } from '../../src/app/oauth-wiring.js';
import { readTokens } from '../../src/app/oauth-tokens.js';
import { storeReadiness } from '../../src/app/readiness.js';
import { connectionSchema, type ConnectionConfig } from '../../src/config/schema.js';
import { isAppError } from '../../src/core/errors.js';
import type { Principal } from '../../src/core/access.js';
import { oauthRoutes } from '../../src/http/routes/oauth.js';
import { buildServer } from '../../src/http/server.js';
import { createJiraClient } from '../../src/jira/client.js';
import { createLogger } from '../../src/log/logger.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { createSecretBox } from '../../src/security/secret-box.js';
import { freshSqlite, type TestDb } from '../helpers/db.js';
import { consent, postJson } from './helpers.js';

/**
 * The whole connect flow against the sandbox as Atlassian, through the service's HTTP routes, with
 * a real SQLite file: start (admin only) → consent → callback → tokens stored sealed → Jira API
 * calls through /ex/jira/{cloudId}; expiry → refresh → rotation; state reuse/expiry; site
 * mismatch; a revoked grant gives the reconnect error.
 */
describe('OAuth 2.0 (3LO) connect flow and token provider [sqlite]', () => {
  let sb: RunningSandbox;
  let db: TestDb;
  let server: FastifyInstance;
  let url: string;
  let wiring: OAuthWiring;
  let conn: ConnectionConfig;
  let offsetMs = 0;
  const clock = (): number => Date.now() + offsetMs;
  const box = createSecretBox(randomBytes(32));
  const connections: ConnectionConfig[] = [];
  const connected: string[] = [];
  const principals: Record<string, Principal> = {
    'admin-token': { id: '1', name: 'root', role: 'admin', scopes: [] },
    'viewer-token': { id: '2', name: 'eyes', role: 'viewer', scopes: [] },
    'operator-token': { id: '3', name: 'ops', role: 'operator', scopes: [] },
  };

  const start = (id: string, token = 'admin-token') =>
    fetch(`${url}/api/v1/connections/${id}/oauth/start`, {
      method: 'POST',
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  const startUrl = async (id: string): Promise<string> => {
    const res = await start(id);
    expect(res.status).toBe(200);
    return ((await res.json()) as { authorize_url: string }).authorize_url;
  };
  const connectionOf = (id: string, siteUrl: string, clientId: string, clientSecret: string): ConnectionConfig =>
    connectionSchema.parse({
      id,
      site_url: siteUrl,
      flavour: 'cloud',
      auth: {
        type: 'oauth',
        client_id: clientId,
        client_secret: clientSecret,
        auth_url: sb.baseUrl,
        api_url: sb.baseUrl,
      },
    });

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    db = await freshSqlite();
    const logger = createLogger({ level: 'silent' });
    const publicUrl = { value: '' };
    wiring = await createOAuthWiring({
      store: db.store,
      box,
      publicUrl: () => publicUrl.value,
      connections: () => connections,
      onConnected: (c) => {
        connected.push(c.id);
      },
      clock,
    });
    server = await buildServer({
      logger,
      readiness: storeReadiness(db.store),
      metrics: createMetrics({ defaultMetrics: false }),
      version: 'test',
      routes: [oauthRoutes({ connect: wiring.connect, logger })],
      auth: { enforced: async () => true, verify: async (t) => principals[t] ?? null },
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const address = server.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    publicUrl.value = url;
    // A registered app with exactly the service's callback, as in the Atlassian developer console.
    const app = sb.oauth.registerApp({ name: 'jira-bridge test', redirectUris: [`${url}/oauth/callback`] });
    conn = connectionOf('sb', sb.baseUrl, app.clientId, app.clientSecret);
    connections.push(
      conn,
      connectionOf('elsewhere', 'https://other-site.atlassian.net', app.clientId, app.clientSecret),
    );
  });
  afterAll(async () => {
    await server?.close();
    await db?.cleanup();
    await sb?.close();
  });

  it('only an admin token may start; the authorize URL carries audience, scopes with offline_access and the callback', async () => {
    expect((await start('sb', '')).status).toBe(401);
    expect((await start('sb', 'viewer-token')).status).toBe(403);
    expect((await start('sb', 'operator-token')).status).toBe(403);
    const unknown = await start('nope');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toMatch(/auth\.type "oauth"/);

    const u = new URL(await startUrl('sb'));
    expect(`${u.origin}${u.pathname}`).toBe(`${sb.baseUrl}/authorize`);
    expect(u.searchParams.get('audience')).toBe('api.atlassian.com');
    expect(u.searchParams.get('response_type')).toBe('code');
    expect(u.searchParams.get('redirect_uri')).toBe(`${url}/oauth/callback`);
    expect(u.searchParams.get('scope')!.split(' ')).toContain('offline_access');
    expect(u.searchParams.get('state')!.length).toBeGreaterThanOrEqual(32);

    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/v1/connections/{id}/oauth/start', '/oauth/callback']),
    );
  });

  it('the provider says "not connected" before the flow', async () => {
    const err = await wiring
      .provider(conn)
      .getAccessToken()
      .catch((e: unknown) => e);
    expect(isAppError(err) && err.code).toBe('JIRA_UNAUTHORIZED');
    expect((err as Error).message).toMatch(/not connected yet.*oauth\/start/);
  });

  let callbackUrl: URL;
  it('consent → callback stores cloud id and tokens, sealed (no token in clear in the database files)', async () => {
    callbackUrl = await consent(await startUrl('sb'));
    expect(`${callbackUrl.origin}${callbackUrl.pathname}`).toBe(`${url}/oauth/callback`);
    const res = await fetch(callbackUrl, { redirect: 'manual', headers: { accept: 'text/html' } });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/console/#connections?connected=sb');
    expect(connected).toEqual(['sb']);

    const stored = await readTokens(db.store.db, box, 'sb');
    expect(stored).toMatchObject({ cloudId: sb.oauth.cloudId, siteUrl: sb.baseUrl, version: 1 });
    expect(stored!.accessToken).toMatch(/^at-/);
    expect(stored!.refreshToken).toMatch(/^rt-/);
    const row = await db.store.db.selectFrom('oauth_tokens').selectAll().executeTakeFirstOrThrow();
    expect(row.access_enc.startsWith('v1.')).toBe(true);
    expect(row.refresh_enc!.startsWith('v1.')).toBe(true);

    const dir = db.openOpts.dataDir!;
    const bytes = Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));
    expect(bytes.length).toBeGreaterThan(0);
    expect(bytes.includes(Buffer.from(stored!.accessToken))).toBe(false);
    expect(bytes.includes(Buffer.from(stored!.refreshToken!))).toBe(false);
    expect(bytes.includes(Buffer.from(sb.oauth.cloudId))).toBe(true); // the scan does see the rows

    const audit = await db.store.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'connection.oauth_connected')
      .execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]!.actor).toBe('admin:root');
    expect(audit[0]!.after).not.toContain(stored!.accessToken);
  });

  it('the same callback (state reuse) is refused with a clear page; JSON for API clients', async () => {
    const html = await fetch(callbackUrl, { redirect: 'manual', headers: { accept: 'text/html' } });
    expect(html.status).toBe(400);
    expect(html.headers.get('content-type')).toContain('text/html');
    expect(await html.text()).toMatch(/unknown or was already used/);
    const json = await fetch(callbackUrl, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
    const forged = await fetch(`${url}/oauth/callback?code=x&state=forged`, {
      headers: { accept: 'application/json' },
    });
    expect(forged.status).toBe(400);
  });

  it('Jira API calls go through /ex/jira/{cloudId} with the access token', async () => {
    const jc = jiraConnectionOf(conn, wiring.authFor);
    expect(jc.auth).toMatchObject({ type: 'oauth', cloudId: sb.oauth.cloudId });
    const client = createJiraClient(jc);
    try {
      expect(client.baseUrl).toBe(`${sb.baseUrl}/ex/jira/${sb.oauth.cloudId}`);
      const me = await client.myself();
      expect(me.accountId).toBe(sb.credentials.users.admin!.accountId);
      const created = await client.createIssue({
        fields: { project: { key: 'OPS' }, issuetype: { name: 'Task' }, summary: 'created through OAuth' },
      });
      expect(created.key).toMatch(/^OPS-\d+$/);
    } finally {
      await client.close();
    }
  });

  it('an expiring token is refreshed once and rotated; the old refresh token is dead at Atlassian', async () => {
    const before = await readTokens(db.store.db, box, 'sb');
    const grants = sb.oauth.counters.refreshGrants;
    const provider = wiring.provider(conn);
    expect(await provider.getAccessToken()).toBe(before!.accessToken); // cached / still fresh

    sb.oauth.expireAccessTokens();
    offsetMs += 3600_000 - 30_000; // within the 60 s skew of expiry
    const t1 = await provider.getAccessToken();
    expect(t1).not.toBe(before!.accessToken);
    expect(sb.oauth.counters.refreshGrants).toBe(grants + 1);
    const after = await readTokens(db.store.db, box, 'sb');
    expect(after).toMatchObject({ accessToken: t1, version: before!.version + 1 });
    expect(after!.refreshToken).not.toBe(before!.refreshToken);
    // A second call uses the cache: no second grant.
    expect(await provider.getAccessToken()).toBe(t1);
    expect(sb.oauth.counters.refreshGrants).toBe(grants + 1);

    const reuse = await postJson(`${sb.baseUrl}/oauth/token`, {
      grant_type: 'refresh_token',
      client_id: conn.auth.type === 'oauth' ? conn.auth.client_id : '',
      client_secret: conn.auth.type === 'oauth' ? conn.auth.client_secret : '',
      refresh_token: before!.refreshToken,
    });
    expect(reuse.status).toBe(403);
    expect(reuse.body.error).toBe('invalid_grant');

    const client = createJiraClient(jiraConnectionOf(conn, wiring.authFor));
    try {
      expect((await client.myself()).accountId).toBe(sb.credentials.users.admin!.accountId);
    } finally {
      await client.close();
    }
  });

  it('an expired authorization request is refused', async () => {
    const authorize = await startUrl('sb');
    offsetMs += 11 * 60_000;
    const back = await consent(authorize);
    const res = await fetch(back, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/expired/);
    // The expired one was spent by the attempt; what is left to purge is the request the first test never finished.
    expect(await wiring.connect.purgeExpired()).toBe(1);
    expect(await db.store.db.selectFrom('oauth_states').selectAll().execute()).toEqual([]);
  });

  it('a tampered redirect_uri is refused by the authorization server (400 page, no redirect)', async () => {
    const u = new URL(await startUrl('sb'));
    u.searchParams.set('redirect_uri', 'https://attacker.example/oauth/callback');
    const res = await fetch(u, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });

  it('Deny on the consent page → a clear error, nothing stored', async () => {
    const back = await consent(await startUrl('elsewhere'), { decision: 'deny' });
    const res = await fetch(back, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/access_denied/);
    expect(await readTokens(db.store.db, box, 'elsewhere')).toBeNull();
  });

  it('a site_url that the grant does not reach → an error naming the sites available', async () => {
    const back = await consent(await startUrl('elsewhere'));
    const res = await fetch(back, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string; details: { sites: Array<{ url: string }> } } };
    expect(body.error.message).toContain('https://other-site.atlassian.net');
    expect(body.error.message).toContain(`Sites available: ${sb.baseUrl}`);
    expect(body.error.details.sites[0]!.url).toBe(sb.baseUrl);
    expect(await readTokens(db.store.db, box, 'elsewhere')).toBeNull();
  });

  it('a revoked grant → JIRA_UNAUTHORIZED telling to reconnect with Atlassian (from the provider and the client)', async () => {
    sb.oauth.revokeApp(conn.auth.type === 'oauth' ? conn.auth.client_id : '');
    offsetMs += 2 * 3600_000;
    const provider = wiring.provider(conn);
    const err = await provider.getAccessToken().catch((e: unknown) => e);
    expect(isAppError(err) && err.code).toBe('JIRA_UNAUTHORIZED');
    expect((err as Error).message).toMatch(/reconnect with Atlassian.*\/api\/v1\/connections\/sb\/oauth\/start/);
    const client = createJiraClient(jiraConnectionOf(conn, wiring.authFor), { maxRetries: 0 });
    try {
      const e2 = await client.myself().catch((e: unknown) => e);
      expect(isAppError(e2) && e2.code).toBe('JIRA_UNAUTHORIZED');
    } finally {
      await client.close();
    }
    // The row is kept (a reconnect replaces it); reconnecting works again.
    const back = await consent(await startUrl('sb'));
    expect((await fetch(back, { redirect: 'manual' })).status).toBe(302);
    expect(await provider.getAccessToken()).toMatch(/^at-/);
  });
});
