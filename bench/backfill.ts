/**
 * Backfill benchmark: N unlinked records of one scope become Jira issues through bulk create
 * (50 per call), against the sandbox with a realistic latency.
 *
 *   npx tsx bench/backfill.ts [--records 2000] [--latency 50] [--db sqlite|postgres] [--import-concurrency 16]
 *
 * The records are first imported while no worker runs (several upserts at once on PostgreSQL,
 * which 10,000 records need to import in reasonable time; one at a time on SQLite's single
 * writer). Reports: import time, backfill wall time, records/s, Jira calls in all and per created
 * record, bulk calls, issues in the sandbox, RSS (peak sampled), and the machine. Progress goes to
 * stderr.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { wireEngine } from '../src/app/engine-wiring.js';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/log/logger.js';
import { createMetrics } from '../src/metrics/metrics.js';
import { createQueue } from '../src/queue/index.js';
import { startSandbox } from '../src/sandbox/index.js';
import { openStore } from '../src/store/index.js';
import { BENCH_DATABASE_URL, printMachine } from './machine.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '2000' },
    latency: { type: 'string', default: '50' },
    db: { type: 'string', default: 'sqlite' },
    'import-concurrency': { type: 'string' },
  },
});
const N = Number(values.records);
const LATENCY = Number(values.latency);
const PG = values.db === 'postgres';
const IMPORT_PAR = Number(values['import-concurrency'] ?? (PG ? 16 : 1));
const machine = await printMachine();
const mib = (): number => Math.round(process.memoryUsage().rss / 2 ** 20);
let rssPeak = mib();
const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, mib())), 250);
const say = (line: string): boolean => process.stderr.write(`backfill: ${line}\n`);
const sb = await startSandbox({
  flavour: 'cloud',
  port: 0,
  knobs: { latencyMs: LATENCY, jitterMs: Math.round(LATENCY / 5) },
});
const dir = mkdtempSync(join(tmpdir(), 'jb-bench-'));
const schema = `bench_bf_${process.pid}`;
writeFileSync(
  join(dir, 'jira-bridge.yaml'),
  [
    'connections:',
    '  - id: sb',
    `    site_url: ${sb.baseUrl}`,
    '    flavour: cloud',
    `    auth: { type: basic, email: ${sb.credentials.email}, api_token: ${sb.credentials.apiToken} }`,
    'mappings:',
    '  - id: sec',
    '    connection: sb',
    '    scope: bench',
    '    project: SEC',
    '    kinds: { vulnerability: { issue_type: Vulnerability } }',
    '    priority: { out: { high: High, low: Low }, out_default: Medium }',
    '    fields: [{ host: cvss, jira: customfield_10010, type: number, direction: to_jira }]',
    '',
  ].join('\n'),
);
const { config } = await loadConfig({ path: join(dir, 'jira-bridge.yaml'), env: {} });
const store = await openStore(
  PG
    ? { databaseUrl: `${BENCH_DATABASE_URL}?schema=${schema}`, poolMax: Math.max(10, IMPORT_PAR + 2) }
    : { dataDir: join(dir, 'data') },
);
await store.migrate();
const logger = createLogger({ level: 'silent' });
const wired = await wireEngine({
  config,
  store,
  queue: createQueue(store),
  metrics: createMetrics({ defaultMetrics: false }),
  logger,
  dataDir: join(dir, 'data'),
});
// Records arrive while no worker runs (an import), so all of them are unlinked.
const i0 = Date.now();
let nextRecord = 0;
const importOne = async (i: number): Promise<void> => {
  await wired.engine.records.upsertRecord({
    scope: 'bench',
    hostId: `B-${i}`,
    kind: 'vulnerability',
    title: `Imported finding ${i}`,
    description: `Imported from the scanner, finding **${i}**`,
    status: 'open',
    severity: i % 2 ? 'high' : 'low',
    custom: { cvss: (i % 100) / 10 },
  });
  if ((i + 1) % 1000 === 0) say(`imported ${i + 1} of ${N} records`);
};
await Promise.all(
  Array.from({ length: IMPORT_PAR }, async () => {
    while (nextRecord < N) await importOne(nextRecord++);
  }),
);
const importMs = Date.now() - i0;
say(`imported ${N} records in ${(importMs / 1000).toFixed(1)} s; backfilling`);
sb.calls.reset();
const t0 = Date.now();
const started = await wired.engine.backfill.start({ scope: 'bench' });
await wired.engine.backfill.run(started.id);
const p = (await wired.engine.backfill.get(started.id))!;
const ms = Date.now() - t0;
const calls = sb.calls.count({});
clearInterval(sampler);
console.log(
  JSON.stringify(
    {
      command: `npx tsx bench/backfill.ts --records ${N} --latency ${LATENCY} --db ${values.db} --import-concurrency ${IMPORT_PAR}`,
      machine,
      db: values.db,
      records: N,
      sandboxLatencyMs: LATENCY,
      importSeconds: +(importMs / 1000).toFixed(2),
      state: p.state,
      created: p.done,
      failed: p.failed,
      seconds: +(ms / 1000).toFixed(2),
      recordsPerSecond: +(N / (ms / 1000)).toFixed(1),
      jiraCalls: calls,
      bulkCalls: sb.calls.count({ method: 'POST', route: '/rest/api/3/issue/bulk' }),
      jiraCallsPerRecord: +(calls / N).toFixed(3),
      issuesInJira: sb.state.allIssues().filter((x) => x.summary.startsWith('Imported finding ')).length,
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
