/**
 * A bounded fault soak: the whole service in-process against the sandbox with its faults on —
 * 5xx errors all along, and in turn a phase of latency spikes (0.8–2 s per call), a 429 storm (a
 * bucket of 2 calls refilled at 1/s) and optionally an expired token for a while (see
 * `faultPhases`), with webhooks dropped, duplicated, delayed and reordered throughout — while the
 * host and a Jira user both keep editing. Then the faults stop and a checker compares every
 * record with its issue per the mapping.
 * Used by `bench/soak.ts` (minutes, figures in BENCHMARKS.md) and `test/replicas/soak.test.ts`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startService } from '../src/app/service.js';
import { createLogger } from '../src/log/logger.js';
import { startSandbox } from '../src/sandbox/index.js';
import type { SandboxKnobs } from '../src/sandbox/knobs.js';
import { JIRA_EVENTS } from '../src/webhooks/parse.js';
import { prng } from '../src/sandbox/prng.js';

const PRIORITY: Record<string, string> = { P1: 'Highest', P2: 'High', P3: 'Medium', P4: 'Low' };
const STATUS_IN: Record<string, string> = { 'To Do': 'new', 'In Progress': 'in_progress', Done: 'resolved' };
const SECRET = 'soak-webhook-secret-0123456789';

export interface SoakOptions {
  seconds: number;
  records: number;
  /** Turn the Jira credentials "expired" for this long in the middle of the run (0: never). */
  expiredAuthSeconds: number;
  seed: number;
  /** Share of Jira calls answered 5xx in every phase (default 0.05). */
  errorRate?: number;
  /** Progress lines (phase changes, convergence checks). */
  progress?: (line: string) => void;
}

/** A stretch of the soak with its own sandbox knobs, from and to in ms after the faults start. */
export interface FaultPhase {
  name: 'baseline' | 'latency-spikes' | '429-storm' | 'expired-auth';
  from: number;
  to: number;
  knobs: Omit<SandboxKnobs, 'perIssueWriteLimit' | 'seed'>;
  /** Calls per second another client of the site spends from the same rate-limit bucket. */
  neighbourPerSecond: number;
}

const BASE_LIMIT = { capacity: 10, refillPerSecond: 15 };

/**
 * The soak's schedule over `seconds` (contiguous, from 0 to the end): baseline faults (10–50 ms
 * per call, 5 % 5xx, a 10-call bucket refilled at 15/s) between a phase of latency spikes
 * (0.8–2 s per call, 504s), a 429 storm and, when `expiredAuthSeconds` > 0, every credential
 * rejected (401) for that long. In the storm the site's bucket holds 2 calls refilled at 2/s and
 * another client of the site (a "noisy neighbour") spends 3 calls/s from it, so the bridge meets
 * 429s however well it paces itself, as when other integrations exhaust a Cloud site's budget.
 */
export function faultPhases(seconds: number, expiredAuthSeconds: number, errorRate = 0.05): FaultPhase[] {
  const total = seconds * 1000;
  const at = (f: number): number => Math.round(total * f);
  const base = (errorStatus: 500 | 502 | 503 | 504): FaultPhase['knobs'] => ({
    latencyMs: 10,
    jitterMs: 40,
    errorRate,
    errorStatus,
    rateLimit: BASE_LIMIT,
    expiredAuth: false,
  });
  const phases: FaultPhase[] = [
    { name: 'baseline', from: 0, to: at(0.15), knobs: base(503), neighbourPerSecond: 0 },
    {
      name: 'latency-spikes',
      from: at(0.15),
      to: at(0.35),
      knobs: { ...base(504), latencyMs: 800, jitterMs: 1200 },
      neighbourPerSecond: 0,
    },
    { name: 'baseline', from: at(0.35), to: at(0.45), knobs: base(502), neighbourPerSecond: 0 },
    {
      name: '429-storm',
      from: at(0.45),
      to: at(0.65),
      knobs: { ...base(503), rateLimit: { capacity: 2, refillPerSecond: 2 } },
      neighbourPerSecond: 3,
    },
  ];
  const authEnd = Math.min(at(0.7) + expiredAuthSeconds * 1000, total);
  if (expiredAuthSeconds > 0 && authEnd > at(0.7)) {
    phases.push({ name: 'baseline', from: at(0.65), to: at(0.7), knobs: base(500), neighbourPerSecond: 0 });
    phases.push({
      name: 'expired-auth',
      from: at(0.7),
      to: authEnd,
      knobs: { ...base(503), expiredAuth: true },
      neighbourPerSecond: 0,
    });
    if (authEnd < total)
      phases.push({ name: 'baseline', from: authEnd, to: total, knobs: base(500), neighbourPerSecond: 0 });
  } else phases.push({ name: 'baseline', from: at(0.65), to: total, knobs: base(500), neighbourPerSecond: 0 });
  return phases;
}

