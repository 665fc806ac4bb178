import type { ChangeHistory, SandboxAttachment, SandboxComment, SandboxIssue, SandboxIssueLink } from './model.js';

/** A state change made by an operation; the app turns these into webhook deliveries. */
export type StateEvent =
  | IssueLinkEvent
  | {
      kind: 'issue_created';
      issue: SandboxIssue;
      actorId: string;
      /** The initial field values as change items (Cloud sends them with jira:issue_created); not kept in the issue's changelog. */
      history: ChangeHistory | null;
    }
  | {
      kind: 'issue_updated';
      issue: SandboxIssue;
      actorId: string;
      eventTypeName: string;
      history: ChangeHistory | null;
      comment?: SandboxComment;
    }
  | { kind: 'issue_deleted'; issue: SandboxIssue; actorId: string }
  | {
      kind: 'comment_created' | 'comment_updated' | 'comment_deleted';
      issue: SandboxIssue;
      actorId: string;
      comment: SandboxComment;
    }
  | {
      /** Sent besides the issue_updated of the same change (whose changelog has field Attachment). */
      kind: 'attachment_created' | 'attachment_deleted';
      issue: SandboxIssue;
      actorId: string;
      attachment: SandboxAttachment;
    };

export type IssueLinkEvent = {
  /** A link between two issues made or removed; `issue` is its source (outward) issue. */
  kind: 'issuelink_created' | 'issuelink_deleted';
  issue: SandboxIssue;
  actorId: string;
  link: SandboxIssueLink;
};

export type EventSink = (event: StateEvent) => void;
