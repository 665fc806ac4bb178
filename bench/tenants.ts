/**
 * One service, many customers (issue 17).
 *
 *   npx tsx bench/tenants.ts [--tenants 50] [--burst 10000] [--quiet 20] [--latency 50]
 *                            [--startup 1000] [--concurrency 8] [--drain-burst true|false]
 *                            [--storm-rate 2] [--storm-neighbour 0] [--storm-phases 3] [--storm-rounds 5]
 *                            [--slow-latency 2000] [--slow-records 40]
 *
 * 1. `tenants` customers sign up through the admin API, each with its own connection and mapping
 *    (check the connection, create it, save the mapping): Jira calls and time per tenant.
 * 2. Noisy neighbour: `quiet` tenants each change one (already synced) record while idle, then
 *    again while tenant 0 has a backlog of `burst` new records: the quiet changes' latency
 *    (change accepted → record synced) p50/p99 in both, and the ratio, in the same run.
 * 3. 429 storm: one more tenant on its own site that answers almost everything with 429 has a
 *    backlog; the quiet tenants change again: latency vs idle, and the storm's 429s. Idle and storm
 *    phases alternate; the idle phases against each other are the run's noise band (the control).
 *    3b. The same with a slow Jira instead: a tenant whose site takes `slow-latency` ms a call.
 * 4. Thousands of connections: `startup` tenants (connection + mapping through the API) in a fresh
 *    store, then a real `jira-bridge serve` process started on it: time to /readyz, its RSS, and the
 *    Jira calls start-up made; the same with no tenant for the slope, and 10,000 estimated from it.
 *    Skipped with `--startup 0` (then `startup` is null in the JSON).
 *
 * Jira is the sandbox with `latency` ms per call. The machine is printed first; JSON at the end.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startService, type RunningService } from '../src/app/service.js';
import { createLogger } from '../src/log/logger.js';
import { startSandbox, type RunningSandbox } from '../src/sandbox/index.js';
import { printMachine } from './machine.js';

const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '50' },
    burst: { type: 'string', default: '10000' },
    quiet: { type: 'string', default: '20' },
    latency: { type: 'string', default: '50' },
    startup: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '8' },
    // After the quiet rounds: wait for the burst's backlog to drain (true), or drop what is left
    // of it (false; the drain is then not measured) to bound the run on a slow machine.
    'drain-burst': { type: 'string', default: 'true' },
    // The storm site's calls per second (its bucket holds 2): 429 with Retry-After ≈ 1 / rate s.
    'storm-rate': { type: 'string', default: '2' },
    // Another client of the storm site spending its bucket at this many calls a second while the
    // quiet tenants are measured (0: none), so the storm tenant's jobs meet 429s mid-job too.
    'storm-neighbour': { type: 'string', default: '0' },
    // The storm part alternates idle and storm phases (idle first and last): `storm-phases` storm
    // phases, `storm-rounds` quiet rounds in each phase.
    'storm-rounds': { type: 'string', default: '5' },
    'storm-phases': { type: 'string', default: '3' },
    // A slow Jira neighbour (0: skipped): its site answers every call after this many ms, with
    // `slow-records` records queued in each of its phases (the storm part's phases and rounds).
    'slow-latency': { type: 'string', default: '2000' },
    'slow-records': { type: 'string', default: '40' },
  },
});
const TENANTS = Number(values.tenants);
const BURST = Number(values.burst);
const QUIET = Math.min(Number(values.quiet), TENANTS - 1);
const LATENCY = Number(values.latency);
const STARTUP = Number(values.startup);
const machine = await printMachine();
const log = (s: string): void => void process.stderr.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
async function pool<T>(items: T[], par: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: par }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${path}`, {
    method,
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const connectionBody = (id: string, sb: RunningSandbox) => ({
  id,
  name: `Customer ${id}`,
  site_url: sb.baseUrl,
  flavour: 'cloud',
  auth: { type: 'basic', email: sb.credentials.email, api_token: sb.credentials.apiToken },
  sweep: { interval_seconds: 300 },
});
const mappingBody = (id: string) => ({
  connection: id,
  scope: id,
  project: 'OPS',
  kinds: { incident: { issue_type: 'Incident' } },
  status: { out: { new: 'To Do', in_progress: 'In Progress' }, closed: ['resolved'] },
  priority: { out: { P1: 'Highest', P2: 'High', P3: 'Medium' } },
  close: { status: 'Done' },
});
/** A platform's sign-up: check the customer's credentials, save the connection, save the mapping. */
async function signUp(base: string, id: string, sb: RunningSandbox): Promise<void> {
  const check = await call(base, 'POST', '/api/v1/connections/check', connectionBody(id, sb));
  if (check.ok !== true) throw new Error(`check of ${id} failed: ${JSON.stringify(check)}`);
  await call(base, 'POST', '/api/v1/connections', connectionBody(id, sb));
  await call(base, 'PUT', `/api/v1/mappings/${id}`, mappingBody(id));
}

