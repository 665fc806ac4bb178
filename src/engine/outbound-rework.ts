/**
 * Rework tasks (issue 19): a reopened record whose issue stays done gets a new linked rework task,
 * made exactly once (journaled with its token); the record fixed again closes its open ones
 * (rework_links).
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { failpoint } from './failpoint.js';
import { journalIntent, journalOutcome } from './journal.js';
import { resolutionFor, toJiraLabel } from './desired.js';
import { closingStep, transitionFields } from './status-path.js';
import type { OutboundContext, SyncOutcome } from './outbound-context.js';
import type { IssueRef, JiraPort, OutboundMapping, RecordData } from './types.js';

/** The rework task's row (open, not linked yet), once per token: made or adopted, it is the same row. */
async function insertReworkLink(
  db: Kysely<Database>,
  token: string,
  recordId: string,
  mapping: OutboundMapping,
  ref: IssueRef,
  reworkOf: string,
  t: number,
): Promise<void> {
  await db
    .insertInto('rework_links')
    .values({
      token,
      record_id: recordId,
      connection_id: mapping.connectionId,
      issue_id: ref.id,
      issue_key: ref.key,
      rework_of: reworkOf,
      state: 'open',
      linked: 0,
      created_at: t,
      updated_at: t,
    })
    .onConflict((oc) => oc.column('token').doNothing())
    .execute();
}

/** The part's functions: each declared once, on its implementation below. */
export type OutboundRework = ReturnType<typeof createOutboundRework>;

export function createOutboundRework(ctx: OutboundContext) {
  const { deps, store, now } = ctx;

  /**
   * Creates a rework task of the record's issue, exactly once: the intent is journaled with its
   * token before Jira is called, the row written with the journal's outcome; after a crash in
   * between, the next attempt (`pending`) searches by the token first and adopts the task.
   */
  async function createRework(
    jira: JiraPort,
    issueKey: string,
    data: RecordData,
    mapping: OutboundMapping,
    recordId: string,
    jobId: number | null,
    token: string,
    pending: { id: string; at: number } | null,
  ): Promise<IssueRef> {
    const intentId =
      pending?.id ??
      (await journalIntent(store.db, {
        recordId,
        jobId,
        target: issueKey,
        intent: { op: 'rework', token, of: issueKey, at: now() },
        at: now(),
      }));
    const ref = await jira.createOnce(
      {
        fields: {
          project: { key: mapping.projectKey },
          issuetype: { name: mapping.reopen.reworkIssueType ?? 'Task' },
          summary: `Rework: ${data.title}`.slice(0, 255),
          description: jira.toBody(
            `The fix for ${issueKey} failed re-test (host status "${data.status}").\n\n${data.description}`,
          ),
          labels: [...new Set([...mapping.labels.map(toJiraLabel), 'rework'])],
        },
        properties: [{ key: 'jira-bridge', value: { token, rework_of: issueKey } }],
      },
      token,
      pending ? { searchFirst: true, previousAttemptAt: pending.at, since: pending.at } : {},
    );
    failpoint('after-jira-rework-create');
    await deps.hooks?.afterReworkCreate?.(recordId, ref);
    await store.transaction(async (trx) => {
      const t = now();
      await insertReworkLink(trx, token, recordId, mapping, ref, issueKey, t);
      await journalOutcome(trx, intentId, 'done', t, ref.id);
    });
    return ref;
  }

  /** A rework task an interrupted attempt set out to make: adopted when Jira has it (by its token), else known never made. */
  async function settlePendingRework(
    jira: JiraPort,
    recordId: string,
    issueKey: string,
    mapping: OutboundMapping,
    pending: { id: string; token: string; at: number },
  ): Promise<void> {
    const ref = (await jira.findByTokens(mapping.projectKey, [pending.token], pending.at)).get(pending.token);
    await store.transaction(async (trx) => {
      const t = now();
      if (ref) {
        await insertReworkLink(trx, pending.token, recordId, mapping, ref, issueKey, t);
      }
      await journalOutcome(trx, pending.id, ref ? 'done' : 'failed', t, ref?.id);
    });
    if (ref) await linkReworkTasks(jira, recordId, issueKey, mapping);
  }

  /** The Jira issue link of each rework task to the record's issue, once (made after the task's row). */
  async function linkReworkTasks(jira: JiraPort, recordId: string, issueKey: string, mapping: OutboundMapping) {
    const unlinked = await store.db
      .selectFrom('rework_links')
      .select(['token', 'issue_key'])
      .where('record_id', '=', recordId)
      .where('linked', '=', 0)
      .execute();
    for (const r of unlinked) {
      await jira.linkIssues(mapping.reopen.reworkLinkType ?? 'Relates', r.issue_key, issueKey);
      await store.db
        .updateTable('rework_links')
        .set({ linked: 1, updated_at: now() })
        .where('token', '=', r.token)
        .execute();
    }
  }

  /**
   * The record is fixed again: each of its open rework tasks moves to the mapping's close status
   * (with the mapping's resolution where the transition takes one), or, where the task's workflow
   * has no such status, into a done one. A task already done (closed in Jira) is only marked.
   */
  async function closeReworkTasks(
    jira: JiraPort,
    recordId: string,
    mapping: OutboundMapping,
    closeStatus: string,
    /** The record's host status (a resolution table may name the resolution by it). */
    hostStatus: string,
    outcome: SyncOutcome,
  ): Promise<void> {
    const open = await store.db
      .selectFrom('rework_links')
      .select(['token', 'issue_key'])
      .where('record_id', '=', recordId)
      .where('state', '=', 'open')
      .execute();
    const closed: string[] = [];
    for (const task of open) {
      let here = (await jira.getIssue(task.issue_key)).status;
      const visited = new Set([here.name.toLowerCase()]);
      for (let hop = 0; hop < 6 && here.category !== 'done'; hop++) {
        const step = closingStep(await jira.getTransitions(task.issue_key), closeStatus, visited);
        if (!step) break;
        const { fields, missing } = transitionFields(step, { resolution: resolutionFor(mapping, hostStatus) });
        if (missing.length) break;
        await jira.transition(task.issue_key, step.id, fields);
        here = step.to;
        visited.add(here.name.toLowerCase());
        if (here.name.toLowerCase() === closeStatus.toLowerCase()) break;
      }
      if (here.category !== 'done' && here.name.toLowerCase() !== closeStatus.toLowerCase()) {
        outcome.warnings.push(
          `rework task ${task.issue_key} stays "${here.name}": its workflow offers no way to "${closeStatus}" or a done status from there`,
        );
        continue;
      }
      await store.db
        .updateTable('rework_links')
        .set({ state: 'closed', updated_at: now() })
        .where('token', '=', task.token)
        .execute();
      closed.push(task.issue_key);
    }
    if (closed.length) {
      outcome.extra = { ...outcome.extra, rework_closed: closed };
      outcome.fields.push('rework');
    }
  }

  return { createRework, settlePendingRework, linkReworkTasks, closeReworkTasks };
}
