/**
 * Reading Jira's side of a link in the same normalised form the outbound engine stores as bases
 * (see the header of ./outbound.ts), and writing an agreed Jira value back into the host's
 * record. Pure functions over the mapping snapshot; no I/O.
 */
import { hostLabelsFrom, severityFor } from '../core/merge.js';
import { TOKEN_LABEL_PREFIX } from '../jira/idempotent-create.js';
import { hostOptionValue, normalizeText, toJiraLabel } from './desired.js';
import { canonicalMarkdown, jiraTextToMarkdown } from './markup-in.js';
import type {
  FieldDirection,
  FieldMappingSnapshot,
  InboundSettings,
  JiraIssueState,
  JiraPerson,
  OutboundMapping,
  RecordData,
} from './types.js';

/** Default cap of an attachment downloaded from Jira (Jira Cloud's default upload limit too). */
export const DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;

/** The effective inbound settings of a mapping, with defaults derived from its outbound tables. */
export function inboundSettings(m: OutboundMapping): InboundSettings {
  const given = m.inbound;
  // Default status table: the inverse of the outbound one (first host status wins a shared Jira
  // status), the close status → the first closed host status, and category done → closed.
  const statusIn: Record<string, string> = {};
  for (const [host, jira] of Object.entries(m.statusOut)) if (!(jira in statusIn)) statusIn[jira] = host;
  const closed = m.closedStatuses[0];
  if (closed !== undefined) {
    if (m.closeStatus && !(m.closeStatus in statusIn)) statusIn[m.closeStatus] = closed;
    statusIn['category:done'] = closed;
  }
  return {
    statusIn: { ...statusIn, ...given?.statusIn },
    ...(given?.statusInDefault ? { statusInDefault: given.statusInDefault } : {}),
    priorityIn: given?.priorityIn ?? {},
    ...(given?.priorityInDefault ? { priorityInDefault: given.priorityInDefault } : {}),
    reopenFromJira: given?.reopenFromJira ?? true,
    comments: given?.comments ?? m.comments,
    onJiraDelete: given?.onJiraDelete ?? 'unlink',
    onJiraCreate: given?.onJiraCreate ?? 'ignore',
    assigneeUnmatched: given?.assigneeUnmatched ?? 'unassign',
    ...(given?.createKind ? { createKind: given.createKind } : {}),
    attachments: given?.attachments ?? { fromJira: true, maxBytes: DEFAULT_MAX_ATTACHMENT_BYTES },
  };
}

/** May Jira's value of this field flow to the host? */
export function flowsIn(direction: FieldDirection | undefined, mapping: OutboundMapping): boolean {
  if (mapping.direction === 'to_jira') return false;
  return direction === undefined || direction === 'both' || direction === 'from_jira';
}

/** The same Jira account (by accountId on Cloud, key or name on Data Center). */
export function samePerson(a: JiraPerson | null, b: JiraPerson | null): boolean {
  if (!a || !b) return false;
  if (a.accountId && b.accountId) return a.accountId === b.accountId;
  if (a.key && b.key) return a.key === b.key;
  if (a.name && b.name) return a.name === b.name;
  return false;
}

/** The field_bases row holding a record's standing warning about an unmatched Jira assignee. */
export const ASSIGNEE_WARNING_BASE = 'warning:assignee';

/** Is this Jira person value (personValue) one whose email Jira does not reveal? */
export function isHiddenPerson(v: unknown): v is { hidden: string } {
  return v !== null && typeof v === 'object' && 'hidden' in v;
}

/**
 * The warning a record carries while Jira's assignee has no email it can match, saying what the
 * mapping's rule (`assignee.unmatched`) did.
 */
export function unmatchedAssigneeWarning(
  who: JiraPerson | null,
  rule: 'unassign' | 'keep',
  kept: string | null,
): string {
  const name = who?.displayName || who?.accountId || who?.name || 'the assignee';
  const did =
    rule === 'unassign'
      ? 'the record is unassigned (assignee.unmatched: unassign)'
      : `the record keeps ${kept ?? 'no assignee'} (assignee.unmatched: keep)`;
  return `assignee: Jira's assignee "${name}" has no email jira-bridge can match (hidden by the user's privacy settings, or none); ${did}`;
}

/** The email Jira reveals for a user, else a marker that never equals an email. */
/**
 * The email of a Jira user object's `emailAddress`, lower-cased, or null when Jira did not reveal
 * one: absent (Cloud privacy, Data Center's email visibility "hidden") or masked (Data Center's
 * "masked": `alice at example dot com`, not an address a record can have).
 */
export function jiraEmail(v: unknown): string | null {
  return typeof v === 'string' && /^[^\s@]+@[^\s@]+$/.test(v.trim()) ? v.trim().toLowerCase() : null;
}

export function personValue(p: JiraPerson | null): string | null | { hidden: string } {
  if (!p) return null;
  if (p.email) return p.email;
  return { hidden: p.accountId ?? p.name ?? p.key ?? p.displayName };
}

export interface JiraSideField {
  key: string;
  /** Normalised like the base. A `{hidden}` person value means Jira did not reveal the email. */
  value: unknown;
  direction: FieldDirection | undefined;
  lock?: 'host' | 'jira' | undefined;
  /** Texts: Markdown compared in round-tripped form. */
  text?: boolean;
}

