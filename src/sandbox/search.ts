import { createHash } from 'node:crypto';
import { badRequest } from './errors.js';
import { compileJql, JqlError, parseJql } from './jql/index.js';
import { jqlContext, toJqlIssue } from './jql-adapter.js';
import type { SandboxIssue, SandboxUser } from './model.js';
import type { SandboxState } from './state.js';

export interface SearchResult {
  issues: SandboxIssue[];
  total: number;
}

/** Runs JQL over the site's issues: matching issues in ORDER BY order. Jira's 400 on invalid JQL. */
export function runJql(
  state: SandboxState,
  jql: string,
  user: SandboxUser | undefined,
  opts: { requireBounded?: boolean } = {},
): SandboxIssue[] {
  let compiled;
  try {
    const q = parseJql(jql);
    if (opts.requireBounded && q.where === undefined) {
      throw badRequest('Unbounded JQL queries are not allowed here. Please add a search restriction to your query.');
    }
    compiled = compileJql(q, jqlContext(state, user));
  } catch (err) {
    if (err instanceof JqlError) throw badRequest(err.message);
    throw err;
  }
  const views = state.allIssues().map((issue) => ({ issue, view: toJqlIssue(state, issue) }));
  return views
    .filter((v) => compiled.matches(v.view))
    .sort((a, b) => compiled.compare(a.view, b.view))
    .map((v) => v.issue);
}

function jqlHash(jql: string): string {
  return createHash('sha256').update(jql).digest('base64url').slice(0, 12);
}

/** Opaque page token bound to the query it came from. */
export function encodePageToken(jql: string, offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset, h: jqlHash(jql) })).toString('base64url');
}

export function decodePageToken(token: string, jql: string): number {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown; h?: unknown };
    if (typeof parsed.o === 'number' && Number.isInteger(parsed.o) && parsed.o >= 0 && parsed.h === jqlHash(jql))
      return parsed.o;
  } catch {
    // fall through
  }
  throw badRequest('The provided next page token is invalid or expired.');
}
