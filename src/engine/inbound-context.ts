/**
 * What the inbound executor's parts share (src/engine/inbound.ts and its inbound-*.ts parts): the
 * run's types, and one context built once per handler over its dependencies — the stored
 * deliveries and their verdicts, the sync log row, the host feed event and the agreed bases
 * (written through ./sync-writes.ts, the one way outbound writes them too; origin 'jira'), a
 * link's mapping and the attachment I/O.
 */
import type { Kysely, Selectable } from 'kysely';
import { AppError } from '../core/errors.js';
import type { Conflict } from '../core/merge.js';
import type { Logger } from '../log/logger.js';
import type { Queue } from '../queue/queue.js';
import { fromJson } from '../store/json.js';
import type { Database, LinksTable } from '../store/schema.js';
import type { Store } from '../store/store.js';
import type { AttachmentStore } from './attachment-store.js';
import { inboundAttachmentIo, noAttachmentChange, type AttachmentChange } from './inbound-attachment-io.js';
import type { InboundPayload } from './inbound-job.js';
import { jiraEmail } from './inbound-mapping.js';
import type { AuthoredChange, JiraUserView } from './jira-user.js';
import { jiraChangeAuthor } from './plan-inbound-input.js';
import { jiraChangeTime } from './plan-input.js';
import { createSyncWrites } from './sync-writes.js';
import type { JiraIssueState, JiraPerson, JiraPort, MappingSource, OutboundMapping } from './types.js';

export interface InboundDeps {
  store: Store;
  queue: Queue;
  mappings: MappingSource;
  jira(connectionId: string): JiraPort;
  logger?: Logger | undefined;
  now?: () => number;
  /** Null when the connection may be called, else ms to wait (shared with outbound). */
  connectionGate?: ((connectionId: string) => number | null) | undefined;
  /** Connection health, shared with outbound: the reason when Jira rejects the credentials, null when a job succeeds. */
  onConnectionHealth?: ((connectionId: string, problem: string | null) => void) | undefined;
  /** How long a job waits when the credentials were rejected (the connection pauses; nothing is lost). */
  pauseRetryMs?: number | undefined;
  /** Where attachments downloaded from Jira are kept (the store outbound uploads from); none: not downloaded. */
  attachments?: AttachmentStore | undefined;
  /** `connection:<id>` or `mapping:<id>` when one of these is disabled (./pause.ts), else null. */
  disabled?:
    | ((connectionId: string, mappingIds: ReadonlyArray<string | null | undefined>) => Promise<string | null>)
    | undefined;
}

export type LinkRow = Selectable<LinksTable>;

/** Options of one run of syncIssue beyond its payload (the manual two-way sync and import use them). */
export interface SyncIssueRun {
  /** The issue as already read (an unlinked issue's run then spends no read of its own). */
  preread?: JiraIssueState | null;
  /** Why the run did not apply (the delivery verdict's detail), filled in by the run. */
  note?: { detail?: string };
  /** The state the run read of a linked issue, and the custom field ids it asked for. */
  seen?: { state?: JiraIssueState | null; fields?: readonly string[] };
  /** The record's outbound sync runs right after in the same job: nothing is queued for it. */
  outboundFollows?: boolean;
}

export interface PendingDelivery {
  id: string;
  event: string | null;
  actor: JiraPerson | null;
}

/** One run's Jira side: the port, our own account, the job, its call count and who asked. */
export interface InboundRun {
  jira: JiraPort;
  me: JiraPerson;
  jobId: number | null;
  calls: () => number;
  countCall: () => void;
  /** The users of the run's deliveries other than our own, oldest first (who changed it). */
  deliveryUsers: ReadonlyArray<JiraPerson | null>;
}

/** What one inbound run did, for the sync log and the delivery verdicts. */
export interface InboundOutcome {
  verdict:
    | 'applied'
    | 'no_change'
    | 'echo'
    | 'ignored:unlinked'
    | 'ignored:out_of_scope'
    | 'ignored:event'
    | 'ignored:disabled';
  action: string;
  fields: string[];
  conflicts: Array<{ field: string } & Conflict>;
  warnings: string[];
  comments: { created: number; updated: number; deleted: number };
  /** Who wrote the comments created or edited (who changed it: issue 19). */
  commentAuthors: AuthoredChange[];
  attachments: AttachmentChange;
  extra: Record<string, unknown>;
  /**
   * The record's standing warning about Jira's assignee (assignee.unmatched): a message while it
   * has no email the record can match, null once it has one (the warning clears), undefined when
   * this run did not look.
   */
  assigneeWarning?: string | null;
}

export const newOutcome = (): InboundOutcome => ({
  verdict: 'no_change',
  action: 'noop',
  fields: [],
  conflicts: [],
  warnings: [],
  comments: { created: 0, updated: 0, deleted: 0 },
  commentAuthors: [],
  attachments: noAttachmentChange(),
  extra: {},
});

