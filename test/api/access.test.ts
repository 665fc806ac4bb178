import { readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { sandboxConnectionYaml, startTestService, writeConfig } from '../helpers/service.js';

describe('API access: tokens with roles, revocation, audit (through the real service)', () => {
  let sb: RunningSandbox;
  let svc: RunningService;
  const dir = mkdtempSync(join(tmpdir(), 'jb-access-'));
  const tokens: Record<string, string> = {};
  const call = (token: string | undefined, method: string, path: string, body?: unknown) =>
    fetch(`${svc.url}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    writeConfig(dir, [
      ...sandboxConnectionYaml(sb),
      'mappings:',
      '  - { id: web, connection: sb, scope: web, project: OPS, kinds: { incident: { issue_type: Incident } } }',
      '  - { id: pay, connection: sb, scope: payroll, project: SEC, kinds: { vulnerability: { issue_type: Vulnerability } } }',
    ]);
    svc = await startTestService(dir);
  });
  afterAll(async () => {
    await svc.stop();
    await sb.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('open until the first token; then every /api/v1 call needs one (health and docs stay open)', async () => {
    expect((await call(undefined, 'GET', '/api/v1/jobs')).status).toBe(200);
    const created = await call(undefined, 'POST', '/api/v1/tokens', { name: 'first admin', role: 'admin' });
    expect(created.status).toBe(201);
    const body = (await created.json()) as { token: string; info: { role: string } };
    expect(body.token).toMatch(/^jb_/);
    tokens.admin = body.token;
    const none = await call(undefined, 'GET', '/api/v1/jobs');
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { message: string } }).error.message).toContain('Authorization: Bearer');
    expect((await call('jb_wrong', 'GET', '/api/v1/jobs')).status).toBe(401);
    expect((await call(undefined, 'GET', '/healthz')).status).toBe(200);
    expect((await call(undefined, 'GET', '/openapi.json')).status).toBe(200);
    for (const role of ['operator', 'viewer', 'host'] as const) {
      const r = await call(tokens.admin, 'POST', '/api/v1/tokens', {
        name: role,
        role,
        ...(role === 'host' ? { scopes: ['web'] } : {}),
      });
      tokens[role] = ((await r.json()) as { token: string }).token;
    }
  });

  it('each role against each endpoint group: allowed and denied', async () => {
    const rec = { kind: 'incident', title: 'Disk full', status: 'new' };
    const cases: Array<[string, string, string, unknown, number]> = [
      ['host', 'PUT', '/api/v1/records/web/h-1', rec, 201],
      ['host', 'PUT', '/api/v1/records/payroll/p-1', { kind: 'vulnerability', title: 'x', status: 'open' }, 403],
      ['host', 'GET', '/api/v1/changes?scope=web', undefined, 200],
      ['host', 'GET', '/api/v1/jobs', undefined, 403],
      ['viewer', 'GET', '/api/v1/records/web/h-1', undefined, 200],
      ['viewer', 'PUT', '/api/v1/records/web/h-2', rec, 403],
      ['viewer', 'POST', '/api/v1/sync', { scope: 'web', host_id: 'h-1' }, 403],
      ['viewer', 'GET', '/api/v1/tokens', undefined, 403],
      ['operator', 'POST', '/api/v1/sync', { scope: 'web', host_id: 'h-1' }, 202],
      ['operator', 'POST', '/api/v1/jobs/retry-dead', {}, 200],
      [
        'operator',
        'PUT',
        '/api/v1/mappings/web',
        { connection: 'sb', scope: 'web', project: 'OPS', kinds: { incident: { issue_type: 'Incident' } } },
        403,
      ],
      ['operator', 'GET', '/api/v1/audit', undefined, 403],
      ['operator', 'POST', '/api/v1/connections/sb/check', undefined, 200],
      ['operator', 'POST', '/api/v1/connections', { id: 'x', site_url: 'https://x.example', flavour: 'cloud' }, 403],
      ['viewer', 'GET', '/api/v1/connections', undefined, 200],
      ['viewer', 'POST', '/api/v1/connections/sb/check', undefined, 403],
      ['host', 'GET', '/api/v1/connections', undefined, 403],
      ['admin', 'GET', '/api/v1/audit', undefined, 200],
      ['admin', 'GET', '/api/v1/tokens', undefined, 200],
    ];
    for (const [role, method, path, body, status] of cases) {
      const res = await call(tokens[role], method, path, body);
      expect(`${role} ${method} ${path} → ${res.status}`).toBe(`${role} ${method} ${path} → ${status}`);
      if (status === 403) {
        expect(((await res.json()) as { error: { code: string; message: string } }).error.message).toMatch(/may not/);
      }
    }
  });

  it('a revoked token stops working at once; tokens are stored hashed; the audit log says who did what', async () => {
    const list = (await (await call(tokens.admin, 'GET', '/api/v1/tokens')).json()) as {
      tokens: Array<{ id: string; name: string }>;
    };
    expect(JSON.stringify(list)).not.toContain('jb_');
    const viewer = list.tokens.find((t) => t.name === 'viewer')!;
    expect((await call(tokens.viewer, 'GET', '/api/v1/jobs')).status).toBe(200);
    expect((await call(tokens.admin, 'DELETE', `/api/v1/tokens/${viewer.id}`)).status).toBe(204);
    expect((await call(tokens.viewer, 'GET', '/api/v1/jobs')).status).toBe(401);
    const audit = (await (await call(tokens.admin, 'GET', '/api/v1/audit')).json()) as {
      entries: Array<{ action: string; actor: string }>;
    };
    expect(audit.entries.map((e) => e.action)).toContain('token.revoked');
    expect(audit.entries.find((e) => e.action === 'token.revoked')!.actor).toBe('admin:first admin');
    // No token in clear anywhere in the database file.
    await svc.store.db.selectFrom('api_tokens').select('id').execute();
    const files = readdirSync(join(dir, 'data')).filter((f) => f.endsWith('.db') || f.endsWith('-wal'));
    const bytes = files.map((f) => readFileSync(join(dir, 'data', f)).toString('latin1')).join('');
    for (const t of Object.values(tokens)) expect(bytes.includes(t)).toBe(false);
  });
});
