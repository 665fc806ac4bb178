/**
 * The JQL subset Jira Cloud accepts in app (OAuth/Connect) webhook filters (OpenAPI
 * `WebhookDetails.jqlFilter`): fields issueKey, project, issuetype, status, assignee, reporter,
 * issue.property and cf[id]; operators =, !=, IN and NOT IN; AND/OR/NOT; no ORDER BY.
 */
import { parseJql } from './parser.js';
import { JqlError, type JqlExpr, type JqlQuery } from './types.js';

const FIELDS = new Set(['issuekey', 'key', 'project', 'issuetype', 'type', 'status', 'assignee', 'reporter']);
const OPERATORS = new Set(['=', '!=', 'in', 'not in']);

function check(e: JqlExpr): void {
  if (e.kind === 'not') return check(e.item);
  if (e.kind !== 'clause') return e.items.forEach(check);
  const name = e.field.name.toLowerCase();
  const allowed = FIELDS.has(name) || e.field.customId !== undefined || name.startsWith('issue.property');
  if (!allowed) {
    throw new JqlError(
      `The field '${e.field.name}' is not supported in webhook JQL filters. Supported fields: issueKey, project, issuetype, status, assignee, reporter, issue.property, cf[id].`,
      e.field.position,
    );
  }
  if (!OPERATORS.has(e.operator)) {
    throw new JqlError(
      `The operator '${e.operator.toUpperCase()}' is not supported in webhook JQL filters. Supported operators: =, !=, IN, NOT IN.`,
      e.position,
    );
  }
}

/** Parses and checks an app webhook filter; throws JqlError (Jira's 400 message) when outside the subset. */
export function parseAppWebhookJql(jql: string): JqlQuery {
  const q = parseJql(jql);
  if (q.orderBy.length > 0) throw new JqlError('ORDER BY is not supported in webhook JQL filters.');
  if (q.where) check(q.where);
  return q;
}
