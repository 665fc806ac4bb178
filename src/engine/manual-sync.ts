/**
 * Manual sync (`POST /api/v1/sync`), both ways.
 *
 * A record linked to an issue: one outbound job with `twoWay` (queued, coalesced per record) runs
 * the inbound job's path for the issue first — one read, the three-way per field, comments,
 * attachments, delete/move — and then the record's outbound re-sync with what that read saw (no
 * second read). So a Jira change whose webhook was lost comes back, and the host's changes go.
 * A record without an issue (not linked yet, or unlinked) gets its outbound re-sync, which
 * creates one.
 *
 * An issue key no record is linked to: when a mapping of its project creates records from Jira
 * (`on_jira_create: create_record`), the issue is read once (plus one search for a mapping with a
 * JQL `filter`) and imported here and now through the inbound path a delivery of a new issue
 * takes; otherwise the answer says why not (404: nothing of this connection would ever take it;
 * 409: a mapping would, but not this issue as it is now — its type, its status, the filter, a
 * pause).
 */
import { AppError } from '../core/errors.js';
import type { Queue } from '../queue/queue.js';
import type { Store } from '../store/store.js';
import { creatingMappings, importDecision } from './import-scope.js';
import type { createInboundHandler } from './inbound.js';
import { OUTBOUND_JOB, recordJobKey, type RecordView } from './record-data.js';
import type { RecordService } from './records.js';
import type { JiraPort, MappingSource } from './types.js';

export interface ManualSyncRequest {
  jiraIssueKey?: string;
  /** Which connection the key is of (needed only when several connections map its project). */
  connection?: string;
  scope?: string;
  hostId?: string;
}

export interface ManualSyncAnswer {
  record: RecordView;
  manual_sync: {
    /** `two_way`: Jira's side, then the record's, in one job; `outbound`: the record's (creates the issue); `imported`: a record made from the issue now. */
    mode: 'two_way' | 'outbound' | 'imported';
    /** The queued job (GET /api/v1/jobs/{id}); null when the work was done in the request. */
    job_id: number | null;
    job_kind: string | null;
    job_key: string | null;
    /** What will run (or ran), in words. */
    runs: string;
    /** Jira calls the request itself spent (an import's read and filter search); 0 when all is queued. */
    jira_calls: number;
  };
}

export interface ManualSyncDeps {
  store: Store;
  queue: Queue;
  mappings: MappingSource;
  records: RecordService;
  jira(connectionId: string): JiraPort;
  syncIssue: ReturnType<typeof createInboundHandler>['syncIssue'];
  /** `connection:<id>` or `mapping:<id>` when one of these is disabled (./pause.ts), else null. */
  disabledBy(connectionId: string, mappingIds: ReadonlyArray<string | null | undefined>): Promise<string | null>;
  /** Null when the connection may be called; else ms until its next probe (credentials rejected). */
  gate(connectionId: string): number | null;
}

/** The project key of an issue key (`OPS-12` → `OPS`). */
export const projectOfKey = (key: string): string => key.slice(0, key.lastIndexOf('-'));

