/**
 * "Apply to linked records" benchmark (issue 19 item 2): N records linked through a mapping, the
 * mapping edited (priority high → Highest: half of the records' issues must change), then one apply
 * run re-syncs them all against the sandbox with a realistic latency, through the queue and a
 * worker of the service's default concurrency.
 *
 *   npx tsx bench/apply-linked.ts [--records 2000] [--latency 50] [--db sqlite|postgres] [--concurrency 4]
 *
 * Set-up (no latency): the records are imported, backfilled (bulk create) and their follow-up
 * jobs drained, so every record is linked and synced. Then the latency is set, the sandbox's call
 * counter reset, the run started and waited for. Reports: run time, records/s, Jira calls in all
 * and per record, per changed and per unchanged record (from the run's own per-record counts),
 * writes, the run's counts, RSS (peak sampled), and the machine. Progress goes to stderr.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { wireEngine } from '../src/app/engine-wiring.js';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/log/logger.js';
import { createMetrics } from '../src/metrics/metrics.js';
import { createQueue, startWorker } from '../src/queue/index.js';
import { startSandbox } from '../src/sandbox/index.js';
import { openStore } from '../src/store/index.js';
import { BENCH_DATABASE_URL, printMachine } from './machine.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '2000' },
    latency: { type: 'string', default: '50' },
    db: { type: 'string', default: 'sqlite' },
    concurrency: { type: 'string', default: '4' },
  },
});
const N = Number(values.records);
const LATENCY = Number(values.latency);
const PG = values.db === 'postgres';
const CONCURRENCY = Number(values.concurrency);
const machine = await printMachine();
const mib = (): number => Math.round(process.memoryUsage().rss / 2 ** 20);
let rssPeak = mib();
const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, mib())), 250);
const say = (line: string): boolean => process.stderr.write(`apply-linked: ${line}\n`);
const sb = await startSandbox({ flavour: 'cloud', port: 0 });
const dir = mkdtempSync(join(tmpdir(), 'jb-bench-apply-'));
const schema = `bench_apply_${process.pid}`;
const writeConfig = (high: string): void =>
  writeFileSync(
    join(dir, 'jira-bridge.yaml'),
    [
      'connections:',
      '  - id: sb',
      `    site_url: ${sb.baseUrl}`,
      '    flavour: cloud',
      `    auth: { type: basic, email: ${sb.credentials.email}, api_token: ${sb.credentials.apiToken} }`,
      '    sweep: { interval_seconds: 0 }',
      'mappings:',
      '  - id: sec',
      '    connection: sb',
      '    scope: bench',
      '    project: SEC',
      '    kinds: { vulnerability: { issue_type: Vulnerability } }',
      `    priority: { out: { high: ${high}, low: Low }, out_default: Medium }`,
      '',
    ].join('\n'),
  );
const store = await openStore(
  PG ? { databaseUrl: `${BENCH_DATABASE_URL}?schema=${schema}`, poolMax: 10 } : { dataDir: join(dir, 'data') },
);
await store.migrate();
const logger = createLogger({ level: 'silent' });
const queue = createQueue(store);
const wire = async () =>
  wireEngine({
    config: (await loadConfig({ path: join(dir, 'jira-bridge.yaml'), env: {} })).config,
    store,
    queue,
    metrics: createMetrics({ defaultMetrics: false }),
    logger,
    dataDir: join(dir, 'data'),
  });
const idle = async (): Promise<void> => {
  for (;;) {
    const s = await queue.stats();
    if (s.byState.queued === 0 && s.byState.running === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
};

// Set-up: N records linked with the first version of the mapping (no latency).
writeConfig('High');
let wired = await wire();
const s0 = Date.now();
for (let i = 0; i < N; i++) {
  await wired.engine.records.upsertRecord({
    scope: 'bench',
    hostId: `B-${i}`,
    kind: 'vulnerability',
    title: `Finding ${i}`,
    status: 'open',
    severity: i % 2 ? 'high' : 'low',
  });
  if ((i + 1) % 1000 === 0) say(`imported ${i + 1} of ${N}`);
}
// The upserts' own jobs are dropped: the backfill links the records in bulk (and queues theirs).
await store.db.deleteFrom('jobs').execute();
const bf = await wired.engine.backfill.start({ scope: 'bench' });
await wired.engine.backfill.run(bf.id);
await store.db.deleteFrom('jobs').where('kind', '=', 'outbound.backfill').execute();
let worker = startWorker({ store, queue, handlers: wired.engine.handlers, concurrency: CONCURRENCY, logger });
await idle();
await worker.stop();
await wired.close();
say(`set up ${N} linked records in ${((Date.now() - s0) / 1000).toFixed(1)} s; editing the mapping and applying it`);

// The mapping changes (high → Highest): applying it must write half of the issues.
writeConfig('Highest');
wired = await wire();
sb.knobs.set({ latencyMs: LATENCY, jitterMs: Math.round(LATENCY / 5) });
sb.calls.reset();
worker = startWorker({ store, queue, handlers: wired.engine.handlers, concurrency: CONCURRENCY, logger });
const t0 = Date.now();
const started = await wired.engine.apply.start({ mappingId: 'sec', actor: 'bench' });
let run = started;
let shown = 0;
while (run.state === 'running') {
  await new Promise((r) => setTimeout(r, 500));
  run = await wired.engine.apply.get('sec', started.id);
  if (run.done - shown >= 1000) {
    shown = run.done;
    say(`${run.done}/${run.total} after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
}
const ms = Date.now() - t0;
await worker.stop();
const calls = sb.calls.count({});
const perOutcome = await store.db
  .selectFrom('apply_run_records')
  .select((eb) => ['outcome', eb.fn.countAll<number>().as('n'), eb.fn.sum<number>('jira_calls').as('calls')])
  .where('run_id', '=', started.id)
  .groupBy('outcome')
  .execute();
const per = (o: string): number => {
  const r = perOutcome.find((x) => x.outcome === o);
  return r && Number(r.n) ? +(Number(r.calls) / Number(r.n)).toFixed(3) : 0;
};
clearInterval(sampler);
console.log(
  JSON.stringify(
    {
      command: `npx tsx bench/apply-linked.ts --records ${N} --latency ${LATENCY} --db ${values.db} --concurrency ${CONCURRENCY}`,
      machine,
      db: values.db,
      records: N,
      sandboxLatencyMs: LATENCY,
      workerConcurrency: CONCURRENCY,
      run: {
        state: run.state,
        total: run.total,
        done: run.done,
        changed: run.changed,
        unchanged: run.unchanged,
        failed: run.failed,
        jira_calls: run.jira_calls,
      },
      seconds: +(ms / 1000).toFixed(2),
      recordsPerSecond: +(N / (ms / 1000)).toFixed(1),
      jiraCallsCountedBySandbox: calls,
      writes: calls - sb.calls.count({ method: 'GET' }),
      jiraCallsPerRecord: +(calls / N).toFixed(3),
      jiraCallsPerChanged: per('changed'),
      jiraCallsPerUnchanged: per('unchanged'),
      rssMiB: { peak: Math.max(rssPeak, mib()), end: mib() },
    },
    null,
    2,
  ),
);
await wired.close();
await store.close();
await sb.close();
rmSync(dir, { recursive: true, force: true });
if (PG) {
  const pg = await import('pg');
  const c = new pg.default.Client({ connectionString: BENCH_DATABASE_URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
}
