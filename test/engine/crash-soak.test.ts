/**
 * A randomized SIGKILL soak (issue 16), on SQLite and on PostgreSQL: a real `jira-bridge serve`
 * child under two-way load — the host changing titles and statuses and commenting through the API,
 * a Jira user (alice, through the sandbox's REST API) changing summaries and priorities and
 * commenting, a backfill of records made for it, and a window in which Jira rejects every
 * credential — is killed with SIGKILL at random moments several times and restarted each time.
 * Then the load stops, everything settles, and:
 *
 *  - every host change's last value is on the record and in Jira (titles, statuses);
 *  - every Jira user's last change is on the record and stays in Jira (summaries, priorities);
 *  - nothing was reverted: the record's feed has no Jira-origin change of a host-owned field, and
 *    Jira's changelog shows the bridge writing host titles only in the host's order and never
 *    writing over the Jira user's fields;
 *  - one issue per record, every comment exactly once on each side, the change feed gapless;
 *  - the backfill done with every record it counted linked (done = total, none failed);
 *  - the connection went paused and healthy at most twice for the outage.
 *
 * Fields are owned per record so the last value is known: the host edits the `h-*` records'
 * titles and statuses (forward along Open → Triaged → In Progress → In Review → Resolved, so its
 * walks have several hops to be cut), the Jira user the `j-*` records' summaries and priorities;
 * both comment everywhere. The schedule (operations, kill moments) comes from a seeded PRNG: the
 * seed is printed, and SOAK_SEED=<seed> repeats the schedule (the interleaving with the process's
 * own timing is not repeatable; the schedule is). Sizes are kept small for a 2-core CI machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { JiraClient } from '../../src/jira/client.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { JIRA_EVENTS } from '../../src/webhooks/parse.js';
import { freePort } from '../cli/helpers.js';
import { describeEachEngine, TEST_DATABASE_URL, type TestDb } from '../helpers/db.js';
import {
  sandboxConnectionYaml,
  sandboxUserClient,
  spawnServiceProcess,
  writeConfig,
  type ServiceProcess,
} from '../helpers/service.js';
import { until } from '../helpers/wait.js';
import { adfText, prng, sleep } from '../replicas/harness.js';

const SECRET = 'crash-soak-webhook-secret-0123456789';
const SCOPE = 'soak';
const HOST_RECORDS = 5;
const JIRA_RECORDS = 4;
const BACKFILL_RECORDS = 6;
const KILLS = 4;
/** The credential outage, in ms after the load starts (no kill in it: its transitions are counted). */
const OUTAGE = { from: 2_000, to: 6_000 };

const STATUSES = ['open', 'triaged', 'in_progress', 'review', 'resolved'] as const;
const STATUS_OUT: Record<string, string> = {
  open: 'Open',
  triaged: 'Triaged',
  in_progress: 'In Progress',
  review: 'In Review',
  resolved: 'Resolved',
};
const PRIORITY_OUT: Record<string, string> = { critical: 'Highest', high: 'High', medium: 'Medium', low: 'Low' };
const SEVERITY_OF = Object.fromEntries(Object.entries(PRIORITY_OUT).map(([s, p]) => [p, s]));

interface RecordView {
  id: string;
  title: string;
  status: string;
  severity: string | null;
  sync: { state: string; error?: { message?: string } | null };
  link: { state: string; issue_key: string | null } | null;
}
interface CommentView {
  origin: string;
  body: string;
}
interface Change {
  seq: number;
  event: string;
  host_id: string;
  data: { origin?: string } & Record<string, unknown>;
}

