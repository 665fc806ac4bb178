/**
 * The inbound job (src/engine/inbound.ts runs it): its kind, payload and key, and its enqueue.
 * Jobs are keyed like the outbound jobs of the linked record (`record:<id>`), so the two
 * directions of one link never run at the same time; an issue without a link uses
 * `issue:<connection>:<issue id>` until it has one.
 */
import type { Kysely } from 'kysely';
import type { Queue } from '../queue/queue.js';
import type { Database } from '../store/schema.js';
import { recordJobKey } from './record-data.js';

export const INBOUND_JOB = 'inbound.issue';
/** Attempts an inbound job may use (a paused connection keeps it waiting). */
export const INBOUND_MAX_ATTEMPTS = 200;

export interface InboundPayload {
  connectionId: string;
  issueId: string;
  /** What asked for it: a webhook delivery, the sweep, or an operator. */
  source: 'webhook' | 'sweep' | 'manual';
}

export const issueJobKey = (connectionId: string, issueId: string): string => `issue:${connectionId}:${issueId}`;

/** Enqueues the inbound job of an issue inside the caller's transaction (coalesced per key). */
export async function enqueueInbound(
  queue: Queue,
  trx: Kysely<Database>,
  payload: InboundPayload,
): Promise<{ key: string; jobId: number }> {
  const link =
    (await trx
      .selectFrom('links')
      .select('record_id')
      .where('connection_id', '=', payload.connectionId)
      .where('issue_id', '=', payload.issueId)
      .executeTakeFirst()) ??
    // A rework task runs under its record's key too (never beside the record's outbound job).
    (await trx
      .selectFrom('rework_links')
      .select('record_id')
      .where('connection_id', '=', payload.connectionId)
      .where('issue_id', '=', payload.issueId)
      .executeTakeFirst());
  const key = link ? recordJobKey(link.record_id) : issueJobKey(payload.connectionId, payload.issueId);
  const r = await queue.enqueue(trx, {
    kind: INBOUND_JOB,
    key,
    payload,
    coalesceKey: `inbound:${payload.connectionId}:${payload.issueId}`,
    maxAttempts: INBOUND_MAX_ATTEMPTS,
  });
  return { key, jobId: r.id };
}
