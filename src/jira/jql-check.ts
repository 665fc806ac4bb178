import { AppError } from '../core/errors.js';
import type { JiraClient } from './client.js';

const quote = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/**
 * Checks a mapping's JQL filter against the site, as jira-bridge will use it: one search of
 * `project = P AND (filter)` for one issue id. Returns Jira's own message when Jira refuses the
 * query (400: a syntax error, an unknown field or function, a value Jira does not know), null when
 * it runs. Any other failure (unreachable, 401, 5xx) is thrown: it says nothing about the filter.
 */
export async function jqlFilterProblem(client: JiraClient, project: string, filter: string): Promise<string | null> {
  try {
    await client.searchJql(`project = ${quote(project)} AND (${filter})`, { fields: ['id'], maxResults: 1 });
    return null;
  } catch (err) {
    const refused = jqlRefusal(err);
    if (refused === null) throw err;
    return refused;
  }
}

/** A search Jira refused (400) as `Jira refuses this JQL: <Jira's messages>`; null for any other failure. */
export function jqlRefusal(err: unknown): string | null {
  if (!(err instanceof AppError) || err.code !== 'JIRA_BAD_REQUEST') return null;
  const d = (err.details ?? {}) as { errorMessages?: unknown; errors?: unknown };
  const messages = [
    ...(Array.isArray(d.errorMessages) ? d.errorMessages.map(String) : []),
    ...Object.values(d.errors && typeof d.errors === 'object' ? (d.errors as Record<string, unknown>) : {}).map(String),
  ];
  return `Jira refuses this JQL: ${messages.length ? messages.join('; ') : err.message}`;
}
