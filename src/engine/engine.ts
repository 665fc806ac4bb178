import { AsyncLocalStorage } from 'node:async_hooks';
import { join } from 'node:path';
import { withPutBack } from '../jira/pacer.js';
import type { Logger } from '../log/logger.js';
import type { Queue } from '../queue/queue.js';
import type { JobHandler } from '../queue/types.js';
import type { Store } from '../store/store.js';
import { fileAttachmentStore, type AttachmentStore } from './attachment-store.js';
import { APPLY_JOB, createApply, type Apply } from './apply.js';
import { createBackfill, type Backfill } from './backfill.js';
import { installFairness } from './fairness.js';
import { createInboundHandler, INBOUND_JOB, type InboundPayload } from './inbound.js';
import { inboundRoute } from './intake.js';
import { createOutboundHandler, PAUSE_RETRY_MS, type OutboundDeps } from './outbound.js';
import { createSweeper, type SweepResult } from './sweep.js';
import { BACKFILL_JOB, OUTBOUND_JOB } from './record-data.js';
import { createRecordService, type RecordService } from './records.js';
import { createPauses, disabledBy, RESUME_JOB, type Pauses } from './pause.js';
import { createUnlinker, type Unlinker } from './unlink.js';
import { markCredentialWaits } from './credentials-wait.js';
import { createManualSync, type ManualSync } from './manual-sync.js';
import { createPlanner, type Planner } from './plan.js';
import type { WorkflowGraph } from '../core/workflow.js';
import type { JiraPort, MappingSource } from './types.js';

/** Unreferenced attachment files younger than this are left alone (an upload may be about to name them). */
export const ATTACHMENT_GC_MIN_AGE_MS = 60 * 60_000;
export const ATTACHMENT_GC_INTERVAL_MS = 15 * 60_000;

export interface EngineDeps {
  store: Store;
  queue: Queue;
  mappings: MappingSource;
  /** The Jira port of a connection (see ./jira-port.ts for the adapter over src/jira). */
  jira(connectionId: string): JiraPort;
  /** Attachment bytes live under `<dataDir>/attachments` unless a store is given. */
  dataDir?: string;
  attachments?: AttachmentStore;
  logger?: Logger;
  now?: () => number;
  hooks?: OutboundDeps['hooks'];
  /** How long jobs of a connection whose credentials failed wait before probing again (default 30 s). */
  pauseRetryMs?: number;
  /** This replica's lease owner name (stable across restarts: see src/app/replica-id.ts); default random. */
  replicaId?: string;
}

export interface ConnectionHealth {
  healthy: boolean;
  /** Why not (e.g. Jira's 401 message), null when healthy. */
  problem: string | null;
  since: number;
}

export interface Engine {
  records: RecordService;
  /** Pause and resume of connections and mappings (./pause.ts). */
  pauses: Pauses;
  /** Removing links, the Jira issues left as they are (./unlink.ts). */
  unlinker: Unlinker;
  backfill: Backfill;
  /** "Apply to linked records": a mapping's linked records re-synced in bulk (./apply.ts). */
  apply: Apply;
  /** Manual sync both ways, and the import of an unlinked issue a mapping takes (./manual-sync.ts). */
  manualSync: ManualSync;
  /** What the next outbound sync of a record would do and why (./plan.ts; writes nothing). */
  planner: Planner;
  /** Runs one record's outbound sync now, outside the queue (tests, CLI). */
  syncRecord(recordId: string, opts?: { resync?: boolean; twoWay?: boolean }): Promise<void>;
  /** Runs one issue's inbound sync now, outside the queue (tests). */
  syncIssue(p: InboundPayload): Promise<string>;
  /** Queues the work a stored Jira delivery implies (pass to the webhook routes). */
  webhookRoute: ReturnType<typeof inboundRoute>;
  /** Reconciliation sweeps (see ./sweep.ts); `checkLinks` forces (true) or skips (false) the link check. */
  sweep(connectionId: string, opts?: { checkLinks?: boolean }): Promise<SweepResult>;
  startSweeps(intervals: Record<string, number>): { stop(): Promise<void> };
  /**
   * Removes attachment blobs no row references, and temporary files, older than `minAgeMs`
   * (default ATTACHMENT_GC_MIN_AGE_MS, so an upload or download in flight is never taken).
   * Returns how many files went.
   */
  collectAttachmentGarbage(opts?: { minAgeMs?: number }): Promise<number>;
  /** Runs that collection now and every `intervalMs` (default ATTACHMENT_GC_INTERVAL_MS). */
  startAttachmentGc(opts?: { intervalMs?: number; minAgeMs?: number }): { stop(): Promise<void> };
  /**
   * Job handlers to register with the worker (src/queue/worker.ts). Their Jira calls do not wait
   * on a connection without budget: such a call throws JOB_PUT_BACK unsent and the worker puts the
   * job back until the budget returns (withPutBack in src/jira/pacer.ts).
   */
  handlers: Record<string, JobHandler>;
  /** Connections whose credentials failed (their jobs wait, nothing is lost). */
  connectionHealth(): Record<string, ConnectionHealth>;
  /**
   * Credentials were fixed: lift the pause of a connection now and pull its waiting jobs (both directions)
   * forward (otherwise the next probe resumes it within the pause interval on its own).
   */
  resumeConnection(connectionId: string): Promise<void>;
}

