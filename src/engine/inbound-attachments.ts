/**
 * Jira → host attachments: what one inbound run does with the attachment list, decided
 * from the list and the record's attachment links alone (pure; the inbound job does the I/O).
 *
 * - An attachment the record does not know (no attachment link carries its Jira id) is
 *   downloaded, or, when it is larger than the mapping's cap, recorded with a note instead.
 * - Ours never come back: uploads by the bridge are linked by the outbound job that made them,
 *   anything else our account attached (long texts moved to attachments) is left alone, and an
 *   attachment that may be an upload still in flight (same name and size as one marked
 *   uploading) is left to that outbound job, which recognises it.
 * - An attachment deleted in Jira marks its link deleted (host or Jira origin alike).
 * - One recorded over the cap is downloaded once the cap allows it.
 * Known ids are never downloaded twice, so a redelivery or a second run costs no download.
 */
import { samePerson } from './inbound-mapping.js';
import type { JiraAttachmentState, JiraPerson } from './types.js';

/** attachment_links.jira_attachment_id while the outbound job uploads (see ./outbound.ts). */
export const UPLOADING_MARKER = 'jira-bridge:uploading';

export interface KnownAttachment {
  id: string;
  jiraAttachmentId: string | null;
  filename: string;
  size: number | null;
  /** Bytes stored (null: recorded only, e.g. over the cap). */
  sha256: string | null;
  origin: string;
  deleted: boolean;
}

export interface AttachmentPlan {
  /** New attachments to download and record. */
  download: JiraAttachmentState[];
  /** Recorded earlier without bytes, now within the cap: download and fill in. */
  fill: Array<{ row: KnownAttachment; attachment: JiraAttachmentState }>;
  /** New attachments over the cap: recorded with a note, not downloaded. */
  tooLarge: JiraAttachmentState[];
  /** Links whose Jira attachment is gone. */
  deleted: KnownAttachment[];
  /** Possibly an upload of ours still in flight: left to the outbound job. */
  waiting: JiraAttachmentState[];
}

export function planAttachments(
  inJira: readonly JiraAttachmentState[] | null,
  known: readonly KnownAttachment[],
  opts: { maxBytes: number; me: JiraPerson | null },
): AttachmentPlan {
  const plan: AttachmentPlan = { download: [], fill: [], tooLarge: [], deleted: [], waiting: [] };
  // A read without the attachment field (attachments off in Jira) proves nothing was deleted.
  if (inJira === null) return plan;
  const byJiraId = new Map(known.filter((k) => k.jiraAttachmentId).map((k) => [k.jiraAttachmentId!, k]));
  const uploading = known.filter((k) => k.jiraAttachmentId === UPLOADING_MARKER && !k.deleted);
  const present = new Set(inJira.map((a) => a.id));
  for (const a of inJira) {
    const row = byJiraId.get(a.id);
    if (row) {
      if (!row.deleted && row.origin === 'jira' && row.sha256 === null && a.size >= 0 && a.size <= opts.maxBytes)
        plan.fill.push({ row, attachment: a });
      continue;
    }
    if (uploading.some((u) => u.filename === a.filename && (u.size === null || u.size === a.size))) {
      plan.waiting.push(a);
      continue;
    }
    if (samePerson(a.author, opts.me)) continue;
    if (a.size > opts.maxBytes) plan.tooLarge.push(a);
    else plan.download.push(a);
  }
  for (const k of known) {
    if (k.deleted || !k.jiraAttachmentId || k.jiraAttachmentId === UPLOADING_MARKER) continue;
    if (!present.has(k.jiraAttachmentId)) plan.deleted.push(k);
  }
  return plan;
}

/** The visible note of an attachment recorded without its bytes. */
export function tooLargeNote(size: number, maxBytes: number): string {
  const mb = (n: number): string => `${(n / (1024 * 1024)).toFixed(1)} MB`;
  return `too large, not downloaded: ${mb(size)} is over this mapping's cap of ${mb(maxBytes)} (attachments.max_bytes); it stays in Jira`;
}
