import { sql, type Kysely, type Selectable, type UpdateQueryBuilder, type UpdateResult } from 'kysely';
import { AppError, isAppError, isRetryable } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import type { Database, JobState, JobsTable } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { afterCommit } from '../store/transaction.js';
import { fromJson, toJson } from '../store/json.js';
import { DEFAULT_BACKOFF, retryDelayMs, type BackoffOptions } from './backoff.js';
import type {
  EnqueueInput,
  EnqueueResult,
  FailOutcome,
  Job,
  JobError,
  ListJobsFilter,
  PartitionDepth,
  QueueStats,
} from './types.js';

/**
 * Names the partition of a job being enqueued (when the enqueue does not): the connection (and
 * mapping) it works for. Runs inside the enqueue's transaction; null/undefined: system ('').
 */
export type Partitioner = (
  trx: Kysely<Database>,
  input: EnqueueInput,
) => string | null | undefined | Promise<string | null | undefined>;

/**
 * Admission: ms until one more job of `group` may start (0: now; Infinity: when one of its
 * running jobs ends), `running` of its jobs already running in the claiming worker. A group is
 * what a partition's jobs share a budget with — the part of the partition before its first '/'
 * (the engine's connection, see src/engine/fairness.ts); system jobs ('') are never gated.
 * Claims apply it: a job whose group has no budget is not claimed (so no worker sits on it) and,
 * when the wait is known, put back until then without counting an attempt.
 */
export type Gate = (group: string, running: number) => number;

/** The budget group of a partition: its part before the first '/' ('' for system jobs). */
export function groupOf(partition: string): string {
  const slash = partition.indexOf('/');
  return slash < 0 ? partition : partition.slice(0, slash);
}

export interface ClaimOptions {
  /** Jobs of each group the claiming worker runs now (the gate's `running`). */
  running?: ReadonlyMap<string, number>;
  /** Told of each due job put back because its group has no budget now (not claimed, no attempt). */
  onDefer?: (job: Job, waitMs: number) => void;
  /**
   * Jobs of one group the claiming worker may run at once (its share of the worker's slots; gated
   * claims only): a group at its share is passed over like one whose call slots are all held, so
   * one connection — a slow Jira site, a deep backlog — never holds every slot and other
   * connections' jobs always find one. Default: no limit beyond the gate's.
   */
  maxPerGroup?: number;
}

/**
 * How many due jobs a gated claim looks at per job it may take: enough to pass the due jobs of
 * groups without budget (SFQ interleaves partitions, so another group's job is within about as
 * many positions as there are groups with due work), bounded so a claim stays one short scan.
 */
const GATED_SCAN_PER_JOB = 4;
const GATED_SCAN_MIN = 32;
const GATED_SCAN_MAX = 256;
/** How soon a gated claim's later pass that found nothing is made again for the same groups. */
const HELD_RESCAN_MS = 250;
/**
 * Scans a gated claim makes at most: a later one leaves out the groups the earlier found without
 * budget, so one claim reaches past (GATED_PASSES - 1) windows of other groups' held jobs.
 */
const GATED_PASSES = 3;

export interface QueueOptions {
  logger?: Logger;
  /** Attempts before dead-lettering when the enqueue does not say (default 10). */
  defaultMaxAttempts?: number;
  backoff?: Partial<BackoffOptions>;
  /** Clock, injectable for tests (default Date.now). */
  now?: () => number;
  partitioner?: Partitioner;
  gate?: Gate;
}

const ACTIVE: JobState[] = ['queued', 'running'];
const MAX_MESSAGE = 2000;
/** The pub/sub topic on which enqueues wake workers of other processes. */
export const JOBS_TOPIC = 'jobs';

type JobRow = Selectable<JobsTable>;
type JobsUpdate = UpdateQueryBuilder<Database, 'jobs', 'jobs', UpdateResult>;

function toJob(r: JobRow): Job {
  return {
    id: r.id,
    kind: r.kind,
    key: r.key,
    payload: fromJson(r.payload),
    coalesceKey: r.coalesce_key,
    state: r.state,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    runAt: r.run_at,
    leaseOwner: r.lease_owner,
    leaseExpiresAt: r.lease_expires_at,
    lastError: fromJson<JobError>(r.last_error),
    coalesced: r.coalesced,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    partition: r.partition,
    fairSeq: Number(r.fair_seq),
  };
}

