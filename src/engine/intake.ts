import type { Kysely } from 'kysely';
import type { Queue } from '../queue/queue.js';
import type { Database } from '../store/schema.js';
import type { ParsedDelivery } from '../webhooks/parse.js';
import type { RouteResult } from '../webhooks/receive.js';
import { enqueueInbound } from './inbound.js';

/**
 * What a stored Jira delivery implies: an inbound job for its issue (queued in the delivery's own
 * transaction), or nothing for events jira-bridge does not sync (recorded as ignored).
 *
 * Attachment events on Jira Cloud name the attachment only. A known attachment (ours, or one
 * already brought to a record) leads to its record's issue; the delivery is then filed under that
 * issue so the job gives it its verdict. An unknown new attachment cannot be placed: the
 * `jira:issue_updated` delivery of the same change (changelog field `Attachment`) or the sweep
 * brings it.
 */
export function inboundRoute(
  queue: Queue,
  /** `connection:<id>` or `mapping:<id>` when one of these is disabled (./pause.ts), else null. */
  disabled?: (
    db: Kysely<Database>,
    connectionId: string,
    mappingIds: ReadonlyArray<string | null | undefined>,
  ) => Promise<string | null>,
) {
  return async (
    trx: Kysely<Database>,
    d: ParsedDelivery & { id: string; connectionId: string },
  ): Promise<RouteResult | void> => {
    if (d.event === 'other') return { verdict: 'ignored:event', detail: `event "${d.rawEvent}" is not synced` };
    let issueId = d.issueId;
    if (!issueId && (d.event === 'attachment_created' || d.event === 'attachment_deleted')) {
      issueId = await issueOfAttachment(trx, d.connectionId, d.attachmentId, d.issueKey);
      if (!issueId) {
        return d.event === 'attachment_created'
          ? {
              verdict: 'ignored:event',
              detail:
                'attachment_created names no issue (Jira Cloud sends the attachment only); the jira:issue_updated delivery of the same change or the sweep brings it',
            }
          : { verdict: 'ignored:unlinked', detail: 'no record knows this attachment' };
      }
      await trx.updateTable('webhook_deliveries').set({ issue_id: issueId }).where('id', '=', d.id).execute();
    }
    if (!issueId) return { verdict: 'ignored:event', detail: 'the delivery names no issue' };
    // A disabled connection, or the disabled mapping of the linked record: acknowledged, not
    // applied (resuming reconciles the issue). An unlinked issue's job decides for its mapping.
    if (disabled) {
      const link = await trx
        .selectFrom('links')
        .select('mapping_id')
        .where('connection_id', '=', d.connectionId)
        .where('issue_id', '=', issueId)
        .where('state', '=', 'linked')
        .executeTakeFirst();
      const off = await disabled(trx, d.connectionId, link ? [link.mapping_id] : []);
      if (off) {
        return {
          verdict: 'ignored:disabled',
          detail: `the ${off.replace(':', ' ')} is paused; resuming it reconciles this issue`,
        };
      }
    }
    await enqueueInbound(queue, trx, { connectionId: d.connectionId, issueId, source: 'webhook' });
  };
}

/** The linked issue of a Jira attachment the records know, or of an issue key the URL carried. */
async function issueOfAttachment(
  trx: Kysely<Database>,
  connectionId: string,
  attachmentId: string | null,
  issueKey: string | null,
): Promise<string | null> {
  if (attachmentId) {
    const hit = await trx
      .selectFrom('attachment_links as a')
      .innerJoin('links as l', 'l.record_id', 'a.record_id')
      .select('l.issue_id')
      .where('a.jira_attachment_id', '=', attachmentId)
      .where('l.connection_id', '=', connectionId)
      .where('l.issue_id', 'is not', null)
      .executeTakeFirst();
    if (hit?.issue_id) return hit.issue_id;
  }
  if (issueKey) {
    const hit = await trx
      .selectFrom('links')
      .select('issue_id')
      .where('connection_id', '=', connectionId)
      .where('issue_key', '=', issueKey)
      .where('issue_id', 'is not', null)
      .executeTakeFirst();
    if (hit?.issue_id) return hit.issue_id;
  }
  return null;
}