// ---------------------------------------------------------------------------------------------
// 1–3: one in-process service, the sandbox at LATENCY ms per call.
const sb = await startSandbox({
  flavour: 'cloud',
  port: 0,
  knobs: { latencyMs: LATENCY, jitterMs: Math.round(LATENCY / 5) },
});
// The storm tenant's own site: `storm-rate` calls a second (2 by default), then 429 with Retry-After.
const stormSite = await startSandbox({
  flavour: 'cloud',
  port: 0,
  knobs: { latencyMs: LATENCY, rateLimit: { capacity: 2, refillPerSecond: Number(values['storm-rate']) } },
});
const dir = mkdtempSync(join(tmpdir(), 'jb-tenants-'));
writeFileSync(join(dir, 'jira-bridge.yaml'), 'connections: []\n');
const svc: RunningService = await startService({
  configPath: join(dir, 'jira-bridge.yaml'),
  env: { PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(dir, 'data'), WORKER_CONCURRENCY: values.concurrency! },
  logger: createLogger({ level: (process.env.BENCH_LOG_LEVEL as 'warn' | undefined) ?? 'silent' }),
});

const ids = Array.from({ length: TENANTS }, (_, i) => `t${String(i).padStart(4, '0')}`);
sb.calls.reset();
const tCreate = Date.now();
const perTenantMs: number[] = [];
for (const id of ids) {
  const t = Date.now();
  await signUp(svc.url, id, sb);
  perTenantMs.push(Date.now() - t);
}
const createMs = Date.now() - tCreate;
const signUpCalls = sb.calls.count();
const creation = {
  tenants: TENANTS,
  jira_calls_per_tenant: +(signUpCalls / TENANTS).toFixed(2),
  jira_calls_first_tenant_breakdown: 'check: myself + serverInfo; connection: 0; mapping: 5 catalogue parts',
  ms_per_tenant_p50: pct(perTenantMs, 50),
  ms_per_tenant_p99: pct(perTenantMs, 99),
  total_s: +(createMs / 1000).toFixed(2),
};
log(`creation: ${JSON.stringify(creation)}`);

const quiet = ids.slice(1, 1 + QUIET);
const noisy = ids[0]!;
let version = 0;
async function upsert(scope: string, hostId: string, title: string, severity = 'P2'): Promise<number> {
  const out = await svc.engine.records.upsertRecord({
    scope,
    hostId,
    kind: 'incident',
    title,
    status: 'new',
    severity,
  });
  return out.record.version;
}
async function syncedLatency(changes: Array<{ scope: string; hostId: string; at: number; version: number }>) {
  const done = new Map<string, number>();
  for (;;) {
    for (const c of changes) {
      const key = `${c.scope}/${c.hostId}`;
      if (done.has(key)) continue;
      const r = await svc.engine.records.getRecord(c.scope, c.hostId);
      if (r.sync.state === 'synced' && r.version >= c.version) done.set(key, Date.now() - c.at);
    }
    if (done.size === changes.length) return [...done.values()];
    await sleep(10);
  }
}
/** Each quiet tenant changes its one record; resolves with the latencies (change → synced). */
async function quietRound(): Promise<number[]> {
  version++;
  const changes = await Promise.all(
    quiet.map(async (scope) => {
      const at = Date.now();
      const v = await upsert(scope, 'q-1', `Quiet change ${version}`, version % 2 ? 'P1' : 'P3');
      return { scope, hostId: 'q-1', at, version: v };
    }),
  );
  return syncedLatency(changes);
}
const drained = async (): Promise<void> => {
  for (;;) {
    const s = await svc.queue.stats();
    if (s.byState.queued === 0 && s.byState.running === 0) return;
    await sleep(50);
  }
};

