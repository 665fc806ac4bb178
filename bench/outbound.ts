/**
 * Outbound propagation benchmark: host records → Jira issues through the real service (HTTP API,
 * store, queue, engine, Jira client) against the sandbox with a realistic latency.
 *
 *   npx tsx bench/outbound.ts [--records 200] [--latency 50] [--jitter 10] [--db sqlite|postgres] [--concurrency 8]
 *
 * Reports: time to create N issues, create latency p50/p99 (upsert accepted → record synced),
 * changes/s and change latency p50/p99 (a status change of two workflow hops plus field edits),
 * Jira calls per created record, per change and per no-op upsert (each phase's calls by route),
 * the calls start-up made before the first record, RSS, and the machine.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startService } from '../src/app/service.js';
import { createLogger } from '../src/log/logger.js';
import { startSandbox } from '../src/sandbox/index.js';
import { BENCH_DATABASE_URL, printMachine } from './machine.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '200' },
    latency: { type: 'string', default: '50' },
    /** Extra random latency per call, [0, jitter) ms (default latency / 5). */
    jitter: { type: 'string' },
    db: { type: 'string', default: 'sqlite' },
    concurrency: { type: 'string', default: '8' },
  },
});
const N = Number(values.records);
const LATENCY = Number(values.latency);
const PAR = Number(values.concurrency);
const JITTER = values.jitter !== undefined ? Number(values.jitter) : Math.round(LATENCY / 5);
const machine = await printMachine();

