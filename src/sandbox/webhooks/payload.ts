/**
 * Builds webhook delivery bodies in the shapes real Jira sends (see
 * test/fixtures/jira-webhooks/): which top-level keys appear depends on the event and flavour.
 *
 *  Cloud  jira:issue_created|updated  {timestamp, webhookEvent, issue_event_type_name, user, issue, changelog}
 *  Cloud  jira:issue_deleted          {timestamp, webhookEvent, user, issue}
 *  Cloud  comment_*                   {timestamp, webhookEvent, comment, issue (slim)}
 *  DC     jira:issue_*                {timestamp, webhookEvent, issue_event_type_name, user, issue, changelog | comment}
 *  DC     comment_created             {timestamp, webhookEvent, comment}
 *  DC     comment_updated|deleted     {timestamp, webhookEvent, user, comment}
 *  both   attachment_created|deleted  {timestamp, webhookEvent, attachment} (no issue: it names the attachment only)
 *  both   issuelink_created|deleted   {timestamp, webhookEvent, issueLink} (ids only, numbers)
 */
import type { SandboxWebhookEvent, WebhookFlavour } from './types.js';

/** The fields Cloud keeps on the slim issue of comment events. */
const SLIM_ISSUE_FIELDS = ['summary', 'issuetype', 'project', 'assignee', 'priority', 'status'] as const;

function slimIssue(issue: object): object {
  const src = issue as { id?: unknown; self?: unknown; key?: unknown; fields?: Record<string, unknown> };
  const fields: Record<string, unknown> = {};
  for (const f of SLIM_ISSUE_FIELDS) {
    if (src.fields && f in src.fields) fields[f] = src.fields[f] ?? null;
  }
  return { id: src.id, self: src.self, key: src.key, fields };
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stripCommentForDc(comment: unknown): unknown {
  if (!isObj(comment)) return comment;
  const { jsdPublic: _jsdPublic, ...rest } = comment;
  return rest;
}

/**
 * The webhook view of a REST-rendered issue. Real deliveries differ from `GET issue` in small
 * ways the captures show: no `expand`; the embedded comment page has no `self`; Cloud sends
 * `fields.comment` only on deletion; Data Center has none of Cloud's newer attributes
 * (`statuscategorychangedate`, `issuetype.hierarchyLevel`, `project.simplified`, `jsdPublic`).
 */
export function webhookIssue(
  issue: object,
  flavour: WebhookFlavour,
  event: SandboxWebhookEvent['webhookEvent'],
): object {
  if (!isObj(issue)) return issue;
  const { expand: _expand, ...out } = issue;
  if (!isObj(out.fields)) return out;
  const fields: Obj = { ...out.fields };
  if (flavour === 'cloud' && event !== 'jira:issue_deleted') delete fields.comment;
  if (isObj(fields.comment)) {
    const { self: _self, ...page } = fields.comment;
    if (flavour === 'datacenter' && Array.isArray(page.comments)) page.comments = page.comments.map(stripCommentForDc);
    fields.comment = page;
  }
  if (flavour === 'datacenter') {
    delete fields.statuscategorychangedate;
    if (isObj(fields.issuetype)) {
      const { hierarchyLevel: _h, ...t } = fields.issuetype;
      fields.issuetype = t;
    }
    if (isObj(fields.project)) {
      const { simplified: _s, ...p } = fields.project;
      fields.project = p;
    }
  }
  return { ...out, fields };
}

/** The JSON object Jira would POST for `event` on a `flavour` site. */
export function buildWebhookBody(event: SandboxWebhookEvent, flavour: WebhookFlavour): Record<string, unknown> {
  const body: Record<string, unknown> = { timestamp: event.timestamp, webhookEvent: event.webhookEvent };
  if (event.webhookEvent === 'issuelink_created' || event.webhookEvent === 'issuelink_deleted') {
    body.issueLink = event.issueLink ?? {};
    return body;
  }
  if (event.webhookEvent === 'attachment_created' || event.webhookEvent === 'attachment_deleted') {
    body.attachment = event.attachment ?? {};
    return body;
  }
  const isComment = event.webhookEvent.startsWith('comment_');
  if (isComment) {
    if (flavour === 'cloud') {
      body.comment = event.comment ?? {};
      body.issue = slimIssue(webhookIssue(event.issue, flavour, event.webhookEvent));
    } else {
      if (event.webhookEvent !== 'comment_created') body.user = event.user;
      body.comment = stripCommentForDc(event.comment ?? {});
    }
    return body;
  }
  if (event.webhookEvent !== 'jira:issue_deleted' || flavour === 'datacenter') {
    if (event.issueEventTypeName !== undefined) body.issue_event_type_name = event.issueEventTypeName;
  }
  body.user = event.user;
  body.issue = webhookIssue(event.issue, flavour, event.webhookEvent);
  if (event.webhookEvent !== 'jira:issue_deleted') {
    if (event.changelog) body.changelog = event.changelog;
    if (event.comment) body.comment = flavour === 'datacenter' ? stripCommentForDc(event.comment) : event.comment;
  }
  return body;
}

function lookup(event: SandboxWebhookEvent, path: string): string | undefined {
  const issue = event.issue as { id?: unknown; key?: unknown };
  const comment = event.comment as { id?: unknown } | undefined;
  const user = event.user as { name?: unknown; key?: unknown; accountId?: unknown };
  const m = event.matchIssue;
  const table: Record<string, unknown> = {
    'issue.id': issue.id ?? m.id,
    'issue.key': issue.key ?? m.key,
    'project.id': m.projectId,
    'project.key': m.projectKey,
    'comment.id': comment?.id,
    'modifiedUser.name': user.name,
    'modifiedUser.key': user.key,
    'modifiedUser.accountId': user.accountId,
  };
  const v = table[path];
  return v === undefined || v === null ? undefined : String(v);
}

/**
 * Fills `${issue.key}`-style variables in a webhook URL (URL-encoded). Variables the event does
 * not carry (e.g. `${comment.id}` on an issue event) are replaced by an empty string, as Jira does.
 */
export function substituteUrl(url: string, event: SandboxWebhookEvent): string {
  return url.replace(/\$\{([A-Za-z.]+)\}/gu, (_m, path: string) => encodeURIComponent(lookup(event, path) ?? ''));
}
