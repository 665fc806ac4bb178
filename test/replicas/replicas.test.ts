/**
 * Replicas: three service instances on one PostgreSQL share the API, the webhook intake, the
 * queue and the sweep. Each Jira event is delivered to every replica (three registrations, so
 * three identifiers per event), records are written through all three: no issue is created twice,
 * every change lands, every replica does part of the work, and one sweep runs at a time.
 * Needs PostgreSQL (127.0.0.1:5432, database test); skipped with the reason printed otherwise.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../../src/app/service.js';
import { createJiraClient, type JiraClient } from '../../src/jira/client.js';
import { createLogger } from '../../src/log/logger.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { pgUnreachableReason, TEST_DATABASE_URL } from '../helpers/db.js';
import { JIRA_EVENTS } from '../../src/webhooks/parse.js';

const reason = await pgUnreachableReason();
if (reason) console.warn(`test/replicas skipped: PostgreSQL is needed and unreachable (${reason})`);
const SECRET = 'replica-webhook-secret-0123456789';

describe.skipIf(reason !== null)('three replicas on one PostgreSQL', () => {
  let sb: RunningSandbox;
  const replicas: RunningService[] = [];
  let alice: JiraClient;
  const dir = mkdtempSync(join(tmpdir(), 'jb-replicas-'));
  const schema = `replicas_${process.pid}_${Date.now()}`;

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0, knobs: { latencyMs: 5, jitterMs: 2 } });
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
    const a = sb.credentials.users.alice!;
    alice = createJiraClient({
      id: 'alice',
      siteUrl: sb.baseUrl,
      flavour: 'cloud',
      auth: { type: 'basic', email: a.loginEmail, apiToken: a.apiToken },
    });
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

  it('Jira edits delivered to all three replicas land once; one sweep runs at a time', async () => {
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
    const versions = async () =>
      (await replicas[0]!.store.db.selectFrom('records').select(['id', 'version']).orderBy('id').execute()).map(
        (r) => r.version,
      );
    const before = await versions();
    const updatesBefore = (
      await replicas[0]!.store.db.selectFrom('sync_log').select('id').where('action', '=', 'updated').execute()
    ).length;
    const sweeps = await Promise.all(replicas.map((r) => r.engine.sweep('sb')));
    expect(sweeps.filter((s) => s.skipped === 'locked').length).toBeGreaterThanOrEqual(1);
    await quiet();
    // What the sweep queued (issues never read back since the bridge wrote them) changes nothing.
    expect(await versions()).toEqual(before);
    expect(
      (await replicas[0]!.store.db.selectFrom('sync_log').select('id').where('action', '=', 'updated').execute())
        .length,
    ).toBe(updatesBefore);
  });
});
