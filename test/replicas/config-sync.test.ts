import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { pgUnreachableReason, TEST_DATABASE_URL } from '../helpers/db.js';
import { startTestService, writeConfig } from '../helpers/service.js';

const reason = await pgUnreachableReason();
if (reason) console.warn(`test/replicas/config-sync skipped: PostgreSQL is needed and unreachable (${reason})`);

/** Two replicas on one PostgreSQL: what an admin saves through one is in force on the other. */
describe.skipIf(reason !== null)('configuration saved through one replica reaches the others', () => {
  let sb: RunningSandbox;
  const svc: RunningService[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'jb-cfgsync-'));
  const schema = `cfgsync_${process.pid}_${Date.now()}`;
  const call = async (i: number, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${svc[i]!.url}${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as Record<string, unknown> };
  };
  /** Polls until `fn` is true (the other replica hears at once by NOTIFY; the poll is the fallback). */
  const eventually = async (fn: () => Promise<boolean>): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      if (await fn()) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('condition not reached in 5 s');
  };

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    // Replicas share the database and the master key (each its own data directory).
    const env = {
      DATABASE_URL: `${TEST_DATABASE_URL}?schema=${schema}`,
      JIRA_BRIDGE_MASTER_KEY: randomBytes(32).toString('base64'),
    };
    for (let i = 0; i < 2; i++) {
      const d = join(dir, `r${i}`);
      mkdirSync(d);
      writeConfig(d, ['connections: []']);
      svc.push(await startTestService(d, env));
    }
  });
  afterAll(async () => {
    for (const s of svc) await s.stop();
    await sb?.close();
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a connection and a mapping created on replica 0 serve records on replica 1; a deletion too', async () => {
    const a = sb.credentials.users.alice!;
    expect(
      (
        await call(0, 'POST', '/api/v1/connections', {
          id: 'shared',
          site_url: sb.baseUrl,
          flavour: 'cloud',
          auth: { type: 'basic', email: a.loginEmail, api_token: a.apiToken },
          sweep: { interval_seconds: 0 },
        })
      ).status,
    ).toBe(201);
    await eventually(async () => (await call(1, 'GET', '/api/v1/connections/shared')).status === 200);
    // Replica 1 opened the sealed token with the shared master key: its check works.
    expect((await call(1, 'POST', '/api/v1/connections/shared/check')).body.ok).toBe(true);

    const mapping = {
      connection: 'shared',
      scope: 'shared-ops',
      project: 'OPS',
      kinds: { incident: { issue_type: 'Incident' } },
    };
    expect((await call(0, 'PUT', '/api/v1/mappings/shared-ops', mapping)).status).toBe(201);
    const record = { kind: 'incident', title: 'Upserted on replica 1', status: 'new' };
    await eventually(async () => (await call(1, 'PUT', '/api/v1/records/shared-ops/r-1', record)).status === 201);
    await eventually(async () => {
      const r = await call(1, 'GET', '/api/v1/records/shared-ops/r-1');
      return typeof (r.body.link as { issue_key?: unknown } | null)?.issue_key === 'string';
    });

    expect((await call(0, 'DELETE', '/api/v1/mappings/shared-ops')).status).toBe(204);
    await eventually(async () => (await call(1, 'GET', '/api/v1/mappings/shared-ops')).status === 404);
    const after = await call(1, 'PUT', '/api/v1/records/shared-ops/r-2', record);
    expect((after.body.error as { code: string }).code).toBe('MAPPING_NOT_FOUND');
  });

  it('a host webhook subscription made on replica 0 is delivered by replica 1 after replica 0 is gone', async () => {
    const got: Array<{ headers: Record<string, string | string[] | undefined>; body: string }> = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        got.push({ headers: req.headers, body });
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
      const created = await call(0, 'POST', '/api/v1/host-webhooks', { url, events: ['record.created'] });
      expect(created.status).toBe(201);
      const secret = created.body.secret as string;
      // Replica 0 leaves: only replica 1 can deliver, and only if it heard of the subscription.
      await svc[0]!.stop();
      const mapping = {
        connection: 'shared',
        scope: 'hooked',
        project: 'OPS',
        kinds: { incident: { issue_type: 'Incident' } },
      };
      expect((await call(1, 'PUT', '/api/v1/mappings/hooked', mapping)).status).toBe(201);
      expect(
        (await call(1, 'PUT', '/api/v1/records/hooked/h-1', { kind: 'incident', title: 'Heard', status: 'new' }))
          .status,
      ).toBe(201);
      await eventually(async () => got.some((g) => g.body.includes('"h-1"')));
      const d = got.find((g) => g.body.includes('"h-1"'))!;
      const headers = Object.fromEntries(Object.entries(d.headers).map(([k, v]) => [k, String(v)]));
      expect(() => new Webhook(secret).verify(d.body, headers)).not.toThrow();
    } finally {
      receiver.close();
    }
  });
});