function decodeCustom(raw: unknown, type: FieldMappingSnapshot['type'], flavour: 'cloud' | 'datacenter'): unknown {
  if (raw === null || raw === undefined) return null;
  switch (type) {
    case 'number':
      return typeof raw === 'number' ? raw : Number(raw);
    case 'select':
    case 'radio':
      return typeof raw === 'object' ? ((raw as { value?: unknown }).value ?? null) : String(raw);
    case 'multiselect':
    case 'checkbox':
      return (Array.isArray(raw) ? raw : [raw])
        .map((o) => (typeof o === 'object' && o ? String((o as { value?: unknown }).value ?? '') : String(o)))
        .sort();
    case 'labels':
      return (Array.isArray(raw) ? raw : [raw]).map(String).sort();
    case 'date':
      return String(raw).slice(0, 10);
    case 'textarea':
      return normalizeText(jiraTextToMarkdown(raw, flavour));
    case 'user': {
      const v = personValue(typeof raw === 'object' ? toPersonLoose(raw) : null);
      return typeof v === 'string' ? v.toLowerCase() : v;
    }
    default:
      return typeof raw === 'string' ? raw : typeof raw === 'object' ? JSON.stringify(raw) : String(raw);
  }
}

function toPersonLoose(raw: unknown): JiraPerson | null {
  const x = raw as Record<string, unknown>;
  const email = jiraEmail(x.emailAddress);
  const id = [x.accountId, x.name, x.key].find((v) => typeof v === 'string' && v !== '') as string | undefined;
  return { ...(id ? { accountId: id } : {}), displayName: String(x.displayName ?? id ?? ''), email };
}

/**
 * Jira's side of every field the mapping syncs, keyed like the bases (`summary`, `custom:cvss`),
 * for the fields whose direction lets Jira's value flow back or that need comparing.
 */
export function jiraSide(
  state: JiraIssueState,
  mapping: OutboundMapping,
  flavour: 'cloud' | 'datacenter',
): JiraSideField[] {
  const b = mapping.builtinDirections ?? {};
  const out: JiraSideField[] = [
    { key: 'summary', value: state.summary.trim(), direction: b.summary },
    {
      key: 'description',
      value: normalizeText(jiraTextToMarkdown(state.description, flavour)),
      direction: b.description,
      text: true,
    },
    {
      key: 'labels',
      value: [...new Set(state.labels.filter((l) => !l.startsWith(TOKEN_LABEL_PREFIX)))].sort(),
      direction: b.labels,
    },
    { key: 'assignee', value: personValue(state.assignee), direction: b.assignee },
  ];
  if (state.priority !== null) out.push({ key: 'priority', value: state.priority, direction: b.priority });
  for (const f of mapping.fields) {
    out.push({
      key: `custom:${f.host}`,
      value: decodeCustom(state.custom[f.jira], f.type, flavour),
      direction: f.direction,
      lock: f.lock,
      ...(f.type === 'textarea' ? { text: true } : {}),
    });
  }
  return out;
}

/**
 * For texts, Jira holds the round-tripped form of what we wrote: when Jira's Markdown equals the
 * round trip of `candidate`, Jira holds `candidate`.
 */
export function sameText(jiraMd: unknown, candidate: unknown, flavour: 'cloud' | 'datacenter'): boolean {
  if (typeof jiraMd !== 'string' || typeof candidate !== 'string') return jiraMd === candidate;
  return jiraMd === candidate || jiraMd === canonicalMarkdown(candidate, flavour);
}

/**
 * Writes an agreed Jira value into the host's data. Returns a warning instead when the value
 * cannot be represented on the host (an unmapped priority, a user whose email Jira hides).
 */
export function applyToHost(
  data: RecordData,
  key: string,
  value: unknown,
  mapping: OutboundMapping,
): { ok: true } | { ok: false; warning: string } {
  const inbound = inboundSettings(mapping);
  if (value !== null && typeof value === 'object' && 'hidden' in value) {
    return { ok: false, warning: `${key}: Jira does not reveal this user's email; the record keeps its value` };
  }
  switch (key) {
    case 'summary':
      data.title = String(value);
      return { ok: true };
    case 'description':
      data.description = String(value ?? '');
      return { ok: true };
    case 'labels':
      data.labels = hostLabelsFrom(value as string[], mapping.labels.map(toJiraLabel), TOKEN_LABEL_PREFIX);
      return { ok: true };
    case 'assignee':
      data.assignee_email = value === null ? null : String(value);
      return { ok: true };
    case 'priority': {
      const sev = severityFor(
        String(value),
        inbound.priorityIn,
        mapping.severityToPriority,
        inbound.priorityInDefault ?? undefined,
      );
      if (sev === null) {
        return {
          ok: false,
          warning: `priority "${String(value)}" has no severity in the mapping (priority.in); the record keeps "${data.severity ?? ''}"`,
        };
      }
      data.severity = sev;
      return { ok: true };
    }
    default:
      if (key.startsWith('custom:')) {
        const host = key.slice('custom:'.length);
        // Through the field's value table (select / multi-select), back to the host's vocabulary.
        data.custom = {
          ...data.custom,
          [host]: hostOptionValue(
            mapping.fields.find((f) => f.host === host),
            value,
          ),
        };
        return { ok: true };
      }
      return { ok: false, warning: `${key}: not a field jira-bridge writes to records` };
  }
}

/** The record data for an issue created in Jira (create_record policy). */
export function recordDataFromIssue(
  state: JiraIssueState,
  mapping: OutboundMapping,
  flavour: 'cloud' | 'datacenter',
  hostStatus: string,
): RecordData {
  const data: RecordData = {
    title: state.summary.trim(),
    description: normalizeText(jiraTextToMarkdown(state.description, flavour)),
    status: hostStatus,
    severity: null,
    assignee_email: state.assignee?.email ?? null,
    labels: [],
    custom: {},
    parent_host_id: null,
  };
  for (const f of jiraSide(state, mapping, flavour)) {
    if (f.key === 'summary' || f.key === 'description' || f.key === 'assignee') continue;
    if (f.key.startsWith('custom:') && f.value === null) continue;
    applyToHost(data, f.key, f.value, mapping);
  }
  return data;
}