describeEachEngine('randomized SIGKILL soak under two-way load', ({ fresh }) => {
  let sb: RunningSandbox;
  let alice: JiraClient;
  let db: TestDb;
  let port = 0;
  let svc: ServiceProcess | undefined;
  const started: ServiceProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'jb-crash-soak-'));

  const start = async (): Promise<void> => {
    const p = await spawnServiceProcess({
      configPath: join(dir, 'jira-bridge.yaml'),
      port,
      cwd: dir,
      env: {
        ...(db.engine === 'postgres'
          ? { DATABASE_URL: `${TEST_DATABASE_URL}?schema=${db.openOpts.schema!}`, DATA_DIR: join(dir, 'data') }
          : { DATA_DIR: db.openOpts.dataDir! }),
        JIRA_BRIDGE_MASTER_KEY: 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=',
        WORKER_LEASE_SECONDS: '3', // what a killed process held is taken over this soon
        LOG_LEVEL: 'info', // the connection's paused / healthy-again lines are counted
      },
    });
    started.push(p);
    svc = p;
  };

  /** For a failure's message: how each process ended and its last errors. */
  const diagnosis = (): string =>
    started
      .map((p, i) => {
        const c = p.proc.child;
        const errors = (p.proc.stdout() + p.proc.stderr())
          .split('\n')
          .filter((l) => /"level":"(error|fatal)"|Error/.test(l))
          .slice(-3)
          .map((l) => l.slice(0, 300));
        return `process ${i} (pid ${p.pid}): ${c.exitCode ?? c.signalCode ?? 'running'} ${errors.join(' | ')}`;
      })
      .join('\n');

  /** What a host does: send, and while the service is down (restarting) try again. */
  const call = async (path: string, init: RequestInit = {}): Promise<Response> => {
    const end = Date.now() + 400_000;
    let last = '';
    while (Date.now() < end) {
      const s = svc;
      if (s) {
        try {
          const res = await fetch(`${s.url}${path}`, {
            ...init,
            headers: { 'content-type': 'application/json' },
            signal: AbortSignal.timeout(15_000),
          });
          if (res.status < 300) return res;
          last = `${res.status} ${await res.text()}`;
          if (res.status < 500) throw new Error(`${init.method ?? 'GET'} ${path}: ${last}`);
        } catch (err) {
          if (err instanceof Error && err.message.startsWith(`${init.method ?? 'GET'} ${path}:`)) throw err;
          last = String(err);
        }
      }
      await sleep(50);
    }
    throw new Error(`${init.method ?? 'GET'} ${path}: no answer for 400 s (${last})`);
  };
  const get = async <T>(path: string): Promise<T> => (await (await call(path)).json()) as T;
  const put = (hostId: string, body: Record<string, unknown>) =>
    call(`/api/v1/records/${SCOPE}/${hostId}`, {
      method: 'PUT',
      body: JSON.stringify({ kind: 'vulnerability', ...body }),
    });
  const record = (hostId: string) => get<RecordView>(`/api/v1/records/${SCOPE}/${hostId}`);
  const comments = async (hostId: string) =>
    (await get<{ comments: CommentView[] }>(`/api/v1/records/${SCOPE}/${hostId}/comments`)).comments;

  beforeAll(async () => {
    db = await fresh();
    sb = await startSandbox({ flavour: 'cloud', port: 0, knobs: { latencyMs: 5, jitterMs: 15 } });
    port = await freePort();
    writeConfig(dir, [
      ...sandboxConnectionYaml(sb, { webhookSecret: SECRET, sweepSeconds: 2 }),
      'mappings:',
      '  - id: sec',
      '    connection: sb',
      `    scope: ${SCOPE}`,
      '    project: SEC',
      '    kinds: { vulnerability: { issue_type: Vulnerability } }',
      '    status:',
      '      out: { open: Open, triaged: Triaged, in_progress: In Progress, review: In Review, resolved: Resolved }',
      '      in: { Open: open, Triaged: triaged, In Progress: in_progress, In Review: review, Resolved: resolved }',
      '      closed: [resolved]',
      '    priority: { out: { critical: Highest, high: High, medium: Medium, low: Low } }',
      '    close: { status: Resolved }',
      '    resolution: Fixed',
      '    comments: { enabled: true, direction: both }',
    ]);
    sb.webhooks.register({
      url: `http://127.0.0.1:${port}/webhooks/jira/sb`,
      events: [...JIRA_EVENTS],
      secret: SECRET,
    });
    alice = sandboxUserClient(sb, 'alice');
    await start();
  }, 120_000);

  afterAll(async () => {
    await svc?.kill();
    await alice?.close();
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'ends with every last change on both sides, nothing reverted or doubled, the feed gapless, the backfill counted',
    { timeout: 900_000 },
    async () => {
      const seed = Number(process.env.SOAK_SEED ?? Date.now() % 1_000_000);
      console.log(`crash soak [${db.engine}] seed ${seed} (SOAK_SEED=${seed} repeats its schedule)`);
      const rand = prng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
      const aliceId = sb.credentials.users.alice!.accountId;

      // The records each side owns, linked before the load starts.
      const hostIds = Array.from({ length: HOST_RECORDS }, (_, i) => `h-${i}`);
      const jiraIds = Array.from({ length: JIRA_RECORDS }, (_, i) => `j-${i}`);
      const backfillIds = Array.from({ length: BACKFILL_RECORDS }, (_, i) => `b-${i}`);
      const host = new Map<string, { title: string; status: string; titles: string[] }>();
      for (const id of hostIds) host.set(id, { title: `Soak ${id}`, status: 'open', titles: [`Soak ${id}`] });
      const jira = new Map<string, { summary: string; priority: string }>();
      for (const id of jiraIds) jira.set(id, { summary: `Soak ${id}`, priority: 'Medium' });
      const hostComments = new Map<string, string[]>();
      const jiraComments = new Map<string, string[]>();
      for (const id of [...hostIds, ...jiraIds]) {
        hostComments.set(id, []);
        jiraComments.set(id, []);
      }
      for (const id of hostIds) await put(id, { title: `Soak ${id}`, status: 'open', severity: 'high' });
      for (const id of jiraIds) await put(id, { title: `Soak ${id}`, status: 'open', severity: 'medium' });
      const keys = new Map<string, string>();
      await until(
        'the first records linked',
        async () => {
          for (const id of [...hostIds, ...jiraIds]) {
            if (keys.has(id)) continue;
            const r = await record(id);
            if (r.link?.state === 'linked' && r.link.issue_key) keys.set(id, r.link.issue_key);
          }
          return keys.size === hostIds.length + jiraIds.length;
        },
        60_000,
      );

      // The schedule: each process works for a random while, then is killed. The outage falls in
      // the first process's life (its transitions are counted); it is killed 1.5–4 s after the
      // outage, the others 1.5–5 s after they answer (times are of the process's life, so a slowly
      // restarting machine gets the same amount of work between kills).
      const lifetimes = Array.from({ length: KILLS }, (_, k) =>
        k === 0 ? OUTAGE.to + 1_500 + rand() * 2_500 : 1_500 + rand() * 3_500,
      );
      const t0 = Date.now();
      let loadEnds = Number.POSITIVE_INFINITY; // 4 s after the last restart
      const at = (ms: number): Promise<void> => sleep(Math.max(0, t0 + ms - Date.now()));
      let kills = 0;
      const restarts: number[] = [];
      const killAt: number[] = [];
      let backfillId = '';
      let hostOps = 0;
      let jiraOps = 0;

      const killer = async (): Promise<void> => {
        try {
          await kill();
        } finally {
          loadEnds = Math.min(loadEnds, Date.now() + 4_000);
        }
      };
      const kill = async (): Promise<void> => {
        let born = t0;
        for (const life of lifetimes) {
          await sleep(Math.max(0, born + life - Date.now()));
          killAt.push(Date.now() - t0);
          const victim = svc!;
          svc = undefined;
          await victim.kill();
          const exit = await victim.proc.exited;
          expect(exit.signal).toBe('SIGKILL');
          kills++;
          const t1 = Date.now();
          await start();
          born = Date.now();
          restarts.push(born - t1);
        }
      };
      const outage = async (): Promise<void> => {
        await at(OUTAGE.from);
        sb.knobs.set({ expiredAuth: true });
        await at(OUTAGE.to);
        sb.knobs.set({ expiredAuth: false });
      };
      const backfill = async (): Promise<void> => {
        await at(500);
        for (const id of backfillIds) await put(id, { title: `Soak ${id}`, status: 'open', severity: 'low' });
        const res = await call('/api/v1/backfill', { method: 'POST', body: JSON.stringify({ scope: SCOPE }) });
        backfillId = ((await res.json()) as { id: string }).id;
      };
      const hostLoad = async (): Promise<void> => {
        for (let step = 0; Date.now() < loadEnds; step++) {
          const id = pick(hostIds);
          const h = host.get(id)!;
          const roll = rand();
          if (roll < 0.6) {
            const title = rand() < 0.7 ? `Soak ${id} host ${step}` : h.title;
            const later = STATUSES.slice(STATUSES.indexOf(h.status as (typeof STATUSES)[number]) + 1);
            const status = later.length && rand() < 0.35 ? pick(later) : h.status;
            if (title === h.title && status === h.status) continue;
            await put(id, { title, status, severity: 'high' });
            if (title !== h.title) h.titles.push(title);
            h.title = title;
            h.status = status;
          } else {
            const target = rand() < 0.7 ? id : pick(jiraIds);
            const body = `host note ${step} on ${target}`;
            await call(`/api/v1/records/${SCOPE}/${target}/comments`, {
              method: 'POST',
              body: JSON.stringify({ author: 'ops', body, host_comment_id: `hc-${step}` }),
            });
            hostComments.get(target)!.push(body);
          }
          hostOps++;
          await sleep(40 + rand() * 120);
        }
      };
      const jiraLoad = async (): Promise<void> => {
        for (let step = 0; Date.now() < loadEnds; step++) {
          const roll = rand();
          // A Jira user's call during the outage is refused like the bridge's: nothing changed then.
          try {
            if (roll < 0.35) {
              const id = pick(jiraIds);
              const summary = `Soak ${id} jira ${step}`;
              await alice.editIssue(keys.get(id)!, { fields: { summary } });
              jira.get(id)!.summary = summary;
            } else if (roll < 0.65) {
              const id = pick(jiraIds);
              const priority = pick(Object.values(PRIORITY_OUT));
              await alice.editIssue(keys.get(id)!, { fields: { priority: { name: priority } } });
              jira.get(id)!.priority = priority;
            } else {
              const id = rand() < 0.6 ? pick(jiraIds) : pick(hostIds);
              const body = `jira note ${step} on ${id}`;
              await alice.addComment(keys.get(id)!, adfText(body));
              jiraComments.get(id)!.push(body);
            }
            jiraOps++;
          } catch (err) {
            if (!sb.knobs.get().expiredAuth && !/401/.test(String(err))) throw err;
          }
          await sleep(60 + rand() * 160);
        }
      };
      // A host tailing the change feed with its cursor all along (as a consumer does).
      const tailed: Change[] = [];
      let tailCursor = '';
      const tailOnce = async (): Promise<number> => {
        const page = await get<{ changes: Change[]; next_cursor: string }>(
          `/api/v1/changes?limit=1000${tailCursor ? `&after=${tailCursor}` : ''}`,
        );
        tailed.push(...page.changes);
        if (page.changes.length) tailCursor = page.next_cursor;
        return page.changes.length;
      };
      const tail = async (): Promise<void> => {
        while (Date.now() < loadEnds) {
          await tailOnce();
          await sleep(200);
        }
      };
      const tasks = await Promise.allSettled([killer(), outage(), backfill(), hostLoad(), jiraLoad(), tail()]);
      const failed = tasks.flatMap((t, i) =>
        t.status === 'rejected'
          ? [`${['killer', 'outage', 'backfill', 'host', 'jira', 'tail'][i]}: ${String(t.reason)}`]
          : [],
      );
      if (failed.length)
        throw new Error(`${failed.join('\n')}\n(seed ${seed}; restarts ${restarts.join(', ')} ms)\n${diagnosis()}`);
      console.log(`restarts took ${restarts.join(', ')} ms; ${hostOps} host ops, ${jiraOps} Jira ops`);
      expect(kills).toBe(KILLS);
      expect(hostOps).toBeGreaterThan(10);
      expect(jiraOps).toBeGreaterThan(10);

      // Quiesce: Jira's webhooks delivered, every record synced and agreeing, no job left.
      const all = [...hostIds, ...jiraIds, ...backfillIds];
      const expectedTitle = (id: string): string => host.get(id)?.title ?? jira.get(id)?.summary ?? `Soak ${id}`;
      let seen: unknown;
      try {
        await until(
          'every record synced and in agreement with its issue, no job left',
          async () => {
            await sb.webhooks.drain();
            const off: string[] = [];
            for (const id of all) {
              const r = await record(id);
              const issue = r.link?.issue_key ? sb.state.issue(r.link.issue_key) : undefined;
              if (r.sync.state !== 'synced' || !issue) {
                off.push(`${id}: ${r.sync.state} ${r.link?.state ?? 'unlinked'} ${r.sync.error?.message ?? ''}`);
                continue;
              }
              if (r.title !== expectedTitle(id) || issue.summary !== expectedTitle(id))
                off.push(`${id}: title "${r.title}" / Jira "${issue.summary}", expected "${expectedTitle(id)}"`);
            }
            const jobs = await get<{ jobs: Array<{ state: string; kind: string }> }>('/api/v1/jobs?limit=1000');
            const open = jobs.jobs.filter((j) => j.state === 'queued' || j.state === 'running' || j.state === 'dead');
            if (open.length) off.push(`${open.length} job(s) ${open.map((j) => `${j.kind}:${j.state}`).join(',')}`);
            seen = off;
            return off.length === 0;
          },
          120_000,
          250,
        );
      } catch (err) {
        throw new Error(`${(err as Error).message} (seed ${seed}); still off: ${JSON.stringify(seen)}\n${diagnosis()}`);
      }

      const problems: string[] = [];
      const records = new Map<string, RecordView>();
      for (const id of all) records.set(id, await record(id));
      const issueOf = (id: string) => sb.state.issue(records.get(id)!.link!.issue_key!)!;
      const statusOf = (id: string) => sb.state.status(issueOf(id).statusId).name;
      const priorityOf = (id: string) => {
        const p = issueOf(id).priorityId;
        return p ? sb.state.priority(p)?.name : undefined;
      };
      // The host's last values, on the record and in Jira.
      for (const [id, h] of host) {
        const r = records.get(id)!;
        if (r.title !== h.title || issueOf(id).summary !== h.title)
          problems.push(`${id}: title "${r.title}", Jira "${issueOf(id).summary}", host's last "${h.title}"`);
        if (r.status !== h.status || statusOf(id) !== STATUS_OUT[h.status])
          problems.push(`${id}: status ${r.status}, Jira ${statusOf(id)}, host's last ${h.status}`);
        if (r.severity !== 'high' || priorityOf(id) !== 'High')
          problems.push(`${id}: severity ${r.severity}, Jira ${priorityOf(id)} (nobody changed them)`);
      }
      // The Jira user's last values, in Jira and on the record.
      for (const [id, j] of jira) {
        const r = records.get(id)!;
        if (r.title !== j.summary || issueOf(id).summary !== j.summary)
          problems.push(`${id}: title "${r.title}", Jira "${issueOf(id).summary}", Jira user's last "${j.summary}"`);
        if (r.severity !== SEVERITY_OF[j.priority] || priorityOf(id) !== j.priority)
          problems.push(`${id}: severity ${r.severity}, Jira ${priorityOf(id)}, Jira user's last ${j.priority}`);
        if (r.status !== 'open' || statusOf(id) !== 'Open') problems.push(`${id}: status moved (${r.status})`);
      }
      for (const id of backfillIds) {
        const r = records.get(id)!;
        if (issueOf(id).summary !== `Soak ${id}` || priorityOf(id) !== 'Low' || r.severity !== 'low')
          problems.push(`${id}: backfilled as "${issueOf(id).summary}" ${priorityOf(id)} (record ${r.severity})`);
      }
      // Nothing reverted in Jira: the bridge wrote host titles in the host's order only, and never
      // over the Jira user's fields.
      for (const id of [...hostIds, ...jiraIds]) {
        let lastIndex = -1;
        for (const h of issueOf(id).changelog) {
          if (h.authorId === aliceId) continue;
          for (const item of h.items) {
            if (jira.has(id) && (item.field === 'summary' || item.field === 'priority'))
              problems.push(`${id}: the bridge set ${item.field} "${item.fromString}" → "${item.toString}" in Jira`);
            if (host.has(id) && item.field === 'summary') {
              const i = host.get(id)!.titles.indexOf(item.toString ?? '');
              if (i < lastIndex)
                problems.push(`${id}: Jira's summary went back to the host's older "${item.toString}"`);
              lastIndex = Math.max(lastIndex, i);
            }
          }
        }
      }
      // One issue per record.
      const ours = sb.state.allIssues().filter((i) => i.summary.startsWith('Soak '));
      if (ours.length !== all.length) problems.push(`${ours.length} issues for ${all.length} records`);
      if (new Set(all.map((id) => records.get(id)!.link!.issue_key)).size !== all.length)
        problems.push('two records linked to one issue');
      // Every comment once on each side (none echoed back).
      for (const id of [...hostIds, ...jiraIds]) {
        const inJira = issueOf(id).comments.map((c) => JSON.stringify(c.body));
        const onRecord = await comments(id);
        for (const body of hostComments.get(id)!) {
          const n = inJira.filter((t) => t.includes(body)).length;
          if (n !== 1) problems.push(`${id}: host comment "${body}" ${n} times in Jira`);
          const m = onRecord.filter((c) => c.body.includes(body)).length;
          if (m !== 1) problems.push(`${id}: host comment "${body}" ${m} times on the record`);
        }
        for (const body of jiraComments.get(id)!) {
          const n = onRecord.filter((c) => c.origin === 'jira' && c.body === body).length;
          if (n !== 1) problems.push(`${id}: Jira comment "${body}" ${n} times on the record`);
          const m = inJira.filter((t) => t.includes(body)).length;
          if (m !== 1) problems.push(`${id}: Jira comment "${body}" ${m} times in Jira`);
        }
        const total = hostComments.get(id)!.length + jiraComments.get(id)!.length;
        if (inJira.length !== total) problems.push(`${id}: ${inJira.length} comments in Jira, ${total} made`);
        if (onRecord.length !== total) problems.push(`${id}: ${onRecord.length} comments on the record, ${total} made`);
      }
      // The feed: gapless, and no Jira-origin change of a field only the host changed.
      const changes: Change[] = [];
      for (let after = ''; ;) {
        const page = await get<{ changes: Change[]; next_cursor: string }>(
          `/api/v1/changes?limit=1000${after ? `&after=${after}` : ''}`,
        );
        changes.push(...page.changes);
        if (!page.changes.length) break;
        after = page.next_cursor;
      }
      // Gapless as a consumer sees it: the tail missed nothing, repeated nothing, in order. (On
      // SQLite the numbers are consecutive too; on PostgreSQL a sequence number taken by a
      // transaction that a kill cut off is never used, and readers are not affected.)
      while ((await tailOnce()) > 0);
      if (JSON.stringify(tailed.map((c) => c.seq)) !== JSON.stringify(changes.map((c) => c.seq)))
        problems.push(
          `the feed's tail saw ${tailed.length} changes, the feed holds ${changes.length}: ` +
            `missed ${changes
              .filter((c) => !tailed.some((t) => t.seq === c.seq))
              .map((c) => c.seq)
              .join(',')}`,
        );
      changes.forEach((c, i) => {
        const prev = changes[i - 1]?.seq;
        if (prev !== undefined && (c.seq <= prev || (db.engine === 'sqlite' && c.seq !== prev + 1)))
          problems.push(`feed: ${prev} then ${c.seq}`);
      });
      for (const c of changes) {
        if (!host.has(c.host_id) || c.data.origin !== 'jira' || c.event !== 'record.updated') continue;
        if (/"(title|status)"/.test(JSON.stringify(c.data)))
          problems.push(`${c.host_id}: feed #${c.seq} Jira-origin change of a host field ${JSON.stringify(c.data)}`);
      }
      // The backfill: every record it counted ends linked, and is counted.
      const bf = await get<{ state: string; total: number; done: number; failed: number }>(
        `/api/v1/backfill/${backfillId}`,
      );
      if (bf.state !== 'done' || bf.done !== bf.total || bf.failed !== 0 || bf.total < 1)
        problems.push(`backfill ${JSON.stringify(bf)}`);
      // The outage: paused once, healthy again once (at most), across every process.
      const logs = started.map((p) => p.proc.stdout() + p.proc.stderr()).join('\n');
      const paused = logs.split('\n').filter((l) => l.includes('Jira connection paused')).length;
      const healthy = logs.split('\n').filter((l) => l.includes('Jira connection healthy again')).length;
      if (paused < 1) problems.push('the outage never paused the connection');
      if (paused + healthy > 2) problems.push(`${paused} paused and ${healthy} healthy transitions for one outage`);
      // Finished work leaves no journal row.
      const journal = await db.store.db.selectFrom('sync_journal').select('id').execute();
      if (journal.length) problems.push(`${journal.length} journal row(s) left`);

      console.log(
        `crash soak [${db.engine}] seed ${seed}: ${kills} kills at ${killAt.map((t) => (t / 1000).toFixed(1)).join(', ')} s; ` +
          `${hostOps} host and ${jiraOps} Jira operations; ${changes.length} feed changes; transitions ${paused}+${healthy}; ` +
          `${problems.length} problem(s)`,
      );
      expect(problems, `seed ${seed}`).toEqual([]);
    },
  );
});
