/**
 * The records whose outbound jobs wait for a connection paused for rejected credentials (issue 17).
 * Such jobs are not claimed until the connection's next probe (the queue's gate, ./fairness.ts),
 * so their handler, which used to fail fast and mark the record, no longer runs: each one the
 * claim passes over is marked here instead — off the worker, no attempt spent — as the handler
 * did: the record's last error says it waits on the credentials (its failure episode, so the host
 * hears `record.sync_failed` once, src/core/sync-failure.ts) and its sync log says `paused`.
 */
import type { Logger } from '../log/logger.js';
import type { Queue } from '../queue/queue.js';
import type { Job } from '../queue/types.js';
import { newId } from '../store/ids.js';
import { toJson } from '../store/json.js';
import type { Store } from '../store/store.js';
import { connectionOfPartition } from './fairness.js';
import { recordSyncFailure } from './failure-episode.js';
import { OUTBOUND_JOB, type OutboundPayload } from './record-data.js';

export interface CredentialsWaitDeps {
  store: Store;
  queue: Queue;
  /** Whether the connection is paused for rejected credentials now. */
  paused(connectionId: string): boolean;
  now: () => number;
  logger?: Logger | undefined;
}

/** Marks the record of each outbound job the claim passes over while its connection is paused. */
export function markCredentialWaits(deps: CredentialsWaitDeps): () => void {
  const { store } = deps;
  return deps.queue.onPassedOver((job: Job) => {
    if (job.kind !== OUTBOUND_JOB) return;
    const connectionId = connectionOfPartition(job.partition);
    if (!connectionId || !deps.paused(connectionId)) return;
    const recordId = (job.payload as Partial<OutboundPayload> | null)?.recordId;
    if (typeof recordId !== 'string') return;
    const error = {
      code: 'JIRA_UNAUTHORIZED',
      message: 'The Jira connection is paused: its credentials were rejected; fix them to resume',
      details: { connection: connectionId, gated: true },
    };
    const at = deps.now();
    store
      .transaction(async (trx) => {
        const r = await trx.selectFrom('records').select('deleted_at').where('id', '=', recordId).executeTakeFirst();
        if (!r || r.deleted_at !== null) return;
        await recordSyncFailure(trx, store.dialect, recordId, error, 'paused', at);
        await trx
          .insertInto('sync_log')
          .values({
            id: newId(),
            record_id: recordId,
            direction: 'outbound',
            action: 'paused',
            fields: null,
            jira_calls: 0,
            job_id: job.id,
            error: toJson(error),
            at,
          })
          .execute();
      })
      .catch((err: unknown) =>
        deps.logger?.warn({ jobId: job.id, recordId, err }, 'could not mark a record waiting on rejected credentials'),
      );
  });
}
