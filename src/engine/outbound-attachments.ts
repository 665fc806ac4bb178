/**
 * Outbound attachments: the record's host uploads, and the full texts of fields and comments cut
 * to fit Jira's limit, uploaded to its issue once each (attachment_links, origin 'host').
 */
import { createHash } from 'node:crypto';
import { newId } from '../store/ids.js';
import type { Overflow } from './desired.js';
import type { OutboundContext, RecordRow } from './outbound-context.js';
import type { JiraPort } from './types.js';

/** attachment_links.jira_attachment_id while an upload is in flight. */
export const UPLOADING = 'jira-bridge:uploading';

/** The part's functions: each declared once, on its implementation below. */
export type OutboundAttachments = ReturnType<typeof createOutboundAttachments>;

export function createOutboundAttachments(ctx: OutboundContext) {
  const { deps, store, now } = ctx;

  /**
   * The full text of a field or comment cut to fit Jira becomes a host attachment of the record,
   * once per distinct text (keyed by its hash): pushAttachments then uploads it with the same
   * bookkeeping as any attachment (marked before the upload, recognised after a crash, never
   * uploaded twice), and the inbound side knows it as ours.
   */
  async function recordOverflow(recordId: string, items: Overflow[]): Promise<void> {
    for (const o of items) {
      const bytes = Buffer.from(o.text, 'utf8');
      const sha = createHash('sha256').update(bytes).digest('hex');
      await deps.attachments.put(sha, bytes);
      const t = now();
      await store.db
        .insertInto('attachment_links')
        .values({
          id: newId(t),
          record_id: recordId,
          host_attachment_id: `jira-bridge:overflow:${sha}:${o.filename}`,
          jira_attachment_id: null,
          filename: o.filename,
          size: bytes.length,
          sha256: sha,
          origin: 'host',
          deleted: 0,
          created_at: t,
          updated_at: t,
        })
        .onConflict((oc) => oc.columns(['record_id', 'host_attachment_id']).doNothing())
        .execute();
    }
  }

  /** Uploads the record's attachments Jira does not have yet; how many went up. */
  async function pushAttachments(jira: JiraPort, record: RecordRow, issueKey: string): Promise<number> {
    const pending = await store.db
      .selectFrom('attachment_links')
      .selectAll()
      .where('record_id', '=', record.id)
      .where('origin', '=', 'host')
      .where('jira_attachment_id', 'is', null)
      .where('deleted', '=', 0)
      .orderBy('created_at')
      .execute();
    let n = 0;
    // Uploads of an earlier attempt that may have reached Jira before the process died.
    const interrupted = await store.db
      .selectFrom('attachment_links')
      .selectAll()
      .where('record_id', '=', record.id)
      .where('jira_attachment_id', '=', UPLOADING)
      .execute();
    for (const a of [...interrupted, ...pending]) {
      if (a.jira_attachment_id === UPLOADING) {
        const known = new Set(
          (
            await store.db
              .selectFrom('attachment_links')
              .select('jira_attachment_id')
              .where('record_id', '=', record.id)
              .execute()
          ).map((r) => r.jira_attachment_id),
        );
        const found = (await jira.listAttachments(issueKey)).find(
          (x) => !known.has(x.id) && x.filename === a.filename && (a.size === null || x.size === Number(a.size)),
        );
        if (found) {
          await store.db
            .updateTable('attachment_links')
            .set({ jira_attachment_id: found.id, updated_at: now() })
            .where('id', '=', a.id)
            .execute();
          continue;
        }
      } else {
        // Marked before the upload (one at a time per record): a retry looks before uploading.
        await store.db
          .updateTable('attachment_links')
          .set({ jira_attachment_id: UPLOADING, updated_at: now() })
          .where('id', '=', a.id)
          .execute();
      }
      const bytes = await deps.attachments.get(a.sha256!);
      const { id } = await jira.addAttachment(issueKey, a.filename, bytes);
      await deps.hooks?.afterAttachment?.(record.id, id);
      await store.db
        .updateTable('attachment_links')
        .set({ jira_attachment_id: id, updated_at: now() })
        .where('id', '=', a.id)
        .execute();
      n++;
    }
    return n;
  }

  return { recordOverflow, pushAttachments };
}
