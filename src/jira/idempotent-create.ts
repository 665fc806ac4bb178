/**
 * Creation without duplicates. Creating an issue is the one non-idempotent Jira call, so every
 * create carries an idempotency token (made and committed by the engine in the link row BEFORE
 * calling Jira) in the issue's entity property `jira-bridge` = { token, … }, set in the create
 * body itself (`properties` of POST /issue and of each bulk element; no extra call). No person
 * sees it: there is no visible marker by default.
 *
 * A property set through the REST API is not searchable by JQL (Jira indexes entity properties
 * only for apps that declare them), so after an interrupted create the issue is found by what
 * JQL can narrow — the project, `creator = currentUser()` (the connection's own account) and
 * `created >= -Nm` since the earliest attempt — and each candidate is confirmed by its property
 * (asked for in the same search, `properties=jira-bridge`). Two opt-ins remain for sites that
 * want a searchable marker: a label `jb-<token>` (`marker: 'label'`, visible to every user) or a
 * text custom field (`tokenField`); the property confirms those matches too.
 *
 * Remaining window: Jira Cloud's search is eventually consistent — an issue created a moment ago
 * may not be found by JQL yet (typically seconds). If the process died right after Jira created
 * the issue and the retry runs inside that window, the search misses and a second issue is made.
 * Pass `previousAttemptAt` (when the engine's link row says a create was attempted) and createOnce
 * waits until `searchLagMs` has passed since that attempt before searching; retries driven by the
 * queue's backoff are normally later than that anyway. Data Center indexes synchronously.
 */
import type { JiraClient } from './client.js';
import type { CreatedIssue, IssueInput, JiraIssue } from './types.js';

export const TOKEN_PROPERTY = 'jira-bridge';
export const TOKEN_LABEL_PREFIX = 'jb-';
/** Clock difference between this process and Jira that the `created >= -Nm` window allows for. */
export const CREATED_WINDOW_MARGIN_MS = 10 * 60_000;
/** Window searched when no earlier attempt time is known. */
const DEFAULT_WINDOW_MS = 24 * 60 * 60_000;

/** Where the creation token is searchable: nowhere but the property (default), a label, or a text field. */
export type TokenMarker = 'property' | 'label';

export interface MarkerOptions {
  /** `label`: also a visible label `jb-<token>` (opt-in); default `property` only. */
  marker?: TokenMarker | undefined;
  /** Text custom field carrying the token (`customfield_10017`, or its JQL name such as `Sync Token`). */
  tokenField?: string | undefined;
}

