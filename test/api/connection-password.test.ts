/**
 * Data Center basic auth with a username and password (Jira before personal access tokens) through
 * the admin API: created and checked against the Data Center sandbox, the password sealed at rest,
 * never returned, masked in the audit log, bound to the site like the other Jira secrets; Cloud
 * refuses the form with a 400 naming auth.username and the fix.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { SQLITE_FILE } from '../../src/store/sqlite.js';
import { startTestService, writeConfig } from '../helpers/service.js';

describe('Data Center connections with a username and password (admin API)', () => {
  let dc: RunningSandbox;
  let cloud: RunningSandbox;
  let svc: RunningService;
  const dir = mkdtempSync(join(tmpdir(), 'jb-conn-password-'));
  let alice: { name: string; password: string };
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${svc.url}${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
  const errorOf = async (res: Response) =>
    ((await res.json()) as { error: { code: string; message: string; details?: { issues?: unknown[] } } }).error;
  const body = (over: Record<string, unknown> = {}) => ({
    id: 'onprem',
    name: 'On-prem Jira',
    site_url: dc.baseUrl,
    flavour: 'datacenter',
    auth: { type: 'basic', username: alice.name, password: alice.password },
    sweep: { interval_seconds: 0, link_check_seconds: 900 },
    ...over,
  });
  /** The console's "edit without retyping the password". */
  const noPassword = (over: Record<string, unknown> = {}) =>
    body({ auth: { type: 'basic', username: alice.name }, ...over });

  beforeAll(async () => {
    dc = await startSandbox({ flavour: 'datacenter', port: 0 });
    cloud = await startSandbox({ flavour: 'cloud', port: 0 });
    const a = dc.credentials.users.alice!;
    alice = { name: a.name, password: a.password };
    writeConfig(dir, ['connections: []']);
    svc = await startTestService(dir);
  });
  afterAll(async () => {
    await svc?.stop();
    await dc?.close();
    await cloud?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an unsaved one is checked through the sandbox: the Jira user it reached, or a 401 whose hint names the password', async () => {
    const ok = await call('POST', '/api/v1/connections/check', body());
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ ok: true, user: { name: 'alice' }, server: { deploymentType: 'Server' } });

    const wrong = await call(
      'POST',
      '/api/v1/connections/check',
      body({ auth: { type: 'basic', username: alice.name, password: 'not-her-password' } }),
    );
    expect(wrong.status).toBe(200);
    const failed = (await wrong.json()) as { ok: boolean; code: string; hint: string };
    expect(failed).toMatchObject({ ok: false, code: 'unauthorized' });
    expect(failed.hint).toMatch(/check the username and password/);
    // Data Center has no API tokens: alice's Cloud-style token is not her password.
    const token = await call(
      'POST',
      '/api/v1/connections/check',
      body({ auth: { type: 'basic', username: alice.name, password: dc.credentials.users.alice!.apiToken } }),
    );
    expect(await token.json()).toMatchObject({ ok: false, code: 'unauthorized' });
  });

  it('is created, shows its username and never its password (create, get, list), and is sealed at rest', async () => {
    const created = await call('POST', '/api/v1/connections', body());
    const text = await created.text();
    expect(created.status).toBe(201);
    expect(text).not.toContain(alice.password);
    expect(JSON.parse(text)).toMatchObject({
      id: 'onprem',
      flavour: 'datacenter',
      source: 'api',
      auth: { type: 'basic', username: 'alice', has_secret: true },
    });
    for (const path of ['/api/v1/connections/onprem', '/api/v1/connections']) {
      const res = await call('GET', path);
      expect(res.status).toBe(200);
      expect(await res.text()).not.toContain(alice.password);
    }
    const saved = await call('POST', '/api/v1/connections/onprem/check');
    expect(await saved.json()).toMatchObject({ ok: true, user: { name: 'alice' } });

    const db = new Database(join(dir, 'data', SQLITE_FILE), { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare('SELECT config, secrets_enc FROM connections WHERE id = ?').get('onprem') as {
        config: string;
        secrets_enc: string | Buffer | null;
      };
      expect(row.config).toContain('"username":"alice"');
      expect(row.config).not.toContain(alice.password);
      expect(row.secrets_enc).not.toBeNull();
      expect(String(row.secrets_enc)).not.toContain(alice.password);
      expect(Buffer.from(row.secrets_enc as string).toString('latin1')).not.toContain(alice.password);
    } finally {
      db.close();
    }
  });

  it('the catalogue is read with the password (the connection is live at once)', async () => {
    const res = await call('GET', '/api/v1/connections/onprem/catalog');
    expect(res.status).toBe(200);
    const catalog = (await res.json()) as { projects: Array<{ key: string }> };
    expect(catalog.projects.map((p) => p.key)).toEqual(expect.arrayContaining(['SEC', 'OPS']));
  });

  it('left out, the saved password is kept; moving the site needs it again (400 naming the password)', async () => {
    const renamed = await call('PUT', '/api/v1/connections/onprem', noPassword({ name: 'Renamed' }));
    expect(renamed.status).toBe(200);
    expect(await renamed.json()).toMatchObject({ name: 'Renamed', auth: { username: 'alice', has_secret: true } });
    expect(await (await call('POST', '/api/v1/connections/onprem/check')).json()).toMatchObject({ ok: true });

    const moved = dc.baseUrl.replace('127.0.0.1', 'localhost');
    for (const [method, path] of [
      ['PUT', '/api/v1/connections/onprem'],
      ['POST', '/api/v1/connections/check'],
    ] as const) {
      const res = await call(method, path, noPassword({ site_url: moved }));
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message).toBe(
        `body.auth.password: site_url changed from ${dc.baseUrl} to ${moved}; send the password again for the new site`,
      );
    }
    const trust = await call('PUT', '/api/v1/connections/onprem', noPassword({ tls: { verify: false } }));
    expect(trust.status).toBe(400);
    expect((await errorOf(trust)).message).toMatch(
      /^body\.auth\.password: tls\.verify changed from true to false; send the password again/,
    );
    const withIt = await call('PUT', '/api/v1/connections/onprem', body({ site_url: moved }));
    expect(withIt.status).toBe(200);
    expect(await (await call('POST', '/api/v1/connections/onprem/check')).json()).toMatchObject({ ok: true });
  });

  it('switching to the other basic form or to a PAT never borrows the saved password', async () => {
    // Email + API token with the token left out: the saved password is a different credential.
    const res = await call(
      'PUT',
      '/api/v1/connections/onprem',
      body({
        site_url: dc.baseUrl.replace('127.0.0.1', 'localhost'),
        auth: { type: 'basic', email: 'alice@sandbox.example' },
      }),
    );
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/^body\.auth\.api_token: is required/);
    const pat = await call(
      'PUT',
      '/api/v1/connections/onprem',
      body({ site_url: dc.baseUrl.replace('127.0.0.1', 'localhost'), auth: { type: 'pat' } }),
    );
    expect(pat.status).toBe(400);
    expect((await errorOf(pat)).message).toMatch(/^body\.auth\.token:/);
  });

  it('the audit log masks the password, and marks a new one as replaced', async () => {
    const changed = await call(
      'PUT',
      '/api/v1/connections/onprem',
      body({ auth: { type: 'basic', username: 'admin', password: dc.credentials.password } }),
    );
    expect(changed.status).toBe(200);
    expect(await (await call('POST', '/api/v1/connections/onprem/check')).json()).toMatchObject({
      ok: true,
      user: { name: 'admin' },
    });
    const audit = await (await call('GET', '/api/v1/audit?target=connection:onprem&limit=1000')).text();
    expect(audit).not.toContain(alice.password);
    expect(audit).not.toContain(dc.credentials.password);
    const entries = (
      JSON.parse(audit) as {
        entries: Array<{ action: string; after?: { auth?: Record<string, string> } }>;
      }
    ).entries;
    expect(entries.find((e) => e.action === 'connection.created')?.after?.auth).toEqual({
      type: 'basic',
      username: 'alice',
      password: '••••••',
    });
    expect(
      entries.some((e) => e.after?.auth?.password === '•••••• (replaced)' && e.after.auth.username === 'admin'),
    ).toBe(true);
  });

  it('Cloud refuses a username and password with a 400 naming auth.username and the fix (create and check)', async () => {
    const cloudBody = body({
      id: 'cloudpw',
      site_url: cloud.baseUrl,
      flavour: 'cloud',
      auth: { type: 'basic', username: 'alice', password: cloud.credentials.users.alice!.password },
    });
    for (const path of ['/api/v1/connections', '/api/v1/connections/check']) {
      const res = await call('POST', path, cloudBody);
      expect(res.status).toBe(400);
      const e = await errorOf(res);
      expect(e.message).toMatch(
        /^body\.auth\.username: Jira Cloud refuses a username and password over its API: use email and api_token .* or type: oauth/,
      );
      expect(JSON.stringify(e)).not.toContain(cloud.credentials.users.alice!.password);
    }
    expect((await call('GET', '/api/v1/connections/cloudpw')).status).toBe(404);
  });
});
