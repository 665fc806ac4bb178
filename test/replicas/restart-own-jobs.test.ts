/**
 * A restarted replica takes back at once the jobs its previous life was running (issue 16). The
 * worker's lease owner is the replica id (src/app/replica-id.ts), the same after a restart, and no
 * live process shares it (the data directory's pid file; a configured id must be unique per live
 * process), so a process starting under it knows the holder of those leases is dead: it puts them
 * back in the queue and runs them again from their journal, instead of waiting for the leases to
 * expire. A different replica id still waits for the expiry.
 *
 * A real `jira-bridge serve` is SIGKILLed while an outbound job is running (the sandbox answers
 * slowly), and started again on the same data directory and database. Asserted on the job's row:
 * re-claimed by the same owner before the dead lease's expires_at, done, one more attempt, nothing
 * duplicated in Jira; and under another replica id, claimed only after that expires_at. On SQLite
 * and PostgreSQL.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { fromJson } from '../../src/store/json.js';
import { freePort } from '../cli/helpers.js';
import { describeEachEngine, TEST_DATABASE_URL, type TestDb } from '../helpers/db.js';
import { sandboxConnectionYaml, spawnServiceProcess, writeConfig, type ServiceProcess } from '../helpers/service.js';
import { until } from '../helpers/wait.js';

/** A sandbox slow enough that an outbound job is still running when the process is killed. */
const SLOW_MS = 2000;

interface Rec {
  title: string;
  link?: { issue_key?: string } | null;
  sync: { state: string };
}

