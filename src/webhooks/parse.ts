import { createHash } from 'node:crypto';
import { AppError } from '../core/errors.js';

/**
 * The Jira events jira-bridge subscribes to (what a webhook registration asks for; app webhooks
 * registered through `/rest/api/3/webhook` take only issue, comment and property events).
 */
export const JIRA_EVENTS = [
  'jira:issue_created',
  'jira:issue_updated',
  'jira:issue_deleted',
  'comment_created',
  'comment_updated',
  'comment_deleted',
] as const;
/**
 * Attachment events an admin webhook may send as well. Optional: the `jira:issue_updated` of the
 * same change carries it (changelog field `Attachment`). Jira Cloud's bodies name no issue, only
 * the attachment (see src/engine/intake.ts for how they are routed).
 */
export const JIRA_ATTACHMENT_EVENTS = ['attachment_created', 'attachment_deleted'] as const;
/** Every event jira-bridge acts on; anything else is recorded as `other`. */
export const JIRA_ACCEPTED_EVENTS = [...JIRA_EVENTS, ...JIRA_ATTACHMENT_EVENTS] as const;
export type JiraEventName = (typeof JIRA_ACCEPTED_EVENTS)[number] | 'other';

export interface ParsedDelivery {
  event: JiraEventName;
  /** The event name as Jira sent it (also for `other`). */
  rawEvent: string;
  /** `X-Atlassian-Webhook-Identifier`; Data Center omits it, then a hash of the body stands in. */
  identifier: string;
  retry: number;
  flavour: 'cloud' | 'datacenter' | 'unknown';
  issueId: string | null;
  issueKey: string | null;
  projectKey: string | null;
  commentId: string | null;
  /** Attachment events: the attachment's id. */
  attachmentId: string | null;
  timestamp: number | null;
  body: Record<string, unknown>;
}

const obj = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const str = (v: unknown): string | null =>
  typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null;

/** Data Center comment events may carry no issue: its id is in the comment's `self` URL. */
function issueIdFromSelf(self: unknown): string | null {
  if (typeof self !== 'string') return null;
  const m = /\/issue\/(\d+)\/comment\//.exec(self);
  return m ? m[1]! : null;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Reads what routing needs from a delivery, tolerating Jira's many optional keys. Throws a 400
 * AppError for a body that is not a JSON object or has no `webhookEvent`. URL variables Jira
 * substituted (`?issue_key=${issue.key}&project_key=${project.key}`) fill gaps in the body.
 */
export function parseDelivery(
  raw: Buffer,
  headers: Record<string, string | string[] | undefined>,
  query: Record<string, string | undefined> = {},
): ParsedDelivery {
  let text: string;
  try {
    text = strictUtf8.decode(raw);
  } catch {
    // Stored as sent or not at all: never with replacement characters.
    const message = 'the delivery body is not valid UTF-8';
    throw new AppError('VALIDATION_FAILED', `body: ${message}`, { details: { issues: [{ path: 'body', message }] } });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new AppError('MALFORMED_JSON', `The delivery body is not valid JSON: ${(err as Error).message}`);
  }
  const body = obj(json);
  if (!body) throw new AppError('VALIDATION_FAILED', 'The delivery body must be a JSON object');
  const rawEvent = str(body.webhookEvent);
  if (!rawEvent) {
    throw new AppError('VALIDATION_FAILED', 'The delivery has no "webhookEvent": is this a Jira webhook?', {
      details: { issues: [{ path: 'webhookEvent', message: 'is required' }] },
    });
  }
  const header = (name: string): string | undefined => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const issue = obj(body.issue);
  const fields = obj(issue?.fields);
  const project = obj(fields?.project);
  const comment = obj(body.comment);
  const attachment = obj(body.attachment);
  const user = obj(body.user) ?? obj(comment?.author) ?? obj(attachment?.author);
  const flavour = user
    ? user.accountId !== undefined
      ? 'cloud'
      : user.name !== undefined
        ? 'datacenter'
        : 'unknown'
    : 'unknown';
  const retry = Number(header('x-atlassian-webhook-retry') ?? 0);
  return {
    event: (JIRA_ACCEPTED_EVENTS as readonly string[]).includes(rawEvent) ? (rawEvent as JiraEventName) : 'other',
    rawEvent,
    identifier: header('x-atlassian-webhook-identifier') ?? `sha256:${createHash('sha256').update(raw).digest('hex')}`,
    retry: Number.isFinite(retry) ? retry : 0,
    flavour,
    issueId: str(issue?.id) ?? str(query.issue_id) ?? issueIdFromSelf(comment?.self),
    issueKey: str(issue?.key) ?? str(query.issue_key),
    projectKey: str(project?.key) ?? str(query.project_key),
    commentId: str(comment?.id),
    attachmentId: str(attachment?.id),
    timestamp: typeof body.timestamp === 'number' ? body.timestamp : null,
    body,
  };
}
