/**
 * Inbound runs of an issue no record is linked to (src/engine/inbound.ts hands them here): the
 * mapping of its project may create a host record for it (`on_jira_create: create_record`),
 * adopting the issue — the mapping's missing labels added in one edit, every base agreed from the
 * start, its attachments brought after the record exists. Which mapping takes it, or why none
 * does, is ./import-scope.ts's.
 */
import { AppError } from '../core/errors.js';
import { hostStatusFor } from '../core/merge.js';
import { HOST_STATUS_BASE, STATUS_BASE, TARGET_STATUS_BASE } from '../core/plan-inbound.js';
import { newId } from '../store/ids.js';
import { toJson } from '../store/json.js';
import { ensureConfigRows } from './config-rows.js';
import { desiredFields, desiredStatus, missingMappingLabels } from './desired.js';
import { importDecision } from './import-scope.js';
import { attachmentsChanged } from './inbound-attachment-io.js';
import {
  attachmentChanges,
  byUser,
  type InboundContext,
  type InboundOutcome,
  type InboundRun,
  type SyncIssueRun,
} from './inbound-context.js';
import type { InboundPayload } from './inbound-job.js';
import {
  ASSIGNEE_WARNING_BASE,
  flowsIn,
  inboundSettings,
  recordDataFromIssue,
  unmatchedAssigneeWarning,
} from './inbound-mapping.js';
import { whoChanged } from './jira-user.js';
import type { JiraIssueState } from './types.js';

/** How long a create of ours may take before a new issue of its project is no longer assumed to be it. */
const CREATE_IN_FLIGHT_MS = 2 * 60_000;

