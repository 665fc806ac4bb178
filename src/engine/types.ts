/**
 * The outbound engine's own vocabulary: the mapping settings it applies (a normalised snapshot,
 * stored with each link so a record keeps the settings it was linked with), the record as the
 * host sent it, and the narrow Jira port it drives.
 */

import type { MappingTemplates } from '../core/templates.js';

export type SyncDirection = 'both' | 'to_jira' | 'from_jira';
export type FieldDirection = 'both' | 'to_jira' | 'from_jira';

/** How a host value is encoded for a Jira field. */
export type JiraFieldType =
  | 'string'
  | 'textarea'
  | 'number'
  | 'url'
  | 'date'
  | 'datetime'
  | 'select'
  | 'multiselect'
  | 'labels'
  | 'user'
  | 'checkbox'
  | 'radio';

export interface FieldMappingSnapshot {
  /** Name of the host custom value (`custom.cvss`), e.g. `cvss`. */
  host: string;
  /** Jira field id, e.g. `customfield_10042`. */
  jira: string;
  type: JiraFieldType;
  direction: FieldDirection;
  /** Which side wins a conflict on this field regardless of time. */
  lock?: 'host' | 'jira' | undefined;
  /** Select / multi-select: host value → Jira option; unlisted values go as they are. */
  values?: Record<string, string> | undefined;
}

export interface KindTarget {
  /** Jira issue type name (e.g. `Bug`, `Sub-task`). Ignored for Service Management requests. */
  issueType: string;
  /** Sub-task kinds: the parent record must be linked first; its issue becomes the parent. */
  subtask?: boolean | undefined;
  /** Service Management: create through the service desk API. */
  serviceDesk?: { serviceDeskId: string; requestTypeId: string } | undefined;
}

export interface ReopenPolicy {
  /**
   * What happens when a record comes back to an open status while its issue is done:
   * `reopen` transitions the issue back, `never` leaves it, `rework` creates a linked rework task.
   */
  mode: 'reopen' | 'never' | 'rework';
  /** Rework: the issue type of the task and the link type that ties it to the original issue. */
  reworkIssueType?: string | undefined;
  reworkLinkType?: string | undefined;
}

/** Everything the outbound engine needs from one mapping (one host scope → one Jira project). */
export interface OutboundMapping {
  /** Stable id (mappings.id). */
  id: string;
  connectionId: string;
  scope: string;
  projectKey: string;
  /**
   * JQL narrowing which issues of the project are this mapping's own (ANDed into its searches;
   * a single issue is tested with `id = N AND (filter)`). Absent: the whole project.
   */
  filter?: string | undefined;
  direction: SyncDirection;
  kinds: Record<string, KindTarget>;
  /** Host status → Jira status name. Several host statuses may share one. */
  statusOut: Record<string, string>;
  /**
   * Host statuses that mean "resolved/closed": each goes to the Jira status `statusOut` names for
   * it, else to `closeStatus`.
   */
  closedStatuses: string[];
  /** Jira status a closed host status without its own `statusOut` entry closes into; null: never. */
  closeStatus: string | null;
  /**
   * Resolution a transition sets (when its screen has the field): one name, or a table by host
   * status with an optional `default` (see resolutionFor in ./desired.ts). Absent: Jira's choice.
   */
  resolution?: string | Record<string, string> | undefined;
  reopen: ReopenPolicy;
  severityToPriority: Record<string, string>;
  defaultPriority?: string | undefined;
  fields: FieldMappingSnapshot[];
  /** Labels added to every issue of this mapping. */
  labels: string[];
  /**
   * A link from each issue back to its record on the platform (a Jira remote link), from a URL
   * template with {scope}, {host_id} and {kind}.
   */
  hostLink?: { url: string; title?: string | undefined } | undefined;
  /**
   * Issue content rendered from the record (Liquid, checked at save; see src/core/templates.ts):
   * a templated summary or description is what the three-way compare sees on the host's side.
   */
  templates?: MappingTemplates | undefined;
  comments: boolean;
  /** Direction of the built-in fields (summary, description, priority, labels, assignee). */
  builtinDirections?: Partial<
    Record<'summary' | 'description' | 'priority' | 'labels' | 'assignee' | 'status', FieldDirection>
  >;
  /** Jira → host settings (defaults: see inboundSettings() in ./inbound-mapping.ts). */
  inbound?: InboundSettings | undefined;
  /** `enabled: false` in its configuration: nothing flows either way (see ./pause.ts). */
  enabled?: boolean | undefined;
}

