import { createHash } from 'node:crypto';
import { renderTemplate, type TemplateRecord } from '../core/templates.js';
import type { FieldMappingSnapshot, JiraPort, OutboundMapping, RecordData } from './types.js';

/** Jira rejects text fields (and comments) over this many characters. */
export const JIRA_TEXT_LIMIT = 32_767;
/** Markdown longer than this is cut: the rest of the limit is room for what ADF / wiki markup adds. */
export const TEXT_BUDGET = JIRA_TEXT_LIMIT - 1000;
const SUMMARY_LIMIT = 255;

/** The full text of a field or comment cut to fit Jira: attached to the issue under `filename`. */
export interface Overflow {
  filename: string;
  text: string;
}

/** A name safe as an attachment file name (`comment-c 1/2` → `comment-c_1_2`). */
export function overflowFilename(stem: string): string {
  return `${stem.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 200)}.md`;
}

/**
 * A text as Jira can hold it: unchanged when it fits, else cut with a notice naming the
 * attachment that holds the full text. The notice carries the full text's length and hash, so a
 * different full text (even one differing only after the cut) is a different value: pushed again,
 * and attached again, once.
 */
export function fitText(text: string, filename: string): { text: string; overflow?: Overflow } {
  if (text.length <= TEXT_BUDGET) return { text };
  const hash = createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 12);
  const notice = `\n\n_[Truncated by jira-bridge: the full text (${text.length} characters, sha256 ${hash}) is attached as ${filename}]_`;
  let cut = TEXT_BUDGET - notice.length;
  // Never leave half of a surrogate pair at the cut.
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--;
  return { text: text.slice(0, cut).trimEnd() + notice, overflow: { filename, text } };
}

/** Comparable form of Markdown: line endings and trailing spaces do not count as changes. */
export function normalizeText(md: string): string {
  return md
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((l) => l.replace(/[ \t]+$/, ''))
    .join('\n')
    .trim();
}

/** Jira labels may not contain spaces. */
export function toJiraLabel(l: string): string {
  return l.trim().replace(/\s+/g, '_');
}

export interface DesiredField {
  /** The normalised value, stored as the field's base once Jira has it. */
  value: unknown;
  /** Jira field id written (`summary`, `customfield_10010`, …). */
  jiraField: string;
  type: 'summary' | 'description' | 'priority' | 'labels' | 'assignee' | FieldMappingSnapshot['type'];
  /** Set when the text was cut to fit Jira (`value` is then the cut text, as Jira holds it). */
  overflow?: Overflow;
}

function allows(direction: string | undefined): boolean {
  return direction === undefined || direction === 'both' || direction === 'to_jira';
}

/** The Jira status the record should be in, or a reason why none is pushed. */
export function desiredStatus(
  data: RecordData,
  mapping: OutboundMapping,
): { status: string; closing: boolean } | { status: null; reason: string } {
  if (!allows(mapping.builtinDirections?.status)) return { status: null, reason: 'status is synced from Jira only' };
  const closing = mapping.closedStatuses.includes(data.status);
  const s = Object.hasOwn(mapping.statusOut, data.status) ? mapping.statusOut[data.status] : undefined;
  if (closing) {
    // Each closed host status reaches the Jira status status.out names for it; close is the fallback.
    if (s) return { status: s, closing: true };
    if (mapping.closeStatus === null)
      return { status: null, reason: 'never auto-close: the mapping leaves closing to Jira' };
    return { status: mapping.closeStatus, closing: true };
  }
  if (!s) return { status: null, reason: `host status "${data.status}" has no Jira status in the mapping` };
  return { status: s, closing: false };
}

/**
 * The resolution a transition of this record sets: the mapping's one resolution, or its table's
 * entry for the record's host status, else the table's `default`; undefined leaves it to Jira
 * (a required resolution then takes Done or Fixed where allowed).
 */
export function resolutionFor(mapping: Pick<OutboundMapping, 'resolution'>, hostStatus: string): string | undefined {
  const r = mapping.resolution;
  if (r === undefined || typeof r === 'string') return r;
  return (
    (Object.hasOwn(r, hostStatus) ? r[hostStatus] : undefined) ?? (Object.hasOwn(r, 'default') ? r.default : undefined)
  );
}

