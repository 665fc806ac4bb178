/**
 * The Jira shapes the client reads and writes: only the members a sync product uses, with an index
 * signature where Jira returns more. Text fields are ADF documents on Cloud (v3) and wiki-markup
 * strings on Data Center (v2); the caller converts (see src/engine/markup.ts).
 */

export type JiraFlavour = 'cloud' | 'datacenter';

/** ADF document (Cloud) or wiki markup (Data Center). */
export type JiraText = string | { type: 'doc'; version: 1; content: unknown[] };

export interface JiraUser {
  accountId?: string;
  name?: string;
  key?: string;
  displayName: string;
  emailAddress?: string | null;
  active?: boolean;
  [k: string]: unknown;
}

export interface JiraServerInfo {
  baseUrl: string;
  version: string;
  deploymentType: string;
  [k: string]: unknown;
}

export interface JiraIssueTypeRef {
  id: string;
  name: string;
  subtask?: boolean;
  [k: string]: unknown;
}

export interface JiraProject {
  id: string;
  key: string;
  name: string;
  issueTypes?: JiraIssueTypeRef[];
  projectTypeKey?: string;
  [k: string]: unknown;
}

export interface JiraAllowedValue {
  id: string;
  name?: string;
  value?: string;
  [k: string]: unknown;
}

export interface JiraFieldMeta {
  fieldId: string;
  key?: string;
  name: string;
  required: boolean;
  schema?: { type: string; items?: string; custom?: string; customId?: number; system?: string };
  allowedValues?: JiraAllowedValue[];
  [k: string]: unknown;
}

export interface JiraPriority {
  id: string;
  name: string;
  [k: string]: unknown;
}

export interface JiraStatus {
  id: string;
  name: string;
  statusCategory?: { id?: number; key: string; name?: string };
  [k: string]: unknown;
}

export interface JiraResolution {
  id: string;
  name: string;
  [k: string]: unknown;
}

export interface JiraField {
  id: string;
  key?: string;
  name: string;
  custom: boolean;
  schema?: { type: string; items?: string; custom?: string; customId?: number; system?: string };
  [k: string]: unknown;
}

export interface JiraIssue {
  id: string;
  key: string;
  self?: string;
  fields: Record<string, unknown>;
  properties?: Record<string, unknown>;
  [k: string]: unknown;
}

export interface CreatedIssue {
  id: string;
  key: string;
  self?: string;
}

export interface IssueInput {
  fields?: Record<string, unknown>;
  update?: Record<string, unknown>;
  /** Entity properties set at creation: [{ key, value }]. */
  properties?: Array<{ key: string; value: unknown }>;
  transition?: { id: string };
}

export interface BulkCreateItemResult {
  index: number;
  issue: CreatedIssue | null;
  error: { status: number; message: string; errors: Record<string, string>; errorMessages: string[] } | null;
}

export interface JiraTransition {
  id: string;
  name: string;
  to: JiraStatus;
  hasScreen?: boolean;
  fields?: Record<string, JiraFieldMeta & { allowedValues?: JiraAllowedValue[] }>;
  [k: string]: unknown;
}

export interface JiraComment {
  id: string;
  body: JiraText;
  author?: JiraUser;
  created?: string;
  updated?: string;
  jsdPublic?: boolean;
  [k: string]: unknown;
}

export interface Page<T> {
  values: T[];
  startAt: number;
  total: number | null;
  isLast: boolean;
}

export interface JiraAttachment {
  id: string;
  filename: string;
  size: number;
  mimeType: string;
  [k: string]: unknown;
}

export interface RemoteLinkInput {
  globalId: string;
  relationship?: string;
  application?: { type?: string; name?: string };
  object: {
    url: string;
    title: string;
    summary?: string;
    icon?: { url16x16?: string; title?: string };
    status?: { resolved?: boolean };
  };
}

export interface SearchPage {
  issues: JiraIssue[];
  /** Cloud: token for the next page (absent on the last page). */
  nextPageToken?: string;
  /** Data Center: offset paging. */
  startAt?: number;
  total?: number;
  isLast: boolean;
}

export interface ServiceDesk {
  id: string;
  projectId: string;
  projectKey: string;
  projectName?: string;
  [k: string]: unknown;
}

export interface RequestType {
  id: string;
  name: string;
  serviceDeskId?: string;
  issueTypeId?: string;
  [k: string]: unknown;
}

export interface CreatedRequest {
  issueId: string;
  issueKey: string;
  requestTypeId?: string;
  serviceDeskId?: string;
  [k: string]: unknown;
}

export interface DynamicWebhook {
  id: number;
  jqlFilter: string;
  events: string[];
  expirationDate?: string | number;
  [k: string]: unknown;
}

export type CheckResult =
  | {
      ok: true;
      user: { displayName: string; accountId?: string; name?: string };
      server: { baseUrl: string; version: string; deploymentType: string };
      warnings: string[];
    }
  | {
      ok: false;
      code:
        | 'bad_url'
        | 'dns'
        | 'refused'
        | 'network'
        | 'tls'
        | 'unauthorized'
        | 'forbidden'
        | 'not_found'
        | 'timeout'
        | 'rate_limited'
        | 'unavailable'
        | 'missing_scopes'
        | 'unexpected';
      message: string;
      hint: string;
    };
