import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { AppError } from '../core/errors.js';
import type { Queue } from '../queue/queue.js';
import type { EnqueueResult } from '../queue/types.js';
import { newId } from '../store/ids.js';
import { fromJson, toJson } from '../store/json.js';
import type { Database, SyncState } from '../store/schema.js';
import type { Store } from '../store/store.js';
import type { AttachmentStore, StagedBlob } from './attachment-store.js';
import { listAttachmentViews, readAttachmentContent, type AttachmentView } from './attachment-views.js';
import {
  OUTBOUND_JOB,
  canonicalJson,
  nextFieldTimes,
  recordJobKey,
  recordView,
  toRecordData,
  type OutboundPayload,
  type RecordView,
} from './record-data.js';
import type { MappingSource, RecordData, RecordInput } from './types.js';

export interface RecordServiceDeps {
  store: Store;
  queue: Queue;
  mappings: MappingSource;
  attachments: AttachmentStore;
  now?: () => number;
}

export interface CommentInput {
  author: string;
  body: string;
  createdAt?: number | undefined;
  hostCommentId: string;
  /** An internal note (Service Management: hidden from the customer). */
  internal?: boolean | undefined;
}

export interface AttachmentInput {
  filename: string;
  bytes: Buffer;
  hostAttachmentId?: string | undefined;
}

/** An upload already streamed to the attachment store's staging area (see AttachmentStore.stage). */
export interface StagedAttachmentInput {
  filename: string;
  blob: StagedBlob;
  hostAttachmentId?: string | undefined;
}

export interface CommentView {
  id: string;
  origin: 'host' | 'jira';
  author: string | null;
  /** Markdown. */
  body: string;
  /** Service Management: not visible to the customer. */
  internal: boolean;
  /** Deleted on the side it came from (kept as a tombstone). */
  deleted: boolean;
  host_comment_id: string | null;
  jira_comment_id: string | null;
  /** A comment made on one of the record's rework tasks (issue 19): that task's key; null otherwise. */
  rework_task: string | null;
  created_at: string;
  updated_at: string;
}

export type RecordRef = { scope: string; hostId: string } | { jiraIssueKey: string };

export interface ListRecordsFilter {
  state?: SyncState | undefined;
  scope?: string | undefined;
  kind?: string | undefined;
  limit?: number | undefined;
  /** Page: records with an id after this one (ids sort by creation). */
  after?: string | undefined;
}

export interface SyncLogEntry {
  id: string;
  direction: string;
  action: string;
  fields: unknown;
  jira_calls: number;
  job_id: number | null;
  error: unknown;
  at: string;
}

/** Attempts an outbound job may use: a paused connection keeps its jobs waiting, not dead. */
export const OUTBOUND_MAX_ATTEMPTS = 200;

/**
 * Enqueues the outbound sync of a record inside the caller's transaction (coalesced). `twoWay`
 * (a manual sync of a linked record): the job reconciles Jira's side first (see OutboundPayload).
 */
export async function enqueueOutbound(
  queue: Queue,
  trx: Kysely<Database>,
  recordId: string,
  opts: { resync?: boolean; twoWay?: boolean } = {},
): Promise<EnqueueResult> {
  const payload: OutboundPayload = {
    recordId,
    ...(opts.resync ? { resync: true } : {}),
    ...(opts.twoWay ? { twoWay: true } : {}),
  };
  return queue.enqueue(trx, {
    kind: OUTBOUND_JOB,
    key: recordJobKey(recordId),
    payload,
    coalesceKey: opts.twoWay ? 'manual' : opts.resync ? 'resync' : 'sync',
    maxAttempts: OUTBOUND_MAX_ATTEMPTS,
  });
}

/**
 * The host-facing record service: validates against the mapping, stores, and enqueues the
 * outbound sync in the same transaction. It never calls Jira.
 */