export interface CreateOnceInput extends MarkerOptions {
  projectKey: string;
  /** Idempotency token; [A-Za-z0-9_-] only (it may become a label). */
  token: string;
  fields: Record<string, unknown>;
  update?: Record<string, unknown>;
  /** Other entity properties to set at creation. */
  properties?: Array<{ key: string; value: unknown }>;
  /** When a previous create attempt with this token was made (epoch ms), if any. */
  previousAttemptAt?: number;
  /** The earliest time an issue with this token can have been created (default: previousAttemptAt). */
  since?: number;
  /** How long search may lag behind writes (default 5 s on Cloud, 0 on Data Center). */
  searchLagMs?: number;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface CreateOnceResult {
  issue: CreatedIssue;
  adopted: boolean;
}

export function tokenLabel(token: string): string {
  return `${TOKEN_LABEL_PREFIX}${token}`;
}

function assertToken(token: string): void {
  if (!/^[A-Za-z0-9_-]{6,128}$/.test(token)) {
    throw new TypeError(
      `createOnce: token must be 6-128 characters of [A-Za-z0-9_-] (got ${JSON.stringify(token.slice(0, 20))})`,
    );
  }
}

function jqlString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The JQL clause naming the tokens where a marker makes them searchable; null for the property only. */
function tokenClause(tokens: readonly string[], o: MarkerOptions): string | null {
  if (o.tokenField) {
    const m = /^customfield_(\d+)$/.exec(o.tokenField);
    const field = m ? `cf[${m[1]}]` : jqlString(o.tokenField);
    const one = tokens.map((t) => `${field} ~ ${jqlString(t)}`);
    return one.length === 1 ? one[0]! : `(${one.join(' OR ')})`;
  }
  if (o.marker === 'label') {
    return tokens.length === 1
      ? `labels = ${jqlString(tokenLabel(tokens[0]!))}`
      : `labels in (${tokens.map((t) => jqlString(tokenLabel(t))).join(', ')})`;
  }
  return null;
}

/**
 * The search for issues an earlier attempt may have created: by the marker when there is one,
 * else by the project, the connection's own account as creator and the creation time.
 */
export function tokenSearchJql(
  projectKey: string,
  tokens: readonly string[],
  o: MarkerOptions & { since?: number | undefined; now: number },
): string {
  const marked = tokenClause(tokens, o);
  if (marked) return `project = ${jqlString(projectKey)} AND ${marked} ORDER BY created ASC`;
  const since = o.since ?? o.now - DEFAULT_WINDOW_MS;
  // Relative minutes: JQL reads absolute dates in the user's time zone; a period does not.
  const minutes = Math.max(1, Math.ceil((o.now - since + CREATED_WINDOW_MARGIN_MS) / 60_000));
  return `project = ${jqlString(projectKey)} AND creator = currentUser() AND created >= -${minutes}m ORDER BY created ASC`;
}

/** Builds the create body carrying the token (the entity property; a label or field when opted in). */
export function withToken(
  input: Pick<CreateOnceInput, 'fields' | 'update' | 'properties' | 'token' | 'tokenField' | 'marker'>,
): IssueInput {
  const fields = { ...input.fields };
  if (input.tokenField && /^customfield_\d+$/.test(input.tokenField)) fields[input.tokenField] = input.token;
  else if (input.marker === 'label') {
    const labels = Array.isArray(fields.labels) ? (fields.labels as string[]) : [];
    fields.labels = [...new Set([...labels, tokenLabel(input.token)])];
  }
  return {
    fields,
    ...(input.update ? { update: input.update } : {}),
    properties: [
      ...(input.properties ?? []).filter((p) => p.key !== TOKEN_PROPERTY),
      tokenProperty(input.token, input.properties),
    ],
  };
}

/** The `jira-bridge` property with the token, merged over a caller's value for the same key. */
export function tokenProperty(
  token: string,
  properties: ReadonlyArray<{ key: string; value: unknown }> = [],
): { key: string; value: unknown } {
  const given = properties.find((p) => p.key === TOKEN_PROPERTY)?.value;
  const base = given && typeof given === 'object' && !Array.isArray(given) ? (given as Record<string, unknown>) : {};
  return { key: TOKEN_PROPERTY, value: { ...base, token } };
}

/** The token an issue's `jira-bridge` property carries (from a search or read with `properties`). */
export function propertyToken(issue: Pick<JiraIssue, 'properties'>): string | undefined {
  const prop = (issue.properties as Record<string, unknown> | undefined)?.[TOKEN_PROPERTY] as
    { token?: unknown } | undefined;
  return typeof prop?.token === 'string' ? prop.token : undefined;
}

export interface FindOptions extends MarkerOptions {
  /** The earliest time an issue with the token can have been created (epoch ms). */
  since?: number | undefined;
  /**
   * Service Management requests take no properties at creation: the property is set right after,
   * and a crash in between leaves a request without it. Such a candidate (ours by project,
   * creator and time) is accepted when its summary is this one.
   */
  summary?: string | undefined;
  clock?: (() => number) | undefined;
}

/** The issue already created with this token, confirmed by its entity property, or null. */
export async function findByToken(
  client: JiraClient,
  projectKey: string,
  token: string,
  opts: string | FindOptions = {},
): Promise<JiraIssue | null> {
  const o: FindOptions = typeof opts === 'string' ? { tokenField: opts } : opts;
  const jql = tokenSearchJql(projectKey, [token], { ...o, now: (o.clock ?? Date.now)() });
  const fields = ['labels', 'created', 'summary', ...(o.tokenField?.startsWith('customfield_') ? [o.tokenField] : [])];
  let bySummary: JiraIssue | null = null;
  for await (const issue of client.searchAll(jql, { fields, maxResults: 100, properties: [TOKEN_PROPERTY] })) {
    let found = propertyToken(issue);
    const answered = issue.properties !== undefined;
    if (found === undefined && !answered) {
      // A Jira that leaves `properties` out of search results: ask the issue itself.
      const prop = await client.getIssueProperty<{ token?: string }>(issue.id, TOKEN_PROPERTY);
      found = typeof prop?.token === 'string' ? prop.token : undefined;
    }
    if (found === token) return issue;
    if (found !== undefined) continue;
    // A label is exact; accept it even if the property is missing (e.g. a DC that dropped it).
    const labels = issue.fields?.labels;
    if (o.marker === 'label' && Array.isArray(labels) && labels.includes(tokenLabel(token))) return issue;
    if (o.summary !== undefined && bySummary === null && issue.fields?.summary === o.summary) bySummary = issue;
  }
  return bySummary;
}

export async function createOnce(client: JiraClient, input: CreateOnceInput): Promise<CreateOnceResult> {
  assertToken(input.token);
  const clock = input.clock ?? Date.now;
  const sleep = input.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  if (input.previousAttemptAt !== undefined) {
    const lag = input.searchLagMs ?? (client.flavour === 'cloud' ? 5000 : 0);
    const wait = input.previousAttemptAt + lag - clock();
    if (wait > 0) await sleep(wait);
  }
  const found = await findByToken(client, input.projectKey, input.token, {
    marker: input.marker,
    tokenField: input.tokenField,
    since: input.since ?? input.previousAttemptAt,
    clock,
  });
  if (found)
    return {
      issue: { id: String(found.id), key: found.key, ...(found.self ? { self: found.self } : {}) },
      adopted: true,
    };
  const body = withToken(input);
  const project = (body.fields?.project ?? {}) as Record<string, unknown>;
  if (!project.key && !project.id) body.fields = { ...body.fields, project: { key: input.projectKey } };
  const created = await client.createIssue(body);
  return {
    issue: { id: String(created.id), key: created.key, ...(created.self ? { self: created.self } : {}) },
    adopted: false,
  };
}
