import type { Selectable } from 'kysely';
import { fromJson } from '../store/json.js';
import type { LinksTable, RecordsTable, SyncState } from '../store/schema.js';
import type { MappingSource, RecordData, RecordInput } from './types.js';

/** The ordering key of every job about one record: per-key FIFO keeps its work in order. */
export const recordJobKey = (recordId: string): string => `record:${recordId}`;
export const OUTBOUND_JOB = 'outbound.sync';
export const BACKFILL_JOB = 'outbound.backfill';

export interface OutboundPayload {
  recordId: string;
  /** Manual re-sync: adopt the current mapping and re-check the issue's status. */
  resync?: boolean;
  /**
   * Manual sync both ways (`POST /api/v1/sync`): the linked issue's inbound reconcile runs first
   * in this job (one read of the issue, shared with the outbound half).
   */
  twoWay?: boolean;
}

/** Canonical host data: defaults filled, labels deduplicated and sorted, keys in a fixed order. */
export function toRecordData(input: RecordInput): RecordData {
  const labels = [...new Set((input.labels ?? []).map((l) => l.trim()).filter((l) => l !== ''))].sort();
  const custom: Record<string, unknown> = {};
  for (const k of Object.keys(input.custom ?? {}).sort()) custom[k] = (input.custom ?? {})[k];
  return {
    title: input.title,
    description: input.description ?? '',
    status: input.status,
    severity: input.severity ?? null,
    assignee_email: input.assignee_email ? input.assignee_email.trim().toLowerCase() : null,
    labels,
    custom,
    parent_host_id: input.parent_host_id ?? null,
  };
}

/** JSON with object keys sorted: equal values give equal text. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(sortKeys(v));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as Record<string, unknown>).sort())
      out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

export interface RecordLinkView {
  issue_id: string | null;
  issue_key: string | null;
  project_key: string | null;
  browse_url: string | null;
  /** `creating` while the issue is being created, `linked` after. */
  state: string;
}

export interface RecordView extends RecordData {
  id: string;
  scope: string;
  host_id: string;
  kind: string;
  version: number;
  link: RecordLinkView | null;
  sync: {
    state: SyncState;
    error: { code: string; message: string; details?: unknown } | null;
    warnings: string[];
  };
  created_at: string;
  updated_at: string;
}

export function recordView(
  r: Selectable<RecordsTable>,
  link: Selectable<LinksTable> | undefined,
  mappings: MappingSource,
  warnings: string[] = [],
): RecordView {
  const data = fromJson<RecordData>(r.data)!;
  const site = link ? mappings.connection(link.connection_id)?.siteUrl : undefined;
  return {
    id: r.id,
    scope: r.scope,
    host_id: r.host_id,
    kind: r.kind,
    ...data,
    version: r.version,
    link: link
      ? {
          issue_id: link.issue_id,
          issue_key: link.issue_key,
          project_key: link.project_key,
          browse_url: site && link.issue_key ? `${site.replace(/\/+$/, '')}/browse/${link.issue_key}` : null,
          state: link.state,
        }
      : null,
    sync: {
      state: r.sync_state,
      error: fromJson<{ code: string; message: string; details?: unknown }>(r.last_error),
      warnings,
    },
    created_at: new Date(r.created_at).toISOString(),
    updated_at: new Date(r.updated_at).toISOString(),
  };
}

/** Record data keys → the base field names they feed (the names conflicts are decided under). */
const FIELD_OF: Record<string, string> = {
  title: 'summary',
  description: 'description',
  severity: 'priority',
  labels: 'labels',
  assignee_email: 'assignee',
  status: 'status',
};

/**
 * The host's per-field change clock after an upsert: fields whose value differs from `before`
 * (all of them for a new record) take time `t`; the others keep their time.
 */
export function nextFieldTimes(
  previous: Record<string, number> | null,
  before: RecordData | null,
  after: RecordData,
  t: number,
): Record<string, number> {
  const out: Record<string, number> = { ...previous };
  for (const [k, field] of Object.entries(FIELD_OF)) {
    const a = (after as unknown as Record<string, unknown>)[k];
    const b = before ? (before as unknown as Record<string, unknown>)[k] : undefined;
    if (!before || canonicalJson(a) !== canonicalJson(b)) out[field] = t;
  }
  const keys = new Set([...Object.keys(after.custom), ...Object.keys(before?.custom ?? {})]);
  for (const k of keys) {
    if (!before || canonicalJson(after.custom[k]) !== canonicalJson(before.custom[k])) out[`custom:${k}`] = t;
  }
  return out;
}
