export { Queue, createQueue, type QueueOptions } from './queue.js';
export { startWorker, type JobOutcome, type Worker, type WorkerOptions } from './worker.js';
export { retryDelayMs, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export type * from './types.js';
