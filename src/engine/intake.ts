import type { Kysely } from 'kysely';
import type { Queue } from '../queue/queue.js';
import type { Database } from '../store/schema.js';
import type { ParsedDelivery } from '../webhooks/parse.js';
import type { RouteResult } from '../webhooks/receive.js';
import { enqueueInbound } from './inbound.js';

/**
 * What a stored Jira delivery implies: an inbound job for its issue (queued in the delivery's own
 * transaction), or nothing for events jira-bridge does not sync (recorded as ignored).
 */
export function inboundRoute(queue: Queue) {
  return async (
    trx: Kysely<Database>,
    d: ParsedDelivery & { id: string; connectionId: string },
  ): Promise<RouteResult | void> => {
    if (d.event === 'other') return { verdict: 'ignored:event', detail: `event "${d.rawEvent}" is not synced` };
    if (!d.issueId) return { verdict: 'ignored:event', detail: 'the delivery names no issue' };
    await enqueueInbound(queue, trx, { connectionId: d.connectionId, issueId: d.issueId, source: 'webhook' });
  };
}
