/**
 * Inbound runs of a record's rework task (issue 19: a secondary linked issue, `rework_links`),
 * handed here by src/engine/inbound.ts: only the task's comments reach the record, and whether
 * the task is open or done in Jira is kept.
 */
import type { Selectable } from 'kysely';
import { planComments } from '../core/plan-inbound.js';
import type { ReworkLinksTable } from '../store/schema.js';
import { applyComments, commentLinks } from './inbound-comments.js';
import {
  byUser,
  newOutcome,
  type InboundContext,
  type InboundOutcome,
  type PendingDelivery,
} from './inbound-context.js';
import { enqueueInbound, type InboundPayload } from './inbound-job.js';
import { inboundSettings, samePerson } from './inbound-mapping.js';
import { whoChanged } from './jira-user.js';
import { jiraCommentsIn } from './plan-inbound-input.js';
import { recordJobKey } from './record-data.js';

/** The run of a rework task's issue: its verdict. */
export function inboundRework(ctx: InboundContext) {
  const { deps, store, queue, mappings, now, setVerdicts, logInbound, feed, mappingOf } = ctx;

  /**
   * A rework task of a record (issue 19): a secondary linked issue. Its comments come to the
   * record, marked as from the task (the comment's `rework_task`, the feed's and log's
   * `rework_task`); whether it is open or done in Jira is kept (the record's next fix closes only
   * open ones). Nothing else of it reaches the record: its fields are not the record's.
   */
  return async function syncRework(
    p: InboundPayload,
    rework: Selectable<ReworkLinksTable>,
    deliveries: PendingDelivery[],
    jobId: number | null,
    jobKey: string | undefined,
    tally?: { calls: number },
  ): Promise<InboundOutcome['verdict']> {
    const ids = deliveries.map((d) => d.id);
    if (jobKey !== undefined && jobKey !== recordJobKey(rework.record_id)) {
      await store.transaction((trx) => enqueueInbound(queue, trx, p));
      return 'no_change';
    }
    const link = await store.db
      .selectFrom('links')
      .selectAll()
      .where('record_id', '=', rework.record_id)
      .executeTakeFirst();
    if (!link || link.state !== 'linked') {
      await setVerdicts(
        store.db,
        ids,
        'ignored:unlinked',
        `the record of rework task ${rework.issue_key} is not linked`,
      );
      return 'ignored:unlinked';
    }
    const record = await store.db
      .selectFrom('records')
      .select(['id', 'scope'])
      .where('id', '=', rework.record_id)
      .executeTakeFirst();
    if (deps.disabled) {
      const off = await deps.disabled(p.connectionId, [
        link.mapping_id,
        record ? mappings.forScope(record.scope)?.id : undefined,
      ]);
      if (off) {
        await setVerdicts(
          store.db,
          ids,
          'ignored:disabled',
          `the ${off.replace(':', ' ')} is paused; resuming it reconciles this issue`,
        );
        return 'ignored:disabled';
      }
    }
    ctx.checkGate(p.connectionId);
    const port = deps.jira(p.connectionId);
    let calls = 0;
    const me = await port.whoami();
    const echoes = deliveries.filter((d) => samePerson(d.actor, me));
    const settle = (verdict: string, detail: string | null) => ctx.settle(deliveries, echoes, verdict, detail);
    // Our own writes to the task (its creation, its link, its close) never come back.
    if (p.source === 'webhook' && deliveries.length > 0 && echoes.length === deliveries.length) {
      await settle('echo', null);
      return 'echo';
    }
    const mapping = mappingOf(link);
    if (!mapping || mapping.direction === 'to_jira' || !inboundSettings(mapping).comments) {
      await settle(
        'ignored:out_of_scope',
        `rework task of ${link.issue_key ?? '?'}: the mapping brings no comments back`,
      );
      return 'ignored:out_of_scope';
    }
    calls++;
    if (tally) tally.calls++;
    const state = await port.readIssue(p.issueId, []);
    if (!state) {
      await store.db
        .updateTable('rework_links')
        .set({ state: 'deleted', updated_at: now() })
        .where('token', '=', rework.token)
        .execute();
      await settle('no_change', `rework task ${rework.issue_key} was deleted in Jira`);
      return 'no_change';
    }
    const outcome: InboundOutcome = newOutcome();
    const deliveryUsers = deliveries.filter((d) => !echoes.includes(d)).map((d) => d.actor);
    const taskState = state.status.category === 'done' ? 'closed' : 'open';
    await store.transaction(async (trx) => {
      const plan = planComments({
        jira: jiraCommentsIn(state, me, port.flavour),
        links: await commentLinks(trx, rework.record_id, state.id),
      });
      await applyComments(trx, plan, state, rework.record_id, outcome, state.id, now());
      if (taskState !== rework.state || state.key !== rework.issue_key) {
        await trx
          .updateTable('rework_links')
          .set({ state: taskState, issue_key: state.key, updated_at: now() })
          .where('token', '=', rework.token)
          .execute();
      }
      const n = outcome.comments.created + outcome.comments.updated + outcome.comments.deleted;
      if (!n) return;
      outcome.verdict = 'applied';
      const by = byUser(whoChanged(outcome.commentAuthors, deliveryUsers, me));
      const from = { issue_key: state.key, rework_task: state.key, rework_of: link.issue_key };
      await logInbound(trx, rework.record_id, 'comments', calls, jobId, {
        fields: { comments: outcome.comments, ...from, ...by },
      });
      await feed(trx, rework.record_id, 'record.comments', { ...outcome.comments, ...from, ...by });
    });
    const c = outcome.comments;
    await settle(
      outcome.verdict,
      outcome.verdict === 'applied'
        ? `rework task of ${link.issue_key ?? '?'}: comments +${c.created} ~${c.updated} -${c.deleted}`
        : `rework task of ${link.issue_key ?? '?'}: nothing for the record`,
    );
    return outcome.verdict;
  };
}
