/**
 * 1 vs 3 replicas on one PostgreSQL: real `jira-bridge serve` processes sharing the queue.
 *
 *   npx tsx bench/replicas.ts [--records 150] [--latency 50]
 *
 * For R = 1 and R = 3: start R processes on a fresh schema, upsert N records round-robin through
 * their APIs, and time until every record is synced (issue created). The Jira sandbox runs here
 * with the given latency per call. Reports records/s and the speed-up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startSandbox } from '../src/sandbox/index.js';
import { BENCH_DATABASE_URL, printMachine } from './machine.js';

const { values } = parseArgs({
  options: { records: { type: 'string', default: '150' }, latency: { type: 'string', default: '50' } },
});
const N = Number(values.records);
const BIN = resolve(import.meta.dirname, '../bin/jira-bridge.js');
const PG = BENCH_DATABASE_URL;
const machine = await printMachine();

const freePort = () =>
  new Promise<number>((r) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => r(p));
    });
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const sb = await startSandbox({ flavour: 'cloud', port: 0, knobs: { latencyMs: Number(values.latency), jitterMs: 5 } });
const dir = mkdtempSync(join(tmpdir(), 'jb-bench-replicas-'));
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
    '  - { id: ops, connection: sb, scope: bench, project: OPS, kinds: { incident: { issue_type: Incident } } }',
    '',
  ].join('\n'),
);

const results: Array<{ replicas: number; seconds: number; perSecond: number; jiraCalls: number }> = [];
for (const R of [1, 3]) {
  const schema = `bench_rep_${R}_${process.pid}`;
  const procs: ChildProcess[] = [];
  const urls: string[] = [];
  for (let i = 0; i < R; i++) {
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'serve', '--config', join(dir, 'jira-bridge.yaml')], {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: `${PG}?schema=${schema}`,
        WORKER_CONCURRENCY: '8',
        LOG_LEVEL: 'error',
      },
      stdio: 'ignore',
    });
    procs.push(child);
    urls.push(`http://127.0.0.1:${port}`);
  }
  for (const u of urls) {
    for (;;) {
      try {
        if ((await fetch(`${u}/readyz`)).ok) break;
      } catch {
        /* starting */
      }
      await sleep(100);
    }
  }
  sb.calls.reset();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: N }, (_, i) =>
      fetch(`${urls[i % R]}/api/v1/records/bench/r${R}-${i}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'incident', title: `Replica bench ${R}/${i}`, status: 'open' }),
      }),
    ),
  );
  for (;;) {
    const r = (await (await fetch(`${urls[0]}/api/v1/records?state=pending&limit=1`)).json()) as { records: unknown[] };
    if (!r.records.length) break;
    await sleep(50);
  }
  const seconds = (performance.now() - t0) / 1000;
  results.push({
    replicas: R,
    seconds: +seconds.toFixed(2),
    perSecond: +(N / seconds).toFixed(1),
    jiraCalls: sb.calls.count(),
  });
  for (const p of procs) p.kill('SIGTERM');
  await sleep(1500);
  const c = new pg.Client({ connectionString: PG });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
}
console.log(
  JSON.stringify(
    {
      command: `npx tsx bench/replicas.ts --records ${N} --latency ${values.latency}`,
      machine,
      records: N,
      results,
      speedup: +(results[1]!.perSecond / results[0]!.perSecond).toFixed(2),
    },
    null,
    2,
  ),
);
await sb.close();
rmSync(dir, { recursive: true, force: true });
