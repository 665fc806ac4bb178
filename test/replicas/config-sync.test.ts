import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
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
});
