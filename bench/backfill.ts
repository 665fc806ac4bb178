/**
 * Backfill benchmark: N unlinked records of one scope become Jira issues through bulk create
 * (50 per call), against the sandbox with a realistic latency.
 *
 *   npx tsx bench/backfill.ts [--records 2000] [--latency 50] [--db sqlite|postgres]
 *
 * Reports: wall time, records/s, Jira calls in all and per created record, bulk calls, RSS.
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

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '2000' },
    latency: { type: 'string', default: '50' },
    db: { type: 'string', default: 'sqlite' },
  },
});
const N = Number(values.records);
const LATENCY = Number(values.latency);
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
  values.db === 'postgres'
    ? { databaseUrl: `postgres://postgres@127.0.0.1:5432/test?schema=${schema}` }
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
for (let i = 0; i < N; i++) {
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
}
sb.calls.reset();
const t0 = Date.now();
const started = await wired.engine.backfill.start({ scope: 'bench' });
await wired.engine.backfill.run(started.id);
const p = (await wired.engine.backfill.get(started.id))!;
const ms = Date.now() - t0;
const calls = sb.calls.count({});
console.log(
  JSON.stringify(
    {
      db: values.db,
      records: N,
      sandboxLatencyMs: LATENCY,
      state: p.state,
      created: p.done,
      failed: p.failed,
      seconds: +(ms / 1000).toFixed(2),
      recordsPerSecond: +(N / (ms / 1000)).toFixed(1),
      jiraCalls: calls,
      bulkCalls: sb.calls.count({ method: 'POST', route: '/rest/api/3/issue/bulk' }),
      jiraCallsPerRecord: +(calls / N).toFixed(3),
      rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    },
    null,
    2,
  ),
);
await wired.close();
await store.close();
await sb.close();
rmSync(dir, { recursive: true, force: true });
if (values.db === 'postgres') {
  const pg = await import('pg');
  const c = new pg.default.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
}