describeEachEngine('a restarted replica takes its own running jobs back at once', ({ fresh }) => {
  let sb: RunningSandbox;
  let db: TestDb;
  let svc: ServiceProcess | undefined;
  let port = 0;
  const dir = mkdtempSync(join(tmpdir(), 'jb-restart-jobs-'));
  let dataDir = join(dir, 'data');

  const start = (env: Record<string, string> = {}): Promise<ServiceProcess> =>
    spawnServiceProcess({
      configPath: join(dir, 'jira-bridge.yaml'),
      port,
      cwd: dir,
      env: {
        ...(db.engine === 'postgres' ? { DATABASE_URL: `${TEST_DATABASE_URL}?schema=${db.openOpts.schema!}` } : {}),
        DATA_DIR: dataDir,
        JIRA_BRIDGE_MASTER_KEY: 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=',
        LOG_LEVEL: 'warn',
        ...env,
      },
    });
  const put = async (id: string, title: string): Promise<void> => {
    const res = await fetch(`${svc!.url}/api/v1/records/web/${id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'incident', title, status: 'new' }),
    });
    expect([200, 201]).toContain(res.status);
  };
  const record = async (id: string): Promise<Rec> => {
    const res = await fetch(`${svc!.url}/api/v1/records/web/${id}`);
    expect(res.status).toBe(200);
    return (await res.json()) as Rec;
  };
  const job = (id: number) =>
    db.store.db
      .selectFrom('jobs')
      .select(['id', 'state', 'attempts', 'lease_owner', 'lease_expires_at', 'started_at', 'last_error'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
  /** Links record `id` (fast), then slows the sandbox, changes the title and waits for that job to run. */
  const runningJobOf = async (id: string, owner: string) => {
    sb.knobs.set({ latencyMs: 0, jitterMs: 0 });
    await put(id, `First ${id}`);
    await until('the record linked', async () => (await record(id)).sync.state === 'synced', 30_000);
    sb.knobs.set({ latencyMs: SLOW_MS, jitterMs: 0 });
    await put(id, `Second ${id}`);
    return until('the outbound job running', async () => {
      const rows = await db.store.db
        .selectFrom('jobs')
        .select(['id', 'lease_owner', 'attempts'])
        .where('state', '=', 'running')
        .where('kind', 'like', 'outbound%')
        .execute();
      return rows.find((r) => r.lease_owner === owner);
    });
  };
  /** SIGKILL; returns the job's row as the dead process left it. */
  const kill = async (jobId: number) => {
    await svc!.kill();
    svc = undefined;
    const left = await job(jobId);
    expect(left.state).toBe('running');
    return left;
  };
  const issuesTitled = (title: string) => sb.state.allIssues().filter((i) => i.summary === title);

  beforeAll(async () => {
    db = await fresh();
    if (db.engine === 'sqlite') dataDir = db.openOpts.dataDir!;
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    port = await freePort();
    writeConfig(dir, [
      ...sandboxConnectionYaml(sb),
      'mappings:',
      '  - { id: web, connection: sb, scope: web, project: OPS, kinds: { incident: { issue_type: Incident } } }',
    ]);
  }, 60_000);
  afterAll(async () => {
    await svc?.kill();
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a job running at a SIGKILL is claimed again by the restarted replica before its lease expires, and done once', async () => {
    svc = await start();
    const replicaId = `${hostname()}:${readFileSync(join(dataDir, 'replica-id'), 'utf8').trim()}`;
    const running = await runningJobOf('r1', replicaId);
    const left = await kill(running.id);
    expect(left.lease_owner).toBe(replicaId);
    // Default lease: 30 s; the dead process renewed it every 10 s.
    expect(left.lease_expires_at!).toBeGreaterThan(Date.now() + 5_000);

    sb.knobs.set({ latencyMs: 100, jitterMs: 0 });
    const spawnedAt = Date.now();
    svc = await start();
    const readyAt = Date.now();
    // Re-claimed by its owner: the same replica id, one more attempt.
    const again = await until('the job claimed again by the restarted replica', async () => {
      const r = await job(running.id);
      return r.attempts > left.attempts && r.started_at !== left.started_at ? r : undefined;
    });
    await until('the job done', async () => ((await job(running.id)).state === 'done' ? true : undefined));
    const done = await job(running.id);
    expect(done.attempts).toBe(left.attempts + 1);
    // Claimed again before the dead lease's expiry — it did not wait for it.
    expect(done.started_at!).toBeLessThan(left.lease_expires_at!);
    expect(again.state === 'done' || again.lease_owner === replicaId).toBe(true);
    const error = fromJson<{ code: string; message: string }>(done.last_error);
    expect(error?.code).toBe('JOB_OWNER_RESTARTED');
    expect(error?.message).toContain(replicaId);
    // The restarted process logged taking it back.
    expect(svc.proc.stdout()).toContain('job of this restarted worker taken back');

    // Nothing twice: one issue, with the record's title; no job left over.
    await until('the record synced', async () => (await record('r1')).sync.state === 'synced', 30_000);
    expect(issuesTitled('Second r1')).toHaveLength(1);
    expect(sb.state.allIssues().filter((i) => i.summary.endsWith(' r1'))).toHaveLength(1);
    const open = await db.store.db
      .selectFrom('jobs')
      .select('id')
      .where('state', 'in', ['queued', 'running', 'dead'])
      .execute();
    expect(open).toEqual([]);
    console.log(
      `restart-own-jobs (${db.engine}): re-claimed ${done.started_at! - spawnedAt} ms after the restart began ` +
        `(${done.started_at! - readyAt} ms after /readyz), ${left.lease_expires_at! - done.started_at!} ms before the dead lease's expiry`,
    );
  }, 120_000);

  it('under another replica id, the dead replica’s running job is claimed only after its lease expires', async () => {
    await svc?.kill();
    svc = await start({ JIRA_BRIDGE_REPLICA_ID: `replica-a-${process.pid}`, WORKER_LEASE_SECONDS: '15' });
    const running = await runningJobOf('r2', `replica-a-${process.pid}`);
    const left = await kill(running.id);
    expect(left.lease_owner).toBe(`replica-a-${process.pid}`);

    sb.knobs.set({ latencyMs: 0, jitterMs: 0 });
    svc = await start({ JIRA_BRIDGE_REPLICA_ID: `replica-b-${process.pid}`, WORKER_LEASE_SECONDS: '15' });
    await until(
      'the job done by the other replica',
      async () => ((await job(running.id)).state === 'done' ? true : undefined),
      60_000,
    );
    const done = await job(running.id);
    // Not taken before the dead lease expired: the claim came after expires_at.
    expect(done.started_at!).toBeGreaterThan(left.lease_expires_at!);
    expect(done.attempts).toBe(left.attempts + 1);
    const error = fromJson<{ code: string; message: string }>(done.last_error);
    expect(error?.code).toBe('JOB_LEASE_EXPIRED');
    expect(error?.message).toContain(`replica-a-${process.pid}`);
    await until('the record synced', async () => (await record('r2')).sync.state === 'synced', 30_000);
    expect(issuesTitled('Second r2')).toHaveLength(1);
    expect(sb.state.allIssues().filter((i) => i.summary.endsWith(' r2'))).toHaveLength(1);
  }, 150_000);
});
