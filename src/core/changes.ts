/**
 * The change types a host may see (change feed and host webhooks). `record.attachments`:
 * attachments added in Jira (downloaded, or recorded with a note when over the mapping's cap) or
 * deleted there; data `{added, not_downloaded, deleted}` with the record's attachment ids.
 * `record.sync_failed`: once per failure episode of a record's sync (and again only when its cause
 * changes), data `{code, message, details?, state, retrying, since, attempts, action}`;
 * `record.sync_recovered`: the record synced again after a reported episode, data
 * `{failed_since, failed_attempts, last_error}` (see src/core/sync-failure.ts).
 */
export const CHANGE_EVENTS = [
  'record.created',
  'record.linked',
  'record.updated',
  'record.comments',
  'record.attachments',
  'record.moved',
  'record.unlinked',
  'record.sync_failed',
  'record.sync_recovered',
] as const;

export type ChangeEvent = (typeof CHANGE_EVENTS)[number];

/** A subscription's event list: `*` or known change types. The message names the bad one and the valid ones. */
export function unknownChangeEvent(events: readonly string[]): string | null {
  const bad = events.find((e) => e !== '*' && !(CHANGE_EVENTS as readonly string[]).includes(e));
  return bad === undefined ? null : `"${bad}" is not a change type; known: ${CHANGE_EVENTS.join(', ')}, or * for all`;
}