// Each quiet tenant's record exists and is synced; then idle latency (three rounds).
await Promise.all(quiet.map((scope) => upsert(scope, 'q-1', 'Quiet record')));
await drained();
const idle: number[] = [];
for (let r = 0; r < 3; r++) idle.push(...(await quietRound()));
log(`idle quiet latency p50 ${pct(idle, 50)} ms, p99 ${pct(idle, 99)} ms`);

// The noisy tenant's burst: BURST new records queued (through the record service, 16 at a time).
sb.calls.reset();
const tBurst = Date.now();
await pool(
  Array.from({ length: BURST }, (_, i) => i),
  16,
  async (i) => void (await upsert(noisy, `burst-${i}`, `Imported finding ${i}`)),
);
const enqueueMs = Date.now() - tBurst;
const backlogAtStart = (await svc.queue.stats()).byState.queued;
const busy: number[] = [];
for (let r = 0; r < 3; r++) {
  busy.push(...(await quietRound()));
}
const backlogAfter = (await svc.queue.stats()).byState.queued;
log(
  `burst: ${BURST} queued in ${enqueueMs} ms; quiet p50 ${pct(busy, 50)} ms p99 ${pct(busy, 99)} ms; backlog ${backlogAtStart} → ${backlogAfter}`,
);
const burst = {
  burst_records: BURST,
  quiet_tenants: QUIET,
  enqueue_s: +(enqueueMs / 1000).toFixed(2),
  backlog_when_quiet_changed: backlogAtStart,
  backlog_after_quiet_rounds: backlogAfter,
  idle_p50_ms: pct(idle, 50),
  idle_p99_ms: pct(idle, 99),
  during_burst_p50_ms: pct(busy, 50),
  during_burst_p99_ms: pct(busy, 99),
  ratio_p50: +(pct(busy, 50) / pct(idle, 50)).toFixed(2),
  ratio_p99: +(pct(busy, 99) / pct(idle, 99)).toFixed(2),
};
log(`burst: ${JSON.stringify(burst)}`);
let burstDrainS: number | null = null;
if (values['drain-burst'] === 'false') {
  // The rest of the backlog is dropped (dead-lettered), not drained.
  await svc.store.db
    .updateTable('jobs')
    .set({ state: 'dead', finished_at: Date.now() })
    .where('state', '=', 'queued')
    .where('partition', 'like', `${noisy}/%`)
    .execute();
}
await drained();
if (values['drain-burst'] !== 'false') burstDrainS = +((Date.now() - tBurst) / 1000).toFixed(1);

