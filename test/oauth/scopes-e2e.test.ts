import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { startTestService, writeConfig } from '../helpers/service.js';
import { consent } from './helpers.js';
import { until } from '../helpers/wait.js';

/** Polls `probe` until it returns a value (not undefined), or fails after `ms`. */

/**
 * OAuth scopes through the real service and the sandbox's scoped API: a connection connected for
 * platform mappings lacks the Service Management scopes a service-desk mapping added later needs;
 * the check and the health say which, a request's sync fails with that (not a raw 401), and
 * connecting again asks for (and gets) them, after which the request syncs.
 */
describe('OAuth scopes follow the mappings', () => {
  let sb: RunningSandbox;
  let svc: RunningService;
  const dir = mkdtempSync(join(tmpdir(), 'jb-oauth-scopes-'));
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${svc.url}${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as Record<string, unknown> };
  };
  const connectWithAtlassian = async (id: string): Promise<string[]> => {
    const start = await call('POST', `/api/v1/connections/${id}/oauth/start`);
    expect(start.status).toBe(200);
    const asked = new URL(String(start.body.authorize_url)).searchParams.get('scope')!.split(' ');
    const callback = await consent(String(start.body.authorize_url));
    const done = await fetch(`${svc.url}${callback.pathname}${callback.search}`, { redirect: 'manual' });
    expect(done.status).toBe(302);
    expect(done.headers.get('location')).toContain(`connected=${id}`);
    return asked;
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

  it('platform-only grant → service desk mapping → missing scope reported → reconnect → the request syncs', async () => {
    const app = sb.credentials.oauthClient;
    const created = await call('POST', '/api/v1/connections', {
      id: 'scoped',
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
    // Connected before any service desk mapping: no Service Management scope asked or granted.
    const asked = await connectWithAtlassian('scoped');
    expect(asked).toEqual(
      expect.arrayContaining([
        'read:jira-work',
        'write:jira-work',
        'read:jira-user',
        'manage:jira-webhook',
        'offline_access',
      ]),
    );
    expect(asked.filter((s) => s.includes('servicedesk'))).toEqual([]);
    const grant = await svc.store.db
      .selectFrom('oauth_tokens')
      .select('scope')
      .where('connection_id', '=', 'scoped')
      .executeTakeFirstOrThrow();
    expect(grant.scope.split(' ')).not.toContain('write:servicedesk-request');
    const platform = await call('PUT', '/api/v1/mappings/scoped-ops', {
      connection: 'scoped',
      scope: 'scoped-ops',
      project: 'OPS',
      kinds: { incident: { issue_type: 'Incident' } },
    });
    expect(platform.status).toBe(201);
    expect((await call('POST', '/api/v1/connections/scoped/check')).body).toMatchObject({ ok: true });

    // A service desk mapping is saved (the grant cannot read the desks: nothing to check against)…
    const desk = await call('PUT', '/api/v1/mappings/scoped-desk', {
      connection: 'scoped',
      scope: 'scoped-desk',
      project: 'ITSD',
      kinds: { req: { service_desk: '1', request_type: '3' } },
    });
    expect(desk.status).toBe(201);
    // …and the check and the connection's health say precisely what the token lacks.
    const check = await call('POST', '/api/v1/connections/scoped/check');
    expect(check.body).toMatchObject({ ok: false, code: 'missing_scopes' });
    expect(String(check.body.message)).toBe(
      "this connection's token lacks read:servicedesk-request, write:servicedesk-request: connect with Atlassian again",
    );
    const health = (await call('GET', '/api/v1/connections/scoped')).body.health as {
      healthy: boolean;
      problem: string;
    };
    expect(health).toMatchObject({ healthy: false });
    expect(health.problem).toContain('lacks read:servicedesk-request, write:servicedesk-request');

    // A request's sync fails with the missing scope named, not a raw 401.
    const put = await call('PUT', '/api/v1/records/scoped-desk/r-1', {
      kind: 'req',
      title: 'Printer on fire',
      status: 'new',
    });
    expect(put.status).toBe(201);
    const failed = await until('the request sync to fail', async () => {
      const r = await call('GET', '/api/v1/records/scoped-desk/r-1');
      const err = (r.body.sync as { error: { message: string } | null }).error;
      return err ? err.message : undefined;
    });
    expect(failed).toContain("this connection's token lacks write:servicedesk-request: connect with Atlassian again");
    expect(failed).not.toContain('scope does not match');
    expect([...sb.state.issues.values()].some((i) => i.summary === 'Printer on fire')).toBe(false);

    // Connecting again asks for the Service Management scopes; the consent grants them.
    const again = await connectWithAtlassian('scoped');
    expect(again).toEqual(expect.arrayContaining(['read:servicedesk-request', 'write:servicedesk-request']));
    expect((await call('POST', '/api/v1/connections/scoped/check')).body).toMatchObject({ ok: true });
    expect(((await call('GET', '/api/v1/connections/scoped')).body.health as { healthy: boolean }).healthy).toBe(true);

    // The request syncs (a change of the record retries it at once).
    expect(
      (
        await call('PUT', '/api/v1/records/scoped-desk/r-1', {
          kind: 'req',
          title: 'Printer still on fire',
          status: 'new',
        })
      ).status,
    ).toBe(200);
    const key = await until('the request to sync', async () => {
      const r = await call('GET', '/api/v1/records/scoped-desk/r-1');
      const k = (r.body.link as { issue_key: string | null } | null)?.issue_key;
      return k && (r.body.sync as { state: string }).state === 'synced' ? k : undefined;
    });
    expect(key).toMatch(/^ITSD-/);
    expect(sb.state.issue(key)!.summary).toBe('Printer still on fire');
  });
});