/** The changes of the changed fields, with their authors and times, for whoChanged. */
export function fieldChanges(
  state: JiraIssueState,
  keys: readonly string[],
  mapping: OutboundMapping,
): AuthoredChange[] {
  return keys.map((k) => ({ person: jiraChangeAuthor(state, k, mapping), at: jiraChangeTime(state, k, mapping) }));
}

/** The attachments a run added (or could not download), with their authors and times, for whoChanged. */
export function attachmentChanges(state: JiraIssueState, change: AttachmentChange): AuthoredChange[] {
  return change.added
    .concat(change.not_downloaded)
    .map((a) => state.attachments?.find((x) => x.id === a.jira_attachment_id))
    .map((a) => ({ person: a?.author ?? null, at: a?.created ?? 0 }));
}

/** `{ jira_user }` for an event's data when the user is known, else nothing. */
export const byUser = (u: JiraUserView | null): { jira_user?: JiraUserView } => (u ? { jira_user: u } : {});

/** The actor of a stored delivery: `user` (issue events) or the comment's author. */
function deliveryActor(body: string): JiraPerson | null {
  const json = fromJson<Record<string, unknown>>(body) ?? {};
  const comment = json.comment as Record<string, unknown> | undefined;
  const attachment = json.attachment as Record<string, unknown> | undefined;
  const u = (json.user ??
    (json.webhookEvent === 'comment_updated' ? comment?.updateAuthor : (comment?.author ?? attachment?.author))) as
    Record<string, unknown> | undefined;
  if (!u || typeof u !== 'object') return null;
  const s = (k: string): string | undefined => (typeof u[k] === 'string' && u[k] !== '' ? (u[k] as string) : undefined);
  return {
    ...(s('accountId') ? { accountId: s('accountId') } : {}),
    ...(s('name') ? { name: s('name') } : {}),
    ...(s('key') ? { key: s('key') } : {}),
    displayName: s('displayName') ?? '',
    email: jiraEmail(u.emailAddress),
  };
}

export type InboundContext = ReturnType<typeof inboundContext>;

/** The inbound executor's shared context, built once per handler. */
export function inboundContext(deps: InboundDeps) {
  const { store, mappings, queue } = deps;
  const now = deps.now ?? Date.now;
  const log = deps.logger;
  const { fetchAttachments, saveAttachments } = inboundAttachmentIo({ ...deps, now });
  /** The sync log row, the feed event and the agreed bases: written as outbound writes them (origin 'jira'). */
  const writes = createSyncWrites({ dialect: store.dialect, direction: 'inbound', now });

  async function pendingDeliveries(p: InboundPayload): Promise<PendingDelivery[]> {
    const rows = await store.db
      .selectFrom('webhook_deliveries')
      .select(['id', 'event', 'body'])
      .where('connection_id', '=', p.connectionId)
      .where('issue_id', '=', p.issueId)
      .where('verdict', '=', 'stored')
      .orderBy('received_at')
      .execute();
    return rows.map((r) => ({ id: r.id, event: r.event, actor: deliveryActor(r.body) }));
  }

  async function setVerdicts(
    db: Kysely<Database>,
    ids: string[],
    verdict: string,
    detail: string | null,
  ): Promise<void> {
    if (!ids.length) return;
    await db.updateTable('webhook_deliveries').set({ verdict, detail }).where('id', 'in', ids).execute();
  }

  /** The run's deliveries: our own writes are echoes, the rest get what the run made of them. */
  async function settle(
    deliveries: readonly PendingDelivery[],
    echoes: readonly PendingDelivery[],
    verdict: string,
    detail: string | null,
  ): Promise<void> {
    await setVerdicts(
      store.db,
      echoes.map((e) => e.id),
      'echo',
      'caused by jira-bridge’s own write',
    );
    await setVerdicts(
      store.db,
      deliveries.filter((d) => !echoes.some((e) => e.id === d.id)).map((d) => d.id),
      verdict,
      detail,
    );
  }

  /** The connection's credentials were rejected: the job waits (nothing is lost). */
  function checkGate(connectionId: string, details?: Record<string, unknown>): void {
    const waitMs = deps.connectionGate?.(connectionId);
    if (waitMs !== undefined && waitMs !== null) {
      throw new AppError('JIRA_UNAUTHORIZED', 'The Jira connection is paused: its credentials were rejected', {
        retryable: true,
        retryAfterMs: waitMs,
        ...(details ? { details } : {}),
      });
    }
  }

  function mappingOf(link: LinkRow): OutboundMapping | undefined {
    const snap = link.mapping_snapshot ? (fromJson<OutboundMapping>(link.mapping_snapshot) ?? undefined) : undefined;
    return snap ?? (link.mapping_id ? mappings.byId(link.mapping_id) : undefined);
  }

  return {
    deps,
    store,
    queue,
    mappings,
    now,
    log,
    fetchAttachments,
    saveAttachments,
    pendingDeliveries,
    setVerdicts,
    settle,
    checkGate,
    writes,
    logInbound: writes.log,
    feed: writes.feed,
    writeBase: writes.writeBase,
    mappingOf,
  };
}