export function createManualSync(deps: ManualSyncDeps) {
  const { mappings, records } = deps;

  async function queued(recordId: string, check?: (scope: string) => void): Promise<ManualSyncAnswer> {
    const r = await records.requestSync({ recordId }, check);
    const key = r.record.link?.issue_key;
    return {
      record: r.record,
      manual_sync: {
        mode: r.twoWay ? 'two_way' : 'outbound',
        job_id: r.jobId,
        job_kind: OUTBOUND_JOB,
        job_key: recordJobKey(recordId),
        runs: r.twoWay
          ? `one job: reads ${key} once, applies Jira's changes to the record by the mapping (three-way per field, comments, attachments), then sends the record's changes to Jira (adopting the current mapping)`
          : 'one job: the record has no Jira issue, so its outbound sync creates one',
        jira_calls: 0,
      },
    };
  }

  /** An issue no record is linked to: imported when a mapping takes it, else why not. */
  async function importIssue(
    key: string,
    connection: string | undefined,
    check?: (scope: string) => void,
  ): Promise<ManualSyncAnswer> {
    const project = projectOfKey(key);
    if (connection !== undefined && !mappings.connection(connection))
      throw new AppError('NOT_FOUND', `No connection "${connection}"`);
    const all = mappings.all();
    const conns = [
      ...new Set(
        all
          .filter((m) => m.projectKey === project && (connection === undefined || m.connectionId === connection))
          .map((m) => m.connectionId),
      ),
    ];
    if (!conns.length) {
      throw new AppError(
        'NOT_FOUND',
        `No record is linked to ${key}, and no mapping${connection ? ` of connection "${connection}"` : ''} covers project ${project}, so it cannot be imported`,
        { details: { issue_key: key, project } },
      );
    }
    if (conns.length > 1) {
      throw new AppError(
        'VALIDATION_FAILED',
        `body.connection: project ${project} is mapped on connections ${conns.join(', ')}; name the one ${key} is of`,
        { details: { issues: [{ path: 'body.connection', message: `one of: ${conns.join(', ')}` }] } },
      );
    }
    const connectionId = conns[0]!;
    const creating = creatingMappings(all, connectionId, project);
    if (!creating.length) {
      const d = importDecision(all, connectionId, {
        key,
        projectKey: project,
        issueType: '',
        labels: [],
        status: { id: '', name: '' },
      });
      throw new AppError('NOT_FOUND', `${key} cannot be imported: ${d.ok ? 'no mapping takes it' : d.why}`, {
        details: { issue_key: key, connection: connectionId },
      });
    }
    // A host token must hold the scope the record would be made in (before any call is spent).
    for (const m of creating) check?.(m.scope);
    const offs = await Promise.all(creating.map((m) => deps.disabledBy(connectionId, [m.id])));
    if (offs.every(Boolean)) {
      throw new AppError(
        'CONFLICT',
        `${key} is not imported: the ${offs[0]!.replace(':', ' ')} is paused; resume it (its resume also imports what Jira created meanwhile)`,
        { details: { issue_key: key, disabled: offs[0] } },
      );
    }
    if (deps.gate(connectionId) !== null) {
      throw new AppError(
        'CONFLICT',
        `${key} is not imported: Jira rejected the credentials of connection "${connectionId}"; fix them (PUT /api/v1/connections/${connectionId}) and sync again`,
        { details: { issue_key: key, connection: connectionId } },
      );
    }
    const tally = { calls: 1 };
    const state = await deps.jira(connectionId).readIssue(key, []);
    if (!state) {
      throw new AppError('NOT_FOUND', `Jira has no issue ${key} (or connection "${connectionId}" may not see it)`, {
        details: { issue_key: key, connection: connectionId },
      });
    }
    // A moved issue (the key given is an old one) whose record is linked by id: sync that record.
    const linked = await deps.store.db
      .selectFrom('links')
      .select('record_id')
      .where('connection_id', '=', connectionId)
      .where('issue_id', '=', state.id)
      .executeTakeFirst();
    if (linked) return queued(linked.record_id, check);
    const d = importDecision(all, connectionId, state);
    if (!d.ok) {
      throw new AppError(
        d.verdict === 'ignored:unlinked' ? 'NOT_FOUND' : 'CONFLICT',
        `${key} is not imported: ${d.why}`,
        {
          details: { issue_key: key, connection: connectionId },
        },
      );
    }
    const note: { detail?: string } = {};
    const verdict = await deps.syncIssue(
      { connectionId, issueId: state.id, source: 'manual' },
      null,
      undefined,
      tally,
      { preread: state, note },
    );
    const made = await deps.store.db
      .selectFrom('links')
      .select('record_id')
      .where('connection_id', '=', connectionId)
      .where('issue_id', '=', state.id)
      .executeTakeFirst();
    if (verdict !== 'applied' || !made) {
      throw new AppError(
        'CONFLICT',
        `${key} is not imported: ${verdict === 'ignored:disabled' ? 'its mapping is paused' : (note.detail ?? verdict)}`,
        { details: { issue_key: key, connection: connectionId, verdict } },
      );
    }
    const record = await records.getRecordById(made.record_id);
    return {
      record: record!,
      manual_sync: {
        mode: 'imported',
        job_id: null,
        job_kind: null,
        job_key: null,
        runs: `imported now from ${state.key} through the path of a Jira delivery of a new issue (record ${record!.scope}/${record!.host_id})`,
        jira_calls: tally.calls,
      },
    };
  }

  return {
    /**
     * `check(scope)` throws when the caller may not touch that scope (a host token's scopes); it
     * sees the scope before anything is queued or read from Jira.
     */
    async sync(req: ManualSyncRequest, check?: (scope: string) => void): Promise<ManualSyncAnswer> {
      if (req.jiraIssueKey === undefined) {
        check?.(req.scope!);
        const view = await records.getRecord(req.scope!, req.hostId!);
        return queued(view.id, check);
      }
      const recordId = await records.recordIdForIssueKey(req.jiraIssueKey, req.connection);
      if (recordId) return queued(recordId, check);
      return importIssue(req.jiraIssueKey, req.connection, check);
    },
  };
}

export type ManualSync = ReturnType<typeof createManualSync>;
