/**
 * The plan preview (issue 16): what the next outbound sync of a record would do to its Jira issue
 * and why, from the store alone or with one read of the issue. It gathers the same inputs the
 * outbound executor gives the planner (src/core/plan-outbound.ts) — the record's wanted values,
 * bases, journal, the mapping in force, pending comments and attachments, the workflow learnt so
 * far — and writes nothing.
 */
import { AppError } from '../core/errors.js';
import { planOutbound, ruleText, type OutboundPlan } from '../core/plan-outbound.js';
import type { WorkflowGraph } from '../core/workflow.js';
import { fromJson } from '../store/json.js';
import type { Store } from '../store/store.js';
import { desiredStatus, resolutionFor } from './desired.js';
import { openJournal } from './journal.js';
import { disabledBy } from './pause.js';
import { jiraChangeTime, outboundFieldInputs } from './plan-input.js';
import { fillHostLink, HOST_LINK_BASE, POSTING as COMMENT_POSTING, UPLOADING } from './outbound.js';
import type { JiraIssueState, JiraPort, MappingSource, OutboundMapping, RecordData } from './types.js';

export interface PlanPreview extends OutboundPlan {
  record: { scope: string; host_id: string; id: string };
  issue_key: string | null;
  mapping_id: string | null;
  /** Where the plan's view of the issue comes from: the store's agreed values, or a read of Jira. */
  source: 'store' | 'jira';
  /** Jira calls this preview spent (0 from the store, 1 with a read). */
  preview_calls: number;
}

export interface Planner {
  planRecord(recordId: string, opts?: { readJira?: boolean }): Promise<PlanPreview>;
  /** The same by the host's scope and id (404 when there is no such record). */
  planFor(scope: string, hostId: string, opts?: { readJira?: boolean }): Promise<PlanPreview>;
}

/** The key outbound uses for what it learnt of a workflow: connection/project/issue type. */
export function workflowKey(connectionId: string, projectKey: string, issueType: string | undefined): string {
  return `${connectionId}/${projectKey}/${issueType ?? '?'}`;
}

