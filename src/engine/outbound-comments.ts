/**
 * Outbound comments: the record's host comments posted to its issue once each, and host edits of
 * comments already there (comment_links, origin 'host'; base_body = the body Jira has).
 */
import { renderTemplate } from '../core/templates.js';
import { fromJson } from '../store/json.js';
import { fitText, overflowFilename, templateRecord, truncationWarning, type Overflow } from './desired.js';
import { textKey } from './markup.js';
import type { OutboundAttachments } from './outbound-attachments.js';
import type { OutboundContext, RecordRow } from './outbound-context.js';
import type { JiraPort, OutboundMapping, RecordData } from './types.js';

/** comment_links.base_body while a comment is being posted (a retry then looks before posting). */
export const POSTING = 'jira-bridge:posting';

/**
 * A host comment as posted to Jira (author line, body), cut to fit with a notice when over
 * Jira's limit; the full text then goes in as `comment-<host comment id>.md`.
 */
export function commentText(
  c: { id: string; host_comment_id: string | null; author: string | null; body: string },
  prefix: (author: string | null) => string,
): {
  text: string;
  overflow?: Overflow;
} {
  const head = prefix(c.author);
  return fitText(head ? `${head}\n\n${c.body}` : c.body, overflowFilename(`comment-${c.host_comment_id ?? c.id}`));
}

/** The line put before a host comment: the mapping's `templates.comment_prefix`, else "**author** wrote:". */
export function commentPrefix(record: RecordRow, mapping: OutboundMapping): (author: string | null) => string {
  const template = mapping.templates?.comment_prefix;
  if (template === undefined) return (author) => (author ? `**${author}** wrote:` : '');
  const rec = templateRecord(fromJson<RecordData>(record.data)!, record);
  return (author) => renderTemplate('comment_prefix', template, rec, { comment: { author } }).trim();
}

/** The part's functions: each declared once, on its implementation below. */
export type OutboundComments = ReturnType<typeof createOutboundComments>;

export function createOutboundComments(ctx: OutboundContext, attachments: Pick<OutboundAttachments, 'recordOverflow'>) {
  const { deps, store, now } = ctx;

  /** Posts the record's new host comments and its edits of posted ones; how many went to Jira. */
  async function pushComments(
    jira: JiraPort,
    record: RecordRow,
    issueKey: string,
    mapping: OutboundMapping,
    warnings: string[],
  ): Promise<number> {
    if (!mapping.comments) return 0;
    const prefix = commentPrefix(record, mapping);
    /** Jira has this (possibly cut) text of the comment now: its full text is attached once. */
    const commentInJira = async (
      c: { host_comment_id: string | null },
      fit: { overflow?: Overflow },
    ): Promise<void> => {
      if (!fit.overflow) return;
      await attachments.recordOverflow(record.id, [fit.overflow]);
      warnings.push(truncationWarning(`comment ${c.host_comment_id ?? ''}`.trim(), fit.overflow));
    };
    const pending = await store.db
      .selectFrom('comment_links as cl')
      .innerJoin('record_comments as rc', 'rc.id', 'cl.id')
      .select(['cl.id', 'cl.host_comment_id', 'cl.base_body', 'rc.author', 'rc.body', 'rc.created_at', 'rc.internal'])
      .where('cl.record_id', '=', record.id)
      .where('cl.origin', '=', 'host')
      .where('cl.jira_comment_id', 'is', null)
      .where('cl.deleted', '=', 0)
      .orderBy('rc.created_at')
      .orderBy('cl.id')
      .execute();
    let posted = 0;
    // Host edits of comments already in Jira: base_body is what Jira has.
    const edited = await store.db
      .selectFrom('comment_links as cl')
      .innerJoin('record_comments as rc', 'rc.id', 'cl.id')
      .select(['cl.id', 'cl.host_comment_id', 'cl.jira_comment_id', 'cl.base_body', 'rc.author', 'rc.body'])
      .where('cl.record_id', '=', record.id)
      .where('cl.origin', '=', 'host')
      .where('cl.jira_comment_id', 'is not', null)
      .where('cl.deleted', '=', 0)
      .execute();
    for (const c of edited) {
      if (c.base_body === c.body || c.base_body === POSTING) continue;
      const fit = commentText(c, prefix);
      await jira.updateComment(issueKey, c.jira_comment_id!, jira.toBody(fit.text));
      await commentInJira(c, fit);
      await store.db
        .updateTable('comment_links')
        .set({ base_body: c.body, updated_at: now() })
        .where('id', '=', c.id)
        .execute();
      posted++;
    }
    let existing: Array<{ id: string; text: string }> | undefined;
    for (const c of pending) {
      const fit = commentText(c, prefix);
      if (c.base_body === POSTING) {
        // An earlier attempt may have posted it before dying: recognise it by its text.
        existing ??= await jira.listComments(issueKey);
        const known = new Set(
          (
            await store.db
              .selectFrom('comment_links')
              .select('jira_comment_id')
              .where('record_id', '=', record.id)
              .execute()
          ).map((r) => r.jira_comment_id),
        );
        const want = textKey(fit.text);
        const found = existing.find((x) => !known.has(x.id) && textKey(x.text).includes(want));
        if (found) {
          await commentInJira(c, fit);
          await store.db
            .updateTable('comment_links')
            .set({ jira_comment_id: found.id, base_body: c.body, updated_at: now() })
            .where('id', '=', c.id)
            .execute();
          continue;
        }
      } else {
        await store.db
          .updateTable('comment_links')
          .set({ base_body: POSTING, updated_at: now() })
          .where('id', '=', c.id)
          .execute();
      }
      const { id } = await jira.addComment(issueKey, jira.toBody(fit.text), { internal: c.internal === 1 });
      await deps.hooks?.afterComment?.(record.id, id);
      await commentInJira(c, fit);
      // Stored at once: a retry never posts this comment again.
      await store.db
        .updateTable('comment_links')
        .set({ jira_comment_id: id, base_body: c.body, updated_at: now() })
        .where('id', '=', c.id)
        .execute();
      posted++;
    }
    return posted;
  }

  return { pushComments };
}
