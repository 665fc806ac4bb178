/**
 * Creation without duplicates. Creating an issue is the one non-idempotent Jira call, so every
 * create carries an idempotency token (made and committed by the engine in the link row BEFORE
 * calling Jira) in two places:
 *  - something JQL can find: a label `jb-<token>` (default) or a text custom field (`tokenField`);
 *  - the entity property `jira-bridge` = { token } set in the create body (not JQL-searchable for
 *    plain API clients, but exact: it confirms a fuzzy text-field match).
 * createOnce searches for the token first and adopts the issue it finds; only when none exists
 * does it create.
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

export interface CreateOnceInput {
  projectKey: string;
  /** Idempotency token; [A-Za-z0-9_-] only (it becomes a label). */
  token: string;
  fields: Record<string, unknown>;
  update?: Record<string, unknown>;
  /** Other entity properties to set at creation. */
  properties?: Array<{ key: string; value: unknown }>;
  /** Text custom field carrying the token (`customfield_10017`, or its JQL name such as `Sync Token`); default: a label. */
  tokenField?: string;
  /** When a previous create attempt with this token was made (epoch ms), if any. */
  previousAttemptAt?: number;
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

function tokenClause(token: string, tokenField?: string): string {
  if (!tokenField) return `labels = ${jqlString(tokenLabel(token))}`;
  const m = /^customfield_(\d+)$/.exec(tokenField);
  const field = m ? `cf[${m[1]}]` : jqlString(tokenField);
  return `${field} ~ ${jqlString(token)}`;
}

/** Builds the create body carrying the token (label or field, plus the entity property). */
export function withToken(
  input: Pick<CreateOnceInput, 'fields' | 'update' | 'properties' | 'token' | 'tokenField'>,
): IssueInput {
  const fields = { ...input.fields };
  if (input.tokenField && /^customfield_\d+$/.test(input.tokenField)) fields[input.tokenField] = input.token;
  else {
    const labels = Array.isArray(fields.labels) ? (fields.labels as string[]) : [];
    fields.labels = [...new Set([...labels, tokenLabel(input.token)])];
  }
  return {
    fields,
    ...(input.update ? { update: input.update } : {}),
    properties: [
      ...(input.properties ?? []).filter((p) => p.key !== TOKEN_PROPERTY),
      { key: TOKEN_PROPERTY, value: { token: input.token } },
    ],
  };
}

/** The issue already created with this token, confirmed by its entity property, or null. */
export async function findByToken(
  client: JiraClient,
  projectKey: string,
  token: string,
  tokenField?: string,
): Promise<JiraIssue | null> {
  const jql = `project = ${jqlString(projectKey)} AND ${tokenClause(token, tokenField)} ORDER BY created ASC`;
  const page = await client.searchJql(jql, {
    fields: ['labels', 'created', ...(tokenField?.startsWith('customfield_') ? [tokenField] : [])],
    maxResults: 10,
    properties: [TOKEN_PROPERTY],
  });
  for (const issue of page.issues) {
    let prop = (issue.properties as Record<string, unknown> | undefined)?.[TOKEN_PROPERTY] as
      { token?: string } | undefined;
    if (prop === undefined) prop = await client.getIssueProperty<{ token?: string }>(issue.id, TOKEN_PROPERTY);
    if (prop?.token === token) return issue;
    // A label is exact; accept it even if the property is missing (e.g. a DC that dropped it).
    const labels = issue.fields?.labels;
    if (!tokenField && prop === undefined && Array.isArray(labels) && labels.includes(tokenLabel(token))) return issue;
  }
  return null;
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
  const found = await findByToken(client, input.projectKey, input.token, input.tokenField);
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
