/**
 * Inbound sync (Jira issue → host record), as a queue job handler.
 *
 * A job names an issue (connection + issue id); it never trusts a delivery's payload for values.
 * It reads the issue's current state once, then the record, its bases and the journal, and asks
 * the pure planner (src/core/plan-inbound.ts, fed by ./plan-inbound-input.ts) what changes: every
 * mapped field goes through the three-way rule (src/core/merge.ts) against the bases the outbound
 * engine keeps. This file executes the plan (store writes in one transaction). So:
 *  - an echo of our own write compares equal to the base and changes nothing (deliveries whose
 *    actor is our own account are recognised first and cost no call at all);
 *  - duplicated, late and reordered deliveries all lead to the same read of the current state;
 *  - a burst of deliveries for one issue coalesces into one job and one read.
 * Jobs are keyed like the outbound jobs of the linked record (`record:<id>`), so the two
 * directions of one link never run at the same time; an issue without a link uses
 * `issue:<connection>:<issue id>` until it has one (./inbound-job.ts).
 *
 * This file holds the handler, the run of an issue (syncIssue) and the run of a linked issue
 * (applyLinked). Its parts, one concern each, share one context built once per handler
 * (./inbound-context.ts): comments (./inbound-comments.ts), issues no record is linked to and
 * their adoption (./inbound-unlinked.ts), rework tasks (./inbound-rework.ts), the inbound half of
 * a manual two-way sync (./inbound-reconcile.ts), attachments (./inbound-attachment-io.ts).
 *
 * What it writes: the record's data (version + 1; `updated_at` stays the host's last change, the
 * conflict clock), the bases, comments (record_comments + comment_links, origin 'jira'), the
 * link (key after a move, `jira_updated`, state after a delete), the sync log (direction
 * 'inbound', with conflicts and warnings), the change feed (origin 'jira') and each delivery's
 * verdict in webhook_deliveries.
 */
import { AppError, isAppError } from '../core/errors.js';
import { inboundEvents, planInbound, planIssueDeleted } from '../core/plan-inbound.js';
import type { Job, JobHandler } from '../queue/types.js';
import { fromJson, toJson } from '../store/json.js';
import { attachmentsChanged } from './inbound-attachment-io.js';
import { applyComments, commentLinks } from './inbound-comments.js';
import {
  attachmentChanges,
  byUser,
  fieldChanges,
  inboundContext,
  newOutcome,
  type InboundDeps,
  type InboundOutcome,
  type InboundRun,
  type LinkRow,
  type SyncIssueRun,
} from './inbound-context.js';
import { enqueueInbound, type InboundPayload } from './inbound-job.js';
import { inboundSettings, samePerson } from './inbound-mapping.js';
import { inboundReconcile, type LinkedReconcile } from './inbound-reconcile.js';
import { inboundRework } from './inbound-rework.js';
import { inboundUnlinked } from './inbound-unlinked.js';
import { whoChanged } from './jira-user.js';
import { openJournal } from './journal.js';
import { inboundPlanInput, jiraChangeAuthor } from './plan-inbound-input.js';
import { jiraChangeTime } from './plan-input.js';
import { recordJobKey } from './record-data.js';
import { enqueueOutbound } from './records.js';
import type { JiraIssueState, RecordData } from './types.js';

export { enqueueInbound, INBOUND_JOB, INBOUND_MAX_ATTEMPTS, issueJobKey, type InboundPayload } from './inbound-job.js';
export type { InboundDeps, SyncIssueRun } from './inbound-context.js';
export type { LinkedReconcile } from './inbound-reconcile.js';

/** When Jira last changed the field behind a base name (changelog), else the issue's `updated`. */
export { jiraChangeTime };

export { jiraChangeAuthor };

export { kindForIssueType } from './import-scope.js';

export { samePerson };

