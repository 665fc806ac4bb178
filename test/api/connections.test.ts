import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { sandboxConnectionYaml, startTestService, writeConfig } from '../helpers/service.js';

interface ConnectionBody {
  id: string;
  site_url: string;
  flavour: string;
  source: string;
  auth: { type: string; email?: string; has_secret: boolean };
  health: { healthy: boolean };
}

describe('connections through the admin API: checked, sealed at rest, live at once, audited', () => {
  let sb: RunningSandbox;
  let svc: RunningService;
  const dir = mkdtempSync(join(tmpdir(), 'jb-conn-'));
  const start = () => startTestService(dir);
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${svc.url}${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
  let alice: { email: string; apiToken: string };
  const body = (over: Record<string, unknown> = {}) => ({
    id: 'cloud2',
    name: 'Cloud (Alice)',
    site_url: sb.baseUrl,
    flavour: 'cloud',
    auth: { type: 'basic', email: alice.email, api_token: alice.apiToken },
    sweep: { interval_seconds: 0, link_check_seconds: 900 },
    ...over,
  });

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    const a = sb.credentials.users.alice!;
    alice = { email: a.loginEmail, apiToken: a.apiToken };
    writeConfig(dir, [...sandboxConnectionYaml(sb)]);
    svc = await start();
  });
  afterAll(async () => {
    await svc.stop();
    await sb.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a bad body naming the field and the fix', async () => {
    const noUrl = await call('POST', '/api/v1/connections', body({ site_url: 'jira.example.com' }));
    expect(noUrl.status).toBe(400);
    expect(((await noUrl.json()) as { error: { message: string } }).error.message).toMatch(
      /^body\.site_url: must be an absolute http\(s\) URL/,
    );
    const noToken = await call('POST', '/api/v1/connections', body({ auth: { type: 'basic', email: alice.email } }));
    expect(noToken.status).toBe(400);
    expect(((await noToken.json()) as { error: { message: string } }).error.message).toMatch(/^body\.auth\.api_token/);
    const file = await call('PUT', '/api/v1/connections/sb', body({ id: 'sb' }));
    expect(file.status).toBe(409);
    expect(((await file.json()) as { error: { message: string } }).error.message).toMatch(/configuration file/);
  });

  it('checks a connection before saving it: the Jira user reached, or the 401 with what to regenerate', async () => {
    const bad = await call(
      'POST',
      '/api/v1/connections/check',
      body({ auth: { type: 'basic', email: alice.email, api_token: 'wrong-token' } }),
    );
    expect(bad.status).toBe(200);
    const b = (await bad.json()) as { ok: boolean; code: string; hint: string };
    expect(b).toMatchObject({ ok: false, code: 'unauthorized' });
    expect(b.hint).toMatch(/API token/i);
    const good = (await (await call('POST', '/api/v1/connections/check', body())).json()) as {
      ok: boolean;
      user: { displayName: string };
      server: { deploymentType: string };
    };
    expect(good).toMatchObject({ ok: true, server: { deploymentType: 'Cloud' } });
    expect(good.user.displayName).toMatch(/Alice/);
    // Nothing was saved by a check.
    const list = (await (await call('GET', '/api/v1/connections')).json()) as { connections: ConnectionBody[] };
    expect(list.connections.map((c) => c.id)).toEqual(['sb']);
  });

  it('creates a connection: never returns its secret, seals it at rest, audits it masked', async () => {
    const res = await call('POST', '/api/v1/connections', body());
    expect(res.status).toBe(201);
    const text = await res.text();
    expect(text).not.toContain(alice.apiToken);
    expect(JSON.parse(text)).toMatchObject({
      id: 'cloud2',
      source: 'api',
      auth: { type: 'basic', email: alice.email, has_secret: true },
      sweep: { interval_seconds: 0, link_check_seconds: 900 },
      health: { healthy: true },
    });
    const again = await call('POST', '/api/v1/connections', body());
    expect(again.status).toBe(409);
    const list = (await (await call('GET', '/api/v1/connections')).json()) as { connections: ConnectionBody[] };
    expect(list.connections.map((c) => [c.id, c.source])).toEqual([
      ['sb', 'file'],
      ['cloud2', 'api'],
    ]);
    // The database files hold no token in clear.
    const data = join(dir, 'data');
    for (const f of readdirSync(data).filter((x) => x.startsWith('jira-bridge.db'))) {
      expect(readFileSync(join(data, f)).includes(Buffer.from(alice.apiToken))).toBe(false);
    }
    const audit = await (await call('GET', '/api/v1/audit')).text();
    expect(audit).toContain('connection.created');
    expect(audit).not.toContain(alice.apiToken);
  });

  it('a saved connection works at once: check, catalogue, a mapping on it, a record synced through it', async () => {
    const check = (await (await call('POST', '/api/v1/connections/cloud2/check')).json()) as { ok: boolean };
    expect(check.ok).toBe(true);
    const cat = (await (await call('GET', '/api/v1/connections/cloud2/catalog')).json()) as {
      projects: Array<{ key: string }>;
      priorities: Array<{ name: string }>;
    };
    expect(cat.projects.map((p) => p.key)).toContain('OPS');
    expect(cat.priorities.map((p) => p.name)).toContain('Highest');
    const m = await call('PUT', '/api/v1/mappings/alice-ops', {
      connection: 'cloud2',
      scope: 'alice-ops',
      project: 'OPS',
      kinds: { incident: { issue_type: 'Incident' } },
      status: { out: { new: 'To Do' } },
    });
    expect(m.status).toBe(201);
    const put = await call('PUT', '/api/v1/records/alice-ops/a-1', {
      kind: 'incident',
      title: 'Via Alice',
      status: 'new',
    });
    expect(put.status).toBe(201);
    let key: string | undefined;
    for (let i = 0; i < 300 && !key; i++) {
      const r = (await (await call('GET', '/api/v1/records/alice-ops/a-1')).json()) as {
        link: { issue_key: string | null } | null;
      };
      key = r.link?.issue_key ?? undefined;
      if (!key) await new Promise((r) => setTimeout(r, 20));
    }
    expect(key).toMatch(/^OPS-/);
    const issue = sb.state.issue(key!)!;
    expect(sb.state.users.get(issue.reporterId!)?.displayName).toMatch(/Alice/);
  });

  it('an update without the secret keeps it; changing the auth type needs the new secret', async () => {
    const keep = await call(
      'PUT',
      '/api/v1/connections/cloud2',
      body({ name: 'Renamed', auth: { type: 'basic', email: alice.email } }),
    );
    expect(keep.status).toBe(200);
    expect(((await keep.json()) as { name: string }).name).toBe('Renamed');
    expect(((await (await call('POST', '/api/v1/connections/cloud2/check')).json()) as { ok: boolean }).ok).toBe(true);
    const pat = await call('PUT', '/api/v1/connections/cloud2', body({ auth: { type: 'pat' } }));
    expect(pat.status).toBe(400);
    expect(((await pat.json()) as { error: { message: string } }).error.message).toMatch(/^body\.auth\.token/);
  });

  it('survives a restart (opened with the master key) and refuses deletion while used', async () => {
    await svc.stop();
    svc = await start();
    const got = (await (await call('GET', '/api/v1/connections/cloud2')).json()) as ConnectionBody & { name: string };
    expect(got).toMatchObject({ name: 'Renamed', source: 'api', auth: { has_secret: true } });
    expect(((await (await call('POST', '/api/v1/connections/cloud2/check')).json()) as { ok: boolean }).ok).toBe(true);
    const used = await call('DELETE', '/api/v1/connections/cloud2');
    expect(used.status).toBe(409);
    expect(((await used.json()) as { error: { message: string } }).error.message).toMatch(/alice-ops/);
    // An unused one goes.
    expect((await call('POST', '/api/v1/connections', body({ id: 'spare' }))).status).toBe(201);
    expect((await call('DELETE', '/api/v1/connections/spare')).status).toBe(204);
    expect((await call('GET', '/api/v1/connections/spare')).status).toBe(404);
  });
});
