import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { startTestService, writeConfig } from '../helpers/service.js';
import { consent } from './helpers.js';

/**
 * The whole path through the real service: an admin creates an OAuth connection through the API,
 * connects it with Atlassian (the sandbox plays auth.atlassian.com and api.atlassian.com), and
 * records sync through the cloud-id API base — without a restart.
 */
describe('OAuth connection through the running service', () => {
  let sb: RunningSandbox;
  let svc: RunningService;
  const dir = mkdtempSync(join(tmpdir(), 'jb-oauth-svc-'));
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${svc.url}${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as Record<string, unknown> };
  };

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    writeConfig(dir, ['connections: []']);
    svc = await startTestService(dir);
  });
  afterAll(async () => {
    await svc?.stop();
    await sb.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('create → connect with Atlassian → check → a mapping → a record synced through /ex/jira/{cloudId}', async () => {
    const app = sb.credentials.oauthClient;
    const created = await call('POST', '/api/v1/connections', {
      id: 'cloud-oauth',
      site_url: sb.baseUrl,
      flavour: 'cloud',
      auth: {
        type: 'oauth',
        client_id: app.clientId,
        client_secret: app.clientSecret,
        auth_url: sb.baseUrl,
        api_url: sb.baseUrl,
      },
      sweep: { interval_seconds: 0 },
    });
    expect(created.status).toBe(201);
    expect(created.body.auth).toMatchObject({ type: 'oauth', has_secret: true, oauth_connected: false });
    expect(JSON.stringify(created.body)).not.toContain(app.clientSecret);
    // Not connected yet: the check says so.
    const before = await call('POST', '/api/v1/connections/cloud-oauth/check');
    expect(before.body.ok).toBe(false);

    const start = await call('POST', '/api/v1/connections/cloud-oauth/oauth/start');
    expect(start.status).toBe(200);
    const callback = await consent(String(start.body.authorize_url));
    expect(callback.pathname).toBe('/oauth/callback');
    const done = await fetch(`${svc.url}${callback.pathname}${callback.search}`, { redirect: 'manual' });
    expect(done.status).toBe(302);
    expect(done.headers.get('location')).toContain('connected=cloud-oauth');

    const after = await call('POST', '/api/v1/connections/cloud-oauth/check');
    expect(after.body).toMatchObject({ ok: true, server: { deploymentType: 'Cloud' } });
    const list = await call('GET', '/api/v1/connections');
    expect((list.body.connections as Array<{ auth: unknown }>)[0]!.auth).toMatchObject({ oauth_connected: true });

    const m = await call('PUT', '/api/v1/mappings/oauth-ops', {
      connection: 'cloud-oauth',
      scope: 'oauth-ops',
      project: 'OPS',
      kinds: { incident: { issue_type: 'Incident' } },
    });
    expect(m.status).toBe(201);
    sb.calls.reset();
    expect(
      (await call('PUT', '/api/v1/records/oauth-ops/o-1', { kind: 'incident', title: 'Via OAuth', status: 'new' }))
        .status,
    ).toBe(201);
    let key: string | null = null;
    for (let i = 0; i < 300 && !key; i++) {
      const r = await call('GET', '/api/v1/records/oauth-ops/o-1');
      key = (r.body.link as { issue_key: string | null } | null)?.issue_key ?? null;
      if (!key) await new Promise((res) => setTimeout(res, 20));
    }
    expect(key).toMatch(/^OPS-/);
    // Atlassian revokes the access token before its expiry: the next call gets a 401, the
    // bridge refreshes once (rotating the refresh token) and the edit still lands.
    const refreshes = sb.oauth.counters.refreshGrants;
    sb.oauth.expireAccessTokens();
    expect(
      (
        await call('PUT', '/api/v1/records/oauth-ops/o-1', {
          kind: 'incident',
          title: 'Renamed via OAuth',
          status: 'new',
        })
      ).status,
    ).toBe(200);
    for (let i = 0; i < 300 && sb.state.issue(key!)!.summary !== 'Renamed via OAuth'; i++)
      await new Promise((res) => setTimeout(res, 20));
    expect(sb.state.issue(key!)!.summary).toBe('Renamed via OAuth');
    expect(sb.oauth.counters.refreshGrants).toBe(refreshes + 1);
    const r = await call('GET', '/api/v1/records/oauth-ops/o-1');
    expect((r.body.sync as { state: string }).state).toBe('synced');
    // An edit from the console (no secret, no endpoints sent back) keeps both, and stays connected.
    const edit = await call('PUT', '/api/v1/connections/cloud-oauth', {
      name: 'Cloud via OAuth',
      site_url: sb.baseUrl,
      flavour: 'cloud',
      auth: { type: 'oauth', client_id: app.clientId },
    });
    expect(edit.status).toBe(200);
    expect(edit.body.auth).toMatchObject({
      has_secret: true,
      auth_url: sb.baseUrl,
      api_url: sb.baseUrl,
      oauth_connected: true,
    });
    expect((await call('POST', '/api/v1/connections/cloud-oauth/check')).body.ok).toBe(true);
  });

  it('an OAuth grant is bound like the secret: a change of the endpoints (or a removal) forgets the stored tokens, so none is spent at the new place', async () => {
    const app = sb.credentials.oauthClient;
    // The new place records whatever reaches it.
    const seen: Array<{ url: string; authorization: string | undefined }> = [];
    const rx = createServer((req, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
    });
    await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
    const elsewhere = `http://127.0.0.1:${(rx.address() as AddressInfo).port}`;
    /** "Connect with Atlassian": start, consent in the sandbox, the callback back to the service. */
    const connectWithAtlassian = async (id: string) => {
      const start = await call('POST', `/api/v1/connections/${id}/oauth/start`);
      const callback = await consent(String(start.body.authorize_url));
      const done = await fetch(`${svc.url}${callback.pathname}${callback.search}`, { redirect: 'manual' });
      expect(done.status).toBe(302);
    };
    const grants = async () =>
      Number(
        (
          await svc.store.db
            .selectFrom('oauth_tokens')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('connection_id', '=', 'moving')
            .executeTakeFirstOrThrow()
        ).n,
      );
    try {
      const auth = { type: 'oauth', client_id: app.clientId, client_secret: app.clientSecret };
      const made = await call('POST', '/api/v1/connections', {
        id: 'moving',
        site_url: sb.baseUrl,
        flavour: 'cloud',
        auth: { ...auth, auth_url: sb.baseUrl, api_url: sb.baseUrl },
        sweep: { interval_seconds: 0 },
      });
      expect(made.status).toBe(201);
      await connectWithAtlassian('moving');
      expect((await call('POST', '/api/v1/connections/moving/check')).body.ok).toBe(true);
      expect(await grants()).toBeGreaterThan(0);

      // Without the client secret the move is refused and the grant stays.
      const refused = await call('PUT', '/api/v1/connections/moving', {
        site_url: sb.baseUrl,
        flavour: 'cloud',
        auth: { type: 'oauth', client_id: app.clientId, auth_url: sb.baseUrl, api_url: elsewhere },
      });
      expect(refused.status).toBe(400);
      expect(await grants()).toBeGreaterThan(0);
      // With it, the connection moves and its grant is forgotten: not connected, nothing sent there.
      const moved = await call('PUT', '/api/v1/connections/moving', {
        site_url: sb.baseUrl,
        flavour: 'cloud',
        auth: { ...auth, auth_url: sb.baseUrl, api_url: elsewhere },
        sweep: { interval_seconds: 0 },
      });
      expect(moved.status).toBe(200);
      expect(moved.body.auth).toMatchObject({ api_url: elsewhere, oauth_connected: false });
      expect(await grants()).toBe(0);
      const check = await call('POST', '/api/v1/connections/moving/check');
      expect(check.body.ok).toBe(false);
      expect(seen.filter((s) => s.authorization !== undefined)).toEqual([]);
      const audit = await call('GET', '/api/v1/audit?target=connection:moving');
      expect(JSON.stringify(audit.body)).not.toContain(app.clientSecret);

      // Connected again at the new place, then deleted: the grant goes with the connection.
      const back = await call('PUT', '/api/v1/connections/moving', {
        site_url: sb.baseUrl,
        flavour: 'cloud',
        auth: { ...auth, auth_url: sb.baseUrl, api_url: sb.baseUrl },
        sweep: { interval_seconds: 0 },
      });
      expect(back.status).toBe(200);
      await connectWithAtlassian('moving');
      expect(await grants()).toBeGreaterThan(0);
      expect((await call('DELETE', '/api/v1/connections/moving')).status).toBe(204);
      expect(await grants()).toBe(0);
    } finally {
      await new Promise((r) => rx.close(r));
    }
  });
});
