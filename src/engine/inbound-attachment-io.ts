/**
 * The inbound executor's attachment I/O (src/engine/inbound.ts): what Jira's attachment list
 * brings to a record is planned by the pure planAttachments (./inbound-attachments.ts); this
 * downloads what the plan fetches into the attachment store before any transaction (no network
 * I/O inside one), and records it in the run's transaction, idempotent per Jira attachment id.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { isAppError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { newId } from '../store/ids.js';
import type { Database } from '../store/schema.js';
import type { Store } from '../store/store.js';
import type { AttachmentStore } from './attachment-store.js';
import { planAttachments, tooLargeNote, type AttachmentPlan } from './inbound-attachments.js';
import { inboundSettings } from './inbound-mapping.js';
import type { JiraAttachmentState, JiraIssueState, JiraPerson, JiraPort, OutboundMapping } from './types.js';

/** What Jira's attachment list changed on the record (attachment link ids, for the feed and the log). */
export interface AttachmentChange {
  added: Array<{ id: string; jira_attachment_id: string; filename: string; size: number }>;
  not_downloaded: Array<{ id: string; jira_attachment_id: string; filename: string; size: number; note: string }>;
  deleted: Array<{ id: string; jira_attachment_id: string; filename: string }>;
}

/** The downloads of one run, made before its transaction (no network I/O inside one). */
export interface AttachmentWork {
  plan: AttachmentPlan;
  stored: Map<string, { sha256: string; size: number }>;
  notes: Map<string, string>;
  gone: Set<string>;
}

export const noAttachmentChange = (): AttachmentChange => ({ added: [], not_downloaded: [], deleted: [] });
export const attachmentsChanged = (a: AttachmentChange): boolean =>
  a.added.length + a.not_downloaded.length + a.deleted.length > 0;

/** The attachment fetch and save of inbound runs, over the store and the attachment store. */
export function inboundAttachmentIo(deps: {
  store: Store;
  attachments?: AttachmentStore | undefined;
  now: () => number;
  logger?: Logger | undefined;
}) {
  const { store, now } = deps;
  const log = deps.logger;

  /**
   * Attachments: plans against the record's attachment links and downloads what is new (one call
   * each) into the attachment store, before any transaction. Null when the mapping keeps Jira's
   * attachments in Jira.
   */
  async function fetchAttachments(
    jira: JiraPort,
    recordId: string,
    mapping: OutboundMapping,
    state: JiraIssueState,
    me: JiraPerson,
    countCall: () => void,
  ): Promise<AttachmentWork | null> {
    const settings = inboundSettings(mapping).attachments;
    if (!settings?.fromJira || !deps.attachments || state.attachments === null) return null;
    const rows = await store.db
      .selectFrom('attachment_links')
      .select(['id', 'jira_attachment_id', 'filename', 'size', 'sha256', 'origin', 'deleted'])
      .where('record_id', '=', recordId)
      .execute();
    const plan = planAttachments(
      state.attachments,
      rows.map((r) => ({
        id: r.id,
        jiraAttachmentId: r.jira_attachment_id,
        filename: r.filename,
        size: r.size === null ? null : Number(r.size),
        sha256: r.sha256,
        origin: r.origin,
        deleted: r.deleted === 1,
      })),
      { maxBytes: settings.maxBytes, me },
    );
    const work: AttachmentWork = { plan, stored: new Map(), notes: new Map(), gone: new Set() };
    for (const a of [...plan.download, ...plan.fill.map((f) => f.attachment)]) {
      let bytes: Buffer;
      countCall();
      try {
        bytes = await jira.downloadAttachment(a.id, a.filename);
      } catch (err) {
        if (isAppError(err) && err.code === 'JIRA_NOT_FOUND') {
          work.gone.add(a.id); // deleted since the read: the next run sees it gone
          continue;
        }
        if (isAppError(err) && err.code === 'JIRA_FORBIDDEN') {
          work.notes.set(a.id, 'not downloaded: Jira denied access to its content (403); it stays in Jira');
          continue;
        }
        throw err;
      }
      if (bytes.length > settings.maxBytes) {
        work.notes.set(a.id, tooLargeNote(bytes.length, settings.maxBytes));
        continue;
      }
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      await deps.attachments.put(sha256, bytes);
      work.stored.set(a.id, { sha256, size: bytes.length });
    }
    if (plan.waiting.length) {
      log?.debug({ recordId, attachments: plan.waiting.map((a) => a.id) }, 'attachments left to an upload in flight');
    }
    return work;
  }

  /** Records what fetchAttachments brought, in the run's transaction (idempotent per Jira id). */
  async function saveAttachments(
    trx: Kysely<Database>,
    recordId: string,
    work: AttachmentWork | null,
    maxBytes: number,
  ): Promise<AttachmentChange> {
    const change = noAttachmentChange();
    if (!work) return change;
    const t = now();
    const insert = async (a: JiraAttachmentState, sha256: string | null, size: number, note: string | null) => {
      const id = newId(a.created || t);
      const r = await trx
        .insertInto('attachment_links')
        .values({
          id,
          record_id: recordId,
          host_attachment_id: null,
          jira_attachment_id: a.id,
          filename: a.filename,
          size,
          sha256,
          origin: 'jira',
          deleted: 0,
          created_at: a.created || t,
          updated_at: t,
          mime_type: a.mimeType,
          note,
        })
        .onConflict((oc) => oc.columns(['record_id', 'jira_attachment_id']).doNothing())
        .executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0 ? id : null;
    };
    for (const a of work.plan.download) {
      if (work.gone.has(a.id)) continue;
      const got = work.stored.get(a.id);
      const note = got ? null : (work.notes.get(a.id) ?? tooLargeNote(a.size, maxBytes));
      const id = await insert(a, got?.sha256 ?? null, got?.size ?? a.size, note);
      if (!id) continue;
      if (got) change.added.push({ id, jira_attachment_id: a.id, filename: a.filename, size: got.size });
      else
        change.not_downloaded.push({ id, jira_attachment_id: a.id, filename: a.filename, size: a.size, note: note! });
    }
    for (const a of work.plan.tooLarge) {
      const note = tooLargeNote(a.size, maxBytes);
      const id = await insert(a, null, a.size, note);
      if (id) change.not_downloaded.push({ id, jira_attachment_id: a.id, filename: a.filename, size: a.size, note });
    }
    for (const { row, attachment: a } of work.plan.fill) {
      const got = work.stored.get(a.id);
      if (!got) continue;
      const r = await trx
        .updateTable('attachment_links')
        .set({ sha256: got.sha256, size: got.size, note: null, updated_at: t })
        .where('id', '=', row.id)
        .where('sha256', 'is', null)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) > 0)
        change.added.push({ id: row.id, jira_attachment_id: a.id, filename: a.filename, size: got.size });
    }
    for (const k of work.plan.deleted) {
      const r = await trx
        .updateTable('attachment_links')
        .set({ deleted: 1, updated_at: t })
        .where('id', '=', k.id)
        .where('deleted', '=', 0)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) > 0)
        change.deleted.push({ id: k.id, jira_attachment_id: k.jiraAttachmentId!, filename: k.filename });
    }
    return change;
  }

  return { fetchAttachments, saveAttachments };
}