const sb = await startSandbox({
  flavour: 'cloud',
  port: 0,
  knobs: { latencyMs: LATENCY, jitterMs: JITTER },
});
const dir = mkdtempSync(join(tmpdir(), 'jb-bench-'));
const schema = `bench_${process.pid}`;
writeFileSync(
  join(dir, 'jira-bridge.yaml'),
  [
    'connections:',
    '  - id: sb',
    `    site_url: ${sb.baseUrl}`,
    '    flavour: cloud',
    `    auth: { type: basic, email: ${sb.credentials.email}, api_token: ${sb.credentials.apiToken} }`,
    // No reconciliation sweep: it fires at the connection's own phase of a 5-minute interval, so
    // whether it fell inside a phase was luck (its search and the reads of the issues it finds
    // were counted as that phase's calls). What it costs is a matter of its interval, not of a change.
    '    sweep: { interval_seconds: 0 }',
    'mappings:',
    '  - id: sec',
    '    connection: sb',
    '    scope: bench',
    '    project: SEC',
    '    kinds: { vulnerability: { issue_type: Vulnerability } }',
    '    status: { out: { open: Open, triaged: Triaged, in_progress: In Progress, fixed: Resolved }, closed: [fixed] }',
    '    priority: { out: { critical: Highest, high: High, medium: Medium, low: Low }, out_default: Medium }',
    '    fields: [{ host: cvss, jira: customfield_10010, type: number, direction: to_jira }]',
    '    close: { status: Resolved }',
    '    resolution: Fixed',
    '',
  ].join('\n'),
);
const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', DATA_DIR: join(dir, 'data'), WORKER_CONCURRENCY: '8' };
if (values.db === 'postgres') {
  env.DATABASE_URL = `${BENCH_DATABASE_URL}?schema=${schema}`;
}
const svc = await startService({
  configPath: join(dir, 'jira-bridge.yaml'),
  env,
  logger: createLogger({ level: 'silent' }),
});
const api = (path: string, init?: RequestInit): Promise<Response> => fetch(`${svc.url}${path}`, init);
const put = (id: string, body: object): Promise<Response> =>
  api(`/api/v1/records/bench/${id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

async function pool<T>(items: T[], fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: PAR }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}
async function waitSynced(
  ids: string[],
  since: Map<string, number>,
  done: Map<string, number>,
  version?: number,
): Promise<void> {
  for (;;) {
    const pending = ids.filter((id) => !done.has(id));
    if (pending.length === 0) return;
    await pool(pending, async (id) => {
      const r = (await (await api(`/api/v1/records/bench/${id}`)).json()) as {
        sync: { state: string };
        version: number;
      };
      if (r.sync.state === 'synced' && (version === undefined || r.version >= version))
        done.set(id, Date.now() - since.get(id)!);
      if (r.sync.state === 'failed') throw new Error(`record ${id} failed: ${JSON.stringify(r.sync)}`);
    });
    await new Promise((r) => setTimeout(r, 50));
  }
}
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const calls = (): number => sb.calls.count({});
const byRoute = (): Array<{ call: string; status: number; count: number }> =>
  sb.calls.snapshot().map((c) => ({ call: `${c.method} ${c.route}`, status: c.status, count: c.count }));

const ids = Array.from({ length: N }, (_, i) => `V-${i}`);
const t0 = Date.now();
const accepted = new Map<string, number>();
// What start-up read (the connection check and the catalogue parts the mapping names), counted apart.
const startupCalls = calls();
const startupRoutes = byRoute();
sb.calls.reset();
await pool(ids, async (id) => {
  accepted.set(id, Date.now());
  const r = await put(id, {
    kind: 'vulnerability',
    title: `Finding ${id}`,
    description: 'Found by **bench**',
    status: 'open',
    severity: 'high',
    custom: { cvss: 7.5 },
  });
  if (!r.ok) throw new Error(`upsert ${id}: ${r.status} ${await r.text()}`);
});
const created = new Map<string, number>();
await waitSynced(ids, accepted, created);
const createMs = Date.now() - t0;
const createCalls = calls();
const createRoutes = byRoute();

sb.calls.reset();
const c0 = Date.now();
const changedAt = new Map<string, number>();
await pool(ids, async (id) => {
  changedAt.set(id, Date.now());
  await put(id, {
    kind: 'vulnerability',
    title: `Finding ${id}`,
    description: 'Found by **bench**',
    status: 'in_progress',
    severity: 'critical',
    custom: { cvss: 9.1 },
  });
});
const changed = new Map<string, number>();
await waitSynced(ids, changedAt, changed, 2);
const changeMs = Date.now() - c0;
const changeCalls = calls();
const changeRoutes = byRoute();

sb.calls.reset();
await pool(ids, async (id) => {
  await put(id, {
    kind: 'vulnerability',
    title: `Finding ${id}`,
    description: 'Found by **bench**',
    status: 'in_progress',
    severity: 'critical',
    custom: { cvss: 9.1 },
  });
});
await new Promise((r) => setTimeout(r, 500));
const noopCalls = calls();
const noopRoutes = byRoute();
const rss = process.memoryUsage().rss;

const lat = [...created.values()];
const clat = [...changed.values()];
console.log(
  JSON.stringify(
    {
      command: `npx tsx bench/outbound.ts --records ${N} --latency ${LATENCY} --jitter ${JITTER} --db ${values.db} --concurrency ${PAR}`,
      machine,
      db: values.db,
      records: N,
      sandboxLatencyMs: LATENCY,
      sandboxJitterMs: JITTER,
      createSeconds: +(createMs / 1000).toFixed(2),
      createPerSecond: +(N / (createMs / 1000)).toFixed(1),
      createLatencyMs: { p50: pct(lat, 50), p99: pct(lat, 99) },
      jiraCallsAtStartup: startupCalls,
      startupCallsByRoute: startupRoutes,
      jiraCallsPerCreate: +(createCalls / N).toFixed(2),
      createCallsByRoute: createRoutes,
      changeSeconds: +(changeMs / 1000).toFixed(2),
      changesPerSecond: +(N / (changeMs / 1000)).toFixed(1),
      changeLatencyMs: { p50: pct(clat, 50), p99: pct(clat, 99) },
      jiraCallsPerChange: +(changeCalls / N).toFixed(2),
      changeCallsByRoute: changeRoutes,
      jiraCallsPerNoopUpsert: +(noopCalls / N).toFixed(2),
      noopCallsByRoute: noopRoutes,
      rssMiB: Math.round(rss / 2 ** 20),
    },
    null,
    2,
  ),
);
await svc.stop();
await sb.close();
rm(dir);
function rm(d: string): void {
  rmSync(d, { recursive: true, force: true });
}
if (values.db === 'postgres') {
  const pg = await import('pg');
  const c = new pg.default.Client({ connectionString: BENCH_DATABASE_URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
}
