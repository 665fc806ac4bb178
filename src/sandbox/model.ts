/**
 * The sandbox's domain model: plain data held by SandboxState. Rendering to Jira's REST shapes
 * (per flavour and API version) lives in ./render; nothing here knows about HTTP.
 */

export type Flavour = 'cloud' | 'datacenter';

/** The REST API version a request came through: 3 speaks ADF, 2 speaks wiki markup. */
export type ApiVersion = '2' | '3';

/** An Atlassian Document Format node (https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/). */
export interface AdfNode {
  type: string;
  version?: number;
  text?: string;
  attrs?: Record<string, unknown>;
  marks?: Array<{ type: string; attrs?: Record<string, unknown> }>;
  content?: AdfNode[];
}

export interface SandboxUser {
  /** Internal id; also the Cloud accountId. */
  accountId: string;
  /** Data Center user name (login) and key. */
  name: string;
  key: string;
  displayName: string;
  email: string;
  /** Cloud hides emailAddress when the user's profile privacy says so. */
  emailVisible: boolean;
  active: boolean;
  timeZone: string;
  admin: boolean;
  apiToken: string;
  /** The Data Center / Server login password (Basic username:password; Cloud refuses passwords). */
  password: string;
  pat: string;
  /** OAuth 2.0 (3LO) access token accepted as a Bearer on Cloud. */
  oauthToken: string;
  accountType: 'atlassian' | 'app' | 'customer';
}

export type StatusCategoryKey = 'new' | 'indeterminate' | 'done';

export interface SandboxStatus {
  id: string;
  name: string;
  description: string;
  category: StatusCategoryKey;
}

export interface SandboxIssueType {
  id: string;
  name: string;
  description: string;
  subtask: boolean;
  avatarId: number;
}

export interface SandboxPriority {
  id: string;
  name: string;
  description: string;
  statusColor: string;
  icon: string;
  isDefault: boolean;
}

export interface SandboxResolution {
  id: string;
  name: string;
  description: string;
}

export type CustomFieldKind =
  'text' | 'textarea' | 'number' | 'url' | 'select' | 'multiselect' | 'labels' | 'user' | 'date';

export interface FieldOption {
  id: string;
  value: string;
  disabled?: boolean;
}

export interface CustomFieldDef {
  id: string;
  name: string;
  kind: CustomFieldKind;
  description: string;
  options: FieldOption[];
  /** Issue type ids whose create requires this field (a field configuration; none by default). */
  requiredFor?: string[];
}

export interface TransitionScreenField {
  fieldId: string;
  required: boolean;
}

export interface WorkflowTransition {
  id: string;
  name: string;
  to: string;
  /** Source statuses, or 'global' for "from any status". */
  from: string[] | 'global';
  screen: TransitionScreenField[];
  /** Set the resolution to null when taken (reopen). */
  clearsResolution?: boolean;
  /** Post function: set this resolution when none is given (e.g. Done). */
  defaultResolutionId?: string;
}

export interface SandboxWorkflow {
  name: string;
  initialStatusId: string;
  statusIds: string[];
  transitions: WorkflowTransition[];
}

export interface SandboxProject {
  id: string;
  key: string;
  name: string;
  description: string;
  projectTypeKey: 'software' | 'business' | 'service_desk';
  leadAccountId: string;
  issueTypeIds: string[];
  /** Workflow name per issue type id. */
  workflows: Record<string, string>;
  /** Last number handed out for KEY-n. */
  counter: number;
  /** Custom field ids on this project's screens. */
  customFieldIds: string[];
}

export interface ServiceDesk {
  id: string;
  projectId: string;
  requestTypes: RequestType[];
}

export interface RequestType {
  id: string;
  name: string;
  description: string;
  helpText: string;
  issueTypeId: string;
  serviceDeskId: string;
  groupIds: string[];
}

export interface SandboxComment {
  id: string;
  authorId: string;
  updateAuthorId: string;
  body: AdfNode;
  created: number;
  updated: number;
  /** JSM: visible to the customer (public) or internal. */
  jsdPublic: boolean;
  visibility: { type: 'group' | 'role'; value: string } | null;
}

export interface SandboxAttachment {
  id: string;
  filename: string;
  mimeType: string;
  size: number;
  content: Buffer;
  authorId: string;
  created: number;
}

export interface SandboxRemoteLink {
  id: number;
  globalId: string | null;
  application: Record<string, unknown> | null;
  relationship: string | null;
  object: Record<string, unknown>;
}

/** A kind of issue link: "A blocks B" reads the outward description from the source issue A. */
export interface SandboxIssueLinkType {
  id: string;
  name: string;
  inward: string;
  outward: string;
}

/** A link between two issues: `sourceId` {type.outward} `destinationId`. */
export interface SandboxIssueLink {
  id: string;
  typeId: string;
  sourceId: string;
  destinationId: string;
  created: number;
}

export interface ChangeItem {
  field: string;
  fieldtype: 'jira' | 'custom';
  fieldId: string;
  from: string | null;
  fromString: string | null;
  to: string | null;
  toString: string | null;
  /** from/to hold account ids; Data Center renders user keys instead. */
  userField?: boolean;
}

export interface ChangeHistory {
  id: string;
  authorId: string;
  created: number;
  items: ChangeItem[];
}

export interface SandboxIssue {
  id: string;
  key: string;
  /** Keys this issue had before it was moved; they keep resolving. */
  previousKeys: string[];
  projectId: string;
  issueTypeId: string;
  statusId: string;
  statusCategoryChanged: number;
  priorityId: string | null;
  resolutionId: string | null;
  resolutionDate: number | null;
  summary: string;
  description: AdfNode | null;
  environment: AdfNode | null;
  labels: string[];
  assigneeId: string | null;
  reporterId: string | null;
  creatorId: string;
  parentId: string | null;
  dueDate: string | null;
  created: number;
  updated: number;
  /** Custom field values by field id, in stored form (see fields.ts). */
  custom: Record<string, unknown>;
  comments: SandboxComment[];
  attachments: SandboxAttachment[];
  properties: Map<string, unknown>;
  remoteLinks: SandboxRemoteLink[];
  changelog: ChangeHistory[];
  /** Service Management request type, when raised through the portal API. */
  requestTypeId: string | null;
  /** Account ids of the users watching the issue, in the order they started. */
  watcherIds: string[];
}
