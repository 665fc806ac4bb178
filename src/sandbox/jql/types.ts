/**
 * Contracts of the sandbox's JQL engine: the parsed query, the flat issue view it evaluates
 * against, and the evaluation context. The sandbox state projects its issues to `JqlIssue`.
 */

export type StatusCategoryKey = 'new' | 'indeterminate' | 'done';

export interface JqlUser {
  accountId?: string;
  name?: string;
  key?: string;
  emailAddress?: string | null;
  displayName: string;
}

export interface JqlCustomValue {
  name: string;
  /** text | textarea | number | url | select | multiselect | labels | user | date */
  type: string;
  value: unknown;
}

export interface JqlIssue {
  id: string;
  key: string;
  /** Keys the issue had before being moved to another project; `key = OLD-1` still finds it. */
  previousKeys?: string[];
  projectKey: string;
  projectId: string;
  projectName: string;
  issueType: string;
  issueTypeId: string;
  status: string;
  statusId: string;
  statusCategory: StatusCategoryKey;
  priority: string | null;
  labels: string[];
  assignee: JqlUser | null;
  reporter: JqlUser | null;
  /** Who created the issue (never changes; JQL `creator`). Absent: no one. */
  creator?: JqlUser | null;
  summary: string;
  descriptionText: string;
  /** Epoch milliseconds. */
  created: number;
  updated: number;
  resolution: string | null;
  /** Keyed by field id, e.g. `customfield_10010`. */
  custom: Record<string, JqlCustomValue>;
}

/** The built-in fields whose values Jira checks against the site. */
export type JqlValueField = 'project' | 'issuetype' | 'status' | 'priority' | 'resolution' | 'user';

export interface JqlContext {
  /** Epoch ms used for relative dates and startOfDay(). */
  now: number;
  currentUser?: JqlUser;
  /** Resolves a custom field's display name ("Sync Token") to its id ("customfield_10010"). */
  fieldIdByName?: (name: string) => string | undefined;
  /**
   * Optional: a custom field's type (text|textarea|number|url|select|multiselect|labels|user|date)
   * by id. When given, operator/value errors on custom fields are reported at compile time.
   */
  customFieldType?: (id: string) => string | undefined;
  /**
   * Optional: whether the site has this value of a built-in field — a project (key, id or name),
   * an issue type, status, priority or resolution (name or id), a user (assignee, reporter, creator: any of
   * their identities). When given, a clause naming one it has not is refused as Jira refuses it:
   * "The value 'Reopened' does not exist for the field 'status'."
   */
  valueExists?: (field: JqlValueField, value: string) => boolean;
}

/** A literal value on the right-hand side of a clause. */
export type JqlValue =
  | { kind: 'string'; value: string; quoted: boolean }
  | { kind: 'number'; value: number; raw: string }
  | { kind: 'function'; name: string; args: string[] }
  | { kind: 'empty' };

export type JqlOperator = '=' | '!=' | '>' | '>=' | '<' | '<=' | '~' | '!~' | 'in' | 'not in' | 'is' | 'is not';

/** A field reference as written: `status`, `"Sync Token"`, `cf[10010]`. */
export interface JqlFieldRef {
  name: string;
  /** Set for `cf[NNNNN]` references. */
  customId?: string;
  position: number;
}

export type JqlExpr =
  | { kind: 'and'; items: JqlExpr[] }
  | { kind: 'or'; items: JqlExpr[] }
  | { kind: 'not'; item: JqlExpr }
  | {
      kind: 'clause';
      field: JqlFieldRef;
      operator: JqlOperator;
      /** One value, or several for IN / NOT IN. */
      values: JqlValue[];
      position: number;
    };

export interface JqlOrderKey {
  field: JqlFieldRef;
  direction: 'asc' | 'desc';
}

export interface JqlQuery {
  /** Undefined when the query has no WHERE part (matches everything). */
  where?: JqlExpr;
  orderBy: JqlOrderKey[];
  source: string;
}

export interface CompiledJql {
  matches(issue: JqlIssue): boolean;
  compare(a: JqlIssue, b: JqlIssue): number;
}

/** A query Jira would refuse; `message` is Jira's own wording (goes into `errorMessages`). */
export class JqlError extends Error {
  override readonly name = 'JqlError';
  constructor(
    message: string,
    /** 1-based character position for syntax errors, when known. */
    readonly position?: number,
  ) {
    super(message);
  }
}
