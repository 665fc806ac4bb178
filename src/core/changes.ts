/**
 * The change types a host may see (change feed and host webhooks). `record.attachments`:
 * attachments added in Jira (downloaded, or recorded with a note when over the mapping's cap) or
 * deleted there; data `{added, not_downloaded, deleted}` with the record's attachment ids.
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
] as const;

export type ChangeEvent = (typeof CHANGE_EVENTS)[number];

/** A subscription's event list: `*` or known change types. The message names the bad one and the valid ones. */
export function unknownChangeEvent(events: readonly string[]): string | null {
  const bad = events.find((e) => e !== '*' && !(CHANGE_EVENTS as readonly string[]).includes(e));
  return bad === undefined ? null : `"${bad}" is not a change type; known: ${CHANGE_EVENTS.join(', ')}, or * for all`;
}