/** How Jira's side flows back to the host for one mapping. */
export interface InboundSettings {
  /** Jira status id, name (any case/language) or `category:<key>` → host status. */
  statusIn: Record<string, string>;
  statusInDefault?: string | undefined;
  /** Jira priority name → host severity (else the inverse of the outbound table). */
  priorityIn: Record<string, string>;
  priorityInDefault?: string | undefined;
  /** May a Jira transition reopen a record that is closed on the host? */
  reopenFromJira: boolean;
  /** Do Jira comments flow to the record? */
  comments: boolean;
  /** Issue deleted in Jira: unlink and keep the record, or resolve it (then unlink). */
  onJiraDelete: 'unlink' | 'resolve';
  /** Issues created in Jira: ignored unless linked, or they create host records. */
  onJiraCreate: 'ignore' | 'create_record';
  /**
   * Jira's assignee has no email the record can match (hidden by the user's privacy, or none):
   * `unassign` the record (default) or `keep` its assignee; either way the record carries a
   * warning until Jira's assignee is one it can match again.
   */
  assigneeUnmatched?: 'unassign' | 'keep' | undefined;
  /** Kind of the records created from Jira issues (default: the first mapped kind). */
  createKind?: string | undefined;
  /**
   * Attachments added in Jira are downloaded to the record (default on); one larger than
   * `maxBytes` is recorded with a note instead of being downloaded (default 10 MiB).
   */
  attachments?: { fromJira: boolean; maxBytes: number } | undefined;
}

export interface ConnectionInfo {
  id: string;
  name: string;
  flavour: 'cloud' | 'datacenter';
  siteUrl: string;
  /** How often (at most) the sweep checks that linked issues still exist; 0 = never (default 3600). */
  linkCheckSeconds?: number | undefined;
  /** `enabled: false` in its configuration: nothing flows either way (see ./pause.ts). */
  enabled?: boolean | undefined;
}

/** Where mappings and connections come from (the config, through the composition root). */
export interface MappingSource {
  forScope(scope: string): OutboundMapping | undefined;
  byId(id: string): OutboundMapping | undefined;
  all(): OutboundMapping[];
  connection(id: string): ConnectionInfo | undefined;
  /** Every connection in force (optional: sources without it list those their mappings name). */
  connections?(): ConnectionInfo[];
}

/** The host's record as stored in records.data. */
export interface RecordData {
  title: string;
  description: string;
  status: string;
  severity: string | null;
  assignee_email: string | null;
  labels: string[];
  custom: Record<string, unknown>;
  parent_host_id: string | null;
}

export interface RecordInput {
  scope: string;
  hostId: string;
  kind: string;
  title: string;
  description?: string | undefined;
  status: string;
  severity?: string | null | undefined;
  assignee_email?: string | null | undefined;
  labels?: string[] | undefined;
  custom?: Record<string, unknown> | undefined;
  parent_host_id?: string | null | undefined;
}

// ------------------------------------------------------------------------------------------
// The Jira port: the calls the engine makes. An adapter over src/jira's client implements it.
// ------------------------------------------------------------------------------------------

export interface IssueRef {
  id: string;
  key: string;
}

export interface TransitionInfo {
  id: string;
  name: string;
  to: { id: string; name: string; category?: string | undefined };
  /** Screen fields, with whether they are required and their allowed values (names). */
  fields?: Record<string, { required: boolean; allowedValues?: string[] | undefined }> | undefined;
}

