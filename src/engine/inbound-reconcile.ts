/**
 * The inbound half of a manual two-way sync of a record (src/engine/manual-sync.ts, run inside
 * the record's outbound job): the inbound run of its linked issue (src/engine/inbound.ts's
 * syncIssue), exactly as a delivery's.
 */
import type { InboundContext, SyncIssueRun } from './inbound-context.js';
import type { InboundPayload } from './inbound-job.js';
import { recordJobKey } from './record-data.js';
import type { JiraIssueState } from './types.js';

/** What the inbound half of a manual two-way sync did and read. */
export interface LinkedReconcile {
  verdict: string;
  /** The issue as read (null: deleted in Jira; undefined: not read, e.g. paused). */
  state: JiraIssueState | null | undefined;
  fields: readonly string[];
  calls: number;
  connectionId: string;
  /** The run unlinked the record (the issue was deleted in Jira). */
  unlinked: boolean;
}

/** The inbound run of one issue (syncIssue). */
type SyncIssue = (
  p: InboundPayload,
  jobId: number | null,
  jobKey: string | undefined,
  tally: { calls: number },
  run: SyncIssueRun,
) => Promise<string>;

export function inboundReconcile(ctx: InboundContext, syncIssue: SyncIssue) {
  const { store } = ctx;
  /**
   * The first half of a manual two-way sync of a record (run inside its outbound job): the
   * inbound run of its linked issue, exactly as a delivery's, reporting what it read so the
   * outbound half needs no read of its own. Null when the record has no linked issue.
   */
  return async function reconcileLinked(recordId: string, jobId: number | null): Promise<LinkedReconcile | null> {
    const link = await store.db
      .selectFrom('links')
      .select(['connection_id', 'issue_id', 'state'])
      .where('record_id', '=', recordId)
      .executeTakeFirst();
    if (!link || link.state !== 'linked' || !link.issue_id) return null;
    const tally = { calls: 0 };
    const seen: NonNullable<SyncIssueRun['seen']> = {};
    const verdict = await syncIssue(
      { connectionId: link.connection_id, issueId: link.issue_id, source: 'manual' },
      jobId,
      recordJobKey(recordId),
      tally,
      { seen, outboundFollows: true },
    );
    const after = await store.db
      .selectFrom('links')
      .select('state')
      .where('record_id', '=', recordId)
      .executeTakeFirst();
    return {
      verdict,
      state: seen.state,
      fields: seen.fields ?? [],
      calls: tally.calls,
      connectionId: link.connection_id,
      unlinked: after?.state === 'unlinked',
    };
  };
}