export function createInboundHandler(deps: InboundDeps): {
  handler: JobHandler;
  syncIssue: (
    p: InboundPayload,
    jobId?: number | null,
    jobKey?: string,
    tally?: { calls: number },
    run?: SyncIssueRun,
  ) => Promise<InboundOutcome['verdict']>;
  reconcileLinked: (recordId: string, jobId: number | null) => Promise<LinkedReconcile | null>;
} {
  const ctx = inboundContext(deps);
  const { store, mappings, queue, now, log, fetchAttachments, saveAttachments } = ctx;
  const { pendingDeliveries, setVerdicts, logInbound, feed, writeBase, mappingOf } = ctx;
  const syncUnlinked = inboundUnlinked(ctx);
  const syncRework = inboundRework(ctx);

  async function applyLinked(
    r: InboundRun,
    link: LinkRow,
    state: JiraIssueState | null,
    /** The record's outbound sync runs right after, in the same job: no need to queue it. */
    outboundFollows = false,
  ): Promise<InboundOutcome> {
    const { jira, me, jobId, calls, countCall, deliveryUsers } = r;
    const outcome: InboundOutcome = newOutcome();
    const mapping = mappingOf(link);
    const record = await store.db.selectFrom('records').selectAll().where('id', '=', link.record_id).executeTakeFirst();
    if (!record || !mapping) {
      outcome.verdict = 'ignored:out_of_scope';
      return outcome;
    }
    if (mapping.direction === 'to_jira') {
      outcome.verdict = 'ignored:out_of_scope';
      outcome.warnings.push('mapping direction is to_jira: nothing flows back');
      return outcome;
    }
    const inbound = inboundSettings(mapping);
    if (state === null) {
      // Deleted in Jira (confirmed by the read, never by the delivery alone).
      await store.transaction(async (trx) => {
        const data = fromJson<RecordData>(record.data)!;
        const { resolveTo } = planIssueDeleted({
          onJiraDelete: inbound.onJiraDelete,
          closeTo: mapping.closedStatuses[0],
          status: data.status,
        });
        const resolved = resolveTo !== null;
        if (resolveTo !== null) {
          data.status = resolveTo;
          await trx
            .updateTable('records')
            .set({ data: toJson(data), version: record.version + 1 })
            .where('id', '=', record.id)
            .execute();
        }
        await trx
          .updateTable('links')
          .set({ state: 'unlinked', updated_at: now() })
          .where('record_id', '=', record.id)
          .execute();
        const by = byUser(whoChanged([], deliveryUsers, me));
        await logInbound(trx, record.id, 'unlinked', calls(), jobId, {
          fields: { issue_key: link.issue_key, reason: 'issue deleted in Jira', resolved, ...by },
        });
        await feed(trx, record.id, 'record.unlinked', {
          issue_key: link.issue_key,
          reason: 'deleted',
          resolved,
          ...by,
        });
      });
      outcome.verdict = 'applied';
      outcome.action = 'unlinked';
      return outcome;
    }
    // Reads, then the plan (src/core/plan-inbound.ts), then the store writes in one transaction.
    const data = fromJson<RecordData>(record.data)!;
    const bases = await ctx.writes.loadBases(store.db, record.id);
    const plan = planInbound(
      inboundPlanInput({
        state,
        record,
        data,
        mapping,
        bases,
        journal: await openJournal(store.db, record.id),
        flavour: jira.flavour,
        me,
        linkedKey: link.issue_key,
        commentLinks: inbound.comments ? await commentLinks(store.db, record.id, null) : null,
        hostTimes: fromJson<Record<string, number>>(record.field_times) ?? {},
      }),
    );
    outcome.fields = plan.fields;
    outcome.conflicts = plan.conflicts;
    outcome.warnings = plan.warnings;
    outcome.assigneeWarning = plan.assigneeWarning;
    for (const c of plan.conflicts)
      log?.info({ recordId: record.id, field: c.field, winner: c.winner }, 'conflict resolved');
    const { changed, moved, raised } = plan;
    const attachmentWork = await fetchAttachments(jira, record.id, mapping, state, me, countCall);
    await store.transaction(async (trx) => {
      // The record may have changed since it was read (a host upsert): only apply on top of
      // the version compared; otherwise retry, reading both sides again.
      if (changed) {
        const r = await trx
          .updateTable('records')
          .set({ data: toJson(plan.data), version: record.version + 1 })
          .where('id', '=', record.id)
          .where('version', '=', record.version)
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) === 0) {
          throw new AppError('CONFLICT', 'The record changed while Jira changes were applied; will retry', {
            retryable: true,
            retryAfterMs: 50,
          });
        }
      }
      for (const [k, v] of plan.bases) await writeBase(trx, record.id, k, v);
      if (plan.comments) await applyComments(trx, plan.comments, state, record.id, outcome, null, now());
      outcome.attachments = await saveAttachments(
        trx,
        record.id,
        attachmentWork,
        inbound.attachments?.maxBytes ?? Number.MAX_SAFE_INTEGER,
      );
      await trx
        .updateTable('links')
        .set({
          jira_updated: state.updated,
          ...(moved ? { issue_key: state.key, project_key: state.projectKey } : {}),
          updated_at: now(),
        })
        .where('record_id', '=', record.id)
        .execute();
      if (moved) outcome.extra = { ...outcome.extra, moved_from: link.issue_key, issue_key: state.key };
      const c = outcome.comments;
      const ev = inboundEvents({
        changed,
        comments: c.created + c.updated + c.deleted,
        attachments: attachmentsChanged(outcome.attachments),
        moved,
        conflicts: outcome.conflicts.length,
        warnings: outcome.warnings.length,
        raised,
      });
      outcome.verdict = ev.verdict;
      outcome.action = ev.action;
      // Who changed it: per event, the author of its newest change, else the delivery's user.
      const who = {
        fields: whoChanged(fieldChanges(state, outcome.fields, mapping), deliveryUsers, me),
        comments: whoChanged(outcome.commentAuthors, deliveryUsers, me),
        attachments: whoChanged(attachmentChanges(state, outcome.attachments), deliveryUsers, me),
        moved: whoChanged(fieldChanges(state, ['project', 'key'], mapping), deliveryUsers, me),
      };
      if (ev.verdict === 'applied') {
        const logged = { updated: who.fields, moved: who.moved, comments: who.comments, attachments: who.attachments };
        await logInbound(trx, record.id, ev.action, calls(), jobId, {
          fields: {
            changed: outcome.fields,
            conflicts: outcome.conflicts,
            warnings: outcome.warnings,
            comments: outcome.comments,
            ...(ev.events.includes('record.attachments') ? { attachments: outcome.attachments } : {}),
            issue_key: state.key,
            ...outcome.extra,
            ...byUser(ev.action in logged ? logged[ev.action as keyof typeof logged] : who.fields),
          },
        });
      } else if (ev.log) {
        await logInbound(trx, record.id, 'noop', calls(), jobId, { fields: { warnings: outcome.warnings } });
      }
      for (const e of ev.events) {
        if (e === 'record.updated')
          await feed(trx, record.id, e, {
            fields: outcome.fields,
            issue_key: state.key,
            ...(raised ? { warnings: [outcome.assigneeWarning] } : {}),
            ...byUser(who.fields),
          });
        else if (e === 'record.comments')
          await feed(trx, record.id, e, { ...outcome.comments, issue_key: state.key, ...byUser(who.comments) });
        else if (e === 'record.attachments')
          await feed(trx, record.id, e, { ...outcome.attachments, issue_key: state.key, ...byUser(who.attachments) });
        else await feed(trx, record.id, e, { from: link.issue_key, to: state.key, ...byUser(who.moved) });
      }
      // A warning raised with nothing else changed still reaches the host (the record's sync.warnings too).
      if (ev.warningOnly)
        await feed(trx, record.id, 'record.updated', {
          fields: [],
          issue_key: state.key,
          warnings: [outcome.assigneeWarning],
          ...byUser(whoChanged(fieldChanges(state, ['assignee'], mapping), deliveryUsers, me)),
        });
      // The host changed too and won (or changed alone): make sure its outbound job runs.
      if (plan.pushHost && !outboundFollows) await enqueueOutbound(queue, trx, record.id);
    });
    return outcome;
  }

  async function syncIssue(
    p: InboundPayload,
    jobId: number | null = null,
    jobKey?: string,
    /** Counts the Jira calls the run made (the handler reports health only after one). */
    tally?: { calls: number },
    run: SyncIssueRun = {},
  ): Promise<InboundOutcome['verdict']> {
    const deliveries = await pendingDeliveries(p);
    const link = await store.db
      .selectFrom('links')
      .selectAll()
      .where('connection_id', '=', p.connectionId)
      .where('issue_id', '=', p.issueId)
      .executeTakeFirst();
    if (!link) {
      const rework = await store.db
        .selectFrom('rework_links')
        .selectAll()
        .where('connection_id', '=', p.connectionId)
        .where('issue_id', '=', p.issueId)
        .executeTakeFirst();
      if (rework) return syncRework(p, rework, deliveries, jobId, jobKey, tally);
    }
    // Linked since this job was queued under the issue's key: continue under the record's key,
    // so it never runs beside that record's outbound job.
    if (link && jobKey !== undefined && jobKey !== recordJobKey(link.record_id)) {
      await store.transaction((trx) => enqueueInbound(queue, trx, p));
      return 'no_change';
    }
    // Disabled (enabled: false, or paused): nothing of Jira's reaches the record. The live
    // mapping's flag is asked, never the link's snapshot; resuming reconciles what changed.
    if (deps.disabled && link?.state !== 'unlinked') {
      const scope = link
        ? (await store.db.selectFrom('records').select('scope').where('id', '=', link.record_id).executeTakeFirst())
            ?.scope
        : undefined;
      const off = await deps.disabled(
        p.connectionId,
        link ? [link.mapping_id, scope === undefined ? undefined : mappings.forScope(scope)?.id] : [],
      );
      if (off) {
        await setVerdicts(
          store.db,
          deliveries.map((d) => d.id),
          'ignored:disabled',
          `the ${off.replace(':', ' ')} is paused; resuming it reconciles this issue`,
        );
        return 'ignored:disabled';
      }
    }
    ctx.checkGate(p.connectionId, { connection: p.connectionId, gated: true });
    const port = deps.jira(p.connectionId);
    let calls = 0;
    const countCall = (): void => {
      calls++;
      if (tally) tally.calls++;
    };
    const counted = <T>(fn: () => Promise<T>): Promise<T> => (countCall(), fn());
    const meCached = await port.whoami(); // cached after the first call per connection
    const ids = deliveries.map((d) => d.id);
    // Deliveries caused by our own writes change nothing: when every pending one is ours (and
    // this is not a sweep), no call is spent.
    const echoes = deliveries.filter((d) => samePerson(d.actor, meCached));
    /** Who asked for this run in Jira (not our own writes): who changed it, when nothing better says. */
    const deliveryUsers = deliveries.filter((d) => !echoes.includes(d)).map((d) => d.actor);
    if (p.source === 'webhook' && deliveries.length > 0 && echoes.length === deliveries.length) {
      await setVerdicts(store.db, ids, 'echo', 'caused by jira-bridge’s own write');
      return 'echo';
    }
    const r: InboundRun = { jira: port, me: meCached, jobId, calls: () => calls, countCall, deliveryUsers };
    if (!link || link.state === 'creating') return syncUnlinked(p, r, ids, run);
    if (link.state === 'unlinked') {
      await setVerdicts(store.db, ids, 'ignored:unlinked', 'the link was removed (issue deleted in Jira)');
      return 'ignored:unlinked';
    }
    const mapping = mappingOf(link);
    const customIds = mapping?.fields.map((f) => f.jira) ?? [];
    const state = await counted(() => port.readIssue(p.issueId, customIds));
    if (run.seen) {
      run.seen.state = state;
      run.seen.fields = customIds;
    }
    // An issue outside its mapping's JQL filter (it left it) is not the mapping's: Jira's changes
    // to it stay in Jira (one search, only for a filtered mapping Jira's changes flow back from; a
    // deleted issue still unlinks).
    const filter = mapping?.direction !== 'to_jira' ? mapping?.filter : undefined;
    /** The run's deliveries: our own writes are echoes, the rest get what the run made of them. */
    const settle = (verdict: string, detail: string | null) => ctx.settle(deliveries, echoes, verdict, detail);
    if (state && filter && !(await counted(() => port.matchesJql(state.id, filter)))) {
      await settle('ignored:out_of_scope', `outside the JQL filter of mapping "${mapping!.id}" (${filter})`);
      log?.debug({ issueId: p.issueId, mappingId: mapping!.id, calls }, 'linked issue outside its mapping filter');
      return 'ignored:out_of_scope';
    }
    const outcome = await applyLinked(r, link, state, run.outboundFollows);
    await settle(
      outcome.verdict,
      [
        outcome.fields.length ? `fields: ${outcome.fields.join(', ')}` : null,
        outcome.conflicts.length
          ? `conflicts: ${outcome.conflicts.map((c) => `${c.field}→${c.winner}`).join(', ')}`
          : null,
        outcome.comments.created + outcome.comments.updated + outcome.comments.deleted
          ? `comments +${outcome.comments.created} ~${outcome.comments.updated} -${outcome.comments.deleted}`
          : null,
        attachmentsChanged(outcome.attachments)
          ? `attachments +${outcome.attachments.added.length} -${outcome.attachments.deleted.length}` +
            (outcome.attachments.not_downloaded.length
              ? ` (${outcome.attachments.not_downloaded.length} not downloaded)`
              : '')
          : null,
        outcome.warnings.length ? outcome.warnings.join('; ') : null,
      ]
        .filter(Boolean)
        .join(' | ') || null,
    );
    return outcome.verdict;
  }

  const handler: JobHandler = async (job: Job) => {
    const p = job.payload as InboundPayload;
    try {
      const tally = { calls: 0 };
      await syncIssue(p, job.id, job.key, tally);
      // Only an authenticated answer from Jira tells the credentials work: a run that called
      // nothing (an echo, an issue nobody links) says nothing about them.
      if (tally.calls > 0) deps.onConnectionHealth?.(p.connectionId, null);
    } catch (err) {
      const e = isAppError(err)
        ? err
        : new AppError('INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
      if (e.code === 'JIRA_UNAUTHORIZED' && !e.retryable) {
        // Credentials rejected: the connection pauses and this job waits for it; the event is kept.
        deps.onConnectionHealth?.(p.connectionId, e.message);
        throw new AppError(e.code, e.message, { retryable: true, retryAfterMs: deps.pauseRetryMs ?? 30_000, cause: e });
      }
      if (!e.retryable) {
        log?.warn({ issueId: p.issueId, code: e.code, message: e.message }, 'inbound sync failed');
        const errorJson = { code: e.code, message: e.message };
        await store.transaction(async (trx) => {
          const link = await trx
            .selectFrom('links')
            .select('record_id')
            .where('connection_id', '=', p.connectionId)
            .where('issue_id', '=', p.issueId)
            .executeTakeFirst();
          await logInbound(trx, link?.record_id ?? null, 'failed', 0, job.id, { error: errorJson });
          await trx
            .updateTable('webhook_deliveries')
            .set({ verdict: 'failed', detail: `${e.code}: ${e.message}` })
            .where('connection_id', '=', p.connectionId)
            .where('issue_id', '=', p.issueId)
            .where('verdict', '=', 'stored')
            .execute();
        });
      }
      throw e;
    }
  };
  const reconcileLinked = inboundReconcile(ctx, syncIssue);

  return { handler, syncIssue, reconcileLinked };
}
