/**
 * Outbound sync (host record → Jira issue), as a queue job handler keyed by the record. This file
 * runs a sync's steps in order and ends it (finish / onError); each step's part is its own file —
 * ./outbound-create.ts, ./outbound-fields.ts, ./outbound-status.ts (with ./outbound-rework.ts),
 * ./outbound-comments.ts, ./outbound-attachments.ts — a factory over the context built once here
 * (./outbound-context.ts); the sync log, feed and bases are written through ./sync-writes.ts.
 *
 * State it keeps, which the inbound engine shares:
 *  - links: one row per record; `state` 'creating' (token committed, issue not yet known) or
 *    'linked' (issue_id is the link; issue_key is for display and follows moves); the mapping
 *    snapshot the record was linked with (applies until a manual re-sync).
 *  - field_bases (value = JSON of the normalised value both sides agree on):
 *      summary, description (normalised Markdown), priority (Jira priority name),
 *      labels (sorted, our labels only: the creation-token label `jb-…` is never in it),
 *      assignee (email or null), custom:<host name> (normalised host value),
 *      status (Jira status name as last agreed), host:status (host status last pushed),
 *      target:status (the Jira status it maps to), rework ([{ key, id, version }]).
 *  - attachment_links (origin 'host'): host uploads, and the full texts of fields and comments
 *    cut to fit Jira's limit (host_attachment_id `jira-bridge:overflow:<sha256>:<file>`, one row
 *    per distinct text); jira_attachment_id 'jira-bridge:uploading' while an upload is in flight.
 *  - comment_links: host comments (origin 'host'); jira_comment_id set right after the post;
 *    base_body = the body Jira has ('jira-bridge:posting' while a post is in flight).
 *  - sync_log (direction 'outbound', action, fields, jira_calls) and change_feed events
 *    record.linked / record.created / record.updated / record.sync_failed (once per failure episode)
 *    / record.sync_recovered (a reported episode ended).
 */
import { AppError, isAppError, putBackDelayMs } from '../core/errors.js';
import type { Job, JobHandler } from '../queue/types.js';
import { fromJson, toJson } from '../store/json.js';
import { desiredFields, desiredStatus } from './desired.js';
import { createSyncWrites } from './sync-writes.js';
import type { LinkRow, OutboundContext, OutboundDeps, Preread, RecordRow, SyncOutcome } from './outbound-context.js';
import { createOutboundAttachments } from './outbound-attachments.js';
import { createOutboundComments } from './outbound-comments.js';
import { createOutboundCreate } from './outbound-create.js';
import { createOutboundFields, type PendingEdit } from './outbound-fields.js';
import { createOutboundRework } from './outbound-rework.js';
import { createOutboundStatus } from './outbound-status.js';
import { recordSyncFailure, recordSyncSuccess } from './failure-episode.js';
import { openJournal, pruneJournal } from './journal.js';
import { hasOpenHops } from '../core/journal.js';
import { canonicalJson, type OutboundPayload } from './record-data.js';
import { enqueueInbound } from './inbound.js';
import { statusWorkNeeded } from '../core/plan-outbound.js';
import type { WorkflowGraph } from '../core/workflow.js';
import type { JiraIssueState, JiraPort, OutboundMapping, RecordData } from './types.js';

/** Connection-level failures: the connection pauses (the job waits) instead of failing records. */
const PAUSING = new Set(['JIRA_UNAUTHORIZED', 'JIRA_FORBIDDEN']);
/** How long a paused connection's jobs wait before probing again. */
export const PAUSE_RETRY_MS = 30_000;

/** comment_links.base_body while a comment is being posted (a retry then looks before posting). */
export { POSTING } from './outbound-comments.js';
/** attachment_links.jira_attachment_id while an upload is in flight. */
export { UPLOADING } from './outbound-attachments.js';
/** field_bases: the platform URL last linked from the issue. */
export const HOST_LINK_BASE = 'host_link';