function describeError(err: unknown, attempt: number, at: number): JobError {
  const retryable = isRetryable(err);
  if (isAppError(err)) return { code: err.code, message: err.message.slice(0, MAX_MESSAGE), retryable, attempt, at };
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { code: 'INTERNAL', message: message.slice(0, MAX_MESSAGE), retryable, attempt, at };
}

function retryAfterOf(err: unknown): number | undefined {
  if (isAppError(err)) return err.retryAfterMs;
  const v = (err as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  return typeof v === 'number' ? v : undefined;
}

/**
 * A durable job queue in the store's database. One implementation over kysely for SQLite and
 * PostgreSQL. See docs/dependencies.md for the semantics and why it is hand-built.
 */
export class Queue {
  readonly #store: Store;
  readonly #log: Logger | undefined;
  readonly #maxAttempts: number;
  readonly #backoff: BackoffOptions;
  readonly #now: () => number;
  readonly #listeners = new Set<() => void>();
  readonly #deferListeners = new Set<(job: Job, waitMs: number) => void>();
  #partitioner: Partitioner | undefined;
  #gate: Gate | undefined;
  /** Jobs enqueued through this queue (a later claim pass that found nothing is redone after one). */
  #enqueued = 0;
  /** The last later claim pass that found nothing: the groups it left out, when. */
  #fruitless: { without: string; seq: number; at: number } | undefined;

  constructor(store: Store, opts: QueueOptions = {}) {
    this.#store = store;
    this.#log = opts.logger;
    this.#maxAttempts = opts.defaultMaxAttempts ?? 10;
    this.#backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.#now = opts.now ?? Date.now;
    this.#partitioner = opts.partitioner;
    this.#gate = opts.gate;
  }

  /** Sets how enqueues without a partition find theirs (the engine knows jobs' connections). */
  setPartitioner(fn: Partitioner | undefined): void {
    this.#partitioner = fn;
  }

  /** Sets the admission check workers apply to claimed jobs (see Gate). */
  setGate(fn: Gate | undefined): void {
    this.#gate = fn;
  }

  /**
   * ms until one more job of `group` may start (0: now, Infinity: when one of its running jobs
   * ends), `running` of its jobs running in the asking worker; a failing gate admits the job.
   */
  admissionDelayMs(group: string, running = 0): number {
    if (!this.#gate || !group) return 0;
    try {
      const ms = this.#gate(group, running);
      if (ms === Number.POSITIVE_INFINITY) return ms;
      return Number.isFinite(ms) && ms > 0 ? Math.ceil(ms) : 0;
    } catch (err) {
      this.#log?.warn({ group, err }, 'job admission check failed; running the job');
      return 0;
    }
  }

  get store(): Store {
    return this.#store;
  }

  now(): number {
    return this.#now();
  }

  /**
   * Adds a job inside the caller's transaction, so the state change and its job commit (or roll
   * back) together. With `coalesceKey`, merges into a queued job of the same kind+key+coalesceKey.
   * Workers of this process are woken once the transaction commits.
   */
  async enqueue(trx: Kysely<Database>, input: EnqueueInput): Promise<EnqueueResult> {
    if (!input.kind || !input.key) {
      throw new AppError('VALIDATION_FAILED', 'enqueue: kind and key are required (non-empty strings)');
    }
    const now = this.#now();
    const runAt = input.runAt ?? now;
    const payload = toJson(input.payload ?? {});
    if (input.coalesceKey !== undefined) {
      const existing = await trx
        .selectFrom('jobs')
        .select('id')
        .where('state', '=', 'queued')
        .where('key', '=', input.key)
        .where('kind', '=', input.kind)
        .where('coalesce_key', '=', input.coalesceKey)
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (existing) {
        const res = await trx
          .updateTable('jobs')
          .set((eb) => ({
            payload,
            coalesced: eb('coalesced', '+', 1),
            updated_at: now,
            // A fresh job may be pulled earlier; a job in backoff keeps its delay.
            run_at: eb
              .case()
              .when(eb.and([eb('attempts', '=', 0), eb('run_at', '>', runAt)]))
              .then(runAt)
              .else(eb.ref('run_at'))
              .end(),
          }))
          .where('id', '=', existing.id)
          .where('state', '=', 'queued')
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) > 0) {
          await this.#announce(trx);
          return { id: existing.id, coalesced: true };
        }
        // Claimed meanwhile (PostgreSQL): fall through and add a new job.
      }
    }
    const partition =
      input.partition !== undefined ? (input.partition ?? '') : ((await this.#partitioner?.(trx, input)) ?? '');
    const fairSeq = await this.#startTag(trx, partition);
    const row = await trx
      .insertInto('jobs')
      .values({
        partition,
        fair_seq: fairSeq,
        kind: input.kind,
        key: input.key,
        payload,
        coalesce_key: input.coalesceKey ?? null,
        state: 'queued',
        attempts: 0,
        max_attempts: input.maxAttempts ?? this.#maxAttempts,
        run_at: runAt,
        coalesced: 0,
        created_at: now,
        updated_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await this.#announce(trx);
    return { id: row.id, coalesced: false };
  }

  /**
   * The start tag of a job joining `partition` now, as in start-time fair queuing (Goyal, Vin and
   * Cheng, 1996): max(the partition's last tag + 1, the virtual time), where the virtual time is
   * the smallest tag among queued jobs (the backlog's head), or, with none queued, the newest job's
   * tag. A partition with a backlog thus queues behind its own backlog, while a partition that was
   * idle starts at the virtual time: interleaved with the backlog, never behind it, and with no
   * credit saved up from being idle. Queued jobs that are not due yet count too: a backlog put back
   * while its connection has no budget is still ahead of any newcomer's place, so it must not
   * lift the virtual time past its head — with only the due jobs counted, a newcomer took the tag
   * of a put-back backlog's tail and waited behind all of it once it was due again (issue 17,
   * measured in bench/tenants.ts: a quiet tenant's change behind a 429-storm tenant's 200 jobs).
   * Three index lookups; concurrent enqueues of one partition may tie, which only ties them (ids
   * break ties).
   */
  async #startTag(db: Kysely<Database>, partition: string): Promise<number> {
    const r = await db
      .selectNoFrom((eb) => [
        // The first queued tag in index order (jobs_fair_idx): an ordered scan that stops there.
        eb
          .selectFrom('jobs')
          .select('fair_seq')
          .where('state', '=', sql.lit('queued'))
          .orderBy('fair_seq')
          .limit(1)
          .as('v_head'),
        eb.selectFrom('jobs').select('fair_seq').orderBy('id', 'desc').limit(1).as('v_new'),
        eb
          .selectFrom('jobs')
          .select((e) => e.fn.max('fair_seq').as('m'))
          .where('partition', '=', partition)
          .as('last'),
      ])
      .executeTakeFirstOrThrow();
    const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
    const virtual = num(r.v_head) ?? num(r.v_new) ?? 0;
    const last = num(r.last);
    return last === null ? virtual : Math.max(last + 1, virtual);
  }

  /** Wakes this process's workers after commit, and (PostgreSQL) other processes' at commit. */
  async #announce(trx: Kysely<Database>): Promise<void> {
    afterCommit(trx, () => {
      this.#enqueued++;
      this.notify();
    });
    if (this.#store.pubsub) await this.#store.pubsub.notify(trx, JOBS_TOPIC);
  }

  /**
   * Claims up to `limit` runnable jobs for `workerId`: queued, due, and the head of their key
   * (no earlier unfinished job of the key, none of the key running), in start-tag order (fair
   * across partitions, see #startTag; id order within a partition). Expired leases are first
   * returned to the queue (or dead-lettered when out of attempts). On PostgreSQL the candidate
   * rows are locked FOR UPDATE SKIP LOCKED, so concurrent claimers never take the same job and,
   * because the head test sees any claimed-but-uncommitted head as still queued, never two jobs
   * of one key.
   */
  async claim(workerId: string, limit: number, leaseMs: number, opts: ClaimOptions = {}): Promise<Job[]> {
    if (limit <= 0) return [];
    if (this.#gate) return this.#claimGated(workerId, limit, leaseMs, opts);
    const now = this.#now();
    const rows = await this.#store.transaction(async (trx) => {
      await this.#reapExpired(trx, now);
      let candidates = this.#due(trx, now).select('j.id').limit(limit);
      if (this.#store.dialect === 'postgres') candidates = candidates.forUpdate().skipLocked();
      return trx
        .updateTable('jobs')
        .set((eb) => ({
          state: 'running',
          lease_owner: workerId,
          lease_expires_at: now + leaseMs,
          attempts: eb('attempts', '+', 1),
          started_at: now,
          updated_at: now,
        }))
        .where('id', 'in', candidates)
        .returningAll()
        .execute();
    });
    return rows.map(toJob).sort((a, b) => a.id - b.id);
  }

  /**
   * The claim with a gate (issue 17, isolation): the due heads are read in fair order (locked
   * FOR UPDATE SKIP LOCKED on PostgreSQL, a bounded number), and a job is taken only when its
   * group has budget for one more (its connection is not paced by a 429 / Retry-After, has a
   * token and a call slot for it); the jobs of a group without budget are left queued — when the
   * wait is known, with a not-before time then (run_at), no attempt counted, their tag, key order
   * and coalescing untouched — so the worker takes another group's due job instead of waiting.
   */
  async #claimGated(workerId: string, limit: number, leaseMs: number, opts: ClaimOptions): Promise<Job[]> {
    const now = this.#now();
    const scan = Math.min(GATED_SCAN_MAX, Math.max(GATED_SCAN_MIN, limit * GATED_SCAN_PER_JOB));
    const deferred: Array<{ job: Job; waitMs: number }> = [];
    const rows = await this.#store.transaction(async (trx) => {
      await this.#reapExpired(trx, now);
      const taken = new Map<string, number>();
      const blocked = new Map<string, number>();
      const pick: number[] = [];
      for (let pass = 0; pass < GATED_PASSES && pick.length < limit; pass++) {
        // A later pass leaves out the groups found without budget and the jobs taken: a window
        // filled by one group's due backlog (its start tags early) never hides another group's
        // due job behind it, however deep that backlog (issue 17). Such a pass reads the held
        // backlog's index entries (no writes); one that found nothing is not repeated for the
        // same groups until another job is enqueued here or HELD_RESCAN_MS passed.
        const without = [...blocked.keys()].sort().join('\n');
        const last = this.#fruitless;
        if (pass > 0 && last?.without === without && last.seq === this.#enqueued && now - last.at < HELD_RESCAN_MS)
          break;
        let q = this.#due(trx, now).selectAll('j').limit(scan);
        if (pick.length) q = q.where('j.id', 'not in', pick);
        for (const g of blocked.keys())
          q = q
            .where('j.partition', '<>', g)
            .where(sql`substr(${sql.ref('j.partition')}, 1, ${sql.lit(g.length + 1)})`, '<>', `${g}/`);
        if (this.#store.dialect === 'postgres') q = q.forUpdate().skipLocked();
        const due = await q.execute();
        const later = new Map<number, number[]>();
        let blockedHere = false;
        const picked = pick.length;
        for (const r of due) {
          if (pick.length >= limit) break;
          const group = groupOf(r.partition);
          if (group) {
            let wait = blocked.get(group);
            if (wait === undefined) {
              const n = (opts.running?.get(group) ?? 0) + (taken.get(group) ?? 0);
              wait =
                opts.maxPerGroup !== undefined && n >= opts.maxPerGroup
                  ? Number.POSITIVE_INFINITY
                  : this.admissionDelayMs(group, n);
              if (wait > 0) blocked.set(group, wait);
            }
            if (wait > 0) {
              blockedHere = true;
              // Every slot held (Infinity: until one of the group's running jobs ends, which
              // wakes the worker): left due and untouched — put back for a fixed while, a busy
              // connection's next job waited out that while after each of its jobs ended (one
              // connection's sync ran at a third of its speed). A known wait: put back until then.
              if (!Number.isFinite(wait)) continue;
              const at = now + wait;
              later.set(at, [...(later.get(at) ?? []), r.id]);
              deferred.push({ job: toJob(r), waitMs: wait });
              continue;
            }
            taken.set(group, (taken.get(group) ?? 0) + 1);
          }
          pick.push(r.id);
        }
        // Not before the group's budget returns: the claims in between pass over them for free.
        for (const [at, ids] of later) {
          await trx
            .updateTable('jobs')
            .set({ run_at: at, updated_at: now })
            .where('id', 'in', ids)
            .where('state', '=', 'queued')
            .where('run_at', '<', at)
            .execute();
        }
        if (pass > 0 && pick.length === picked && due.length < scan)
          this.#fruitless = { without, seq: this.#enqueued, at: now };
        // Another pass only when this one's window was full and held jobs without budget.
        if (due.length < scan || !blockedHere) break;
      }
      if (!pick.length) return [];
      return trx
        .updateTable('jobs')
        .set((eb) => ({
          state: 'running',
          lease_owner: workerId,
          lease_expires_at: now + leaseMs,
          attempts: eb('attempts', '+', 1),
          started_at: now,
          updated_at: now,
        }))
        .where('id', 'in', pick)
        .where('state', '=', 'queued')
        .returningAll()
        .execute();
    });
    for (const d of deferred) {
      opts.onDefer?.(d.job, d.waitMs);
      for (const fn of this.#deferListeners) {
        try {
          fn(d.job, d.waitMs);
        } catch (err) {
          this.#log?.warn({ jobId: d.job.id, err }, 'a passed-over job listener failed');
        }
      }
    }
    return rows.map(toJob).sort((a, b) => a.id - b.id);
  }

  /** Queued jobs that are due and the head of their key, in start-tag order (claim candidates). */
  #due(trx: Kysely<Database>, now: number) {
    // The literal (not a bound parameter) lets SQLite prove the partial index jobs_fair_idx
    // applies: one ordered index scan instead of sorting every queued row on each claim.
    return trx
      .selectFrom('jobs as j')
      .where('j.state', '=', sql.lit('queued'))
      .where('j.run_at', '<=', now)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('jobs as j2')
              .select(sql.lit(1).as('one'))
              .whereRef('j2.key', '=', 'j.key')
              // Literals: with bound states SQLite cannot use the partial index
              // jobs_active_key_idx and scanned every queued row for each candidate (issue 17:
              // claims slowed down in proportion to a burst's backlog).
              .where(
                'j2.state',
                'in',
                ACTIVE.map((st) => sql.lit(st)),
              )
              .where((eb2) => eb2.or([eb2('j2.id', '<', eb2.ref('j.id')), eb2('j2.state', '=', sql.lit('running'))])),
          ),
        ),
      )
      .orderBy('j.fair_seq')
      .orderBy('j.id');
  }

  /** Returns jobs whose lease expired to the queue, dead-lettering jobs that used their last attempt. */
  async #reapExpired(trx: Kysely<Database>, now: number): Promise<void> {
    let q = trx
      .selectFrom('jobs')
      .select(['id', 'attempts', 'max_attempts', 'lease_owner'])
      .where('state', '=', 'running')
      .where('lease_expires_at', '<', now)
      .orderBy('id')
      .limit(100);
    // Concurrent claimers each reap what the others are not already reaping: no lock waits.
    if (this.#store.dialect === 'postgres') q = q.forUpdate().skipLocked();
    for (const j of await q.execute()) {
      await this.#takeBack(trx, j, now, {
        code: 'JOB_LEASE_EXPIRED',
        message: `The lease of worker ${j.lease_owner ?? '?'} expired before the job finished`,
        expiredOnly: true,
      });
    }
  }

  /**
   * Takes back at once the running jobs whose lease `owner` holds, lease unexpired or not: for a
   * worker starting under an owner name a dead process had (a replica restarted with its stable id,
   * see src/app/replica-id.ts), so what it was running when it died runs again now instead of after
   * the lease's expiry. Each goes back to the queue (due now, its attempt counted, as after an
   * expiry) or, out of attempts, to the dead letters; its rerun finds the crash journal the dead
   * attempt left (src/engine/journal.ts). Only safe when no live process holds `owner`: a live
   * holder would lose its jobs (its outcomes are discarded as for a lost lease, at-least-once
   * still) and run them twice at once. Returns how many jobs were taken back.
   */
  async takeBackOwn(owner: string): Promise<number> {
    const now = this.#now();
    const n = await this.#store.transaction(async (trx) => {
      let q = trx
        .selectFrom('jobs')
        .select(['id', 'attempts', 'max_attempts', 'lease_owner'])
        .where('state', '=', 'running')
        .where('lease_owner', '=', owner)
        .orderBy('id');
      if (this.#store.dialect === 'postgres') q = q.forUpdate().skipLocked();
      let count = 0;
      for (const j of await q.execute()) {
        const taken = await this.#takeBack(trx, j, now, {
          code: 'JOB_OWNER_RESTARTED',
          message: `Worker ${owner} restarted before the job finished; it took the job back before its lease expired`,
          expiredOnly: false,
        });
        if (taken) count++;
      }
      return count;
    });
    if (n > 0) this.notify();
    return n;
  }

  /** One running job back to the queue (due now) or, out of attempts, dead; false if it moved meanwhile. */
  async #takeBack(
    trx: Kysely<Database>,
    j: { id: number; attempts: number; max_attempts: number; lease_owner: string | null },
    now: number,
    why: { code: string; message: string; expiredOnly: boolean },
  ): Promise<boolean> {
    const error: JobError = { code: why.code, message: why.message, retryable: true, attempt: j.attempts, at: now };
    const dead = j.attempts >= j.max_attempts;
    let q = trx
      .updateTable('jobs')
      .set({
        state: dead ? 'dead' : 'queued',
        lease_owner: null,
        lease_expires_at: null,
        last_error: toJson(error),
        updated_at: now,
        ...(dead ? { finished_at: now } : { run_at: now }),
      })
      .where('id', '=', j.id)
      .where('state', '=', 'running')
      .where('attempts', '=', j.attempts);
    q = why.expiredOnly ? q.where('lease_expires_at', '<', now) : q.where('lease_owner', '=', j.lease_owner ?? '');
    const res = await q.executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return false;
    this.#log?.warn(
      { jobId: j.id, previousOwner: j.lease_owner, dead, reason: why.code },
      why.expiredOnly ? 'job lease expired; job taken back' : 'job of this restarted worker taken back',
    );
    return true;
  }

  /** Marks a claimed job done. False when the lease was lost (someone else owns the job now). */
  async complete(job: Job, workerId: string): Promise<boolean> {
    const now = this.#now();
    const res = await this.#owned(
      this.#store.db.updateTable('jobs').set({
        state: 'done',
        lease_owner: null,
        lease_expires_at: null,
        finished_at: now,
        updated_at: now,
      }),
      job,
      workerId,
    ).executeTakeFirst();
    this.notify();
    return Number(res.numUpdatedRows) > 0;
  }

  /**
   * Records a failed attempt: permanent errors and the last attempt go to `dead` (keeping the
   * error), others back to `queued` after backoff with full jitter, never before retry-after.
   */
  async fail(job: Job, workerId: string, err: unknown): Promise<FailOutcome> {
    const now = this.#now();
    const error = describeError(err, job.attempts, now);
    const dead = !error.retryable || job.attempts >= job.maxAttempts;
    const delay = dead ? 0 : retryDelayMs(job.attempts, this.#backoff, retryAfterOf(err));
    // A retry has had its turn: it queues again behind its partition's backlog.
    const retag = dead ? {} : { fair_seq: await this.#startTag(this.#store.db, job.partition) };
    const res = await this.#owned(
      this.#store.db.updateTable('jobs').set({
        state: dead ? 'dead' : 'queued',
        lease_owner: null,
        lease_expires_at: null,
        last_error: toJson(error),
        updated_at: now,
        ...(dead ? { finished_at: now } : { run_at: now + delay, ...retag }),
      }),
      job,
      workerId,
    ).executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return 'lost';
    this.#log?.[dead ? 'error' : 'warn'](
      { jobId: job.id, kind: job.kind, key: job.key, attempt: job.attempts, code: error.code, delayMs: delay },
      dead ? 'job dead-lettered' : 'job failed; will retry',
    );
    this.notify();
    return dead ? 'dead' : 'retry';
  }

  /** Extends the lease of a running job. False when the lease was lost. */
  async extendLease(job: Job, workerId: string, leaseMs: number): Promise<boolean> {
    const now = this.#now();
    const res = await this.#owned(
      this.#store.db.updateTable('jobs').set({ lease_expires_at: now + leaseMs, updated_at: now }),
      job,
      workerId,
    ).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /**
   * Puts a claimed job back until `delayMs` from now without counting the attempt: its partition
   * may not do work yet (see Gate). It queues behind its partition's backlog, so the partition's
   * work resumes interleaved with the others' instead of all at once. False when the lease was lost.
   */
  async defer(job: Job, workerId: string, delayMs: number): Promise<boolean> {
    const now = this.#now();
    const fairSeq = await this.#startTag(this.#store.db, job.partition);
    const res = await this.#owned(
      this.#store.db.updateTable('jobs').set((eb) => ({
        state: 'queued',
        lease_owner: null,
        lease_expires_at: null,
        attempts: eb('attempts', '-', 1),
        run_at: now + Math.max(0, delayMs),
        fair_seq: fairSeq,
        updated_at: now,
      })),
      job,
      workerId,
    ).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Gives a claimed job back without counting the attempt (used by a non-graceful stop). */
  async release(job: Job, workerId: string): Promise<boolean> {
    const now = this.#now();
    const res = await this.#owned(
      this.#store.db.updateTable('jobs').set((eb) => ({
        state: 'queued',
        lease_owner: null,
        lease_expires_at: null,
        attempts: eb('attempts', '-', 1),
        run_at: now,
        updated_at: now,
      })),
      job,
      workerId,
    ).executeTakeFirst();
    this.notify();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Restricts an update to the job as claimed by `workerId` (same lease, same attempt). */
  #owned(q: JobsUpdate, job: Job, workerId: string): JobsUpdate {
    return q
      .where('id', '=', job.id)
      .where('state', '=', 'running')
      .where('lease_owner', '=', workerId)
      .where('attempts', '=', job.attempts);
  }

  async getJob(id: number): Promise<Job | undefined> {
    const r = await this.#store.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toJob(r) : undefined;
  }

  /** Jobs, newest first. */
  async listJobs(filter: ListJobsFilter = {}): Promise<Job[]> {
    let q = this.#store.db.selectFrom('jobs').selectAll();
    if (filter.state) q = q.where('state', '=', filter.state);
    if (filter.kind) q = q.where('kind', '=', filter.kind);
    if (filter.key) q = q.where('key', '=', filter.key);
    if (filter.partition !== undefined) q = q.where('partition', '=', filter.partition);
    if (filter.beforeId !== undefined) q = q.where('id', '<', filter.beforeId);
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
    const rows = await q.orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toJob);
  }

  /** Puts a dead job back in the queue with fresh attempts. False when it is not dead. */
  async retry(id: number): Promise<boolean> {
    const n = await this.#requeueDead(id);
    return n > 0;
  }

  /** Puts every dead job back in the queue; returns how many. */
  async retryAllDead(): Promise<number> {
    return this.#requeueDead();
  }

  /**
   * Dead jobs back in the queue, each behind its partition's backlog (tags given in id order per
   * partition), so retrying a connection's thousand dead jobs does not stand before the others.
   */
  async #requeueDead(id?: number): Promise<number> {
    const now = this.#now();
    const n = await this.#store.transaction(async (trx) => {
      let q = trx.selectFrom('jobs').select(['id', 'partition']).where('state', '=', 'dead').orderBy('id');
      if (id !== undefined) q = q.where('id', '=', id);
      const dead = await q.execute();
      const next = new Map<string, number>();
      let count = 0;
      for (const d of dead) {
        const tag = next.get(d.partition) ?? (await this.#startTag(trx, d.partition));
        next.set(d.partition, tag + 1);
        const res = await trx
          .updateTable('jobs')
          .set({ state: 'queued', attempts: 0, run_at: now, finished_at: null, updated_at: now, fair_seq: tag })
          .where('id', '=', d.id)
          .where('state', '=', 'dead')
          .executeTakeFirst();
        count += Number(res.numUpdatedRows);
      }
      return count;
    });
    if (n > 0) this.notify();
    return n;
  }

  /**
   * Queued jobs per partition, deepest first, at most `limit` partitions (a bounded label set for
   * /metrics; the rest are summed under the partition '*other*').
   */
  async partitionDepths(limit = 20): Promise<PartitionDepth[]> {
    const now = this.#now();
    const rows = await this.#store.db
      .selectFrom('jobs')
      .select((eb) => [
        'partition',
        eb.fn.countAll<number>().as('queued'),
        eb.fn.sum<number>(eb.case().when('run_at', '<=', now).then(1).else(0).end()).as('ready'),
        eb.fn.min('created_at').as('oldest'),
      ])
      .where('state', '=', 'queued')
      .groupBy('partition')
      .execute();
    const all = rows
      .map((r) => ({
        partition: r.partition,
        queued: Number(r.queued),
        ready: Number(r.ready ?? 0),
        oldestQueuedAgeMs: Math.max(0, now - Number(r.oldest)),
      }))
      .sort((a, b) => b.queued - a.queued || a.partition.localeCompare(b.partition));
    if (all.length <= limit) return all;
    const rest = all.slice(limit);
    return [
      ...all.slice(0, limit),
      {
        partition: '*other*',
        queued: rest.reduce((n, r) => n + r.queued, 0),
        ready: rest.reduce((n, r) => n + r.ready, 0),
        oldestQueuedAgeMs: Math.max(...rest.map((r) => r.oldestQueuedAgeMs)),
      },
    ];
  }

  /** Depth by state and age of the oldest queued job, for /metrics and the API. */
  async stats(): Promise<QueueStats> {
    const now = this.#now();
    const db = this.#store.db;
    const counts = await db
      .selectFrom('jobs')
      .select((eb) => ['state', eb.fn.countAll<number>().as('n')])
      .groupBy('state')
      .execute();
    const byState: Record<JobState, number> = { queued: 0, running: 0, done: 0, dead: 0 };
    for (const c of counts) byState[c.state] = Number(c.n);
    const oldest = await db
      .selectFrom('jobs')
      .select((eb) => [eb.fn.min('created_at').as('oldest'), eb.fn.countAll<number>().as('n')])
      .where('state', '=', 'queued')
      .executeTakeFirst();
    const ready = await db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('state', '=', 'queued')
      .where('run_at', '<=', now)
      .executeTakeFirst();
    const oldestAt = oldest?.oldest === null || oldest?.oldest === undefined ? null : Number(oldest.oldest);
    return {
      byState,
      oldestQueuedAgeMs: oldestAt === null ? null : Math.max(0, now - oldestAt),
      ready: Number(ready?.n ?? 0),
      partitions: byState.queued > 0 ? await this.partitionDepths() : [],
    };
  }

  /** Deletes done jobs finished before `olderThanMs` ago; returns how many. */
  async purgeDone(olderThanMs: number): Promise<number> {
    const res = await this.#store.db
      .deleteFrom('jobs')
      .where('state', '=', 'done')
      .where('finished_at', '<', this.#now() - olderThanMs)
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  /** Wakes this process's workers (called after an enqueue commits, a job finishes, …). */
  notify(): void {
    for (const fn of this.#listeners) fn();
  }

  /**
   * Subscribes to the due jobs a gated claim puts back (their group had no budget; see Gate), told
   * after the claim commits, whichever worker claimed; returns the unsubscribe function.
   */
  onPassedOver(fn: (job: Job, waitMs: number) => void): () => void {
    this.#deferListeners.add(fn);
    return () => this.#deferListeners.delete(fn);
  }

  /** Subscribes to wake-ups; returns the unsubscribe function. */
  onWake(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
}

export function createQueue(store: Store, opts: QueueOptions = {}): Queue {
  return new Queue(store, opts);
}
