/**
 * Replicas: three service instances on one PostgreSQL share the API, the webhook intake, the
 * queue and the sweep. Each Jira event is delivered to every replica (three registrations, so
 * three identifiers per event), records are written through all three: no issue is created twice,
 * every change lands, every replica does part of the work. The reconciliation sweep of a
 * connection never runs twice at once: with a slow Jira search and all three replicas sweeping in
 * a loop, the sandbox sees their sweep searches strictly one after another; and when the process
 * holding the sweep lease is SIGKILLed, the lease it left behind blocks every sweep until it
 * expires, then another replica takes the sweep over.
 * Needs PostgreSQL (127.0.0.1:5432, database test); skipped with the reason printed otherwise.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../../src/app/service.js';
import type { JiraClient } from '../../src/jira/client.js';
import { createLogger } from '../../src/log/logger.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { pgUnreachableReason, TEST_DATABASE_URL } from '../helpers/db.js';
import { JIRA_EVENTS } from '../../src/webhooks/parse.js';
import { freePort } from '../cli/helpers.js';
import { sandboxUserClient, spawnServiceProcess } from '../helpers/service.js';
import { overlaps, sleep } from './harness.js';

const reason = await pgUnreachableReason();
if (reason) console.warn(`test/replicas skipped: PostgreSQL is needed and unreachable (${reason})`);
const SECRET = 'replica-webhook-secret-0123456789';

describe.skipIf(reason !== null)('three replicas on one PostgreSQL', () => {
  let sb: RunningSandbox;
  const replicas: RunningService[] = [];
  let alice: JiraClient;
  const dir = mkdtempSync(join(tmpdir(), 'jb-replicas-'));
  const schema = `replicas_${process.pid}_${Date.now()}`;
  const sweepSearches: Array<{ at: number; latency: number }> = [];

  beforeAll(async () => {
    sb = await startSandbox({
      flavour: 'cloud',
      port: 0,
      knobs: { latencyMs: 5, jitterMs: 2 },
      // The sweep's searches (JQL `updated >= …`), as the sandbox sees them after its latency.
      inspect: (req) => {
        if (!req.route.endsWith('/search/jql')) return;
        const jql = `${decodeURIComponent(req.url)} ${JSON.stringify(req.body ?? '')}`;
        if (jql.includes('updated >=')) sweepSearches.push({ at: Date.now(), latency: sb.knobs.get().latencyMs });
      },
    });
    writeFileSync(
      join(dir, 'jira-bridge.yaml'),
      [
        'connections:',
        '  - id: sb',
        `    site_url: ${sb.baseUrl}`,
        '    flavour: cloud',
        `    auth: { type: basic, email: ${sb.credentials.email}, api_token: ${sb.credentials.apiToken} }`,
        `    webhook: { secret: ${SECRET} }`,
        '    sweep: { interval_seconds: 0 }',
        'mappings:',
        '  - id: ops',
        '    connection: sb',
        '    scope: fleet',
        '    project: OPS',
        '    kinds: { incident: { issue_type: Incident } }',
        '    status: { out: { new: To Do, in_progress: In Progress }, closed: [resolved] }',
        '    priority: { out: { P1: Highest, P2: High, P3: Medium, P4: Low } }',
        '    close: { status: Done }',
        '',
      ].join('\n'),
    );
    for (let i = 0; i < 3; i++) {
      const svc = await startService({
        configPath: join(dir, 'jira-bridge.yaml'),
        env: {
          PORT: '0',
          HOST: '127.0.0.1',
          DATA_DIR: join(dir, `data-${i}`),
          DATABASE_URL: `${TEST_DATABASE_URL}?schema=${schema}`,
          WORKER_CONCURRENCY: '4',
        },
        logger: createLogger({ level: 'silent' }),
      });
      replicas.push(svc);
      sb.webhooks.register({
        url: `${svc.url}/webhooks/jira/sb`,
        events: [...JIRA_EVENTS],
        secret: SECRET,
      });
    }
    alice = sandboxUserClient(sb, 'alice');
  });
  afterAll(async () => {
    await alice?.close();
    for (const r of replicas) await r.stop();
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
    const pg = await import('pg');
    const c = new pg.default.Client({ connectionString: TEST_DATABASE_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  });

  const record = async (i: number, hostId: string) =>
    (await (await fetch(`${replicas[i % 3]!.url}/api/v1/records/fleet/${hostId}`)).json()) as {
      title: string;
      severity: string;
      link: { issue_key: string | null; state: string } | null;
      sync: { state: string };
    };
  const until = async (cond: () => Promise<boolean>, ms = 60_000): Promise<void> => {
    const t0 = Date.now();
    while (!(await cond())) {
      if (Date.now() - t0 > ms) throw new Error('timed out waiting for the replicas');
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const quiet = () =>
    until(async () => {
      await sb.webhooks.drain();
      const s = await replicas[0]!.queue.stats();
      return s.byState.queued === 0 && s.byState.running === 0;
    });

  it('records written through every replica become one issue each; the work is shared', async () => {
    const N = 30;
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        fetch(`${replicas[i % 3]!.url}/api/v1/records/fleet/r-${i}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ kind: 'incident', title: `Node ${i} down`, status: 'new', severity: 'P3' }),
        }).then((r) => expect(r.status).toBeLessThan(300)),
      ),
    );
    // The same upserts again, through another replica, at the same time.
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        fetch(`${replicas[(i + 1) % 3]!.url}/api/v1/records/fleet/r-${i}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ kind: 'incident', title: `Node ${i} down`, status: 'new', severity: 'P3' }),
        }),
      ),
    );
    await until(async () => {
      for (let i = 0; i < N; i++) if ((await record(i, `r-${i}`)).sync.state !== 'synced') return false;
      return true;
    });
    await quiet();
    const ops = sb.state.allIssues().filter((x) => x.key.startsWith('OPS-') && /^Node \d+ down$/.test(x.summary));
    expect(ops).toHaveLength(N);
    expect(new Set(ops.map((x) => x.summary)).size).toBe(N);
    // Every replica ran jobs (the queue is shared, claims are SKIP LOCKED).
    const done = await Promise.all(
      replicas.map(async (r) => {
        const text = await (await fetch(`${r.url}/metrics`)).text();
        return [...text.matchAll(/job_outcomes_total\{[^}]*outcome="done"[^}]*\} (\d+)/g)].reduce(
          (n, m) => n + Number(m[1]),
          0,
        );
      }),
    );
    expect(done.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
  });

  it('Jira edits delivered to all three replicas land once', async () => {
    const keys: string[] = [];
    for (let i = 0; i < 10; i++) keys.push((await record(i, `r-${i}`)).link!.issue_key!);
    await Promise.all(
      keys.map((k, i) =>
        alice.editIssue(k, { fields: { summary: `Node ${i} down (from Jira)`, priority: { name: 'Highest' } } }),
      ),
    );
    await quiet();
    for (let i = 0; i < 10; i++) {
      const r = await record(i + 1, `r-${i}`);
      expect([r.title, r.severity]).toEqual([`Node ${i} down (from Jira)`, 'P1']);
    }
    // Each event reached three replicas: three deliveries, one applied change.
    const rows = await replicas[0]!.store.db
      .selectFrom('webhook_deliveries')
      .select(['issue_key', 'verdict'])
      .where('issue_key', '=', keys[0]!)
      .execute();
    expect(rows.length).toBeGreaterThanOrEqual(3);
    const log = await replicas[0]!.store.db
      .selectFrom('sync_log')
      .selectAll()
      .where('direction', '=', 'inbound')
      .execute();
    const applied = log.filter((l) => l.action === 'updated' && (l.fields ?? '').includes(`"issue_key":"${keys[0]!}"`));
    expect(applied).toHaveLength(1);
  });

  it('one sweep of a connection at a time: with a slow search and every replica sweeping, the searches never overlap', async () => {
    await quiet();
    const versions = async () =>
      (await replicas[0]!.store.db.selectFrom('records').select(['id', 'version']).orderBy('id').execute()).map(
        (r) => r.version,
      );
    const before = await versions();
    const updatesBefore = (
      await replicas[0]!.store.db.selectFrom('sync_log').select('id').where('action', '=', 'updated').execute()
    ).length;
    // Every Jira call takes 300 ms: a sweep holds its lease at least that long.
    const LATENCY = 300;
    sb.knobs.set({ latencyMs: LATENCY, jitterMs: 0 });
    sweepSearches.length = 0;
    const runs: Array<{ replica: number; start: number; end: number; skipped: string | undefined; seen: number }> = [];
    const ends = Date.now() + 3500;
    try {
      await Promise.all(
        replicas.map(async (r, replica) => {
          while (Date.now() < ends) {
            const start = Date.now();
            const res = await r.engine.sweep('sb');
            runs.push({ replica, start, end: Date.now(), skipped: res.skipped, seen: res.seen });
            // A replica that just swept leaves the others a chance; a refused one tries again at once.
            await sleep(res.skipped ? 5 : 60);
          }
        }),
      );
    } finally {
      sb.knobs.set({ latencyMs: 5, jitterMs: 2 });
    }
    const ran = runs.filter((x) => !x.skipped);
    expect(runs.filter((x) => x.skipped === 'locked').length).toBeGreaterThan(ran.length);
    expect(ran.length).toBeGreaterThanOrEqual(3);
    expect(new Set(ran.map((x) => x.replica)).size).toBeGreaterThanOrEqual(2);
    expect(ran.every((x) => x.seen >= 1)).toBe(true);
    // Each search the sandbox served spans [arrival, answer] ⊇ [seen - latency, seen]: if two
    // sweeps had run at once, their searches would overlap; a sweep's own pages are sequential.
    const spans = sweepSearches.map((x) => ({ start: x.at - x.latency, end: x.at }));
    expect(spans.length).toBeGreaterThanOrEqual(ran.length);
    expect(overlaps(spans)).toEqual([]);
    // Every search belongs to a sweep that ran (none to a refused one), and every sweep that ran searched.
    for (const s of spans) expect(ran.some((x) => x.start <= s.start && s.end <= x.end)).toBe(true);
    for (const x of ran) expect(spans.some((s) => x.start <= s.start && s.end <= x.end)).toBe(true);
    await quiet();
    // What the sweeps queued (issues never read back since the bridge wrote them) changes nothing.
    expect(await versions()).toEqual(before);
    expect(
      (await replicas[0]!.store.db.selectFrom('sync_log').select('id').where('action', '=', 'updated').execute())
        .length,
    ).toBe(updatesBefore);
  });

  it('the sweep lease of a SIGKILLed replica blocks every sweep until it expires; then another replica takes the sweep over', async () => {
    // A fourth replica as a real process that sweeps every second.
    writeFileSync(
      join(dir, 'sweeper.yaml'),
      readFileSync(join(dir, 'jira-bridge.yaml'), 'utf8').replace('interval_seconds: 0', 'interval_seconds: 1'),
    );
    const child = await spawnServiceProcess({
      configPath: join(dir, 'sweeper.yaml'),
      port: await freePort(),
      cwd: dir,
      env: {
        DATABASE_URL: `${TEST_DATABASE_URL}?schema=${schema}`,
        DATA_DIR: join(dir, 'data-child'),
        // Its leases carry its replica id (stable across its restarts); a name of its own here.
        JIRA_BRIDGE_REPLICA_ID: `killed-${process.pid}`,
      },
    });
    const db = replicas[0]!.store.db;
    const lease = () => db.selectFrom('locks').selectAll().where('name', '=', 'sweep:sb').executeTakeFirst();
    let held: Awaited<ReturnType<typeof lease>>;
    try {
      // Slow searches: the child holds the lease for most of each second; kill it while it does.
      sb.knobs.set({ latencyMs: 800, jitterMs: 0 });
      const t0 = Date.now();
      while (!(held = await lease())?.owner.startsWith(`sweeper:killed-${process.pid}`)) {
        if (Date.now() - t0 > 30_000) throw new Error('the child replica never took the sweep lease');
        await sleep(20);
      }
      await child.kill();
    } finally {
      await child.kill();
    }
    // Left behind: the dead process's lease, good for ten minutes.
    const left = (await lease())!;
    expect(left.owner).toBe(held!.owner);
    expect(left.expires_at).toBeGreaterThan(Date.now() + 5 * 60_000);
    const refused = await Promise.all(replicas.map((r) => r.engine.sweep('sb')));
    expect(refused.map((x) => x.skipped)).toEqual(['locked', 'locked', 'locked']);

    // Rather than wait ten minutes, let the lease run out 1.5 s from now, as if they had passed.
    const expiry = Date.now() + 1500;
    await db.updateTable('locks').set({ expires_at: expiry }).where('name', '=', 'sweep:sb').execute();
    const attempts: Array<{ replica: number; end: number; skipped: string | undefined }> = [];
    const owners = new Set<string>();
    let sweeping = true;
    // Whose lease is it, all along?
    const watcher = (async () => {
      while (sweeping) {
        const l = await lease();
        if (l) owners.add(l.owner);
        await sleep(20);
      }
    })();
    try {
      await Promise.all(
        replicas.map(async (r, replica) => {
          while (!attempts.some((x) => !x.skipped) && Date.now() < expiry + 30_000) {
            const res = await r.engine.sweep('sb');
            attempts.push({ replica, end: Date.now(), skipped: res.skipped });
            await sleep(50);
          }
        }),
      );
    } finally {
      sweeping = false;
      await watcher;
      sb.knobs.set({ latencyMs: 5, jitterMs: 2 });
    }
    expect(attempts.filter((x) => !x.skipped).length).toBeGreaterThanOrEqual(1);
    // Refused while the dead lease lasted, every time.
    expect(attempts.filter((x) => x.end < expiry).every((x) => x.skipped === 'locked')).toBe(true);
    expect(attempts.filter((x) => x.end < expiry).length).toBeGreaterThanOrEqual(3);
    // The sweep that ran started after the lease expired, held a lease of its own, finished
    // cleanly and released it.
    const others = [...owners].filter((o) => o !== held!.owner);
    expect(others.length).toBeGreaterThanOrEqual(1);
    // Each a live replica's (the three in this process; never the killed one's name).
    for (const o of others) {
      expect(o).toMatch(/^sweeper:/);
      expect(o.startsWith(`sweeper:killed-${process.pid}`)).toBe(false);
    }
    const row = (await db.selectFrom('sweeps').selectAll().where('name', '=', 'sweep:sb').executeTakeFirst())!;
    expect(row.last_started_at).toBeGreaterThan(expiry);
    expect(row.last_finished_at).toBeGreaterThanOrEqual(row.last_started_at!);
    expect(row.last_error).toBeNull();
    expect(await lease()).toBeUndefined();
  });
});