export interface IssueSnapshot {
  id: string;
  key: string;
  /** Workflows are per project and issue type (the cache key of what is learnt about them). */
  projectKey?: string | undefined;
  issueType?: string | undefined;
  status: { id: string; name: string; category?: string | undefined };
  labels: string[];
}

export interface CreateBody {
  fields: Record<string, unknown>;
  /** Creation token (bulk create): the port stamps it where a retry can find it. */
  token?: string | undefined;
  properties?: Array<{ key: string; value: unknown }> | undefined;
}

export interface EditBody {
  fields?: Record<string, unknown> | undefined;
  update?: Record<string, Array<Record<string, unknown>>> | undefined;
}

export interface JiraPort {
  readonly flavour: 'cloud' | 'datacenter';
  browseUrl(key: string): string;
  /**
   * Creates the issue carrying `token`, or adopts the issue an earlier attempt created with the
   * same token. Never creates two issues for one token.
   */
  createOnce(
    body: CreateBody,
    token: string,
    opts?: {
      searchFirst?: boolean;
      /** When the last attempt was made (a retry waits out the search lag after it). */
      previousAttemptAt?: number;
      /** The earliest time an earlier attempt can have created the issue (the search window). */
      since?: number;
    },
  ): Promise<IssueRef & { adopted: boolean }>;
  /**
   * Finds the issues carrying these creation tokens (for backfill adoption): created by this
   * connection's account in the project since `since` (epoch ms), confirmed by their property.
   */
  findByTokens(projectKey: string, tokens: string[], since?: number): Promise<Map<string, IssueRef>>;
  /** Up to 50 issues in one call; results in input order (null where that element failed). */
  bulkCreate(bodies: CreateBody[]): Promise<Array<{ ref: IssueRef | null; error: string | null }>>;
  createRequest(input: {
    serviceDeskId: string;
    requestTypeId: string;
    fields: Record<string, unknown>;
    token: string;
    projectKey: string;
    searchFirst?: boolean;
    /** The earliest time an earlier attempt can have created the request (the search window). */
    since?: number | undefined;
    /** More of the `jira-bridge` property's value (the token is added). */
    properties?: Array<{ key: string; value: unknown }> | undefined;
  }): Promise<IssueRef & { adopted: boolean }>;
  getIssue(idOrKey: string): Promise<IssueSnapshot>;
  editIssue(idOrKey: string, body: EditBody): Promise<void>;
  getTransitions(idOrKey: string): Promise<TransitionInfo[]>;
  /** A status by name (with its category), or null when the site has no such status. */
  getStatus(name: string): Promise<{ id: string; name: string; category?: string | undefined } | null>;
  /** `fields`/`update` only for fields on the transition's screen (Jira refuses others). */
  transition(
    idOrKey: string,
    transitionId: string,
    fields?: Record<string, unknown>,
    update?: Record<string, Array<Record<string, unknown>>>,
  ): Promise<void>;
  /** Comments on the issue as plain text (to recognise a comment an interrupted attempt posted). */
  listComments(idOrKey: string): Promise<Array<{ id: string; text: string }>>;
  /** `internal`: a note the Service Management customer does not see. */
  addComment(idOrKey: string, body: unknown, opts?: { internal?: boolean }): Promise<{ id: string }>;
  updateComment(idOrKey: string, commentId: string, body: unknown): Promise<void>;
  addAttachment(idOrKey: string, filename: string, bytes: Buffer): Promise<{ id: string }>;
  /** The issue's attachments (to recognise one an interrupted upload already added). */
  listAttachments(idOrKey: string): Promise<Array<{ id: string; filename: string; size: number }>>;
  /** An attachment's bytes (one call: Cloud's content API without the redirect, DC's download URL). */
  downloadAttachment(id: string, filename: string): Promise<Buffer>;
  /** Account reference for an email; null when no user matches or emails are hidden. */
  findUserByEmail(email: string): Promise<Record<string, string> | null>;
  linkIssues(type: string, inwardKey: string, outwardKey: string): Promise<void>;
  /** A remote link on the issue (upserted by its global id: replayable). */
  linkOut(idOrKey: string, globalId: string, url: string, title: string): Promise<void>;
  /** Converts Markdown to the body format of this flavour (ADF on Cloud, wiki on DC). */
  toBody(markdown: string): unknown;
  /** The account this connection acts as (one call, then cached): its changes are echoes. */
  whoami(): Promise<JiraPerson>;
  /** The issue's current state (fields and all comments); null when it no longer exists. */
  readIssue(idOrKey: string, customFieldIds: readonly string[]): Promise<JiraIssueState | null>;
  /**
   * Which of these issue ids a search does not find (one `id in (…)` search per 100, fields=id).
   * Candidates only: search lags behind writes and permissions can hide issues.
   */
  missingIssues(issueIds: readonly string[], filter?: string): Promise<string[]>;
  /**
   * Issues updated at or after `since` (epoch ms), oldest first, all pages: of the projects named,
   * or of each project narrowed by its mapping's JQL filter (`{ projectKey, filter }`).
   */
  updatedSince(scopes: ReadonlyArray<string | SearchScope>, since: number): AsyncIterable<IssueStamp>;
  /** Does a search find this issue under the JQL (`id = N AND (jql)`, one call)? */
  matchesJql(issueId: string, jql: string): Promise<boolean>;
}

