import type { Generated } from 'kysely';

/**
 * The database schema as kysely sees it, identical on SQLite and PostgreSQL.
 *
 * Conventions (both engines): ids are text (UUIDv7, time-sortable) except the three append-only
 * sequences (jobs.id, change_feed.seq) which are auto-increment integers because their order
 * matters; timestamps are integer epoch milliseconds; JSON is stored as text (encode with
 * `toJson`, decode with `fromJson` from ./json.ts); booleans are integers 0/1.
 */

/** Epoch milliseconds. */
export type Millis = number;
/** JSON encoded as text. */
export type JsonText = string;

export interface ConnectionsTable {
  id: string;
  name: string;
  /** 'cloud' | 'datacenter' | 'jsm' */
  flavour: string;
  site_url: string;
  config: JsonText;
  /** Encrypted secrets blob; never logged, never returned by the API. */
  secrets_enc: string | null;
  created_at: Millis;
  updated_at: Millis;
}

export interface MappingsTable {
  id: string;
  connection_id: string;
  host_scope: string;
  config: JsonText;
  version: number;
  created_at: Millis;
  updated_at: Millis;
}

export type SyncState = 'pending' | 'synced' | 'failed';

export interface RecordsTable {
  /** Internal id. */
  id: string;
  /** The host platform's id of the record, unique within `scope`. */
  host_id: string;
  scope: string;
  /** 'vulnerability' | 'finding' | 'incident' | 'alert' | 'ticket' | … */
  kind: string;
  /** JSON: { title, description, status, severity, assignee_email, labels, custom, parent_host_id, … } */
  data: JsonText;
  version: number;
  /** JSON { <base field name>: epoch ms } of the host's last change per field (conflict clock). */
  field_times: JsonText | null;
  sync_state: SyncState;
  /** JSON { code, message } of the last sync failure, or null. */
  last_error: JsonText | null;
  deleted_at: Millis | null;
  created_at: Millis;
  updated_at: Millis;
}

export type LinkState = 'creating' | 'linked' | 'unlinked';

export interface LinksTable {
  record_id: string;
  connection_id: string;
  /** Jira issue id (stable); null while the issue is being created. Unique per connection. */
  issue_id: string | null;
  issue_key: string | null;
  project_key: string | null;
  mapping_id: string | null;
  mapping_snapshot: JsonText | null;
  /** Idempotency token carried by the create call; unique. */
  create_token: string | null;
  state: LinkState;
  /** Jira's `updated` of the issue when its state was last applied to the record (inbound). */
  jira_updated: Millis | null;
  created_at: Millis;
  updated_at: Millis;
}

export interface FieldBasesTable {
  record_id: string;
  field: string;
  /** JSON of the normalised value both sides last agreed on. */
  value: JsonText;
  /** 'host' | 'jira' | 'initial' */
  origin: string;
  updated_at: Millis;
}

/** One Jira write of the outbound job: intent before the call, outcome after (see migration 007). */
export interface SyncJournalTable {
  /** Time-ordered id (newId). */
  id: string;
  record_id: string;
  job_id: number | null;
  /** 'create' | 'edit' | 'transition' */
  op: string;
  /** The issue id or key written to (null for a create). */
  target: string | null;
  /** JSON: create/edit { values: { <base key>: value } }; transition { from, to, transition }. */
  intent: JsonText;
  /** null while unknown (in flight, or the process died), 'done', 'failed' (Jira refused it). */
  outcome: string | null;
  created_at: Millis;
  updated_at: Millis;
}

/** A rework task of a record (migration 009): a secondary linked issue, comments only. */
export interface ReworkLinksTable {
  /** The creation token (`rework-<record id>-<record version>`). */
  token: string;
  record_id: string;
  connection_id: string;
  issue_id: string;
  issue_key: string;
  /** The primary issue's key when the task was made. */
  rework_of: string | null;
  /** 'open' | 'closed' | 'deleted' (in Jira). */
  state: string;
  /** 1 once the Jira issue link to the primary issue exists. */
  linked: number;
  created_at: Millis;
  updated_at: Millis;
}

