import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { AppError, putBackDelayMs } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/store.js';
import { groupOf, JOBS_TOPIC, type Queue } from './queue.js';
import type { Job, JobHandler } from './types.js';

export interface WorkerOptions {
  store: Store;
  queue: Queue;
  /** Handler per job kind. A job whose kind has no handler is dead-lettered (JOB_HANDLER_MISSING). */
  handlers: Record<string, JobHandler>;
  /** Jobs run at once by this worker (default 4). */
  concurrency?: number;
  /**
   * Jobs of one group (connection) this worker runs at once, at most (default: half its
   * concurrency, at least 1): the rest of the slots stay open to other connections' jobs however
   * long one connection's jobs take (a slow Jira site). Applies to gated queues (Queue.setGate).
   */
  maxPerGroup?: number;
  /** Lease length; renewed every third of it while a handler runs (default 30 s). */
  leaseMs?: number;
  /** Poll interval when idle; in-process enqueues wake the worker at once (default 1 s). */
  pollMs?: number;
  logger?: Logger;
  workerId?: string;
  /**
   * Before its first claim, take back the running jobs whose lease `workerId` holds (see
   * Queue.takeBackOwn): for a stable worker id (the replica's, src/app/replica-id.ts) that no live
   * process can hold but this one — what its previous life was running when it died runs again at
   * once instead of after the lease's expiry. Default false (a random id has nothing to take back).
   */
  takeBackOwn?: boolean;
  /**
   * Called when a job is put back because its connection has no budget now: a due job passed over
   * by the claim (see Queue.setGate), or a running job whose handler failed with JOB_PUT_BACK (its
   * next Jira call would have waited; see putBackDelayMs) — then after it is back in the queue.
   */
  onDefer?: (job: Job, waitMs: number) => void;
  /** Called after each attempt, for metrics ('deferred': put back, the attempt not counted). */
  onOutcome?: (job: Job, outcome: JobOutcome, durationMs: number) => void;
}

/** How a claimed job's run ended. */
export type JobOutcome = 'done' | 'retry' | 'dead' | 'lost' | 'deferred';

export interface Worker {
  readonly workerId: string;
  /** Jobs currently running. */
  inFlight(): number;
  /**
   * Stops claiming, then either waits for running jobs (graceful, the default) or aborts their
   * signals and releases their leases so another worker takes them at once. A non-graceful stop
   * called while a graceful one waits (drain timeout) releases the jobs and ends both.
   */
  stop(opts?: { graceful?: boolean }): Promise<void>;
}

interface Running {
  job: Job;
  ac: AbortController;
  done: Promise<void>;
  released: boolean;
  heartbeat?: NodeJS.Timeout;
  /** Waits the handler reported it is parked on (JobContext.park); > 0: its slot is lent out. */
  parked: number;
}