/** The run of an issue with no link (or one whose create is in flight): its verdict. */
export function inboundUnlinked(ctx: InboundContext) {
  const { deps, store, mappings, now, setVerdicts, logInbound, feed, writeBase } = ctx;
  const { fetchAttachments, saveAttachments } = ctx;

  /** An issue with no link: the mapping of its project may create a host record for it. */
  async function applyUnlinked(
    r: InboundRun,
    connectionId: string,
    state: JiraIssueState | null,
    note: { detail?: string },
  ): Promise<InboundOutcome['verdict']> {
    const { jira, me, jobId, calls, countCall, deliveryUsers } = r;
    const flavour = jira.flavour;
    if (!state) {
      note.detail = 'the issue does not exist in Jira (or this connection cannot see it)';
      return 'ignored:unlinked';
    }
    // Which mapping and kind: the one whose kind maps this issue type (an epic or a sub-task in a
    // project whose mapping knows only incidents is not a record), or the mapping's explicit
    // create kind, or a service-desk kind (requests come in whatever type the request type has).
    // Mappings without a JQL filter first (at most one can cover the issue type: overlapping
    // coverage is refused at save, unless filters separate the mappings). Not an issue we created
    // (its creation token: the outbound job links it), not while it is done (./import-scope.ts).
    const decision = importDecision(mappings.all(), connectionId, state);
    if (!decision.ok) {
      note.detail = decision.why;
      return decision.verdict;
    }
    const candidates = decision.candidates.map((c) => ({ m: c.mapping, kind: c.kind }));
    // A Service Management request gets its property by a second call right after its create:
    // a new issue of a project where a create of ours is in flight waits for it.
    if (state.created >= now() - CREATE_IN_FLIGHT_MS) {
      const inFlight = await store.db
        .selectFrom('links')
        .select('record_id')
        .where('connection_id', '=', connectionId)
        .where('project_key', '=', state.projectKey)
        .where('state', '=', 'creating')
        .where('updated_at', '>=', now() - CREATE_IN_FLIGHT_MS)
        .executeTakeFirst();
      if (inFlight)
        throw new AppError('CONFLICT', 'jira-bridge is creating an issue in this project; will retry', {
          retryable: true,
          retryAfterMs: 1000,
        });
    }
    // A mapping's JQL filter decides whether the issue is its own: a search for this issue under
    // it (exact, one call per filtered candidate), spent only here where a record would be created.
    let chosen: (typeof candidates)[number] | undefined;
    for (const c of candidates) {
      if (c.m.filter) {
        countCall();
        if (!(await jira.matchesJql(state.id, c.m.filter))) continue;
      }
      chosen = c;
      break;
    }
    if (!chosen) {
      note.detail = `outside the JQL filter of ${candidates.map((c) => `mapping "${c.m.id}" (${c.m.filter})`).join(', ')}`;
      return 'ignored:out_of_scope';
    }
    const mapping = chosen.m;
    const inbound = inboundSettings(mapping);
    const hostStatus =
      hostStatusFor(state.status, inbound.statusIn, inbound.statusInDefault) ??
      Object.keys(mapping.statusOut)[0] ??
      'open';
    const data = recordDataFromIssue(state, mapping, flavour, hostStatus);
    const kind = chosen.kind!;
    // The adopted issue carries the mapping's labels like those jira-bridge creates: one edit, only
    // when some are missing, before the record exists (a crash in between edits nothing twice: the
    // retry reads them there). The edit's delivery is an echo: the labels base below holds them.
    const missing = missingMappingLabels(mapping, state.labels);
    if (missing.length) {
      countCall();
      await jira.editIssue(state.id, { update: { labels: missing.map((l) => ({ add: l })) } });
    }
    const t = now();
    const hostId = `jira-${connectionId}-${state.id}`;
    let createdId: string | null = null;
    await store.transaction(async (trx) => {
      const id = newId(t);
      const inserted = await trx
        .insertInto('records')
        .values({
          id,
          host_id: hostId,
          scope: mapping.scope,
          kind,
          data: toJson(data),
          version: 1,
          sync_state: 'synced',
          last_error: null,
          deleted_at: null,
          created_at: t,
          updated_at: state.created || t,
        })
        .onConflict((oc) => oc.columns(['scope', 'host_id']).doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!inserted) return;
      // The link refers to the connection and mapping rows (absent until something was linked).
      await ensureConfigRows(trx, mappings, mapping, t);
      await trx
        .insertInto('links')
        .values({
          record_id: id,
          connection_id: connectionId,
          issue_id: state.id,
          issue_key: state.key,
          project_key: state.projectKey,
          mapping_id: mapping.id,
          mapping_snapshot: toJson(mapping),
          create_token: null,
          state: 'linked',
          jira_updated: state.updated,
          created_at: t,
          updated_at: t,
        })
        .execute();
      // Everything agreed from the start: what the record holds is what Jira holds.
      for (const [k, f] of desiredFields(data, mapping, { scope: mapping.scope, host_id: hostId, kind }))
        await writeBase(trx, id, k, f.value);
      if (state.priority) await writeBase(trx, id, 'priority', state.priority);
      await writeBase(trx, id, STATUS_BASE, state.status.name);
      await writeBase(trx, id, HOST_STATUS_BASE, data.status);
      const target = desiredStatus(data, mapping);
      if (target.status !== null) await writeBase(trx, id, TARGET_STATUS_BASE, target.status);
      // Assigned in Jira to someone whose email the record cannot have: it says so (assignee.unmatched).
      if (state.assignee && !state.assignee.email && flowsIn(mapping.builtinDirections?.assignee, mapping))
        await writeBase(
          trx,
          id,
          ASSIGNEE_WARNING_BASE,
          unmatchedAssigneeWarning(state.assignee, inbound.assigneeUnmatched ?? 'unassign', null),
        );
      // Who created the issue: the delivery's user (the sweep has none: the changelog holds no create).
      const by = byUser(whoChanged([], deliveryUsers, me));
      await logInbound(trx, id, 'created', calls(), jobId, {
        fields: { issue_key: state.key, host_id: hostId, ...by },
      });
      await feed(trx, id, 'record.created', { issue_key: state.key, issue_id: state.id, ...by });
      createdId = id;
    });
    // The issue's attachments come with it (the record exists first: a crash in between leaves
    // them to the next run, which finds the record linked).
    if (createdId !== null) {
      const recordId: string = createdId;
      const work = await fetchAttachments(jira, recordId, mapping, state, me, countCall);
      await store.transaction(async (trx) => {
        const change = await saveAttachments(trx, recordId, work, inbound.attachments?.maxBytes ?? 0);
        if (!attachmentsChanged(change)) return;
        const by = byUser(whoChanged(attachmentChanges(state, change), deliveryUsers, me));
        await logInbound(trx, recordId, 'attachments', calls(), jobId, {
          fields: { attachments: change, issue_key: state.key, ...by },
        });
        await feed(trx, recordId, 'record.attachments', { ...change, issue_key: state.key, ...by });
      });
    }
    return 'applied';
  }

  return async function syncUnlinked(
    p: InboundPayload,
    r: InboundRun,
    ids: string[],
    run: SyncIssueRun,
  ): Promise<InboundOutcome['verdict']> {
    // Unlinked issues matter only where a mapping creates records from Jira: else no call.
    const creating = mappings
      .all()
      .some((m) => m.connectionId === p.connectionId && inboundSettings(m).onJiraCreate === 'create_record');
    if (!creating) {
      await setVerdicts(store.db, ids, 'ignored:unlinked', 'no record is linked to this issue');
      return 'ignored:unlinked';
    }
    let state: JiraIssueState | null;
    if (run.preread !== undefined) state = run.preread;
    else {
      r.countCall();
      state = await r.jira.readIssue(p.issueId, []);
    }
    // Only disabled mappings would create a record from it: not while they are paused.
    const covering = mappings
      .all()
      .filter(
        (m) =>
          m.connectionId === p.connectionId &&
          m.projectKey === state?.projectKey &&
          inboundSettings(m).onJiraCreate === 'create_record',
      );
    if (deps.disabled && covering.length) {
      const offs = await Promise.all(covering.map((m) => deps.disabled!(p.connectionId, [m.id])));
      if (offs.every(Boolean)) {
        await setVerdicts(store.db, ids, 'ignored:disabled', `the ${offs[0]!.replace(':', ' ')} is paused`);
        return 'ignored:disabled';
      }
    }
    const note: { detail?: string } = run.note ?? {};
    const verdict = await applyUnlinked(r, p.connectionId, state, note);
    await setVerdicts(
      store.db,
      ids,
      verdict,
      verdict === 'applied' ? 'record created from the Jira issue' : (note.detail ?? null),
    );
    return verdict;
  };
}
