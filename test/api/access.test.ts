import { readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeReadiness } from '../../src/app/readiness.js';
import type { RunningService } from '../../src/app/service.js';
import { createTokenService } from '../../src/app/tokens.js';
import { accessRoutes } from '../../src/http/routes/access.js';
import { buildServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log/logger.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { RejectLimiter } from '../../src/webhooks/reject-limiter.js';
import { freshSqlite, type TestDb } from '../helpers/db.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { sandboxConnectionYaml, startTestService, WEB_AND_PAYROLL_MAPPINGS, writeConfig } from '../helpers/service.js';

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
    writeConfig(dir, [...sandboxConnectionYaml(sb), ...WEB_AND_PAYROLL_MAPPINGS]);
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

  it('the other route groups, each role allowed and denied: stats, deliveries, preview, catalogue, backfill, check, host webhooks, me', async () => {
    const roles = ['admin', 'operator', 'viewer', 'host'] as const;
    type Row = [
      method: string,
      path: string | (() => string),
      body: unknown,
      expected: Record<(typeof roles)[number], number>,
    ];
    const read = { admin: 200, operator: 200, viewer: 200, host: 403 };
    const adminOnly = (ok: number) => ({ admin: ok, operator: 403, viewer: 403, host: 403 });
    const started = (await (await call(tokens.admin, 'POST', '/api/v1/backfill', { scope: 'web' })).json()) as {
      id: string;
    };
    const sbConn = {
      id: 'probe',
      site_url: sb.baseUrl,
      flavour: 'cloud',
      auth: { type: 'basic', email: sb.credentials.email, api_token: sb.credentials.apiToken },
    };
    let hook = '';
    let n = 0;
    const hookId = () => hook;
    const cases: Row[] = [
      ['GET', '/api/v1/stats', undefined, read],
      ['GET', '/api/v1/host-webhooks/deliveries', undefined, read],
      ['GET', '/api/v1/webhooks/deliveries?verdict=rejected', undefined, read],
      [
        'POST',
        '/api/v1/mappings/preview',
        { connection: 'sb', project: 'OPS', kinds: { incident: { issue_type: 'Incident' } } },
        adminOnly(200),
      ],
      ['GET', '/api/v1/connections/sb/catalog', undefined, read],
      ['POST', '/api/v1/backfill', { scope: 'web' }, { admin: 202, operator: 202, viewer: 403, host: 403 }],
      ['GET', `/api/v1/backfill/${started.id}`, undefined, read],
      ['POST', '/api/v1/connections/check', sbConn, adminOnly(200)],
      ['GET', '/api/v1/host-webhooks', undefined, read],
      ['POST', '/api/v1/host-webhooks', () => ({ url: `http://127.0.0.1:9/matrix-${++n}` }), adminOnly(201)],
      ['GET', () => `/api/v1/host-webhooks/${hookId()}`, undefined, read],
      ['PUT', () => `/api/v1/host-webhooks/${hookId()}`, { active: false }, adminOnly(200)],
      ['DELETE', () => `/api/v1/host-webhooks/${hookId()}`, undefined, adminOnly(204)],
      ['GET', '/api/v1/me', undefined, { admin: 200, operator: 200, viewer: 200, host: 200 }],
      ['GET', '/api/v1/audit?action=token.', undefined, adminOnly(200)],
    ];
    const seen: string[] = [];
    for (const [method, p, b, expected] of cases) {
      // Denied roles first, so the resource an allowed call creates or deletes is there for them.
      for (const role of [...roles].sort((a, c) => expected[c] - expected[a])) {
        if (method !== 'POST' && p instanceof Function && !hook) {
          const created = await call(tokens.admin, 'POST', '/api/v1/host-webhooks', {
            url: `http://127.0.0.1:9/matrix-${++n}`,
          });
          hook = ((await created.json()) as { subscription: { id: string } }).subscription.id;
        }
        const path = typeof p === 'function' ? p() : p;
        const body = typeof b === 'function' ? (b as () => unknown)() : b;
        const res = await call(tokens[role], method, path, body);
        seen.push(`${role} ${method} ${path} → ${res.status}`);
        expect(`${role} ${method} ${path} → ${res.status}`).toBe(`${role} ${method} ${path} → ${expected[role]}`);
        const text = await res.text();
        if (expected[role] === 403) expect(JSON.parse(text).error.message).toMatch(/may not/);
        if (path === '/api/v1/me') expect(JSON.parse(text)).toMatchObject({ role, open: false });
        if (method === 'DELETE' && res.status === 204) hook = '';
      }
    }
    expect(seen.length).toBe(cases.length * roles.length);
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

  it('connection.updated and mapping.updated carry the right before and after, secrets masked', async () => {
    const alice = sb.credentials.users.alice!;
    const bob = sb.credentials.users.bob!;
    const secrets = [
      alice.apiToken,
      bob.apiToken,
      'webhook-secret-before-0123456789',
      'webhook-secret-after-0123456789',
    ];
    const conn = (name: string, u: typeof alice, secret: string) => ({
      name,
      site_url: sb.baseUrl,
      flavour: 'cloud',
      auth: { type: 'basic', email: u.loginEmail, api_token: u.apiToken },
      webhook: { secret },
      sweep: { interval_seconds: 0 },
    });
    expect(
      (
        await call(tokens.admin, 'POST', '/api/v1/connections', {
          id: 'audited',
          ...conn('Audited (Alice)', alice, secrets[2]!),
        })
      ).status,
    ).toBe(201);
    expect(
      (await call(tokens.admin, 'PUT', '/api/v1/connections/audited', conn('Audited (Bob)', bob, secrets[3]!))).status,
    ).toBe(200);
    const mapping = (issueType: string, labels: string[]) => ({
      connection: 'audited',
      scope: 'audited',
      project: 'OPS',
      kinds: { incident: { issue_type: issueType } },
      labels,
    });
    expect((await call(tokens.admin, 'PUT', '/api/v1/mappings/audited-ops', mapping('Incident', ['one']))).status).toBe(
      201,
    );
    expect((await call(tokens.admin, 'PUT', '/api/v1/mappings/audited-ops', mapping('Task', ['two']))).status).toBe(
      200,
    );

    type Entry = { action: string; actor: string; target: string; before: any; after: any }; // eslint-disable-line @typescript-eslint/no-explicit-any
    const audit = (await (await call(tokens.admin, 'GET', '/api/v1/audit')).json()) as { entries: Entry[] };
    const c = audit.entries.find((e) => e.action === 'connection.updated' && e.target === 'connection:audited')!;
    expect(c.actor).toBe('admin:first admin');
    expect(c.before).toMatchObject({
      name: 'Audited (Alice)',
      auth: { type: 'basic', email: alice.loginEmail, api_token: '••••••' },
      webhook: { secret: '••••••' },
    });
    // Both secrets changed: the diff says so without showing either value.
    expect(c.after).toMatchObject({
      name: 'Audited (Bob)',
      auth: { type: 'basic', email: bob.loginEmail, api_token: '•••••• (replaced)' },
      webhook: { secret: '•••••• (replaced)' },
    });
    const m = audit.entries.find((e) => e.action === 'mapping.updated' && e.target === 'mapping:audited-ops')!;
    expect(m.actor).toBe('admin:first admin');
    expect(m.before).toMatchObject({
      project: 'OPS',
      kinds: { incident: { issue_type: 'Incident' } },
      labels: ['one'],
    });
    expect(m.after).toMatchObject({ project: 'OPS', kinds: { incident: { issue_type: 'Task' } }, labels: ['two'] });
    const created = audit.entries.find((e) => e.action === 'mapping.created' && e.target === 'mapping:audited-ops')!;
    expect(created.before).toBeNull();
    // No secret, old or new, anywhere in the audit log.
    const text = JSON.stringify(audit);
    for (const x of secrets) expect(text).not.toContain(x);
  });
});

describe('failed sign-ins are throttled per address (fastify inject)', () => {
  let db: TestDb;
  let app: FastifyInstance;
  let admin = '';
  let clock = 1_000_000;

  beforeAll(async () => {
    db = await freshSqlite();
    const tokens = createTokenService({ store: db.store });
    admin = (await tokens.create({ name: 'admin', role: 'admin' }, 'test')).token;
    app = await buildServer({
      logger: createLogger({ level: 'silent' }),
      readiness: storeReadiness(db.store),
      metrics: createMetrics({ defaultMetrics: false }),
      version: 'test',
      auth: tokens,
      authFailureLimiter: new RejectLimiter(20, 60_000, () => clock),
      routes: [accessRoutes({ tokens, store: db.store })],
    });
  });
  afterAll(async () => {
    await app.close();
    await db.cleanup();
  });

  const get = (from: string, token?: string) =>
    app.inject({
      method: 'GET',
      url: '/api/v1/tokens',
      remoteAddress: from,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });

  it('20 unknown tokens from one address, then 429 with Retry-After and what to do; other addresses are not affected', async () => {
    for (let i = 0; i < 20; i++) expect((await get('127.0.0.10', `jb_guess-${i}`)).statusCode).toBe(401);
    const limited = await get('127.0.0.10', 'jb_guess-20');
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBe(60);
    const err = limited.json<{ error: { code: string; message: string } }>().error;
    expect(err.code).toBe('RATE_LIMITED');
    expect(err.message).toMatch(/Too many failed sign-ins from this address.*wait 60 s.*valid API token/);
    // Blocked before any token is looked at: a valid one from that address waits too.
    expect((await get('127.0.0.10', admin)).statusCode).toBe(429);
    // Another address signs in as usual, and so does an address sending no token at all.
    expect((await get('127.0.0.11', admin)).statusCode).toBe(200);
    for (let i = 0; i < 25; i++) expect((await get('127.0.0.12')).statusCode).toBe(401);
    expect((await get('127.0.0.12', admin)).statusCode).toBe(200);
    // 19 wrong tokens from a third address stay under the limit.
    for (let i = 0; i < 19; i++) await get('127.0.0.13', `jb_x-${i}`);
    expect((await get('127.0.0.13', admin)).statusCode).toBe(200);
  });

  it('the address may try again once the minute is over; Retry-After counts down', async () => {
    clock += 45_000;
    const still = await get('127.0.0.10', admin);
    expect(still.statusCode).toBe(429);
    expect(Number(still.headers['retry-after'])).toBe(15);
    clock += 15_000;
    expect((await get('127.0.0.10', admin)).statusCode).toBe(200);
  });
});