export function startWorker(opts: WorkerOptions): Worker {
  const { queue, handlers, logger } = opts;
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const maxPerGroup = Math.max(1, opts.maxPerGroup ?? Math.floor(concurrency / 2));
  const leaseMs = opts.leaseMs ?? 30_000;
  const pollMs = opts.pollMs ?? 1000;
  const workerId = opts.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const running = new Map<number, Running>();
  let stopping = false;

  // Wake-up without lost signals: a wake while not waiting is remembered for the next wait.
  let pendingWake = false;
  let wakeWaiter: (() => void) | undefined;
  const wake = (): void => {
    if (wakeWaiter) {
      const w = wakeWaiter;
      wakeWaiter = undefined;
      w();
    } else pendingWake = true;
  };
  const waitForWake = (ms: number): Promise<void> => {
    if (pendingWake) {
      pendingWake = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        wakeWaiter = undefined;
        resolve();
      }, ms);
      wakeWaiter = () => {
        clearTimeout(t);
        resolve();
      };
    });
  };
  const unsubscribe = queue.onWake(wake);
  // PostgreSQL: enqueues committed by other processes wake this worker too (else: polling).
  const unlisten: Promise<(() => Promise<void>) | undefined> = opts.store.pubsub
    ? opts.store.pubsub.listen(JOBS_TOPIC, wake).catch((err: unknown) => {
        logger?.warn({ err: err instanceof Error ? err.message : String(err) }, 'no LISTEN wake-ups; polling only');
        return undefined;
      })
    : Promise.resolve(undefined);

  /**
   * Free slots: each running job parked on a wait outside the process (its connection's call
   * budget, Jira's answer) lends its slot to another job, up to `concurrency` extra jobs at once.
   */
  const freeSlots = (): number => {
    let parked = 0;
    for (const r of running.values()) if (r.parked > 0) parked++;
    return Math.min(concurrency - running.size + parked, 2 * concurrency - running.size);
  };

  /** The soonest a job put back becomes due again: the claim loop wakes then. */
  let nextDueMs = Number.POSITIVE_INFINITY;

  const run = (job: Job): void => {
    const ac = new AbortController();
    const started = Date.now();
    const entry: Running = { job, ac, done: Promise.resolve(), released: false, parked: 0 };
    const park = (parked: boolean): void => {
      entry.parked = Math.max(0, entry.parked + (parked ? 1 : -1));
      // A lent slot is claimed for at once.
      if (parked && entry.parked === 1 && running.has(job.id)) wake();
    };
    const heartbeat = setInterval(
      () => {
        if (entry.released) return;
        queue.extendLease(job, workerId, leaseMs).then(
          (ok) => {
            if (!ok && !ac.signal.aborted) {
              logger?.warn({ jobId: job.id, workerId }, 'job lease lost; aborting handler');
              ac.abort(new AppError('JOB_LEASE_EXPIRED'));
            }
          },
          (err: unknown) => logger?.warn({ jobId: job.id, err }, 'could not extend job lease'),
        );
      },
      Math.max(20, Math.floor(leaseMs / 3)),
    );
    heartbeat.unref();
    entry.heartbeat = heartbeat;
    running.set(job.id, entry);
    entry.done = (async () => {
      let outcome: JobOutcome;
      try {
        let failure: { err: unknown } | undefined;
        try {
          const handler = Object.hasOwn(handlers, job.kind) ? handlers[job.kind] : undefined;
          if (!handler) {
            throw new AppError('JOB_HANDLER_MISSING', `No handler is registered for job kind "${job.kind}"`);
          }
          await handler(job, { signal: ac.signal, workerId, park });
        } catch (err) {
          failure = { err };
        }
        if (entry.released) return; // stop({graceful:false}) gave the job back already
        // A call found its connection without budget and was not sent (JOB_PUT_BACK): the job goes
        // back to the queue until the budget returns — lease released, no attempt counted, its
        // key's order kept — as the claim does for a job it passes over; this slot is free now.
        const putBackMs = failure ? putBackDelayMs(failure.err) : null;
        if (failure && putBackMs !== null) {
          outcome = (await queue.defer(job, workerId, putBackMs)) ? 'deferred' : 'lost';
          if (outcome === 'deferred') {
            nextDueMs = Math.min(nextDueMs, putBackMs);
            logger?.debug(
              { jobId: job.id, workerId, waitMs: putBackMs },
              'job put back until its connection has budget',
            );
            opts.onDefer?.(job, putBackMs);
          }
        } else {
          // Only the handler's failure counts against the job; a store error here propagates below.
          outcome = failure
            ? await queue.fail(job, workerId, failure.err)
            : (await queue.complete(job, workerId))
              ? 'done'
              : 'lost';
        }
        if (outcome === 'lost') logger?.warn({ jobId: job.id, workerId }, 'job lease was lost; result discarded');
        opts.onOutcome?.(job, outcome, Date.now() - started);
      } catch (err) {
        // The store failed while recording the outcome: the lease will expire and the job rerun.
        logger?.error({ jobId: job.id, err }, 'could not record job outcome');
      } finally {
        clearInterval(heartbeat);
        running.delete(job.id);
        wake();
      }
    })();
  };

  const runningByGroup = (): Map<string, number> => {
    const m = new Map<string, number>();
    for (const r of running.values()) {
      const g = groupOf(r.job.partition);
      if (g) m.set(g, (m.get(g) ?? 0) + 1);
    }
    return m;
  };

  const loop = (async () => {
    if (opts.takeBackOwn) {
      try {
        const n = await queue.takeBackOwn(workerId);
        if (n > 0)
          logger?.info({ workerId, jobs: n }, 'took back the jobs this worker id was running before a restart');
      } catch (err) {
        logger?.warn(
          { err, workerId },
          'could not take back this worker id’s jobs; they run again once their leases expire',
        );
      }
    }
    while (!stopping) {
      const free = freeSlots();
      let claimed = 0;
      if (free > 0) {
        try {
          // A group (connection) without budget for one more job — paced after 429s, out of
          // tokens, or its call slots held by the jobs it runs here — is passed over by the
          // claim: its jobs wait in the queue, not in this worker's slots, and other
          // connections' due work is taken instead (Queue.setGate).
          const jobs = await queue.claim(workerId, free, leaseMs, {
            running: runningByGroup(),
            maxPerGroup,
            onDefer: (job, waitMs) => {
              nextDueMs = Math.min(nextDueMs, waitMs);
              opts.onDefer?.(job, waitMs);
            },
          });
          claimed = jobs.length;
          for (const job of jobs) {
            if (stopping) {
              // Claimed as stop began: hand it straight back.
              await queue.release(job, workerId).catch(() => undefined);
              continue;
            }
            run(job);
          }
        } catch (err) {
          logger?.error({ err, workerId }, 'claiming jobs failed; will retry');
        }
      }
      if (stopping) break;
      // Jobs put back until their connection's budget returns are due again then.
      const wait = Math.max(1, Math.min(pollMs, nextDueMs));
      nextDueMs = Number.POSITIVE_INFINITY;
      if (free <= 0 || claimed < free) await waitForWake(wait);
    }
  })();

  let halted: Promise<void> | undefined;
  /** Stops claiming (once): ends the loop and the wake-up subscriptions. */
  const halt = (): Promise<void> =>
    (halted ??= (async () => {
      stopping = true;
      wake();
      await loop;
      unsubscribe();
      const stopListening = await unlisten;
      await stopListening?.();
    })());

  let releaseAll: Promise<void> | undefined;
  let escalate!: () => void;
  const escalated = new Promise<void>((r) => (escalate = r));
  /** Aborts running handlers and gives their jobs back at once (once). */
  const release = (): Promise<void> =>
    (releaseAll ??= (async () => {
      escalate();
      await Promise.all(
        [...running.values()].map(async (r) => {
          r.released = true;
          clearInterval(r.heartbeat);
          r.ac.abort(new AppError('SHUTTING_DOWN'));
          await queue.release(r.job, workerId).catch((err: unknown) => {
            logger?.warn({ jobId: r.job.id, err }, 'could not release job lease; it will expire');
          });
        }),
      );
    })());

  return {
    workerId,
    inFlight: () => running.size,
    async stop(stopOpts = {}) {
      await halt();
      if (stopOpts.graceful ?? true) {
        // Returns when running jobs finish, or at once when a non-graceful stop takes over.
        await Promise.race([Promise.all([...running.values()].map((r) => r.done)), escalated]);
        if (releaseAll) await releaseAll;
        return;
      }
      await release();
    },
  };
}