/**
 * The mapping's labels an issue lacks (issue 18 item 5: every linked issue carries them, also one
 * created in Jira and adopted). None when the mapping never writes labels to Jira (direction
 * `from_jira`, or `sync.labels: from_jira`).
 */
export function missingMappingLabels(mapping: OutboundMapping, issueLabels: readonly string[]): string[] {
  if (mapping.direction === 'from_jira' || !allows(mapping.builtinDirections?.labels)) return [];
  const have = new Set(issueLabels);
  return [...new Set(mapping.labels.map(toJiraLabel))].filter((l) => l !== '' && !have.has(l));
}

/** The priority for a severity: the table, else the default, else none. */
export function desiredPriority(data: RecordData, mapping: OutboundMapping): string | null {
  if (data.severity !== null) {
    const hit = mapping.severityToPriority[data.severity] ?? mapping.severityToPriority[data.severity.toLowerCase()];
    if (hit) return hit;
  }
  return mapping.defaultPriority ?? null;
}

/**
 * Every field the mapping pushes to Jira, keyed by a stable field name (`summary`, `custom:cvss`)
 * with its normalised value (what bases store and compare).
 */
export function desiredFields(
  data: RecordData,
  mapping: OutboundMapping,
  who: RecordIdentity = NO_IDENTITY,
): Map<string, DesiredField> {
  const out = new Map<string, DesiredField>();
  const b = mapping.builtinDirections ?? {};
  const t = mapping.templates;
  if (allows(b.summary)) {
    const title =
      t?.summary !== undefined ? renderTemplate('summary', t.summary, templateRecord(data, who)) : data.title;
    out.set('summary', { value: title.trim(), jiraField: 'summary', type: 'summary' });
  }
  if (allows(b.description)) {
    const text =
      t?.description !== undefined
        ? renderTemplate('description', t.description, templateRecord(data, who))
        : data.description;
    const fit = fitText(normalizeText(text), 'description.md');
    out.set('description', {
      value: fit.text,
      jiraField: 'description',
      type: 'description',
      ...(fit.overflow ? { overflow: fit.overflow } : {}),
    });
  }
  if (allows(b.priority)) {
    const p = desiredPriority(data, mapping);
    if (p !== null) out.set('priority', { value: p, jiraField: 'priority', type: 'priority' });
  }
  if (allows(b.labels)) {
    const labels = [...new Set([...data.labels, ...mapping.labels].map(toJiraLabel).filter((l) => l !== ''))].sort();
    out.set('labels', { value: labels, jiraField: 'labels', type: 'labels' });
  }
  if (allows(b.assignee)) out.set('assignee', { value: data.assignee_email, jiraField: 'assignee', type: 'assignee' });
  for (const f of mapping.fields) {
    if (!allows(f.direction) || f.lock === 'jira') continue;
    const raw = Object.hasOwn(data.custom, f.host) ? data.custom[f.host] : undefined;
    if (raw === undefined) continue; // the host did not send it: leave the Jira field alone
    const value = normaliseCustom(toJiraOption(f, raw), f.type);
    if (f.type === 'textarea' && typeof value === 'string') {
      const fit = fitText(value, overflowFilename(f.host));
      out.set(`custom:${f.host}`, {
        value: fit.text,
        jiraField: f.jira,
        type: f.type,
        ...(fit.overflow ? { overflow: fit.overflow } : {}),
      });
    } else out.set(`custom:${f.host}`, { value, jiraField: f.jira, type: f.type });
  }
  return out;
}

/** Which record a mapping's templates render (its data alone does not say). */
export interface RecordIdentity {
  scope: string;
  host_id: string;
  kind: string;
}
const NO_IDENTITY: RecordIdentity = { scope: '', host_id: '', kind: '' };

/** What a template sees of a record. */
export function templateRecord(data: RecordData, who: RecordIdentity): TemplateRecord {
  return {
    scope: who.scope,
    host_id: who.host_id,
    kind: who.kind,
    title: data.title,
    description: data.description,
    status: data.status,
    severity: data.severity,
    assignee_email: data.assignee_email,
    labels: data.labels,
    custom: data.custom,
    parent_host_id: data.parent_host_id,
  };
}

