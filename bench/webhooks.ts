/**
 * Webhook ingest and end-to-end propagation, through the real service (HTTP intake, store, queue,
 * engine, Jira client) against the sandbox.
 *
 *   npx tsx bench/webhooks.ts [--deliveries 3000] [--concurrency 32] [--samples 40] [--latency 20] [--jitter 4]
 *                             [--db sqlite|postgres] [--issues 1] [--skip-ingest] [--cloud]
 *
 * `--cloud` is Jira Cloud's latency as seen from a data centre: --latency 150 --jitter 100.
 *
 * 1. Ingest (unless --skip-ingest): a load generator posts signed Jira deliveries (unique
 *    identifiers, real issue bodies) to POST /webhooks/jira/:id over loopback with N in flight;
 *    reports deliveries/s, the ack latency p50/p99 (the answer comes after the delivery is durably
 *    stored and its job queued), the jobs and Jira calls the deliveries caused once the queue
 *    drained, and the process's RSS sampled every 100 ms under that load (before / peak / after).
 * 2. Host → Jira: a record upsert until the issue in the sandbox shows the change.
 * 3. Jira → host: a person's edit in Jira (REST) until the record shows it (the sandbox sends the
 *    signed webhook; the job reads the issue and applies it).
 * Also counts the Jira calls spent per Jira-side change and per echo, and prints the machine.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { startService } from '../src/app/service.js';
import { createJiraClient } from '../src/jira/client.js';
import { createLogger } from '../src/log/logger.js';
import { startSandbox } from '../src/sandbox/index.js';
import { sign } from '../src/webhooks/verify.js';
import { JIRA_EVENTS } from '../src/webhooks/parse.js';
import { BENCH_DATABASE_URL, printMachine } from './machine.js';

const { values } = parseArgs({
  options: {
    deliveries: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '32' },
    samples: { type: 'string', default: '40' },
    latency: { type: 'string', default: '20' },
    /** Extra random latency per call, [0, jitter) ms (default latency / 5). */
    jitter: { type: 'string' },
    /** Jira Cloud's latency: 150 ms + up to 100 ms per call. */
    cloud: { type: 'boolean', default: false },
    /** Only the propagation samples (2 and 3). */
    'skip-ingest': { type: 'boolean', default: false },
    db: { type: 'string', default: 'sqlite' },
    /** Distinct issues the deliveries name: 1 = all for one linked issue (coalescing), else unlinked ids. */
    issues: { type: 'string', default: '1' },
  },
});
const ISSUES = Number(values.issues);
const N = Number(values.deliveries);
const PAR = Number(values.concurrency);
const SAMPLES = Number(values.samples);
const LATENCY = values.cloud ? 150 : Number(values.latency);
const JITTER = values.cloud ? 100 : values.jitter !== undefined ? Number(values.jitter) : Math.round(LATENCY / 5);
const machine = await printMachine();
console.log(`## Machine: ${JSON.stringify(machine)}`);
const SECRET = 'bench-webhook-secret-0123456789';

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const ms = (x: number): string => `${x.toFixed(1)} ms`;
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

const sb = await startSandbox({
  flavour: 'cloud',
  port: 0,
  knobs: { latencyMs: LATENCY, jitterMs: JITTER },
});
const dir = mkdtempSync(join(tmpdir(), 'jb-bench-wh-'));
const schema = `bench_wh_${process.pid}`;
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
    '    scope: bench',
    '    project: OPS',
    '    kinds: { incident: { issue_type: Incident } }',
    '    status: { out: { new: To Do, in_progress: In Progress }, closed: [resolved] }',
    '    priority: { out: { P1: Highest, P2: High, P3: Medium, P4: Low } }',
    '    close: { status: Done }',
    '',
  ].join('\n'),
);
const env: NodeJS.ProcessEnv = {
  ...process.env,
  PORT: '0',
  HOST: '127.0.0.1',
  DATA_DIR: join(dir, 'data'),
  WORKER_CONCURRENCY: '8',
};
if (values.db === 'postgres') env.DATABASE_URL = `${BENCH_DATABASE_URL}?schema=${schema}`;
const svc = await startService({
  configPath: join(dir, 'jira-bridge.yaml'),
  env,
  logger: createLogger({ level: 'silent' }),
});
const intake = `${svc.url}/webhooks/jira/sb`;
sb.webhooks.register({
  url: intake,
  events: [...JIRA_EVENTS],
  secret: SECRET,
});
const a = sb.credentials.users.alice!;
const alice = createJiraClient({
  id: 'alice',
  siteUrl: sb.baseUrl,
  flavour: 'cloud',
  auth: { type: 'basic', email: a.loginEmail, apiToken: a.apiToken },
});

