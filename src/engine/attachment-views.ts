/**
 * What the record API shows of a record's attachments: both origins (the host's uploads and the
 * ones brought from Jira), with their Jira id, whether the bytes are here (an attachment over the
 * mapping's cap is listed with its note), and deleted ones flagged rather than hidden.
 */
import type { Kysely, Selectable } from 'kysely';
import { AppError } from '../core/errors.js';
import type { AttachmentLinksTable, Database } from '../store/schema.js';
import type { AttachmentStore } from './attachment-store.js';
import { UPLOADING_MARKER } from './inbound-attachments.js';

export interface AttachmentView {
  id: string;
  origin: 'host' | 'jira';
  filename: string;
  size: number | null;
  mime_type: string | null;
  sha256: string | null;
  /** The bytes are stored here and can be downloaded. */
  downloaded: boolean;
  /** Why not (e.g. over the mapping's size cap). */
  note: string | null;
  deleted: boolean;
  host_attachment_id: string | null;
  /** Null until the host's upload reached Jira. */
  jira_attachment_id: string | null;
  created_at: string;
  updated_at: string;
}

function view(r: Selectable<AttachmentLinksTable>): AttachmentView {
  return {
    id: r.id,
    origin: r.origin === 'jira' ? 'jira' : 'host',
    filename: r.filename,
    size: r.size === null ? null : Number(r.size),
    mime_type: r.mime_type ?? null,
    sha256: r.sha256,
    downloaded: r.sha256 !== null,
    note: r.note ?? null,
    deleted: r.deleted === 1,
    host_attachment_id: r.host_attachment_id,
    jira_attachment_id: r.jira_attachment_id === UPLOADING_MARKER ? null : r.jira_attachment_id,
    created_at: new Date(Number(r.created_at)).toISOString(),
    updated_at: new Date(Number(r.updated_at)).toISOString(),
  };
}

/** Every attachment of a record, oldest first. */
export async function listAttachmentViews(db: Kysely<Database>, recordId: string): Promise<AttachmentView[]> {
  const rows = await db
    .selectFrom('attachment_links')
    .selectAll()
    .where('record_id', '=', recordId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(view);
}

/** One attachment's bytes; 404 when the record has no such attachment or its bytes are not here. */
export async function readAttachmentContent(
  db: Kysely<Database>,
  store: AttachmentStore,
  recordId: string,
  attachmentId: string,
): Promise<{ attachment: AttachmentView; bytes: Buffer }> {
  const row = await db
    .selectFrom('attachment_links')
    .selectAll()
    .where('record_id', '=', recordId)
    .where('id', '=', attachmentId)
    .executeTakeFirst();
  if (!row) throw new AppError('NOT_FOUND', `The record has no attachment ${attachmentId}`);
  if (row.sha256 === null) {
    throw new AppError(
      'NOT_FOUND',
      `Attachment ${attachmentId} (${row.filename}) has no content here: ${row.note ?? 'it was not downloaded'}`,
      { details: { note: row.note ?? null, jira_attachment_id: row.jira_attachment_id } },
    );
  }
  return { attachment: view(row), bytes: await store.get(row.sha256) };
}
