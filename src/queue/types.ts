import type { JobState } from '../store/schema.js';

export type { JobState } from '../store/schema.js';

/** The last failure of a job, kept on the row (and shown by the API for dead jobs). */
export interface JobError {
  code: string;
  message: string;
  retryable: boolean;
  /** The attempt (1-based) that failed. */
  attempt: number;
  at: number;
}

export interface Job<P = unknown> {
  /** Enqueue order; per-key FIFO runs jobs of one key in ascending id. */
  id: number;
  kind: string;
  key: string;
  payload: P;
  coalesceKey: string | null;
  state: JobState;
  /** Attempts started so far (a claim counts one). */
  attempts: number;
  maxAttempts: number;
  runAt: number;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  lastError: JobError | null;
  /** How many later enqueues were merged into this job. */
  coalesced: number;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** What the job works for (fair claiming): `<connection>/<mapping>`, `<connection>`, or '' (system). */
  partition: string;
  /** Start tag of start-time fair queuing; claims take due jobs in (fairSeq, id) order. */
  fairSeq: number;
}

export interface EnqueueInput {
  kind: string;
  /** Ordering key: jobs with the same key run one at a time in enqueue order. */
  key: string;
  payload?: unknown;
  /**
   * When set, an enqueue finding a queued (not running) job with the same kind, key and
   * coalesceKey merges into it (payload replaced by the newest) instead of adding a job.
   */
  coalesceKey?: string;
  /** Earliest run time, epoch ms (default now). */
  runAt?: number;
  /** Attempts before the job is dead-lettered (default: the queue's, 10). */
  maxAttempts?: number;
  /**
   * The partition claims are fair across (the connection, and mapping, the job works for).
   * Default: what the queue's partitioner says, else '' (system jobs share one partition).
   */
  partition?: string | null;
}

export interface EnqueueResult {
  id: number;
  /** True when merged into an existing queued job. */
  coalesced: boolean;
}

export interface JobContext {
  /** Aborted when the lease is lost or the worker stops without waiting. */
  signal: AbortSignal;
  workerId: string;
  /**
   * The handler tells the worker when the job starts (true) and stops (false) waiting on
   * something outside this process's CPU — its connection's call budget, a slow Jira site's
   * answer (a call unanswered after 250 ms) — so the worker may run
   * another job in its slot meanwhile (at most `concurrency` such extra jobs). Calls nest.
   */
  park?: (parked: boolean) => void;
}

export type JobHandler = (job: Job, ctx: JobContext) => Promise<void>;

export interface QueueStats {
  byState: Record<JobState, number>;
  /** Age of the oldest queued job (by enqueue time), or null when none is queued. */
  oldestQueuedAgeMs: number | null;
  /** Queued jobs whose run_at has come (waiting only for a worker or their key's head). */
  ready: number;
  /** Queued jobs of the deepest partitions (at most 20, the rest summed as '*other*'). */
  partitions?: PartitionDepth[];
}

export interface ListJobsFilter {
  state?: JobState;
  kind?: string;
  key?: string;
  /** Max rows (default 100, at most 1000). */
  limit?: number;
  /** Page: only jobs with id below this (results are newest first). */
  beforeId?: number;
  partition?: string;
}

/** Queued jobs of one partition, for per-connection metrics. */
export interface PartitionDepth {
  partition: string;
  queued: number;
  /** Of them, due now (waiting only for a worker or their key's head). */
  ready: number;
  /** Age of the partition's oldest queued job by enqueue time. */
  oldestQueuedAgeMs: number;
}

export type FailOutcome = 'retry' | 'dead' | 'lost';