// A noisy neighbour on its own site — 3: a 429 storm (a rate-limited site, 200 records queued);
// 3b: a slow Jira (`slow-latency` ms a call, `slow-records` queued). Idle and neighbour phases
// alternate (idle, busy, idle, …, idle; `storm-rounds` quiet rounds each), the neighbour's backlog
// dropped after each busy phase, so a drift over the run (a warming JIT, a growing store) weighs
// on both alike. The control is the idle phases against each other (odd ÷ even): the run's own
// noise band; the neighbour's effect is measurable only outside it.
const STORM_ROUNDS = Math.max(1, Number(values['storm-rounds']));
const STORM_PHASES = Math.max(1, Number(values['storm-phases']));
const NEIGHBOUR_ROUTE = '/rest/api/3/serverInfo';
const neighbourAuth = `Basic ${Buffer.from('alice@sandbox.example:sandbox-api-token-alice').toString('base64')}`;
async function neighbourPart(tenant: string, site: RunningSandbox, records: number, otherClientRate = 0) {
  await signUp(svc.url, tenant, site);
  const idlePhases: number[][] = [];
  const during: number[] = [];
  let calls = 0;
  let refused = 0;
  let otherCalls = 0;
  const quietPhase = async (): Promise<number[]> => {
    const out: number[] = [];
    for (let r = 0; r < STORM_ROUNDS; r++) out.push(...(await quietRound()));
    return out;
  };
  for (let phase = 0; phase < STORM_PHASES; phase++) {
    idlePhases.push(await quietPhase());
    await pool(
      Array.from({ length: records }, (_, i) => i),
      16,
      async (i) => void (await upsert(tenant, `n-${phase}-${i}`, `Neighbour record ${phase}/${i}`)),
    );
    site.calls.reset();
    // Another client of the neighbour's site spending its bucket, so its jobs meet 429s mid-job too.
    const other =
      otherClientRate > 0
        ? setInterval(
            () =>
              void fetch(`${site.baseUrl}${NEIGHBOUR_ROUTE}`, { headers: { authorization: neighbourAuth } })
                .then((r) => r.arrayBuffer())
                .catch(() => undefined),
            1000 / otherClientRate,
          )
        : undefined;
    during.push(...(await quietPhase()));
    clearInterval(other);
    const seen = site.calls.snapshot().filter((c) => c.route !== NEIGHBOUR_ROUTE);
    calls += seen.reduce((n, c) => n + c.count, 0);
    refused += seen.filter((c) => c.status === 429).reduce((n, c) => n + c.count, 0);
    otherCalls += site.calls.count({ route: NEIGHBOUR_ROUTE });
    // The rest of the neighbour's backlog is dropped (dead-lettered), its running jobs finish.
    await svc.store.db
      .updateTable('jobs')
      .set({ state: 'dead', finished_at: Date.now() })
      .where('state', '=', 'queued')
      .where('partition', 'like', `${tenant}/%`)
      .execute();
    await drained();
  }
  idlePhases.push(await quietPhase());
  const idle = idlePhases.flat();
  const odd = idlePhases.filter((_, i) => i % 2 === 1).flat();
  const even = idlePhases.filter((_, i) => i % 2 === 0).flat();
  return {
    records_per_phase: records,
    phases: STORM_PHASES,
    rounds_per_phase: STORM_ROUNDS,
    quiet_changes_idle: idle.length,
    quiet_changes_during: during.length,
    // The bridge's calls to the neighbour's site while the quiet tenants were measured.
    site_calls_while_measured: calls,
    site_429s_while_measured: refused,
    other_client_calls: otherCalls,
    idle_p50_ms: pct(idle, 50),
    idle_p99_ms: pct(idle, 99),
    during_p50_ms: pct(during, 50),
    during_p99_ms: pct(during, 99),
    ratio_p50: +(pct(during, 50) / pct(idle, 50)).toFixed(2),
    ratio_p99: +(pct(during, 99) / pct(idle, 99)).toFixed(2),
    // The control: the idle phases against each other, no neighbour in either — how far the ratio
    // moves with nothing changed (the neighbour's effect is measurable only outside this band).
    control_idle_odd_over_even_p50: +(pct(odd, 50) / pct(even, 50)).toFixed(2),
    control_idle_odd_over_even_p99: +(pct(odd, 99) / pct(even, 99)).toFixed(2),
  };
}
const storm = {
  storm_site_calls_per_second: Number(values['storm-rate']),
  storm_site_neighbour_calls_per_second: Number(values['storm-neighbour']),
  ...(await neighbourPart('storm', stormSite, 200, Number(values['storm-neighbour']))),
};
log(`storm: ${JSON.stringify(storm)}`);
await stormSite.close();
const SLOW_LATENCY = Number(values['slow-latency']);
let slow: Record<string, unknown> | null = null;
if (SLOW_LATENCY > 0) {
  const slowSite = await startSandbox({ flavour: 'cloud', port: 0, knobs: { latencyMs: SLOW_LATENCY } });
  slow = { site_latency_ms: SLOW_LATENCY, ...(await neighbourPart('slow', slowSite, Number(values['slow-records']))) };
  log(`slow: ${JSON.stringify(slow)}`);
  await slowSite.close();
}
await svc.stop();
rmSync(dir, { recursive: true, force: true });