export interface PhaseReport {
  name: FaultPhase['name'];
  seconds: number;
  /** The bridge's Jira calls answered during the phase, by status (the neighbour's excluded). */
  byStatus: Record<string, number>;
  /** The noisy neighbour's calls, by status. */
  neighbour: Record<string, number>;
}

export interface SoakReport {
  seconds: number;
  records: number;
  hostChanges: number;
  jiraChanges: number;
  hostComments: number;
  jiraComments: number;
  /** The bridge's Jira calls (the noisy neighbour's are not counted here, nor below). */
  jiraCalls: number;
  rejected429: number;
  /** Injected 500, 502, 503 and 504 answers. */
  failed5xx: number;
  unauthorized401: number;
  phases: PhaseReport[];
  retries: number;
  webhooksSent: number;
  webhooksDropped: number;
  convergeSeconds: number;
  mismatches: string[];
  duplicateIssues: number;
  commentProblems: string[];
  stuckJobs: number;
  /** Resident memory of the process (service + sandbox + load), MiB: when faults start, peak, at the end. */
  rssMiB: { start: number; peak: number; end: number };
}

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const rand = prng(opts.seed);
  const sb = await startSandbox({ flavour: 'cloud', port: 0, seed: 'default' });
  const dir = mkdtempSync(join(tmpdir(), 'jb-soak-'));
  writeFileSync(
    join(dir, 'jira-bridge.yaml'),
    [
      'connections:',
      '  - id: sb',
      `    site_url: ${sb.baseUrl}`,
      '    flavour: cloud',
      `    auth: { type: basic, email: ${sb.credentials.email}, api_token: ${sb.credentials.apiToken} }`,
      `    webhook: { secret: ${SECRET} }`,
      '    sweep: { interval_seconds: 2 }',
      'mappings:',
      '  - id: ops',
      '    connection: sb',
      '    scope: soak',
      '    project: OPS',
      '    kinds: { incident: { issue_type: Incident } }',
      '    status: { out: { new: To Do, in_progress: In Progress }, closed: [resolved] }',
      '    priority: { out: { P1: Highest, P2: High, P3: Medium, P4: Low } }',
      '    close: { status: Done }',
      '',
    ].join('\n'),
  );
  const svc = await startService({
    configPath: join(dir, 'jira-bridge.yaml'),
    env: { PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(dir, 'data'), WORKER_CONCURRENCY: '8' },
    logger: createLogger({ level: 'silent' }),
    drainMs: 2000,
  });
  sb.webhooks.register({
    url: `${svc.url}/webhooks/jira/sb`,
    events: [...JIRA_EVENTS],
    secret: SECRET,
  });
  const alice = sb.credentials.users.alice!.accountId;
  const N = opts.records;
  const host = Array.from({ length: N }, (_, i) => ({ title: `Soak ${i}`, severity: 'P3', status: 'new' }));
  const hostComments: string[][] = Array.from({ length: N }, () => []);
  const jiraComments: string[][] = Array.from({ length: N }, () => []);
  const upsert = (i: number) =>
    svc.engine.records.upsertRecord({ scope: 'soak', hostId: `s-${i}`, kind: 'incident', ...host[i]! });
  for (let i = 0; i < N; i++) await upsert(i);
  const quiet = async (limitMs: number): Promise<void> => {
    const t0 = Date.now();
    while (Date.now() - t0 < limitMs) {
      await sb.webhooks.drain();
      const s = await svc.queue.stats();
      if (s.byState.queued === 0 && s.byState.running === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const say = opts.progress ?? (() => undefined);
  say(`created ${N} records; waiting for them to link`);
  await quiet(60_000);
  say('faults on');
  const mib = (): number => Math.round(process.memoryUsage().rss / 1048576);
  const rss = { start: mib(), peak: mib(), end: 0 };
  const sampler = setInterval(() => (rss.peak = Math.max(rss.peak, mib())), 500);

  // Faults on, phase by phase.
  sb.calls.reset();
  const schedule = faultPhases(opts.seconds, opts.expiredAuthSeconds, opts.errorRate);
  const phases: PhaseReport[] = [];
  // The noisy neighbour: another client of the site, as Bob, on a route the bridge never calls.
  const bob = sb.credentials.users.bob!;
  const neighbourAuth = `Basic ${Buffer.from(`${bob.loginEmail}:${bob.apiToken}`).toString('base64')}`;
  const neighbourTotal: Record<string, number> = {};
  let neighbourPhase: Record<string, number> = {};
  let neighbourTimer: NodeJS.Timeout | undefined;
  const neighbourInFlight = new Set<Promise<void>>();
  const neighbour = (perSecond: number): void => {
    clearInterval(neighbourTimer);
    neighbourTimer = undefined;
    if (perSecond <= 0) return;
    neighbourTimer = setInterval(() => {
      const p = fetch(`${sb.baseUrl}/rest/api/3/serverInfo`, { headers: { authorization: neighbourAuth } })
        .then(async (res) => {
          await res.arrayBuffer();
          neighbourTotal[res.status] = (neighbourTotal[res.status] ?? 0) + 1;
          neighbourPhase[res.status] = (neighbourPhase[res.status] ?? 0) + 1;
        })
        .catch(() => undefined)
        .finally(() => neighbourInFlight.delete(p));
      neighbourInFlight.add(p);
    }, 1000 / perSecond);
  };
  /** The bridge's calls by status: the sandbox's counts less the neighbour's. */
  const byStatus = (): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const c of sb.calls.snapshot()) out[c.status] = (out[c.status] ?? 0) + c.count;
    for (const [k, n] of Object.entries(neighbourTotal)) out[k] = (out[k] ?? 0) - n;
    return out;
  };
  let phaseAt = -1;
  let phaseCalls: Record<string, number> = {};
  const endPhase = async (): Promise<void> => {
    const cur = schedule[phaseAt];
    if (!cur) return;
    neighbour(0);
    await Promise.all([...neighbourInFlight]);
    const now = byStatus();
    const diff: Record<string, number> = {};
    for (const [k, n] of Object.entries(now)) if (n - (phaseCalls[k] ?? 0) > 0) diff[k] = n - (phaseCalls[k] ?? 0);
    phases.push({ name: cur.name, seconds: (cur.to - cur.from) / 1000, byStatus: diff, neighbour: neighbourPhase });
    phaseCalls = now;
    neighbourPhase = {};
  };
  sb.webhooks.reseed(opts.seed);
  sb.webhooks.setFaults({ dropRate: 0.1, duplicateRate: 0.2, delayMs: [0, 300], reorder: true });
  let hostChanges = 0;
  let jiraChanges = 0;
  const start = Date.now();
  while (Date.now() - start < opts.seconds * 1000) {
    const t = Date.now() - start;
    const due = schedule.findIndex((p) => p.from <= t && t < p.to);
    if (due !== phaseAt && due >= 0) {
      await endPhase();
      phaseAt = due;
      sb.knobs.set(schedule[due]!.knobs);
      neighbour(schedule[due]!.neighbourPerSecond);
      say(`phase ${schedule[due]!.name} for ${((schedule[due]!.to - schedule[due]!.from) / 1000).toFixed(1)} s`);
    }
    const i = Math.floor(rand() * N);
    const roll = rand();
    const r = await svc.engine.records.getRecord('soak', `s-${i}`);
    const key = r.link?.issue_key;
    if (roll < 0.3) {
      host[i] = {
        title: rand() < 0.6 ? `Soak ${i} host ${hostChanges}` : r.title,
        severity: rand() < 0.5 ? (['P1', 'P2', 'P3', 'P4'][Math.floor(rand() * 4)] as string) : (r.severity ?? 'P3'),
        status: rand() < 0.3 ? (['new', 'in_progress', 'resolved'][Math.floor(rand() * 3)] as string) : r.status,
      };
      await upsert(i);
      hostChanges++;
    } else if (roll < 0.45) {
      const body = `host comment n${i}-${hostChanges}-${Date.now()}x`;
      hostComments[i]!.push(body);
      await svc.engine.records.addComment('soak', `s-${i}`, { author: 'ops', body, hostCommentId: body });
    } else if (key) {
      const issue = sb.state.issue(key)!;
      if (roll < 0.7) {
        sb.ops.editIssue(issue, { fields: { summary: `Soak ${i} jira ${jiraChanges}` } }, alice, 'wiki');
        jiraChanges++;
      } else if (roll < 0.8) {
        sb.ops.editIssue(
          issue,
          { fields: { priority: { name: Object.values(PRIORITY)[Math.floor(rand() * 4)] } } },
          alice,
          'wiki',
        );
        jiraChanges++;
      } else if (roll < 0.9) {
        const body = `jira comment n${i}-${jiraChanges}-${Date.now()}x`;
        jiraComments[i]!.push(body);
        sb.ops.addComment(
          issue,
          {
            type: 'doc',
            version: 1,
            content: [{ type: 'paragraph', content: [{ type: 'text', text: body }] }],
          } as never,
          alice,
          { jsdPublic: true },
        );
      } else {
        const ts = sb.state
          .workflowFor(issue)
          .transitions.filter((t) => t.from === 'global' || t.from.includes(issue.statusId));
        const t = ts[Math.floor(rand() * ts.length)];
        if (t) {
          try {
            sb.ops.transitionIssue(issue, { transition: { id: t.id } }, alice, 'wiki');
            jiraChanges++;
          } catch {
            /* a screen the person did not fill: skipped, as in life */
          }
        }
      }
    }
    await new Promise((res) => setTimeout(res, 5 + rand() * 25));
  }
  await endPhase();
  say(`faults off after ${hostChanges} host and ${jiraChanges} Jira changes; converging`);
  // Faults off: how long until everything agrees?
  sb.knobs.set({ latencyMs: 0, jitterMs: 0, errorRate: 0, rateLimit: null, expiredAuth: false });
  sb.webhooks.setFaults({});
  const t0 = Date.now();
  // A paused connection is probed again within 30 s; the sweep runs every 2 s.
  await svc.engine.resumeConnection('sb');
  let mismatches: string[] = [];
  const check = async (): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < N; i++) {
      const r = await svc.engine.records.getRecord('soak', `s-${i}`);
      const issue = r.link?.issue_key ? sb.state.issue(r.link.issue_key) : undefined;
      if (!issue) {
        out.push(`s-${i}: not linked`);
        continue;
      }
      const status = sb.state.status(issue.statusId).name;
      const prio = issue.priorityId ? sb.state.priority(issue.priorityId)?.name : undefined;
      if (issue.summary !== r.title) out.push(`s-${i}: summary "${issue.summary}" vs "${r.title}"`);
      if (PRIORITY[r.severity ?? ''] !== prio) out.push(`s-${i}: priority ${prio} vs ${r.severity}`);
      if (STATUS_IN[status] !== r.status) out.push(`s-${i}: status ${status} vs ${r.status}`);
      if (r.sync.state !== 'synced') out.push(`s-${i}: ${r.sync.state} ${r.sync.error?.message ?? ''}`);
    }
    return out;
  };
  for (;;) {
    await quiet(5_000);
    mismatches = await check();
    say(
      `${mismatches.length} mismatch(es) after ${((Date.now() - t0) / 1000).toFixed(1)} s${mismatches.length ? `: ${mismatches.slice(0, 3).join('; ')}` : ''}`,
    );
    if (!mismatches.length || Date.now() - t0 > 120_000) break;
    if (Date.now() - t0 > 15_000) {
      const open = await svc.store.db
        .selectFrom('jobs')
        .select(['kind', 'key', 'state', 'attempts', 'run_at', 'last_error'])
        .where('state', '!=', 'done')
        .execute();
      for (const j of open.slice(0, 5))
        say(
          `job ${j.kind} ${j.key} ${j.state} attempts=${j.attempts} in ${j.run_at - Date.now()} ms: ${j.last_error?.slice(0, 160)}`,
        );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const convergeSeconds = (Date.now() - t0) / 1000;
  // For each record still off: its last sync actions and the issue's last changes (diagnosis).
  for (const m of mismatches) {
    const i = Number(/^s-(\d+)/.exec(m)?.[1]);
    if (!Number.isInteger(i) || m !== mismatches.find((x) => x.startsWith(`s-${i}:`))) continue;
    const r = await svc.engine.records.getRecord('soak', `s-${i}`);
    const log = await svc.store.db
      .selectFrom('sync_log')
      .select(['direction', 'action', 'fields', 'error', 'at'])
      .where('record_id', '=', r.id)
      .orderBy('at', 'desc')
      .limit(8)
      .execute();
    for (const l of log.reverse())
      say(
        `  s-${i} ${new Date(l.at).toISOString().slice(11, 23)} ${l.direction} ${l.action} ${l.fields ?? ''} ${l.error?.slice(0, 120) ?? ''}`,
      );
    const issue = r.link?.issue_key ? sb.state.issue(r.link.issue_key) : undefined;
    for (const h of issue?.changelog.slice(-6) ?? [])
      say(
        `  s-${i} jira ${h.created} ${h.authorId} ${h.items.map((x) => `${x.field}: ${x.fromString} → ${x.toString}`).join(', ')}`,
      );
  }
  const issues = sb.state.allIssues().filter((x) => /^Soak \d+/.test(x.summary));
  const commentProblems: string[] = [];
  for (let i = 0; i < N; i++) {
    const r = await svc.engine.records.getRecord('soak', `s-${i}`);
    const issue = r.link?.issue_key ? sb.state.issue(r.link.issue_key) : undefined;
    if (!issue) continue;
    const texts = issue.comments.map((c) => JSON.stringify(c.body));
    for (const c of hostComments[i]!) {
      const n = texts.filter((t) => t.includes(c)).length;
      if (n !== 1) commentProblems.push(`${c}: ${n} times in Jira`);
    }
    const rec = await svc.engine.records.listComments('soak', `s-${i}`);
    for (const c of jiraComments[i]!) {
      const n = rec.filter((x) => x.origin === 'jira' && x.body === c).length;
      if (n !== 1) commentProblems.push(`${c}: ${n} times on the record`);
    }
  }
  // Calls spent from faults on to converged (paused work resumes after the faults stop).
  const calls = byStatus();
  const count = (status: number): number => calls[status] ?? 0;
  const retries = await svc.store.db.selectFrom('sync_log').select('id').where('action', '=', 'retry').execute();
  // Stuck: dead, or running/queued well past its lease or due time (the sweep keeps queueing
  // fresh jobs every 2 s; those are not stuck).
  const late = Date.now() - 60_000;
  const stuck = await svc.store.db
    .selectFrom('jobs')
    .select(['id', 'kind', 'key', 'state', 'run_at', 'lease_expires_at', 'last_error'])
    .where((eb) =>
      eb.or([
        eb('state', '=', 'dead'),
        eb.and([eb('state', '=', 'running'), eb('lease_expires_at', '<', late)]),
        eb.and([eb('state', '=', 'queued'), eb('run_at', '<', late)]),
      ]),
    )
    .execute();
  for (const j of stuck) say(`stuck job ${j.kind} ${j.key} ${j.state}: ${j.last_error?.slice(0, 200)}`);
  const sent = sb.webhooks.deliveries();
  const report: SoakReport = {
    seconds: opts.seconds,
    records: N,
    hostChanges,
    jiraChanges,
    hostComments: hostComments.flat().length,
    jiraComments: jiraComments.flat().length,
    jiraCalls: Object.values(calls).reduce((n, c) => n + c, 0),
    rejected429: count(429),
    failed5xx: count(500) + count(502) + count(503) + count(504),
    unauthorized401: count(401),
    phases,
    retries: retries.length,
    webhooksSent: sent.filter((d) => d.fault !== 'dropped').length,
    webhooksDropped: sent.filter((d) => d.fault === 'dropped').length,
    convergeSeconds,
    mismatches,
    duplicateIssues: issues.length - N,
    commentProblems,
    stuckJobs: stuck.length,
    rssMiB: rss,
  };
  clearInterval(sampler);
  rss.end = mib();
  rss.peak = Math.max(rss.peak, rss.end);
  say('stopping');
  await svc.stop();
  await sb.close();
  rmSync(dir, { recursive: true, force: true });
  return report;
}