export function createPlanner(deps: {
  store: Store;
  mappings: MappingSource;
  jira(connectionId: string): JiraPort;
  /** The outbound handler's learnt workflows (shared, read only here). */
  workflows: ReadonlyMap<string, WorkflowGraph>;
}): Planner {
  const { store } = deps;
  return {
    async planFor(scope, hostId, opts = {}) {
      const r = await store.db
        .selectFrom('records')
        .select('id')
        .where('scope', '=', scope)
        .where('host_id', '=', hostId)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      if (!r) throw new AppError('NOT_FOUND', `No record "${hostId}" in scope "${scope}"`);
      return this.planRecord(r.id, opts);
    },
    async planRecord(recordId, opts = {}) {
      const db = store.db;
      const record = await db.selectFrom('records').selectAll().where('id', '=', recordId).executeTakeFirst();
      if (!record || record.deleted_at !== null) throw new AppError('NOT_FOUND', `No record ${recordId}`);
      const data = fromJson<RecordData>(record.data)!;
      const link = await db.selectFrom('links').selectAll().where('record_id', '=', recordId).executeTakeFirst();
      const current = deps.mappings.forScope(record.scope);
      const linked = link?.state === 'linked' && !!link.issue_id;
      const mapping: OutboundMapping | undefined =
        (linked && link.mapping_snapshot ? fromJson<OutboundMapping>(link.mapping_snapshot) : undefined) ?? current;
      if (!mapping)
        throw new AppError(
          'MAPPING_NOT_FOUND',
          `No mapping covers scope "${record.scope}"; add one to the configuration`,
        );
      const bases = new Map<string, unknown>();
      if (linked) {
        const rows = await db
          .selectFrom('field_bases')
          .select(['field', 'value'])
          .where('record_id', '=', recordId)
          .execute();
        for (const r of rows) bases.set(r.field, fromJson(r.value));
      }
      const journal = await openJournal(db, recordId);
      const paused =
        (await disabledBy(db, deps.mappings, mapping.connectionId, [mapping.id, current?.id, link?.mapping_id])) !==
        null;
      let state: JiraIssueState | undefined;
      let calls = 0;
      const jira = deps.jira(mapping.connectionId);
      if (opts.readJira && linked) {
        calls++;
        const read = await jira.readIssue(
          link.issue_id!,
          mapping.fields.map((f) => f.jira),
        );
        if (!read)
          throw new AppError(
            'JIRA_NOT_FOUND',
            `Issue ${link.issue_key ?? link.issue_id} no longer exists in Jira; the inbound job unlinks it`,
          );
        state = read;
      }
      const fieldTimes = fromJson<Record<string, number>>(record.field_times) ?? {};
      const kind = mapping.kinds[record.kind];
      const graph = deps.workflows.get(
        workflowKey(
          mapping.connectionId,
          state?.projectKey ?? link?.project_key ?? mapping.projectKey,
          state?.issueType ?? kind?.issueType,
        ),
      );
      // Comments and attachments as the executor will find them.
      const comments = mapping.comments
        ? await db
            .selectFrom('comment_links as cl')
            .innerJoin('record_comments as rc', 'rc.id', 'cl.id')
            .select(['cl.jira_comment_id', 'cl.base_body', 'rc.body'])
            .where('cl.record_id', '=', recordId)
            .where('cl.origin', '=', 'host')
            .where('cl.deleted', '=', 0)
            .execute()
        : [];
      const attachments = await db
        .selectFrom('attachment_links')
        .select('jira_attachment_id')
        .where('record_id', '=', recordId)
        .where('origin', '=', 'host')
        .where('deleted', '=', 0)
        .execute();
      const plan = planOutbound({
        link: {
          state: link ? (linked ? 'linked' : link.state === 'unlinked' ? 'unlinked' : 'creating') : 'none',
          issueKey: link?.issue_key ?? null,
        },
        direction: mapping.direction,
        paused,
        resync: false,
        read: state !== undefined,
        fields: outboundFieldInputs({
          data,
          mapping,
          bases,
          journal,
          record: { field_times: fieldTimes, updated_at: record.updated_at },
          hostWins: false,
          state,
          flavour: jira.flavour,
        }),
        status: {
          want: desiredStatus(data, mapping),
          hostStatus: data.status,
          bases,
          journal,
          // Our account (cached per connection), as the executor asks for it: a status change is ours
          // only when it made it.
          me: journal.length && state?.lastStatusChange?.by ? await jira.whoami() : null,
          issue: state
            ? {
                key: state.key,
                id: state.id,
                status: state.status,
                lastStatusChange: state.lastStatusChange,
                statusChangedAt: jiraChangeTime(state, 'status', mapping),
              }
            : undefined,
          hostStatusAt: fieldTimes.status ?? record.updated_at,
          reopen: mapping.reopen.mode,
          recordVersion: record.version,
          graph,
          resolution: resolutionFor(mapping, data.status),
        },
        create: { retried: link?.state === 'creating', serviceDesk: kind?.serviceDesk !== undefined },
        comments: {
          post: comments.filter((c) => c.jira_comment_id === null && c.base_body !== COMMENT_POSTING).length,
          interrupted: comments.filter((c) => c.jira_comment_id === null && c.base_body === COMMENT_POSTING).length,
          edit: comments.filter(
            (c) => c.jira_comment_id !== null && c.base_body !== c.body && c.base_body !== COMMENT_POSTING,
          ).length,
        },
        attachments: {
          upload: attachments.filter((a) => a.jira_attachment_id === null).length,
          interrupted: attachments.filter((a) => a.jira_attachment_id === UPLOADING).length,
        },
        hostLink: {
          url: mapping.hostLink ? fillHostLink(mapping.hostLink.url, record, true) : null,
          base: bases.get(HOST_LINK_BASE),
        },
      });
      return {
        record: { scope: record.scope, host_id: record.host_id, id: record.id },
        issue_key: state?.key ?? link?.issue_key ?? null,
        mapping_id: mapping.id,
        source: state ? 'jira' : 'store',
        preview_calls: calls,
        ...plan,
      };
    },
  };
}

export { ruleText };