const upsert = (hostId: string, over: Record<string, unknown> = {}) =>
  svc.engine.records.upsertRecord({
    scope: 'bench',
    hostId,
    kind: 'incident',
    title: `Bench ${hostId}`,
    status: 'new',
    severity: 'P3',
    ...over,
  });
const waitFor = async (cond: () => boolean | Promise<boolean>, limitMs = 30_000): Promise<void> => {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > limitMs) throw new Error('timed out');
    await sleep(1);
  }
};

// --- 1. ingest ------------------------------------------------------------------------------
async function ingest(): Promise<void> {
  // Linked issues to point deliveries at (their jobs then read the issue: the realistic load).
  await upsert('ingest-target');
  await waitFor(async () => (await svc.engine.records.getRecord('bench', 'ingest-target')).link?.state === 'linked');
  const target = await svc.engine.records.getRecord('bench', 'ingest-target');
  const template = JSON.stringify({
    timestamp: Date.now(),
    webhookEvent: 'jira:issue_updated',
    issue_event_type_name: 'issue_updated',
    user: { accountId: 'bench-user', displayName: 'Bench' },
    issue: {
      id: target.link!.issue_id,
      key: target.link!.issue_key,
      fields: { summary: 'x'.repeat(200), description: 'y'.repeat(2000), labels: ['a', 'b'], project: { key: 'OPS' } },
    },
    changelog: {
      id: '1',
      items: [
        {
          field: 'summary',
          fieldtype: 'jira',
          fieldId: 'summary',
          from: null,
          fromString: 'a',
          to: null,
          toString: 'b',
        },
      ],
    },
  });
  const url = new URL(intake);
  const client = new Pool(url.origin, { connections: PAR, pipelining: 1 });
  const acks: number[] = [];
  let next = 0;
  let failed = 0;
  const mib = (): number => Math.round(process.memoryUsage().rss / 2 ** 20);
  const rss = { before: mib(), peak: mib(), drained: 0 };
  const sampler = setInterval(() => (rss.peak = Math.max(rss.peak, mib())), 100);
  await waitFor(async () => {
    const q = await svc.queue.stats();
    return q.byState.queued === 0 && q.byState.running === 0;
  });
  const callsBefore = sb.calls.count();
  // Jobs the deliveries cause: those above the newest job before the load.
  const lastJob = Number(
    (
      await svc.store.db
        .selectFrom('jobs')
        .select((eb) => eb.fn.max('id').as('id'))
        .executeTakeFirst()
    )?.id ?? 0,
  );
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: PAR }, async () => {
      while (next < N) {
        const i = next++;
        let body = template.replace('"timestamp":', `"bench":${i},"timestamp":`);
        if (ISSUES > 1) body = body.replace(`"id":"${target.link!.issue_id}"`, `"id":"${900000 + (i % ISSUES)}"`);
        const s = performance.now();
        const res = await client.request({
          path: url.pathname,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-hub-signature': sign(SECRET, body),
            'x-atlassian-webhook-identifier': `bench-${i}`,
          },
          body,
        });
        await res.body.dump();
        acks.push(performance.now() - s);
        if (res.statusCode !== 202) failed++;
      }
    }),
  );
  const ingestSec = (performance.now() - t0) / 1000;
  const stored = (
    await svc.store.db
      .selectFrom('webhook_deliveries')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow()
  ).n;
  console.log(`## Ingest (${values.db}): ${N} signed deliveries for ${ISSUES} issue(s), ${PAR} in flight`);
  console.log(
    `  ${(N / ingestSec).toFixed(0)} deliveries/s; ack p50 ${ms(pct(acks, 50))}, p99 ${ms(pct(acks, 99))}; non-202: ${failed}; rows stored: ${Number(stored)}`,
  );
  const drainStart = performance.now();
  await waitFor(async () => {
    const s = await svc.queue.stats();
    return s.byState.queued === 0 && s.byState.running === 0;
  }, 300_000);
  clearInterval(sampler);
  rss.drained = mib();
  rss.peak = Math.max(rss.peak, rss.drained);
  const jobs = await svc.store.db
    .selectFrom('jobs')
    .select(['kind', 'state', 'coalesced'])
    .where('id', '>', lastJob)
    .execute();
  const byKind = new Map<string, number>();
  for (const j of jobs) byKind.set(j.kind, (byKind.get(j.kind) ?? 0) + 1);
  const ingestCalls = sb.calls.count() - callsBefore;
  console.log(
    `  ${jobs.length} jobs (${[...byKind].map(([k, n]) => `${n} ${k}`).join(', ') || 'none'}; ${jobs.reduce((n, j) => n + j.coalesced, 0)} deliveries coalesced into them) spent ${ingestCalls} Jira calls (${((ingestCalls / N) * 1000).toFixed(1)} per 1,000 deliveries); queue drained in ${((performance.now() - drainStart) / 1000).toFixed(1)} s`,
  );
  console.log(`  RSS under ingest: ${rss.before} MiB before, ${rss.peak} MiB peak, ${rss.drained} MiB once drained`);
  await client.close();
}
if (!values['skip-ingest']) await ingest();

