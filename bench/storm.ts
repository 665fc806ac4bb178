/**
 * 429 storm: how many Jira calls pacing wastes when the site rate-limits hard.
 *
 *   npx tsx bench/storm.ts [--records 100] [--rate 10] [--burst 10] [--latency 20]
 *
 * The sandbox allows `rate` calls per second (token bucket of `burst`) and answers 429 with
 * Retry-After beyond that. N records are created, then each is changed (summary + priority), through
 * the real service. Reports: calls that got 429 per 1,000 changes (the waste), useful calls per
 * change, time to drain, and that nothing was lost or duplicated.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startService } from '../src/app/service.js';
import { createLogger } from '../src/log/logger.js';
import { startSandbox } from '../src/sandbox/index.js';
import { printMachine } from './machine.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '100' },
    rate: { type: 'string', default: '10' },
    burst: { type: 'string', default: '10' },
    latency: { type: 'string', default: '20' },
  },
});
const N = Number(values.records);
const machine = await printMachine();
const sb = await startSandbox({
  flavour: 'cloud',
  port: 0,
  knobs: {
    latencyMs: Number(values.latency),
    jitterMs: 2,
    rateLimit: { capacity: Number(values.burst), refillPerSecond: Number(values.rate) },
  },
});
const dir = mkdtempSync(join(tmpdir(), 'jb-storm-'));
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
    '  - id: ops',
    '    connection: sb',
    '    scope: storm',
    '    project: OPS',
    '    kinds: { incident: { issue_type: Incident } }',
    '    priority: { out: { P1: Highest, P2: High, P3: Medium, P4: Low } }',
    '',
  ].join('\n'),
);
const svc = await startService({
  configPath: join(dir, 'jira-bridge.yaml'),
  env: { PORT: '0', DATA_DIR: join(dir, 'data'), WORKER_CONCURRENCY: '8' },
  logger: createLogger({ level: 'silent' }),
});
const upsert = (i: number, title: string, severity: string) =>
  svc.engine.records.upsertRecord({
    scope: 'storm',
    hostId: `s-${i}`,
    kind: 'incident',
    title,
    status: 'new',
    severity,
  });
const drained = async (): Promise<void> => {
  for (;;) {
    const s = await svc.queue.stats();
    if (s.byState.queued === 0 && s.byState.running === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
};

for (let i = 0; i < N; i++) await upsert(i, `Storm ${i}`, 'P3');
await drained();
sb.calls.reset();
const t0 = performance.now();
for (let i = 0; i < N; i++) await upsert(i, `Storm ${i} (changed)`, 'P1');
await drained();
const seconds = (performance.now() - t0) / 1000;
const limited = sb.calls.count({ status: 429 });
const total = sb.calls.count();
const issues = sb.state.allIssues().filter((x) => x.summary.startsWith('Storm '));
const changed = issues.filter((x) => x.summary.endsWith('(changed)')).length;
console.log(
  JSON.stringify(
    {
      command: `npx tsx bench/storm.ts --records ${N} --rate ${values.rate} --burst ${values.burst} --latency ${values.latency}`,
      machine,
      changes: N,
      seconds: +seconds.toFixed(1),
      changesPerSecond: +(N / seconds).toFixed(1),
      usefulCallsPerChange: +((total - limited) / N).toFixed(2),
      wasted429PerThousandChanges: Math.round((limited / N) * 1000),
      issues: issues.length,
      changedIssues: changed,
    },
    null,
    2,
  ),
);
await svc.stop();
await sb.close();
rmSync(dir, { recursive: true, force: true });