// ---------------------------------------------------------------------------------------------
// 4: start-up of a real `jira-bridge serve` process with STARTUP tenants in its store (none: skipped).
const startup = STARTUP > 0 ? await measureStartup() : null;
await sb.close();

console.log(
  JSON.stringify(
    {
      machine,
      command: `npx tsx bench/tenants.ts ${process.argv.slice(2).join(' ')}`.trim(),
      latency_ms: LATENCY,
      concurrency: Number(values.concurrency),
      creation,
      burst: { ...burst, burst_drained_s: burstDrainS },
      storm,
      slow,
      startup,
    },
    null,
    2,
  ),
);

async function measureStartup() {
  sb.knobs.set({ latencyMs: 0, jitterMs: 0 });
  const root = new URL('..', import.meta.url).pathname;
  async function serveProcess(
    dataDir: string,
    config: string,
  ): Promise<{ url: string; readyMs: number; rssMiB: number; stop(): Promise<void> }> {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const t0 = Date.now();
    const child = spawn(process.execPath, [join(root, 'bin/jira-bridge.js'), 'serve', '--config', config], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const url = `http://127.0.0.1:${port}`;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}`);
      const ok = await fetch(`${url}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      await sleep(20);
    }
    const readyMs = Date.now() - t0;
    await sleep(2000); // settle (GC, the first queue sample)
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const rssMiB = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
    return {
      url,
      readyMs,
      rssMiB: +rssMiB.toFixed(1),
      stop: () =>
        new Promise<void>((r) => {
          child.once('exit', () => r());
          child.kill('SIGTERM');
        }),
    };
  }
  const startupDir = mkdtempSync(join(tmpdir(), 'jb-startup-'));
  const config = join(startupDir, 'jira-bridge.yaml');
  writeFileSync(config, 'connections: []\n');
  const emptyDir = join(startupDir, 'empty');
  const empty = await serveProcess(emptyDir, config);
  await empty.stop();
  const emptyAgain = await serveProcess(emptyDir, config);
  await emptyAgain.stop();
  log(`start-up with 0 tenants: ${emptyAgain.readyMs} ms, RSS ${emptyAgain.rssMiB} MiB`);
  const fullDir = join(startupDir, 'full');
  const seeding = await serveProcess(fullDir, config);
  const tSeed = Date.now();
  await pool(
    Array.from({ length: STARTUP }, (_, i) => `c${String(i).padStart(5, '0')}`),
    8,
    (id) => signUp(seeding.url, id, sb),
  );
  log(`seeded ${STARTUP} tenants through the API in ${((Date.now() - tSeed) / 1000).toFixed(1)} s`);
  await seeding.stop();
  sb.calls.reset();
  const full = await serveProcess(fullDir, config);
  const startupCalls = sb.calls.count();
  const listed = (await call(full.url, 'GET', '/api/v1/connections?limit=1')) as { next_cursor: string | null };
  await full.stop();
  const slopeKiB = ((full.rssMiB - emptyAgain.rssMiB) * 1024) / STARTUP;
  const slopeReadyMs = (full.readyMs - emptyAgain.readyMs) / STARTUP;
  const startup = {
    connections: STARTUP,
    ready_ms_empty: emptyAgain.readyMs,
    ready_ms: full.readyMs,
    rss_mib_empty: emptyAgain.rssMiB,
    rss_mib: full.rssMiB,
    rss_kib_per_connection: +slopeKiB.toFixed(1),
    budget_mib: +(200 + (50 * STARTUP) / 1024).toFixed(1),
    jira_calls_during_startup: startupCalls,
    paged_listing_works: listed.next_cursor !== null,
    estimate_10000: {
      ready_ms: Math.round(emptyAgain.readyMs + slopeReadyMs * 10_000),
      rss_mib: +(emptyAgain.rssMiB + (slopeKiB * 10_000) / 1024).toFixed(0),
      budget_mib: +(200 + (50 * 10_000) / 1024).toFixed(0),
    },
  };
  log(`startup: ${JSON.stringify(startup)}`);
  rmSync(startupDir, { recursive: true, force: true });
  return startup;
}