// --- 2. host → Jira ---------------------------------------------------------------------------
const out: number[] = [];
for (let i = 0; i < SAMPLES; i++) {
  const id = `e2e-${i}`;
  await upsert(id);
  await waitFor(async () => (await svc.engine.records.getRecord('bench', id)).link?.state === 'linked');
  await sleep(5);
  const key = (await svc.engine.records.getRecord('bench', id)).link!.issue_key!;
  const s = performance.now();
  await upsert(id, { title: `Renamed ${i}` });
  await waitFor(() => sb.state.issue(key)?.summary === `Renamed ${i}`);
  out.push(performance.now() - s);
}
await sb.webhooks.drain();
await waitFor(async () => {
  const s = await svc.queue.stats();
  return s.byState.queued === 0 && s.byState.running === 0;
});

// --- 3. Jira → host ---------------------------------------------------------------------------
const back: number[] = [];
const callsPerChange: number[] = [];
for (let i = 0; i < SAMPLES; i++) {
  const id = `e2e-${i}`;
  const key = (await svc.engine.records.getRecord('bench', id)).link!.issue_key!;
  const c0 = sb.calls.count();
  const s = performance.now();
  await alice.editIssue(key, { fields: { summary: `From Jira ${i}` } });
  await waitFor(async () => (await svc.engine.records.getRecord('bench', id)).title === `From Jira ${i}`);
  back.push(performance.now() - s);
  await waitFor(async () => {
    const q = await svc.queue.stats();
    return q.byState.queued === 0 && q.byState.running === 0;
  });
  callsPerChange.push(sb.calls.count() - c0 - 1); // minus Alice's own edit
}
// Echoes: host edits whose webhooks come back.
const e0 = sb.calls.count();
const rec0 = await svc.engine.records.getRecord('bench', 'e2e-0');
await upsert('e2e-0', { title: 'Echo probe' });
await waitFor(() => sb.state.issue(rec0.link!.issue_key!)?.summary === 'Echo probe');
await sb.webhooks.drain();
await waitFor(async () => {
  const q = await svc.queue.stats();
  return q.byState.queued === 0 && q.byState.running === 0;
});
const echoRows = await svc.store.db
  .selectFrom('webhook_deliveries')
  .select('verdict')
  .where('verdict', '=', 'echo')
  .execute();

console.log(
  `## End-to-end propagation (${values.db}, sandbox latency ${LATENCY} ms + [0, ${JITTER}) ms per call), ${SAMPLES} samples each`,
);
console.log(`  host → Jira (upsert → issue changed): p50 ${ms(pct(out, 50))}, p99 ${ms(pct(out, 99))}`);
console.log(`  Jira → host (edit in Jira → record changed): p50 ${ms(pct(back, 50))}, p99 ${ms(pct(back, 99))}`);
console.log(
  `  Jira calls per Jira-side change: ${(callsPerChange.reduce((x, y) => x + y, 0) / callsPerChange.length).toFixed(2)}`,
);
console.log(
  `  host edit incl. its echo: ${sb.calls.count() - e0} Jira calls; echo deliveries recorded: ${echoRows.length}`,
);

await alice.close();
await svc.stop();
await sb.close();
rmSync(dir, { recursive: true, force: true });
if (values.db === 'postgres') {
  const pg = await import('pg');
  const c = new pg.default.Client({ connectionString: BENCH_DATABASE_URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
}