/**
 * A connection's health after a job's report (pure). A rejected credential pauses it; an
 * authenticated answer resumes it — unless the job began before the pause did: its answers may
 * predate the outage (a call answered just before, the job ending after another job's 401), and
 * counting them flapped the connection paused → healthy → paused within one outage.
 */
export function healthAfter(
  prev: ConnectionHealth | undefined,
  problem: string | null,
  jobBegan: number | undefined,
  at: number,
): { next: ConnectionHealth; transition: 'paused' | 'healthy' | null } {
  if (problem === null) {
    if (prev && !prev.healthy && jobBegan !== undefined && jobBegan < prev.since)
      return { next: prev, transition: null };
    return {
      next: { healthy: true, problem: null, since: prev?.healthy ? prev.since : at },
      transition: prev && !prev.healthy ? 'healthy' : null,
    };
  }
  return {
    next: { healthy: false, problem, since: prev && !prev.healthy ? prev.since : at },
    transition: !prev || prev.healthy ? 'paused' : null,
  };
}

/** The outbound engine: record service, outbound job handler, backfill. */
export function createEngine(deps: EngineDeps): Engine {
  const attachments = deps.attachments ?? fileAttachmentStore(join(deps.dataDir ?? './data', 'attachments'));
  const health = new Map<string, ConnectionHealth>();
  const now = deps.now ?? Date.now;
  const records = createRecordService({
    store: deps.store,
    queue: deps.queue,
    mappings: deps.mappings,
    attachments,
    now,
  });
  const pauseMs = deps.pauseRetryMs ?? PAUSE_RETRY_MS;
  const pauses = createPauses({
    store: deps.store,
    queue: deps.queue,
    mappings: deps.mappings,
    jira: deps.jira,
    logger: deps.logger,
    now,
  });
  const nextProbe = new Map<string, number>();
  /** When the running job began (its health reports are judged against the pause's start). */
  const jobBegan = new AsyncLocalStorage<number>();
  const timed =
    (h: JobHandler): JobHandler =>
    (job, ctx) =>
      jobBegan.run(now(), () => h(job, ctx));
  /** Run by the queue worker: a Jira call that would wait for budget puts the job back instead. */
  const queued =
    (h: JobHandler): JobHandler =>
    (job, ctx) =>
      withPutBack(() => h(job, ctx), { park: ctx.park });
  /** What outbound learnt of each workflow; the plan preview reads it. */
  const workflows = new Map<string, WorkflowGraph>();
  const outbound = createOutboundHandler({
    workflows,
    store: deps.store,
    queue: deps.queue,
    mappings: deps.mappings,
    jira: deps.jira,
    attachments,
    logger: deps.logger,
    now,
    hooks: deps.hooks,
    pauseRetryMs: pauseMs,
    connectionGate(connectionId) {
      const h = health.get(connectionId);
      if (!h || h.healthy) return null;
      const at = nextProbe.get(connectionId) ?? 0;
      if (now() < at) return at - now();
      nextProbe.set(connectionId, now() + pauseMs); // this job is the probe
      return null;
    },
    onConnectionHealth: reportHealth,
    hold: pauses.holdOutbound,
    // Manual two-way sync: the inbound half (created below; called only from jobs).
    reconcileInbound: (recordId, jobId) => inbound.reconcileLinked(recordId, jobId),
  });
  function reportHealth(connectionId: string, problem: string | null): void {
    const prev = health.get(connectionId);
    const { next, transition } = healthAfter(prev, problem, jobBegan.getStore(), now());
    if (transition === 'healthy') deps.logger?.info({ connectionId }, 'Jira connection healthy again; resuming');
    if (transition === 'paused')
      deps.logger?.error({ connectionId, problem }, 'Jira connection paused: credentials rejected');
    health.set(connectionId, next);
    if (next === prev) return;
    if (next.healthy) nextProbe.delete(connectionId);
    else nextProbe.set(connectionId, now() + pauseMs);
  }
  const gate = (connectionId: string): number | null => {
    const h = health.get(connectionId);
    if (!h || h.healthy) return null;
    const at = nextProbe.get(connectionId) ?? 0;
    return now() < at ? at - now() : null;
  };
  // Fair claiming across connections, and no worker held by a connection without Jira budget or
  // paused for rejected credentials: its jobs are put back until its next probe is due, then one
  // is claimed (the probe; the handler's gate starts the next interval) and the others wait for
  // its end, not for the next interval — a probe that finds the credentials working resumes them.
  installFairness(deps.queue, {
    mappings: deps.mappings,
    credentials(connectionId, running) {
      const h = health.get(connectionId);
      if (!h || h.healthy) return 0;
      if (running > 0) return Number.POSITIVE_INFINITY;
      return Math.max(0, (nextProbe.get(connectionId) ?? 0) - now());
    },
  });
  // …and the records of the outbound jobs so put back say why they wait, as their handler did.
  markCredentialWaits({
    store: deps.store,
    queue: deps.queue,
    paused: (connectionId) => health.get(connectionId)?.healthy === false,
    now,
    logger: deps.logger,
  });
  const inbound = createInboundHandler({
    store: deps.store,
    queue: deps.queue,
    mappings: deps.mappings,
    jira: deps.jira,
    logger: deps.logger,
    now,
    connectionGate: gate,
    attachments,
    onConnectionHealth: (connectionId, problem) => {
      // Success only clears a pause that exists (no churn on the healthy path).
      if (problem !== null || health.get(connectionId)?.healthy === false) reportHealth(connectionId, problem);
    },
    pauseRetryMs: pauseMs,
    disabled: pauses.disabledBy,
  });
  const sweeper = createSweeper({
    store: deps.store,
    queue: deps.queue,
    mappings: deps.mappings,
    jira: deps.jira,
    logger: deps.logger,
    now,
    owner: `sweeper:${deps.replicaId ?? `${process.pid}:${Math.random().toString(36).slice(2)}`}`,
  });
  const backfill = createBackfill({
    store: deps.store,
    queue: deps.queue,
    mappings: deps.mappings,
    jira: deps.jira,
    logger: deps.logger,
    now,
  });
  const apply = createApply({
    store: deps.store,
    queue: deps.queue,
    mappings: deps.mappings,
    logger: deps.logger,
    now,
  });
  function collectAttachmentGarbage(opts: { minAgeMs?: number } = {}): Promise<number> {
    return attachments.collectGarbage(
      async (shas) => {
        const rows = await deps.store.db
          .selectFrom('attachment_links')
          .select('sha256')
          .distinct()
          .where('sha256', 'in', shas)
          .execute();
        return new Set(rows.flatMap((r) => (r.sha256 ? [r.sha256] : [])));
      },
      { minAgeMs: opts.minAgeMs ?? ATTACHMENT_GC_MIN_AGE_MS },
    );
  }
  return {
    records,
    pauses,
    planner: createPlanner({ store: deps.store, mappings: deps.mappings, jira: deps.jira, workflows }),
    unlinker: createUnlinker({ store: deps.store, mappings: deps.mappings, logger: deps.logger, now }),
    backfill,
    apply,
    manualSync: createManualSync({
      store: deps.store,
      queue: deps.queue,
      mappings: deps.mappings,
      records,
      jira: deps.jira,
      syncIssue: inbound.syncIssue,
      disabledBy: pauses.disabledBy,
      gate,
    }),
    syncRecord: (id, opts) => outbound.syncRecord(id, opts),
    syncIssue: (p) => inbound.syncIssue(p),
    webhookRoute: inboundRoute(deps.queue, (db, c, ms) => disabledBy(db, deps.mappings, c, ms)),
    sweep: (connectionId, opts) => sweeper.runOnce(connectionId, opts),
    startSweeps: (intervals) => sweeper.start(intervals),
    collectAttachmentGarbage,
    startAttachmentGc(opts = {}) {
      let running: Promise<unknown> = Promise.resolve();
      const run = (): void => {
        running = collectAttachmentGarbage(opts)
          .then((n) => {
            if (n > 0) deps.logger?.info({ removed: n }, 'unreferenced attachment files removed');
          })
          .catch((err: unknown) => deps.logger?.warn({ err }, 'attachment garbage collection failed; retried later'));
      };
      run();
      const timer = setInterval(run, opts.intervalMs ?? ATTACHMENT_GC_INTERVAL_MS).unref();
      return {
        async stop() {
          clearInterval(timer);
          await running;
        },
      };
    },
    handlers: {
      [OUTBOUND_JOB]: queued(timed(outbound.handler)),
      [BACKFILL_JOB]: queued(backfill.handler),
      [APPLY_JOB]: queued(apply.handler),
      [INBOUND_JOB]: queued(timed(inbound.handler)),
      [RESUME_JOB]: queued(pauses.resumeHandler),
    },
    connectionHealth: () => Object.fromEntries(health),
    async resumeConnection(connectionId) {
      health.delete(connectionId);
      nextProbe.delete(connectionId);
      const t = now();
      await deps.store.db
        .updateTable('jobs')
        .set({ run_at: t, updated_at: t })
        .where('state', '=', 'queued')
        .where('kind', 'in', [OUTBOUND_JOB, INBOUND_JOB])
        .where('run_at', '>', t)
        .execute();
      deps.queue.notify();
    },
  };
}