/** A host-link template with the record's {scope}, {host_id} and {kind} (URL-encoded in URLs). */
export function fillHostLink(
  template: string,
  r: { scope: string; host_id: string; kind: string },
  url: boolean,
): string {
  const v = (s: string): string => (url ? encodeURIComponent(s) : s);
  return template.replace(/\{(scope|host_id|kind)\}/g, (_, k: 'scope' | 'host_id' | 'kind') => v(r[k]));
}

export type { OutboundDeps } from './outbound-context.js';

/** Counts every Jira call made through the port (the currency of this engine). */
function counting(port: JiraPort): { port: JiraPort; calls: () => number } {
  let n = 0;
  const free = new Set(['browseUrl', 'toBody', 'flavour']);
  const proxy = new Proxy(port, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function' || free.has(String(prop))) return v;
      return (...args: unknown[]) => {
        n++;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { port: proxy, calls: () => n };
}

/**
 * The outbound job handler: brings the linked Jira issue up to date with the record, creating it
 * (exactly once) when there is none.
 */
export function createOutboundHandler(deps: OutboundDeps): {
  handler: JobHandler;
  syncRecord: (recordId: string, opts?: { resync?: boolean; jobId?: number | null }) => Promise<void>;
} {
  const { store, mappings } = deps;
  const now = deps.now ?? Date.now;
  const log = deps.logger;
  const ctx: OutboundContext = {
    deps,
    store,
    now,
    // The sync log row, the host's feed event and the agreed bases: written one way.
    writes: createSyncWrites({ dialect: store.dialect, direction: 'outbound', now }),
    // What has been learnt of each workflow (connection/project/issue type): shortest paths, fewer calls.
    workflows: deps.workflows ?? new Map<string, WorkflowGraph>(),
  };
  const { writes } = ctx;
  // The executor's parts, one concern each, sharing the context.
  const attachments = createOutboundAttachments(ctx);
  const comments = createOutboundComments(ctx, attachments);
  const status = createOutboundStatus(ctx, createOutboundRework(ctx));
  const creation = createOutboundCreate(ctx);
  const fieldWork = createOutboundFields(ctx);

  /** Marks the record synced when nothing changed it meanwhile (else a newer job is queued). */
  async function finish(
    record: RecordRow,
    calls: number,
    jobId: number | null,
    outcome: SyncOutcome,
    bases: Map<string, unknown>,
    linkUpdate?: Partial<LinkRow>,
    /** The job did its work: the bases now hold all the journal told (its rows go). */
    settled = false,
  ): Promise<void> {
    await store.transaction(async (trx) => {
      if (linkUpdate) await trx.updateTable('links').set(linkUpdate).where('record_id', '=', record.id).execute();
      await writes.writeBases(trx, record.id, bases);
      if (settled) await pruneJournal(trx, record.id);
      // Synced (at the version synced); ends a failure episode the host heard of (record.sync_recovered).
      await recordSyncSuccess(trx, store.dialect, record.id, record.version, now());
      await writes.log(trx, record.id, outcome.action, calls, jobId, {
        fields: {
          changed: outcome.fields,
          warnings: outcome.warnings,
          ...(outcome.path ? { path: outcome.path } : {}),
          ...outcome.extra,
        },
      });
      if (outcome.action !== 'noop') {
        await writes.feed(trx, record.id, `record.${outcome.action}`, {
          fields: outcome.fields,
          warnings: outcome.warnings,
        });
      }
    });
  }

  async function syncRecord(
    recordId: string,
    opts: { resync?: boolean; twoWay?: boolean; jobId?: number | null; signal?: AbortSignal } = {},
  ): Promise<void> {
    const jobId = opts.jobId ?? null;
    // A manual two-way sync: Jira's side first (the inbound job's own path, reading the issue
    // once), then this record's side with what that read saw.
    let preread: Preread | undefined;
    if (opts.twoWay && deps.reconcileInbound) {
      let unlinked = false;
      const before = await store.db.selectFrom('records').selectAll().where('id', '=', recordId).executeTakeFirst();
      if (!before || before.deleted_at !== null) return;
      let inboundCalls = 0;
      try {
        const r = await deps.reconcileInbound(recordId, jobId);
        inboundCalls = r?.calls ?? 0;
        if (r?.state) preread = { state: r.state, fields: r.fields };
        if (r && r.calls > 0) deps.onConnectionHealth?.(r.connectionId, null);
        unlinked = r?.unlinked === true;
      } catch (err) {
        const link = await store.db
          .selectFrom('links')
          .select('connection_id')
          .where('record_id', '=', recordId)
          .executeTakeFirst();
        await onError(before, err, inboundCalls, jobId, link?.connection_id);
        return;
      }
      // The issue was deleted in Jira and the mapping's on_jira_delete unlinked the record: no
      // new issue is created behind the operator's back (a re-sync of the unlinked record does).
      if (unlinked) opts = { ...opts, resync: false };
    }
    const record = await store.db.selectFrom('records').selectAll().where('id', '=', recordId).executeTakeFirst();
    if (!record || record.deleted_at !== null) return;
    const data = fromJson<RecordData>(record.data)!;
    let link = await store.db.selectFrom('links').selectAll().where('record_id', '=', recordId).executeTakeFirst();
    const current = mappings.forScope(record.scope);
    // The mapping recorded at link time applies, unless this is a manual re-sync.
    // (A link still 'creating' has no issue yet: its creation uses the current mapping.)
    let mapping: OutboundMapping | undefined =
      link?.state === 'linked' && link.mapping_snapshot && !opts.resync
        ? (fromJson<OutboundMapping>(link.mapping_snapshot) ?? undefined)
        : current;
    mapping ??= current;
    let calls = 0;
    try {
      if (!mapping) {
        throw new AppError(
          'MAPPING_NOT_FOUND',
          `No mapping covers scope "${record.scope}"; add one to the configuration`,
        );
      }
      if (link?.state === 'unlinked' && !opts.resync) {
        await finish(
          record,
          0,
          jobId,
          {
            action: 'noop',
            fields: [],
            warnings: ['the Jira issue was deleted and the record unlinked; request a re-sync to create a new issue'],
          },
          new Map(),
        );
        return;
      }
      if (link?.state === 'unlinked' && opts.resync) {
        // Re-sync of an unlinked record: start over with a fresh link (and a fresh token); what
        // the journal knew of the old issue goes with it.
        await store.transaction(async (trx) => {
          await trx.deleteFrom('links').where('record_id', '=', recordId).execute();
          await pruneJournal(trx, recordId);
        });
        link = undefined;
      }
      if (mapping.direction === 'from_jira') {
        await finish(
          record,
          0,
          jobId,
          { action: 'noop', fields: [], warnings: ['mapping direction is from_jira: nothing is pushed'] },
          new Map(),
          // A re-sync adopts the mapping even when it pushes nothing: later jobs follow it too.
          opts.resync && link?.state === 'linked'
            ? { mapping_snapshot: toJson(mapping), mapping_id: mapping.id, updated_at: now() }
            : undefined,
        );
        return;
      }
      // A disabled mapping or connection (enabled: false, or paused): the record waits, pending.
      if (
        await deps.hold?.(
          recordId,
          mapping.connectionId,
          [mapping.id, current?.id, link?.mapping_id],
          !!opts.resync,
          jobId,
        )
      )
        return;
      // A paused connection (credentials rejected) spends no calls until its next probe is due.
      const waitMs = deps.connectionGate?.(mapping.connectionId);
      if (waitMs !== undefined && waitMs !== null) {
        throw new AppError(
          'JIRA_UNAUTHORIZED',
          'The Jira connection is paused: its credentials were rejected; fix them to resume',
          {
            retryAfterMs: waitMs,
            details: { connection: mapping.connectionId, gated: true },
          },
        );
      }
      const counted = counting(deps.jira(mapping.connectionId));
      const jira = counted.port;
      try {
        const bases =
          link?.state === 'linked' ? await writes.loadBases(store.db, recordId) : new Map<string, unknown>();
        const newBases = new Map<string, unknown>();
        let outcome: SyncOutcome;
        let issueKey: string;
        let linkUpdate: Partial<LinkRow> | undefined;
        let state: JiraIssueState | null = null;
        let jiraWon = false;
        /** The field edit, when the status walk may carry it on its last transition. */
        let carry: PendingEdit | undefined;
        /** An issue adopted after a crash, with the bases it was created with: read it and push. */
        let verify = false;
        if (!link || link.state !== 'linked' || !link.issue_id) {
          const created = await creation.create(jira, record, data, mapping, link, jobId, opts.signal);
          outcome = created.outcome;
          issueKey = created.ref.key;
          link = created.link;
          for (const [k, v] of created.newBases) bases.set(k, v);
          verify = created.verify === true;
        } else {
          // Calls go by issue id: a moved issue keeps its id (its key follows below).
          issueKey = link.issue_id;
          outcome = { action: 'updated', fields: [], warnings: [] };
          if (opts.resync && current) {
            mapping = current;
            linkUpdate = { mapping_snapshot: toJson(current), mapping_id: current.id, updated_at: now() };
          }
        }
        // What an earlier attempt journaled and may have written before it died (store read only).
        const journal = await openJournal(store.db, recordId);
        if (verify || outcome.action === 'updated') {
          const statusWork =
            verify ||
            opts.resync === true ||
            hasOpenHops(journal) ||
            statusWorkNeeded(desiredStatus(data, mapping), data.status, bases, false, false);
          const u = await fieldWork.update(
            jira,
            issueKey,
            record,
            data,
            mapping,
            bases,
            newBases,
            outcome,
            statusWork,
            opts.resync === true,
            journal,
            preread,
          );
          state = u.state;
          jiraWon = u.jiraWon;
          // Agreed values (no push): record them before the status work, which may fail on its own.
          await writes.writeBases(store.db, recordId, newBases);
          if (u.edit) {
            const edit = fieldWork.pendingEdit(jira, issueKey, recordId, jobId, u.edit, newBases, outcome);
            // With status work the walk may carry the edit (one call fewer); else it goes now.
            if (statusWork && (u.edit.body.fields || u.edit.body.update)) {
              carry = edit;
              await edit.begin();
            } else await edit.sendAlone();
          }
        }
        try {
          jiraWon =
            (await status.applyStatus(jira, issueKey, data, mapping, bases, newBases, outcome, {
              force: opts.resync === true || outcome.action !== 'updated',
              resync: opts.resync === true,
              recordVersion: record.version,
              recordId,
              knownKey: link?.issue_key ?? null,
              state,
              hostStatusAt: (fromJson<Record<string, number>>(record.field_times) ?? {}).status ?? record.updated_at,
              carry,
              journal,
              jobId,
            })) || jiraWon;
        } catch (err) {
          // The status work failed before the edit went: it still goes (a failure of its own is
          // retried with the job; the status work's error is the one reported).
          if (carry && !carry.settled()) await carry.sendAlone().catch(() => undefined);
          throw err;
        }
        // No walk took the edit (no move needed, Jira's status won, a rework task instead…).
        if (carry && !carry.settled()) await carry.sendAlone();
        // Jira's newer changes won a conflict: its inbound job brings them to the record.
        if (jiraWon && link?.issue_id) {
          const issueId = link.issue_id;
          await store.transaction((trx) =>
            enqueueInbound(deps.queue, trx, { connectionId: mapping!.connectionId, issueId, source: 'manual' }),
          );
        }
        // The issue moved (same id, new key): the link follows.
        const movedTo = outcome.extra?.moved_from !== undefined ? (outcome.extra.issue_key as string) : undefined;
        if (movedTo && link)
          linkUpdate = {
            ...linkUpdate,
            issue_key: movedTo,
            project_key: movedTo.split('-')[0] ?? null,
            updated_at: now(),
          };
        // The way back to the record on the platform (once; again when the URL changes).
        if (mapping.hostLink) {
          const url = fillHostLink(mapping.hostLink.url, record, true);
          if (bases.get(HOST_LINK_BASE) !== url) {
            const title = fillHostLink(mapping.hostLink.title ?? '{scope} {host_id}', record, false).slice(0, 255);
            await jira.linkOut(issueKey, `jira-bridge:record:${recordId}`, url, title);
            newBases.set(HOST_LINK_BASE, url);
            outcome.fields.push('host_link');
          }
        }
        // Texts cut to fit: the full text of each one Jira holds now is attached (once per text,
        // whichever path put it there: create, update, backfill, or an attempt that crashed).
        const agreed = new Map([...bases, ...newBases]);
        await attachments.recordOverflow(
          recordId,
          [...desiredFields(data, mapping, record)]
            .filter(([k, f]) => f.overflow && agreed.has(k) && canonicalJson(agreed.get(k)) === canonicalJson(f.value))
            .map(([, f]) => f.overflow!),
        );
        const posted = await comments.pushComments(jira, record, issueKey, mapping, outcome.warnings);
        const uploaded = await attachments.pushAttachments(jira, record, issueKey);
        if (posted) outcome.extra = { ...outcome.extra, comments_posted: posted };
        if (uploaded) outcome.extra = { ...outcome.extra, attachments_uploaded: uploaded };
        if (outcome.action === 'updated' && !outcome.fields.length && !posted && !uploaded) outcome.action = 'noop';
        calls = counted.calls();
        await finish(record, calls, jobId, outcome, newBases, linkUpdate, true);
        // Only an authenticated answer from Jira tells the credentials work: a job that called
        // nothing says nothing (else a paused connection flaps healthy on every such job).
        if (calls > 0) deps.onConnectionHealth?.(mapping.connectionId, null);
      } finally {
        calls = counted.calls();
      }
    } catch (err) {
      await onError(record, err, calls, jobId, mapping?.connectionId);
    }
  }

  async function onError(
    record: RecordRow,
    err: unknown,
    calls: number,
    jobId: number | null,
    connectionId: string | undefined,
  ): Promise<void> {
    // Put back unsent for want of Jira budget (the worker requeues the job): no failure of the record.
    if (putBackDelayMs(err) !== null) throw err;
    const e = isAppError(err)
      ? err
      : new AppError('INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
    const errorJson = { code: e.code, message: e.message, ...(e.details !== undefined ? { details: e.details } : {}) };
    if (PAUSING.has(e.code)) {
      // Credentials: pause this connection's work (the job waits), mark it unhealthy, lose nothing.
      const gated = (e.details as { gated?: boolean } | undefined)?.gated === true;
      if (connectionId && !gated) deps.onConnectionHealth?.(connectionId, e.message);
      await store.transaction(async (trx) => {
        await recordSyncFailure(trx, store.dialect, record.id, errorJson, 'paused', now());
        await writes.log(trx, record.id, 'paused', calls, jobId, { error: errorJson });
      });
      throw new AppError(e.code, e.message, {
        retryable: true,
        retryAfterMs: e.retryAfterMs ?? deps.pauseRetryMs ?? PAUSE_RETRY_MS,
        cause: e,
      });
    }
    if (e.retryable) {
      await store.transaction(async (trx) => {
        await recordSyncFailure(trx, store.dialect, record.id, errorJson, 'retry', now());
        await writes.log(trx, record.id, 'retry', calls, jobId, { error: errorJson });
      });
      throw e;
    }
    log?.warn({ recordId: record.id, code: e.code, message: e.message }, 'outbound sync failed');
    await store.transaction(async (trx) => {
      // record.sync_failed once per failure episode and cause (./failure-episode.ts).
      await recordSyncFailure(trx, store.dialect, record.id, errorJson, 'failed', now(), 'failed');
      await writes.log(trx, record.id, 'failed', calls, jobId, { error: errorJson });
    });
  }

  const handler: JobHandler = async (job: Job, ctx) => {
    const p = job.payload as OutboundPayload;
    await syncRecord(p.recordId, {
      resync: p.resync === true,
      twoWay: p.twoWay === true,
      jobId: job.id,
      signal: ctx.signal,
    });
  };
  return { handler, syncRecord };
}
