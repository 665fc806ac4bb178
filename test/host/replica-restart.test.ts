/**
 * A restarted replica resumes its own leases at once (issue 16, issue 19 item 8). The host-webhook
 * stream and the sweep take a lease named after the replica's id, which stays the same across a
 * restart (the host name and a token kept in the data directory: src/app/replica-id.ts). A real
 * `jira-bridge serve` is SIGKILLed while it holds its stream's lease (30 s), and started again: the
 * next change reaches the host well before that lease would have expired, and a sweep lease the
 * dead process left (10 min) does not stop the new process's sweeps. On SQLite and PostgreSQL.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { freePort } from '../cli/helpers.js';
import { describeEachEngine, TEST_DATABASE_URL, type TestDb } from '../helpers/db.js';
import { sandboxConnectionYaml, spawnServiceProcess, writeConfig, type ServiceProcess } from '../helpers/service.js';
import { until } from '../helpers/wait.js';

const HOST_WEBHOOK_LEASE_MS = 30_000; // src/host/dispatcher.ts

describeEachEngine('a restarted replica takes its own leases back at once', ({ fresh }) => {
  let sb: RunningSandbox;
  let db: TestDb;
  let receiver: Server;
  let svc: ServiceProcess | undefined;
  let port = 0;
  const received: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'jb-replica-restart-'));
  let dataDir = join(dir, 'data');

  const start = (): Promise<ServiceProcess> =>
    spawnServiceProcess({
      configPath: join(dir, 'jira-bridge.yaml'),
      port,
      cwd: dir,
      env: {
        ...(db.engine === 'postgres' ? { DATABASE_URL: `${TEST_DATABASE_URL}?schema=${db.openOpts.schema!}` } : {}),
        DATA_DIR: dataDir,
        JIRA_BRIDGE_MASTER_KEY: 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=',
        LOG_LEVEL: 'warn',
      },
    });
  const change = async (id: string): Promise<void> => {
    const res = await fetch(`${svc!.url}/api/v1/records/web/${id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'incident', title: `Change ${id}`, status: 'new' }),
    });
    expect(res.status).toBe(201);
  };
  const delivered = (id: string): boolean => received.some((b) => b.includes(`"host_id":"${id}"`));

  beforeAll(async () => {
    db = await fresh();
    if (db.engine === 'sqlite') dataDir = db.openOpts.dataDir!;
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push(body);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    port = await freePort();
    writeConfig(dir, [
      ...sandboxConnectionYaml(sb, { sweepSeconds: 1 }),
      'mappings:',
      '  - { id: web, connection: sb, scope: web, project: OPS, kinds: { incident: { issue_type: Incident } } }',
      'host_webhooks:',
      `  - { url: 'http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks', secret: restart-secret-0123456789, events: ['record.created'] }`,
    ]);
  }, 60_000);
  afterAll(async () => {
    await svc?.kill();
    await sb?.close();
    await new Promise((r) => receiver?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('after SIGKILL and a restart, a host webhook goes out well before the dead lease’s expiry; sweeps go on', async () => {
    svc = await start();
    await change('before');
    await until('the first delivery', () => delivered('before'), 30_000);
    const lease = await db.store.db
      .selectFrom('locks')
      .select(['owner', 'expires_at'])
      .where('name', 'like', 'host-webhook:%')
      .executeTakeFirstOrThrow();
    const replicaId = `${hostname()}:${readFileSync(join(dataDir, 'replica-id'), 'utf8').trim()}`;
    expect(lease.owner).toBe(`host-webhooks:${replicaId}`);

    await svc.kill(); // SIGKILL: the stream's lease stays in the table until it expires
    svc = undefined;
    // The dead process also held its sweep's lease (as when killed during a sweep): 10 minutes.
    const killedAt = Date.now();
    await db.store.db
      .insertInto('locks')
      .values({ name: 'sweep:sb', owner: `sweeper:${replicaId}`, expires_at: killedAt + 600_000 })
      .onConflict((oc) =>
        oc.column('name').doUpdateSet({ owner: `sweeper:${replicaId}`, expires_at: killedAt + 600_000 }),
      )
      .execute();
    const stillHeld = await db.store.db
      .selectFrom('locks')
      .select('expires_at')
      .where('owner', '=', lease.owner)
      .executeTakeFirstOrThrow();
    expect(stillHeld.expires_at).toBeGreaterThan(Date.now() + 10_000);

    svc = await start();
    const restarted = Date.now();
    await change('after');
    // Well before the dead lease expires: the deadline is half the lease's TTL.
    await until('the delivery after the restart', () => delivered('after'), HOST_WEBHOOK_LEASE_MS / 2);
    expect(Date.now()).toBeLessThan(stillHeld.expires_at);
    await until(
      'a sweep by the restarted process',
      async () => {
        const row = await db.store.db
          .selectFrom('sweeps')
          .select('last_finished_at')
          .where('name', '=', 'sweep:sb')
          .executeTakeFirst();
        return row?.last_finished_at != null && Number(row.last_finished_at) >= restarted;
      },
      HOST_WEBHOOK_LEASE_MS / 2,
    );
  }, 120_000);
});