export function createRecordService(deps: RecordServiceDeps) {
  const { store, queue, mappings } = deps;
  const now = deps.now ?? Date.now;

  /**
   * The attachment row (idempotent by host_attachment_id) and the record's outbound job, in one
   * transaction; `storeBytes` runs inside it, only when a new row will name the bytes. Should the
   * transaction fail after it, the blob is unreferenced and the collection removes it.
   */
  async function insertAttachment(
    scope: string,
    hostId: string,
    a: { filename: string; hostAttachmentId?: string | undefined },
    sha256: string,
    size: number,
    storeBytes: () => Promise<void>,
  ): Promise<{ id: string; created: boolean; sha256: string; size: number }> {
    const hostAttachmentId = a.hostAttachmentId ?? `sha256:${sha256}:${a.filename}`;
    const t = now();
    return store.transaction(async (trx) => {
      const recordId = await findRecordId(trx, { scope, hostId });
      const existing = await trx
        .selectFrom('attachment_links')
        .select('id')
        .where('record_id', '=', recordId)
        .where('host_attachment_id', '=', hostAttachmentId)
        .executeTakeFirst();
      if (existing) return { id: existing.id, created: false, sha256, size };
      await storeBytes();
      const id = newId(t);
      await trx
        .insertInto('attachment_links')
        .values({
          id,
          record_id: recordId,
          host_attachment_id: hostAttachmentId,
          jira_attachment_id: null,
          filename: a.filename,
          size,
          sha256,
          origin: 'host',
          deleted: 0,
          created_at: t,
          updated_at: t,
        })
        .execute();
      await enqueueOutbound(queue, trx, recordId);
      return { id, created: true, sha256, size };
    });
  }

  async function findRecordId(db: Kysely<Database>, ref: RecordRef): Promise<string> {
    if ('jiraIssueKey' in ref) {
      const link = await db
        .selectFrom('links')
        .select('record_id')
        .where('issue_key', '=', ref.jiraIssueKey)
        .executeTakeFirst();
      if (!link) throw new AppError('NOT_FOUND', `No record is linked to Jira issue ${ref.jiraIssueKey}`);
      return link.record_id;
    }
    const r = await db
      .selectFrom('records')
      .select('id')
      .where('scope', '=', ref.scope)
      .where('host_id', '=', ref.hostId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!r) throw new AppError('NOT_FOUND', `No record ${ref.hostId} in scope ${ref.scope}`);
    return r.id;
  }

  async function view(db: Kysely<Database>, recordId: string): Promise<RecordView> {
    const r = await db.selectFrom('records').selectAll().where('id', '=', recordId).executeTakeFirstOrThrow();
    const link = await db.selectFrom('links').selectAll().where('record_id', '=', recordId).executeTakeFirst();
    const last = await db
      .selectFrom('sync_log')
      .select('fields')
      .where('record_id', '=', recordId)
      .where('direction', '=', 'outbound')
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    const warnings = fromJson<{ warnings?: string[] }>(last?.fields)?.warnings ?? [];
    const standing = (await standingWarnings(db, [recordId])).get(recordId) ?? [];
    return recordView(r, link, mappings, [...(Array.isArray(warnings) ? warnings : []), ...standing]);
  }

  /**
   * Warnings a record carries until their cause is gone (field_bases rows `warning:<what>`, e.g.
   * an unmatched Jira assignee), beside those of its last outbound sync.
   */
  async function standingWarnings(db: Kysely<Database>, recordIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (!recordIds.length) return out;
    const rows = await db
      .selectFrom('field_bases')
      .select(['record_id', 'value'])
      .where('record_id', 'in', recordIds)
      .where('field', 'like', 'warning:%')
      .orderBy('field')
      .execute();
    for (const r of rows) {
      const w = fromJson<unknown>(r.value);
      if (typeof w === 'string') out.set(r.record_id, [...(out.get(r.record_id) ?? []), w]);
    }
    return out;
  }

  function validate(input: RecordInput): void {
    const mapping = mappings.forScope(input.scope);
    if (!mapping) {
      const scopes = mappings.all().map((m) => m.scope);
      throw new AppError(
        'MAPPING_NOT_FOUND',
        `No mapping covers scope "${input.scope}"; configured scopes: ${scopes.length ? scopes.join(', ') : '(none)'}`,
        { details: { scope: input.scope, scopes } },
      );
    }
    const kinds = Object.keys(mapping.kinds);
    const target = mapping.kinds[input.kind];
    if (!target) {
      throw new AppError(
        'VALIDATION_FAILED',
        `body.kind: "${input.kind}" is not mapped for scope "${input.scope}"; valid kinds: ${kinds.join(', ')}`,
        { details: { issues: [{ path: 'body.kind', message: `must be one of: ${kinds.join(', ')}` }] } },
      );
    }
    if (target.subtask && !input.parent_host_id) {
      throw new AppError(
        'VALIDATION_FAILED',
        `body.parent_host_id: kind "${input.kind}" is created as a sub-task in Jira and needs its parent record's host id`,
        { details: { issues: [{ path: 'body.parent_host_id', message: 'required for this kind' }] } },
      );
    }
    if (input.parent_host_id !== undefined && input.parent_host_id !== null && input.parent_host_id === input.hostId) {
      throw new AppError('VALIDATION_FAILED', 'body.parent_host_id: a record cannot be its own parent', {
        details: { issues: [{ path: 'body.parent_host_id', message: 'must differ from the record id' }] },
      });
    }
  }

  return {
    /**
     * Idempotent by (scope, host id). A change bumps the version, marks the record pending and
     * enqueues its outbound sync in the same transaction; an identical upsert changes nothing.
     */
    async upsertRecord(input: RecordInput): Promise<{ record: RecordView; changed: boolean; created: boolean }> {
      validate(input);
      const data = toRecordData(input);
      const dataText = toJson(data);
      const t = now();
      const out = await store.transaction(async (trx) => {
        // Insert-or-nothing first: concurrent upserts of a new record resolve to one row.
        const inserted = await trx
          .insertInto('records')
          .values({
            id: newId(t),
            host_id: input.hostId,
            scope: input.scope,
            kind: input.kind,
            data: dataText,
            field_times: toJson(nextFieldTimes(null, null, data, t)),
            version: 1,
            sync_state: 'pending',
            last_error: null,
            deleted_at: null,
            created_at: t,
            updated_at: t,
          })
          .onConflict((oc) => oc.columns(['scope', 'host_id']).doNothing())
          .returning('id')
          .executeTakeFirst();
        if (inserted) {
          await enqueueOutbound(queue, trx, inserted.id);
          return { id: inserted.id, changed: true, created: true };
        }
        let q = trx
          .selectFrom('records')
          .selectAll()
          .where('scope', '=', input.scope)
          .where('host_id', '=', input.hostId);
        if (store.dialect === 'postgres') q = q.forUpdate();
        const existing = await q.executeTakeFirstOrThrow();
        const same =
          existing.deleted_at === null &&
          existing.kind === input.kind &&
          canonicalJson(fromJson(existing.data)) === canonicalJson(data);
        if (same) return { id: existing.id, changed: false, created: false };
        await trx
          .updateTable('records')
          .set({
            kind: input.kind,
            data: dataText,
            field_times: toJson(
              nextFieldTimes(
                fromJson<Record<string, number>>(existing.field_times),
                fromJson<RecordData>(existing.data),
                data,
                t,
              ),
            ),
            version: existing.version + 1,
            sync_state: 'pending',
            deleted_at: null,
            updated_at: t,
          })
          .where('id', '=', existing.id)
          .execute();
        await enqueueOutbound(queue, trx, existing.id);
        return { id: existing.id, changed: true, created: false };
      });
      return { record: await view(store.db, out.id), changed: out.changed, created: out.created };
    },

    async getRecord(scope: string, hostId: string): Promise<RecordView> {
      const id = await findRecordId(store.db, { scope, hostId });
      return view(store.db, id);
    },

    async getRecordById(id: string): Promise<RecordView | undefined> {
      const r = await store.db.selectFrom('records').select('id').where('id', '=', id).executeTakeFirst();
      return r ? view(store.db, r.id) : undefined;
    },

    async listRecords(filter: ListRecordsFilter = {}): Promise<{ records: RecordView[]; next_cursor: string | null }> {
      const limit = Math.min(Math.max(filter.limit ?? 50, 1), 500);
      // Three queries per page, whatever its size: records (+ last outbound log entry), links.
      let q = store.db
        .selectFrom('records')
        .selectAll('records')
        .select((eb) =>
          eb
            .selectFrom('sync_log as s')
            .select('s.fields')
            .whereRef('s.record_id', '=', 'records.id')
            .where('s.direction', '=', 'outbound')
            .orderBy('s.at', 'desc')
            .orderBy('s.id', 'desc')
            .limit(1)
            .as('last_fields'),
        )
        .where('deleted_at', 'is', null);
      if (filter.state) q = q.where('sync_state', '=', filter.state);
      if (filter.scope) q = q.where('scope', '=', filter.scope);
      if (filter.kind) q = q.where('kind', '=', filter.kind);
      if (filter.after) q = q.where('id', '>', filter.after);
      const rows = await q.orderBy('id').limit(limit).execute();
      const links = rows.length
        ? await store.db
            .selectFrom('links')
            .selectAll()
            .where(
              'record_id',
              'in',
              rows.map((r) => r.id),
            )
            .execute()
        : [];
      const linkOf = new Map(links.map((l) => [l.record_id, l]));
      const standing = await standingWarnings(
        store.db,
        rows.map((r) => r.id),
      );
      const records = rows.map(({ last_fields, ...r }) => {
        const w = fromJson<{ warnings?: unknown }>(last_fields ?? null)?.warnings;
        return recordView(r, linkOf.get(r.id), mappings, [
          ...(Array.isArray(w) ? (w as string[]) : []),
          ...(standing.get(r.id) ?? []),
        ]);
      });
      return { records, next_cursor: rows.length === limit ? rows[rows.length - 1]!.id : null };
    },

    /** How many records there are by sync state (deleted ones left out), whatever a list shows. */
    async countRecords(
      filter: Pick<ListRecordsFilter, 'scope' | 'kind'> = {},
    ): Promise<{ total: number; by_state: Record<SyncState, number> }> {
      let q = store.db
        .selectFrom('records')
        .select((eb) => ['sync_state', eb.fn.countAll<number | string>().as('n')])
        .where('deleted_at', 'is', null);
      if (filter.scope) q = q.where('scope', '=', filter.scope);
      if (filter.kind) q = q.where('kind', '=', filter.kind);
      const by_state: Record<SyncState, number> = { pending: 0, synced: 0, failed: 0 };
      for (const r of await q.groupBy('sync_state').execute()) by_state[r.sync_state] = Number(r.n);
      return { total: by_state.pending + by_state.synced + by_state.failed, by_state };
    },

    /** Idempotent by host comment id: a repeated comment is not stored or posted twice. */
    async addComment(scope: string, hostId: string, c: CommentInput): Promise<{ id: string; created: boolean }> {
      const t = now();
      return store.transaction(async (trx) => {
        const recordId = await findRecordId(trx, { scope, hostId });
        const existing = await trx
          .selectFrom('comment_links')
          .select('id')
          .where('record_id', '=', recordId)
          .where('host_comment_id', '=', c.hostCommentId)
          .executeTakeFirst();
        if (existing) {
          // Same host comment again: an edit when the body differs (pushed to Jira), else nothing.
          const current = await trx
            .selectFrom('record_comments')
            .select('body')
            .where('id', '=', existing.id)
            .executeTakeFirst();
          if (current && current.body !== c.body) {
            await trx
              .updateTable('record_comments')
              .set({ body: c.body, author: c.author, updated_at: t })
              .where('id', '=', existing.id)
              .execute();
            await enqueueOutbound(queue, trx, recordId);
          }
          return { id: existing.id, created: false };
        }
        // The comment and its link row share one id: the link is how the engine finds it.
        const id = newId(t);
        const createdAt = c.createdAt ?? t;
        await trx
          .insertInto('record_comments')
          .values({
            id,
            record_id: recordId,
            author: c.author,
            body: c.body,
            origin: 'host',
            deleted: 0,
            internal: c.internal ? 1 : 0,
            created_at: createdAt,
            updated_at: t,
          })
          .execute();
        await trx
          .insertInto('comment_links')
          .values({
            id,
            record_id: recordId,
            host_comment_id: c.hostCommentId,
            jira_comment_id: null,
            origin: 'host',
            base_body: null,
            deleted: 0,
            created_at: createdAt,
            updated_at: t,
          })
          .execute();
        await enqueueOutbound(queue, trx, recordId);
        return { id, created: true };
      });
    },

    /** Every comment of a record, both origins, oldest first (deleted ones flagged, not hidden). */
    async listComments(scope: string, hostId: string): Promise<CommentView[]> {
      const recordId = await findRecordId(store.db, { scope, hostId });
      const rows = await store.db
        .selectFrom('record_comments as rc')
        .leftJoin('comment_links as cl', 'cl.id', 'rc.id')
        .leftJoin('rework_links as rw', (j) =>
          j.onRef('rw.issue_id', '=', 'cl.jira_issue_id').onRef('rw.record_id', '=', 'rc.record_id'),
        )
        .select([
          'rw.issue_key as rework_task',
          'rc.id',
          'rc.author',
          'rc.body',
          'rc.origin',
          'rc.internal',
          'rc.deleted',
          'rc.created_at',
          'rc.updated_at',
          'cl.host_comment_id',
          'cl.jira_comment_id',
        ])
        .where('rc.record_id', '=', recordId)
        .orderBy('rc.created_at')
        .orderBy('rc.id')
        .execute();
      return rows.map((r) => ({
        id: r.id,
        origin: r.origin as 'host' | 'jira',
        author: r.author,
        body: r.body,
        internal: r.internal === 1,
        deleted: r.deleted === 1,
        host_comment_id: r.host_comment_id ?? null,
        jira_comment_id: r.jira_comment_id ?? null,
        rework_task: r.rework_task ?? null,
        created_at: new Date(r.created_at).toISOString(),
        updated_at: new Date(r.updated_at).toISOString(),
      }));
    },

    /**
     * Keeps the bytes in the attachment store (content-addressed files under the data
     * directory) and the metadata in attachment_links; the engine uploads them to the issue.
     */
    async addAttachment(
      scope: string,
      hostId: string,
      a: AttachmentInput,
    ): Promise<{ id: string; created: boolean; sha256: string; size: number }> {
      const sha256 = createHash('sha256').update(a.bytes).digest('hex');
      // The record first: bytes for a record that does not exist are never written.
      await findRecordId(store.db, { scope, hostId });
      return insertAttachment(scope, hostId, a, sha256, a.bytes.length, () => deps.attachments.put(sha256, a.bytes));
    },

    /**
     * The same for an upload streamed to the store's staging area: its bytes move under their
     * hash only when a row will name them; otherwise (an existing host_attachment_id, a record
     * gone meanwhile) the staged file is discarded.
     */
    async addStagedAttachment(
      scope: string,
      hostId: string,
      a: StagedAttachmentInput,
    ): Promise<{ id: string; created: boolean; sha256: string; size: number }> {
      try {
        return await insertAttachment(scope, hostId, a, a.blob.sha256, a.blob.size, () => a.blob.commit());
      } finally {
        await a.blob.discard(); // no-op once committed
      }
    },

    /** Streams an upload to the attachment store's staging area (see addStagedAttachment). */
    stageUpload(source: Readable, maxBytes: number): Promise<StagedBlob> {
      return deps.attachments.stage(source, { maxBytes });
    },

    /** Throws NOT_FOUND unless the record exists (an upload checks this before reading a byte). */
    async requireRecord(scope: string, hostId: string): Promise<void> {
      await findRecordId(store.db, { scope, hostId });
    },

    /** The record's attachments, both origins, oldest first (see ./attachment-views.ts). */
    async listAttachments(scope: string, hostId: string): Promise<AttachmentView[]> {
      return listAttachmentViews(store.db, await findRecordId(store.db, { scope, hostId }));
    },

    /** One attachment's bytes (404 when it has none here, e.g. over the size cap). */
    async readAttachment(
      scope: string,
      hostId: string,
      attachmentId: string,
    ): Promise<{ attachment: AttachmentView; bytes: Buffer }> {
      const recordId = await findRecordId(store.db, { scope, hostId });
      return readAttachmentContent(store.db, deps.attachments, recordId, attachmentId);
    },

    /**
     * Manual sync: re-syncs the record now, adopting the current mapping. A linked record is
     * synced both ways in one job (Jira's side first, then the record's); one without an issue
     * (not linked yet, or unlinked) gets its outbound sync, which creates the issue. `check` sees
     * the record's scope before anything is queued (a host token's scopes).
     */
    async requestSync(
      ref: RecordRef | { recordId: string },
      check?: (scope: string) => void,
    ): Promise<{ record: RecordView; jobId: number; twoWay: boolean }> {
      const out = await store.transaction(async (trx) => {
        const recordId = 'recordId' in ref ? ref.recordId : await findRecordId(trx, ref);
        const row = await trx
          .selectFrom('records as r')
          .leftJoin('links as l', 'l.record_id', 'r.id')
          .select(['r.scope', 'l.state', 'l.issue_id'])
          .where('r.id', '=', recordId)
          .executeTakeFirstOrThrow();
        check?.(row.scope);
        await trx
          .updateTable('records')
          .set({ sync_state: 'pending', updated_at: now() })
          .where('id', '=', recordId)
          .execute();
        const twoWay = row.state === 'linked' && row.issue_id !== null;
        const job = await enqueueOutbound(queue, trx, recordId, { resync: true, twoWay });
        return { recordId, jobId: job.id, twoWay };
      });
      return { record: await view(store.db, out.recordId), jobId: out.jobId, twoWay: out.twoWay };
    },

    /** The record linked to a Jira issue key (of one connection when given), if any. */
    async recordIdForIssueKey(key: string, connectionId?: string): Promise<string | undefined> {
      let q = store.db.selectFrom('links').select('record_id').where('issue_key', '=', key);
      if (connectionId !== undefined) q = q.where('connection_id', '=', connectionId);
      return (await q.executeTakeFirst())?.record_id;
    },

    /** The record's timeline: every sync action, oldest first. */
    async getLog(scope: string, hostId: string): Promise<SyncLogEntry[]> {
      const recordId = await findRecordId(store.db, { scope, hostId });
      const rows = await store.db
        .selectFrom('sync_log')
        .selectAll()
        .where('record_id', '=', recordId)
        .orderBy('at')
        .orderBy('id')
        .execute();
      return rows.map((r) => ({
        id: r.id,
        direction: r.direction,
        action: r.action,
        fields: fromJson(r.fields),
        jira_calls: r.jira_calls,
        job_id: r.job_id === null ? null : Number(r.job_id),
        error: fromJson(r.error),
        at: new Date(Number(r.at)).toISOString(),
      }));
    },
  };
}

export type RecordService = ReturnType<typeof createRecordService>;
