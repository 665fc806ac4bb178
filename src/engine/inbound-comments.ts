/**
 * Jira's comments on a record (inbound): the record's comment links of an issue, the planner's
 * input (planComments, src/core/plan-inbound.ts), and the write of a comment plan in the run's
 * transaction — record_comments + comment_links, origin 'jira', each Jira comment once. The
 * record's primary issue and its rework tasks (./inbound-rework.ts) keep their comments apart.
 */
import type { Kysely } from 'kysely';
import type { CommentPlan } from '../core/plan-inbound.js';
import { newId } from '../store/ids.js';
import type { Database } from '../store/schema.js';
import type { InboundOutcome } from './inbound-context.js';
import type { JiraIssueState } from './types.js';

/** The record's comment links of an issue (null: the record's primary issue, else a rework task). */
export async function commentLinks(db: Kysely<Database>, recordId: string, sourceIssueId: string | null) {
  const rows = await db
    .selectFrom('comment_links')
    .select(['id', 'jira_comment_id', 'origin', 'base_body', 'deleted'])
    .where('record_id', '=', recordId)
    .where('jira_issue_id', sourceIssueId === null ? 'is' : '=', sourceIssueId)
    .execute();
  return rows.map((l) => ({
    id: l.id,
    jiraCommentId: l.jira_comment_id,
    origin: l.origin,
    baseBody: l.base_body,
    deleted: l.deleted === 1,
  }));
}

/** Writes a comment plan (planComments) in the run's transaction: each Jira comment once. */
export async function applyComments(
  trx: Kysely<Database>,
  plan: CommentPlan,
  state: JiraIssueState,
  recordId: string,
  outcome: InboundOutcome,
  /** A rework task's comments (null: the record's primary issue): each issue's comments apart. */
  sourceIssueId: string | null,
  /** When the run writes (the comment links' and new comments' time when Jira gives none). */
  t: number,
): Promise<void> {
  const byId = new Map(state.comments.map((c) => [c.id, c]));
  for (const c of plan.add) {
    const person = byId.get(c.id)?.author ?? null;
    const id = newId(c.created || t);
    const author = person ? (person.email ? `${person.displayName} <${person.email}>` : person.displayName) : null;
    const inserted = await trx
      .insertInto('comment_links')
      .values({
        id,
        record_id: recordId,
        host_comment_id: null,
        jira_comment_id: c.id,
        jira_issue_id: sourceIssueId,
        origin: 'jira',
        base_body: c.body,
        deleted: 0,
        created_at: c.created || t,
        updated_at: t,
      })
      .onConflict((oc) => oc.columns(['record_id', 'jira_comment_id']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) continue;
    await trx
      .insertInto('record_comments')
      .values({
        id,
        record_id: recordId,
        author,
        body: c.body,
        origin: 'jira',
        internal: c.internal ? 1 : 0,
        deleted: 0,
        created_at: c.created || t,
        updated_at: c.updated || t,
      })
      .execute();
    outcome.comments.created++;
    outcome.commentAuthors.push({ person, at: c.created || t });
  }
  for (const { linkId, comment: c } of plan.update) {
    await trx
      .updateTable('record_comments')
      .set({ body: c.body, internal: c.internal ? 1 : 0, updated_at: c.updated || t })
      .where('id', '=', linkId)
      .execute();
    await trx.updateTable('comment_links').set({ base_body: c.body, updated_at: t }).where('id', '=', linkId).execute();
    outcome.comments.updated++;
    outcome.commentAuthors.push({ person: byId.get(c.id)?.author ?? null, at: c.updated || t });
  }
  for (const id of plan.delete) {
    await trx.updateTable('comment_links').set({ deleted: 1, updated_at: t }).where('id', '=', id).execute();
    await trx.updateTable('record_comments').set({ deleted: 1, updated_at: t }).where('id', '=', id).execute();
    outcome.comments.deleted++;
  }
}