export interface CommentLinksTable {
  id: string;
  record_id: string;
  host_comment_id: string | null;
  jira_comment_id: string | null;
  /** The Jira issue a Jira comment is on when not the record's primary issue (a rework task). */
  jira_issue_id?: string | null;
  /** 'host' | 'jira' */
  origin: string;
  /** The normalised body both sides last agreed on (or its hash). */
  base_body: string | null;
  deleted: number;
  created_at: Millis;
  updated_at: Millis;
}

export interface AttachmentLinksTable {
  id: string;
  record_id: string;
  host_attachment_id: string | null;
  jira_attachment_id: string | null;
  filename: string;
  size: number | null;
  sha256: string | null;
  origin: string;
  deleted: number;
  created_at: Millis;
  updated_at: Millis;
  /** The MIME type Jira gave (attachments from Jira). */
  mime_type?: string | null;
  /** Why the bytes are not stored (e.g. over the mapping's size cap); null when they are. */
  note?: string | null;
}

export interface RecordCommentsTable {
  id: string;
  record_id: string;
  author: string | null;
  body: string;
  /** 'host' | 'jira' */
  origin: string;
  /** 1 when the comment is internal (Service Management: not visible to the customer). */
  internal: Generated<number>;
  deleted: number;
  created_at: Millis;
  updated_at: Millis;
}

export type JobState = 'queued' | 'running' | 'done' | 'dead';

export interface JobsTable {
  /** Auto-increment: the global enqueue order, used for per-key FIFO. */
  id: Generated<number>;
  kind: string;
  key: string;
  payload: JsonText;
  coalesce_key: string | null;
  state: JobState;
  attempts: number;
  max_attempts: number;
  run_at: Millis;
  lease_owner: string | null;
  lease_expires_at: Millis | null;
  /** JSON { code, message, retryable, attempt, at } */
  last_error: JsonText | null;
  /** How many enqueues were merged into this job. */
  coalesced: number;
  created_at: Millis;
  updated_at: Millis;
  started_at: Millis | null;
  finished_at: Millis | null;
  /** What the job works for, for fair claiming: `<connection>/<mapping>`, `<connection>`, or '' (system). */
  partition: Generated<string>;
  /** Start tag of start-time fair queuing: claims take queued jobs in (fair_seq, id) order. */
  fair_seq: Generated<number>;
}

export interface WebhookDeliveriesTable {
  id: string;
  connection_id: string;
  /** X-Atlassian-Webhook-Identifier (unique per connection when present). */
  identifier: string | null;
  received_at: Millis;
  event: string | null;
  issue_id: string | null;
  issue_key: string | null;
  /** JSON of headers with secrets removed. */
  headers: JsonText;
  body: string;
  /** 'accepted' | 'duplicate' | 'rejected:signature' | 'rejected:token' | 'ignored' | … */
  verdict: string;
  detail: string | null;
  /** Rejected deliveries: the client address (forwarded one behind a trusted proxy). */
  source_address: string | null;
  /** Rejected deliveries: how many more came from that address for that connection in the row's window. */
  repeats: Generated<number>;
}

export interface SyncLogTable {
  id: string;
  record_id: string | null;
  /** 'outbound' | 'inbound' */
  direction: string;
  action: string;
  fields: JsonText | null;
  jira_calls: number;
  job_id: number | null;
  error: JsonText | null;
  at: Millis;
}

export interface ChangeFeedTable {
  seq: Generated<number>;
  record_id: string;
  event: string;
  data: JsonText | null;
  at: Millis;
}

export interface OutboundWebhooksTable {
  id: string;
  url: string;
  events: JsonText;
  /** Sealed secret (aad `host-webhook:<id>`) of a subscription made through the API; null for the file's. */
  secret_enc: string | null;
  /** 'file' (configuration) | 'api' (admin API, secret sealed). */
  source: Generated<string>;
  description: string | null;
  active: number;
  created_at: Millis;
  updated_at: Millis;
}

export interface OutboundWebhookDeliveriesTable {
  id: string;
  webhook_id: string;
  event: string;
  payload: JsonText;
  /** 'pending' | 'delivered' | 'failed' */
  status: string;
  attempts: number;
  response_status: number | null;
  last_error: JsonText | null;
  created_at: Millis;
  delivered_at: Millis | null;
}

