/**
 * What the parts of the outbound executor share: its dependencies, the one context object built
 * once per handler (`createOutboundHandler` in ./outbound.ts) and handed to each part's factory,
 * and the outcome a sync accumulates on its way to the sync log and the host's feed.
 */
import type { Selectable } from 'kysely';
import type { WorkflowGraph } from '../core/workflow.js';
import type { Logger } from '../log/logger.js';
import type { Queue } from '../queue/queue.js';
import type { LinksTable, RecordsTable } from '../store/schema.js';
import type { Store } from '../store/store.js';
import type { AttachmentStore } from './attachment-store.js';
import type { LinkedReconcile } from './inbound.js';
import type { SyncWrites } from './sync-writes.js';
import type { IssueRef, JiraIssueState, JiraPort, MappingSource } from './types.js';

export interface OutboundDeps {
  store: Store;
  /** What is learnt of each workflow (shared with the plan preview; a fresh map when not given). */
  workflows?: Map<string, WorkflowGraph> | undefined;
  /** To queue the inbound job of an issue whose newer Jira change won a conflict. */
  queue: Queue;
  mappings: MappingSource;
  /** The Jira port for a connection id. */
  jira(connectionId: string): JiraPort;
  attachments: AttachmentStore;
  logger?: Logger | undefined;
  now?: () => number;
  /** Test seams: called at fixed points (e.g. to simulate a crash after Jira's create). */
  hooks?:
    | {
        afterCreate?: (recordId: string, ref: IssueRef) => void | Promise<void>;
        /** After Jira created a rework task, before its row is written. */
        afterReworkCreate?: (recordId: string, ref: IssueRef) => void | Promise<void>;
        afterComment?: (recordId: string, jiraCommentId: string) => void | Promise<void>;
        afterAttachment?: (recordId: string, jiraAttachmentId: string) => void | Promise<void>;
      }
    | undefined;
  /** How long a paused connection's jobs wait before probing again (default PAUSE_RETRY_MS). */
  pauseRetryMs?: number | undefined;
  /**
   * A manual two-way sync's first half: the inbound reconcile of the record's linked issue (the
   * inbound job's path). What it read comes back so this job does not read the issue again; null
   * when the record has no linked issue (then only the outbound half runs).
   */
  reconcileInbound?: ((recordId: string, jobId: number | null) => Promise<LinkedReconcile | null>) | undefined;
  /**
   * Null when the connection may be called; else how long to wait (ms) before trying again
   * (a paused connection lets one job probe per interval).
   */
  connectionGate?: ((connectionId: string) => number | null) | undefined;
  /** Connection health: called with the reason when credentials fail, with null when they work again. */
  onConnectionHealth?: ((connectionId: string, problem: string | null) => void) | undefined;
  /**
   * True when the record's mapping or connection is disabled: it was held pending (./pause.ts)
   * and the job ends without a call.
   */
  hold?:
    | ((
        recordId: string,
        connectionId: string,
        mappingIds: ReadonlyArray<string | null | undefined>,
        resync: boolean,
        jobId: number | null,
      ) => Promise<boolean>)
    | undefined;
}

/** Built once per handler; every part of the executor takes it. */
export interface OutboundContext {
  deps: OutboundDeps;
  store: Store;
  now: () => number;
  /** The sync log row, the host's feed event and the agreed bases (./sync-writes.ts). */
  writes: SyncWrites;
  /** What has been learnt of each workflow (connection/project/issue type): shortest paths, fewer calls. */
  workflows: Map<string, WorkflowGraph>;
}

export type RecordRow = Selectable<RecordsTable>;
export type LinkRow = Selectable<LinksTable>;

/** What one sync did, as it goes to the sync log (fields, warnings, path, extra) and the feed. */
export interface SyncOutcome {
  action: string;
  fields: string[];
  warnings: string[];
  path?: string[];
  extra?: Record<string, unknown>;
}

/** The issue as the inbound half of a manual two-way sync read it, and the custom fields it asked for. */
export interface Preread {
  state: JiraIssueState | null;
  fields: readonly string[];
}
