import type { StateEvent } from './events.js';
import { toJqlIssue } from './jql-adapter.js';
import type { Flavour } from './model.js';
import type { RenderContext } from './render/context.js';
import { renderAttachment, renderChangeItems, renderComment, renderIssue } from './render/issue.js';
import { renderUserById } from './render/user.js';
import type { SandboxState } from './state.js';
import type { SandboxWebhookEvent } from './webhooks/types.js';

/**
 * Turns a state change into the event the webhook dispatcher delivers. Webhook bodies use the
 * REST v2 representation on both flavours (wiki markup, /rest/api/2 self links), as real Jira does.
 */
export function toWebhookEvent(
  state: SandboxState,
  flavour: Flavour,
  baseUrl: string,
  e: StateEvent,
): SandboxWebhookEvent {
  const ctx: RenderContext = { state, flavour, version: '2', baseUrl };
  const project = state.projects.get(e.issue.projectId);
  const base = {
    timestamp: Date.now(),
    user: renderUserById(ctx, e.actorId) ?? {},
    issue: renderIssue(ctx, e.issue, { fieldsDefault: '*all' }),
    matchIssue: toJqlIssue(state, e.issue),
    projectKey: project?.key ?? '',
  };
  switch (e.kind) {
    case 'issue_created':
      return {
        ...base,
        webhookEvent: 'jira:issue_created',
        issueEventTypeName: 'issue_created',
        ...(flavour === 'cloud' && e.history
          ? { changelog: { id: e.history.id, items: renderChangeItems(ctx, e.history) } }
          : {}),
      };
    case 'issue_deleted':
      return { ...base, webhookEvent: 'jira:issue_deleted', issueEventTypeName: 'issue_deleted' };
    case 'issue_updated':
      return {
        ...base,
        webhookEvent: 'jira:issue_updated',
        issueEventTypeName: e.eventTypeName,
        ...(e.history ? { changelog: { id: e.history.id, items: renderChangeItems(ctx, e.history) } } : {}),
        ...(e.comment ? { comment: renderComment(ctx, e.issue, e.comment) } : {}),
      };
    case 'attachment_created':
    case 'attachment_deleted':
      return { ...base, webhookEvent: e.kind, attachment: renderAttachment(ctx, e.attachment) };
    case 'issuelink_created':
    case 'issuelink_deleted': {
      const t = state.issueLinkTypes.get(e.link.typeId);
      return {
        ...base,
        webhookEvent: e.kind,
        issueLink: {
          id: Number(e.link.id),
          sourceIssueId: Number(e.link.sourceId),
          destinationIssueId: Number(e.link.destinationId),
          issueLinkType: {
            id: Number(e.link.typeId),
            name: t?.name ?? '',
            outwardName: t?.outward ?? '',
            inwardName: t?.inward ?? '',
            isSubTaskLinkType: false,
            isSystemLinkType: false,
          },
          systemLink: false,
        },
      };
    }
    default:
      return { ...base, webhookEvent: e.kind, comment: renderComment(ctx, e.issue, e.comment) };
  }
}