/** Is this built-in field rendered from a template (so Jira's edits of it never go into the record)? */
export function templated(key: string, mapping: OutboundMapping): boolean {
  return (key === 'summary' || key === 'description') && mapping.templates?.[key] !== undefined;
}

/** A host value through the field's value table (select / multi-select): the Jira option it names. */
function toJiraOption(f: FieldMappingSnapshot, v: unknown): unknown {
  const table = f.values;
  if (!table || v === null || v === undefined) return v;
  const one = (x: unknown): unknown => (Object.hasOwn(table, String(x)) ? table[String(x)] : x);
  return Array.isArray(v) ? v.map(one) : one(v);
}

/**
 * Jira's option back to the host's vocabulary: the first host value the table maps to it
 * (options compared case-insensitively), else the option as it is.
 */
export function hostOptionValue(f: FieldMappingSnapshot | undefined, value: unknown): unknown {
  const table = f?.values;
  if (!table || value === null || value === undefined) return value;
  const one = (x: unknown): unknown => {
    const hit = Object.entries(table).find(([, option]) => option.toLowerCase() === String(x).toLowerCase());
    return hit ? hit[0] : x;
  };
  return Array.isArray(value) ? value.map(one) : one(value);
}

function normaliseCustom(v: unknown, type: FieldMappingSnapshot['type']): unknown {
  if (v === null) return null;
  switch (type) {
    case 'number':
      return typeof v === 'number' ? v : Number(v);
    case 'multiselect':
    case 'checkbox':
    case 'labels':
      return (Array.isArray(v) ? v : [v]).map(String).sort();
    case 'date':
      return String(v).slice(0, 10);
    case 'textarea':
      return normalizeText(String(v));
    case 'user':
      return String(v).trim().toLowerCase();
    default:
      return typeof v === 'string' ? v : String(v);
  }
}

export interface EncodeContext {
  jira: JiraPort;
  /** Emails already looked up in this job (each costs one Jira call once). */
  users: Map<string, Record<string, string> | null>;
  warnings: string[];
  /** Body encoding override (Service Management request fields take wiki markup on every flavour). */
  toBody?: ((md: string) => unknown) | undefined;
}

export async function lookupUser(ctx: EncodeContext, email: string): Promise<Record<string, string> | null> {
  if (!ctx.users.has(email)) ctx.users.set(email, await ctx.jira.findUserByEmail(email));
  return ctx.users.get(email) ?? null;
}

/** The warning a cut text leaves on the record. */
export function truncationWarning(what: string, o: Overflow): string {
  return `${what} is longer than Jira's ${JIRA_TEXT_LIMIT}-character limit: truncated, the full text attached as ${o.filename}`;
}

function fitted(key: string, f: DesiredField, ctx: EncodeContext): string {
  if (f.overflow) ctx.warnings.push(truncationWarning(key, f.overflow));
  return String(f.value);
}

/** Encodes one desired field as Jira expects it in `fields`. */
export async function encodeField(key: string, f: DesiredField, ctx: EncodeContext): Promise<unknown> {
  const v = f.value;
  switch (f.type) {
    case 'summary':
      return String(v).slice(0, SUMMARY_LIMIT);
    case 'description':
      return v === '' ? null : (ctx.toBody ?? ctx.jira.toBody)(fitted('description', f, ctx));
    case 'priority':
      return { name: v };
    case 'labels':
      return v === null ? [] : (v as string[]).map(toJiraLabel);
    case 'assignee':
    case 'user': {
      if (v === null) return null;
      const ref = await lookupUser(ctx, String(v));
      if (!ref) {
        ctx.warnings.push(
          `${key === 'assignee' ? 'assignee' : key}: no Jira user matches ${String(v)} (or Jira hides emails); left unassigned`,
        );
      }
      return ref;
    }
    default:
      break;
  }
  if (v === null) return null;
  switch (f.type) {
    case 'textarea':
      return (ctx.toBody ?? ctx.jira.toBody)(fitted(key, f, ctx));
    case 'number':
      return Number(v);
    case 'select':
    case 'radio':
      return { value: String(v) };
    case 'multiselect':
    case 'checkbox':
      return (v as string[]).map((value) => ({ value }));
    case 'date':
      return String(v).slice(0, 10);
    case 'datetime':
    case 'string':
    case 'url':
    default:
      return String(v);
  }
}
