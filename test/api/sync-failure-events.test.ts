/**
 * A record stuck behind a paused connection is not silent to the host (issue 19, item 7), end to
 * end against the sandbox through the real service, on SQLite and PostgreSQL: one
 * `record.sync_failed` per failure episode (not per held attempt) with the code, message and what
 * to do, and one `record.sync_recovered` when it syncs again — in the change feed and to a host
 * webhook subscribed to those two event types.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { describeEachEngine, TEST_DATABASE_URL } from '../helpers/db.js';
import { sandboxConnectionYaml, startTestService, writeConfig } from '../helpers/service.js';
import { until } from '../helpers/wait.js';

interface Change {
  host_id: string | null;
  event: string;
  data: Record<string, unknown>;
}

describeEachEngine('sync failure episodes reach the host', ({ engine, fresh }) => {
  let sb: RunningSandbox;
  let svc: RunningService;
  let hook: Server;
  const received: Array<{ type: string; data: Record<string, unknown> }> = [];
  const dir = mkdtempSync(join(tmpdir(), 'jb-sync-failed-'));

  beforeAll(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        received.push(JSON.parse(body) as { type: string; data: Record<string, unknown> });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    writeConfig(dir, [
      ...sandboxConnectionYaml(sb),
      'mappings:',
      '  - { id: ops, connection: sb, scope: fleet, project: OPS, kinds: { incident: { issue_type: Incident } } }',
    ]);
    const env: Record<string, string> = {};
    if (engine === 'postgres') {
      const db = await fresh({ migrate: false });
      env.DATABASE_URL = `${TEST_DATABASE_URL}?schema=${db.openOpts.schema!}`;
    }
    svc = await startTestService(dir, env);
    const sub = await api('POST', '/api/v1/host-webhooks', {
      url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
      events: ['record.sync_failed', 'record.sync_recovered'],
    });
    expect(sub.status).toBe(201);
  });
  afterAll(async () => {
    await svc?.stop();
    await sb?.close();
    await new Promise((r) => hook.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers of many shapes, checked by the assertions
  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const r = await fetch(`${svc.url}${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : null };
  }
  const upsert = async (title: string) => {
    const r = await api('PUT', '/api/v1/records/fleet/s-1', { kind: 'incident', title, status: 'new' });
    expect(r.status).toBeLessThan(300);
  };
  const record = async () => (await api('GET', '/api/v1/records/fleet/s-1')).json;
  const changes = async (): Promise<Change[]> =>
    ((await api('GET', '/api/v1/changes?scope=fleet&limit=500')).json.changes as Change[]).filter(
      (c) => c.host_id === 's-1' && c.event.startsWith('record.sync_'),
    );
  const heldLogs = async () =>
    ((await api('GET', '/api/v1/records/fleet/s-1/log')).json.entries as Array<{ action: string }>).filter(
      (e) => e.action === 'paused',
    ).length;

  it('a paused connection emits one record.sync_failed per episode and says when it syncs again', async () => {
    await upsert('Disk full on db-7');
    await until('the record linked', async () => (await record()).sync.state === 'synced');
    expect((await api('POST', '/api/v1/connections/sb/pause')).status).toBe(200);

    // Three host changes while paused: each job holds the record; the host hears of it once.
    for (const [i, title] of [
      'Disk full on db-7 (90%)',
      'Disk full on db-7 (95%)',
      'Disk full on db-7 (99%)',
    ].entries()) {
      await upsert(title);
      await until(`held attempt ${i + 1}`, async () => (await heldLogs()) >= i + 1);
    }
    const held = await record();
    expect(held.sync).toMatchObject({ state: 'pending', error: { code: 'SYNC_DISABLED' } });
    const failed = await until('one record.sync_failed in the feed', async () => {
      const c = await changes();
      return c.length ? c : undefined;
    });
    expect(failed.map((c) => c.event)).toEqual(['record.sync_failed']);
    expect(failed[0]!.data).toMatchObject({
      origin: 'host',
      code: 'SYNC_DISABLED',
      state: 'pending',
      retrying: true,
      attempts: 1,
      since: expect.any(String),
    });
    expect(failed[0]!.data.message).toContain('paused');
    expect(failed[0]!.data.action).toContain('POST /api/v1/connections/sb/resume');

    // Resuming sends the record: one record.sync_recovered, saying since when it had failed.
    expect((await api('POST', '/api/v1/connections/sb/resume')).status).toBe(200);
    await until('the record synced again', async () => (await record()).sync.state === 'synced');
    const after = await until('record.sync_recovered in the feed', async () => {
      const c = await changes();
      return c.length === 2 ? c : undefined;
    });
    expect(after.map((c) => c.event)).toEqual(['record.sync_failed', 'record.sync_recovered']);
    expect(after[1]!.data).toMatchObject({
      failed_since: failed[0]!.data.since,
      failed_attempts: 3,
      last_error: { code: 'SYNC_DISABLED' },
    });
    expect((await record()).title).toBe('Disk full on db-7 (99%)');

    // A second pause is a second episode: one more of each.
    expect((await api('POST', '/api/v1/connections/sb/pause')).status).toBe(200);
    await upsert('Disk full on db-7 (cleaned)');
    await until('the second episode reported', async () => (await changes()).length === 3);
    expect((await api('POST', '/api/v1/connections/sb/resume')).status).toBe(200);
    const all = await until('the second recovery', async () => {
      const c = await changes();
      return c.length === 4 ? c : undefined;
    });
    expect(all.map((c) => c.event)).toEqual([
      'record.sync_failed',
      'record.sync_recovered',
      'record.sync_failed',
      'record.sync_recovered',
    ]);
    expect(all[2]!.data.attempts).toBe(1);

    // The host webhook subscribed to the two types got exactly these, in order.
    const hooked = await until('four host webhooks', () => (received.length >= 4 ? received : undefined));
    expect(hooked.map((h) => h.type)).toEqual(all.map((c) => c.event));
    expect(hooked[0]!.data).toMatchObject({ code: 'SYNC_DISABLED', record: { scope: 'fleet', host_id: 's-1' } });
    // Nothing more is sent once synced: the feed holds no other sync_ events for the record.
    expect(await changes()).toHaveLength(4);
  });
});