/** A project, narrowed by a mapping's JQL filter when it has one. */
export interface SearchScope {
  projectKey: string;
  filter?: string | undefined;
}

/** A Jira user as inbound sync sees it (email only where Jira reveals it). */
export interface JiraPerson {
  accountId?: string | undefined;
  name?: string | undefined;
  key?: string | undefined;
  displayName: string;
  email: string | null;
}

export interface IssueStamp {
  id: string;
  key: string;
  projectKey: string;
  /** Epoch ms of Jira's `updated`. */
  updated: number;
  /** What the sweep's search page carried besides (no extra call): compared with the agreed values. */
  seen?: { summary?: string; status?: string; priority?: string | null; issueType?: string };
}

export interface JiraCommentState {
  id: string;
  author: JiraPerson | null;
  /** ADF (REST v3) or wiki markup (REST v2). */
  body: unknown;
  created: number;
  updated: number;
  /** Service Management: not visible to the customer. */
  internal: boolean;
}

/** Everything inbound sync compares, read in one call. */
export interface JiraIssueState extends IssueStamp {
  /**
   * When each field last changed in Jira (epoch ms), by Jira field id (`summary`, `status`,
   * `customfield_10010`) and by field name, from the changelog; absent fields: use `updated`.
   */
  fieldTimes: Record<string, number>;
  /** Who made the change of `fieldTimes` (the changelog entry's author), by the same keys. */
  fieldAuthors?: Record<string, JiraPerson> | undefined;
  /**
   * The newest status change of the changelog, by status names, and its author (null: none
   * named, an anonymous change); absent: none read.
   */
  lastStatusChange?: { from: string | null; to: string | null; by?: JiraPerson | null | undefined } | undefined;
  issueType: string;
  created: number;
  status: { id: string; name: string; category?: string | undefined };
  summary: string;
  /** ADF (REST v3) or wiki markup (REST v2); null when empty. */
  description: unknown;
  priority: string | null;
  labels: string[];
  assignee: JiraPerson | null;
  /** Raw values of the requested custom fields. */
  custom: Record<string, unknown>;
  /** The creation token of an issue jira-bridge created (its `jira-bridge` entity property). */
  creationToken?: string | undefined;
  comments: JiraCommentState[];
  /** The issue's attachments; null when the read did not carry the field (attachments off in Jira). */
  attachments: JiraAttachmentState[] | null;
}

export interface JiraAttachmentState {
  id: string;
  filename: string;
  size: number;
  mimeType: string;
  author: JiraPerson | null;
  created: number;
}