export interface ApiTokensTable {
  id: string;
  name: string;
  role: string;
  scopes: JsonText;
  /** Hash of the token; the token itself is never stored. */
  hash: string;
  created_at: Millis;
  last_used_at: Millis | null;
  expires_at: Millis | null;
  revoked_at: Millis | null;
}

export interface AuditLogTable {
  id: string;
  actor: string;
  action: string;
  target: string | null;
  before: JsonText | null;
  after: JsonText | null;
  at: Millis;
}

export interface SettingsTable {
  key: string;
  value: JsonText;
  updated_at: Millis;
}

/** Named leases for leader-ish work (one sweeper per connection across processes). */
export interface LocksTable {
  name: string;
  owner: string;
  expires_at: Millis;
}

/** Progress of periodic sweeps (reconciliation), one row per sweep name. */
export interface SweepsTable {
  name: string;
  cursor: JsonText | null;
  last_started_at: Millis | null;
  last_finished_at: Millis | null;
  last_error: JsonText | null;
}

/** OAuth 2.0 (3LO) tokens of a connection; access and refresh tokens sealed (SecretBox). */
export interface OAuthTokensTable {
  connection_id: string;
  /** Sealed access token (aad `oauth:<connection id>:access`). */
  access_enc: string;
  /** Sealed refresh token (aad `oauth:<connection id>:refresh`); null without offline_access. */
  refresh_enc: string | null;
  /** When the access token expires. */
  expires_at: Millis;
  cloud_id: string;
  /** The site URL accessible-resources gave for cloud_id. */
  site_url: string;
  scope: string;
  /** Bumped on every write: compare-and-swap between replicas refreshing at once. */
  version: number;
  created_at: Millis;
  updated_at: Millis;
}

/** Pending OAuth authorization requests: the hashed `state`, single use, with an expiry. */
export interface OAuthStatesTable {
  /** SHA-256 (base64url) of the state sent to the authorization server. */
  state_hash: string;
  connection_id: string;
  redirect_uri: string;
  actor: string;
  expires_at: Millis;
  created_at: Millis;
}

/** A run of "apply to linked records" (src/engine/apply.ts). */
export interface ApplyRunsTable {
  id: string;
  mapping_id: string;
  /** 'running' | 'done' | 'cancelled' | 'failed' */
  state: string;
  total: number;
  enqueued: number;
  done: number;
  changed: number;
  unchanged: number;
  failed: number;
  jira_calls: number;
  /** The last record id queued (records are listed in id order, a page at a time). */
  listed_after: string | null;
  /** 1 once every record has been queued. */
  listed: number;
  error: string | null;
  requested_by: string;
  started_at: Millis;
  finished_at: Millis | null;
  updated_at: Millis;
}

/** One record an apply run queued: its re-sync job and, once over, what it did. */
export interface ApplyRunRecordsTable {
  run_id: string;
  record_id: string;
  job_id: number;
  /** null while its job runs; then 'changed' | 'unchanged' | 'failed' */
  outcome: string | null;
  jira_calls: number;
}

export interface Database {
  connections: ConnectionsTable;
  mappings: MappingsTable;
  records: RecordsTable;
  links: LinksTable;
  field_bases: FieldBasesTable;
  sync_journal: SyncJournalTable;
  comment_links: CommentLinksTable;
  rework_links: ReworkLinksTable;
  attachment_links: AttachmentLinksTable;
  record_comments: RecordCommentsTable;
  jobs: JobsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  sync_log: SyncLogTable;
  change_feed: ChangeFeedTable;
  outbound_webhooks: OutboundWebhooksTable;
  outbound_webhook_deliveries: OutboundWebhookDeliveriesTable;
  api_tokens: ApiTokensTable;
  audit_log: AuditLogTable;
  settings: SettingsTable;
  locks: LocksTable;
  sweeps: SweepsTable;
  oauth_tokens: OAuthTokensTable;
  oauth_states: OAuthStatesTable;
  apply_runs: ApplyRunsTable;
  apply_run_records: ApplyRunRecordsTable;
}
