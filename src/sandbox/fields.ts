import type { AdfNode, ChangeItem, CustomFieldDef, SandboxIssue, SandboxProject } from './model.js';
import { adfToWiki, isAdfDoc, wikiToAdf } from './render/text.js';
import type { SandboxState } from './state.js';

/**
 * Field values as REST bodies send them → stored form, with Jira's validation messages; and the
 * change-history item each change produces. Stored forms: text/url → string, textarea/description
 * → ADF, number → number, select → option id, multi-select → option ids, labels → strings,
 * user → accountId, date → 'YYYY-MM-DD'.
 */

export type TextFormat = 'adf' | 'wiki';

export interface FieldContext {
  state: SandboxState;
  project: SandboxProject;
  format: TextFormat;
}

export type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

export const MAX_TEXT = 32_767;
const TOO_LONG = 'The entered text is too long. It exceeds the allowed limit of 32,767 characters.';

/** System fields a create or edit may set (besides project, issuetype, parent on create). */
export const EDITABLE_SYSTEM_FIELDS = [
  'summary',
  'description',
  'environment',
  'priority',
  'labels',
  'assignee',
  'reporter',
  'duedate',
] as const;

export const SYSTEM_FIELD_NAMES: Record<string, string> = {
  summary: 'Summary',
  description: 'Description',
  environment: 'Environment',
  priority: 'Priority',
  labels: 'Labels',
  assignee: 'Assignee',
  reporter: 'Reporter',
  duedate: 'Due date',
  resolution: 'Resolution',
  status: 'Status',
  issuetype: 'Issue Type',
  project: 'Project',
  parent: 'Parent',
  comment: 'Comment',
  attachment: 'Attachment',
  created: 'Created',
  updated: 'Updated',
  creator: 'Creator',
  resolutiondate: 'Resolved',
  subtasks: 'Sub-tasks',
  issuelinks: 'Linked Issues',
  statuscategorychangedate: 'Status Category Changed',
};

const ok = (value: unknown): Parsed => ({ ok: true, value });
const fail = (error: string): Parsed => ({ ok: false, error });

function parseRichText(raw: unknown, format: TextFormat): Parsed {
  if (raw === null) return ok(null);
  if (format === 'adf') {
    if (!isAdfDoc(raw))
      return fail('Operation value must be an Atlassian Document (see the Atlassian Document Format)');
    if (JSON.stringify(raw).length > MAX_TEXT * 4 || adfToWiki(raw).length > MAX_TEXT) return fail(TOO_LONG);
    return ok(raw);
  }
  if (typeof raw !== 'string') return fail('Operation value must be a string');
  if (raw.length > MAX_TEXT) return fail(TOO_LONG);
  return ok(wikiToAdf(raw));
}

function parseUser(state: SandboxState, raw: unknown): Parsed {
  if (raw === null) return ok(null);
  if (typeof raw !== 'object') return fail('Operation value must be an object');
  const ref = raw as Record<string, unknown>;
  if (ref.accountId === null || ref.name === null) return ok(null);
  const user = state.findUser(ref);
  if (!user || !user.active) return fail('Specified user does not exist or you do not have required permissions');
  return ok(user.accountId);
}

function parseOption(def: CustomFieldDef, raw: unknown): string | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as { id?: unknown; value?: unknown };
  const opt = def.options.find(
    (o) => (r.id !== undefined && o.id === String(r.id)) || (r.value !== undefined && o.value === r.value),
  );
  return opt && !opt.disabled ? opt.id : null;
}

function parseLabels(raw: unknown): Parsed {
  if (!Array.isArray(raw)) return fail('Operation value must be an array of strings');
  for (const l of raw) {
    if (typeof l !== 'string') return fail('Operation value must be an array of strings');
    if (/\s/.test(l)) return fail(`The label '${l}' contains spaces which is invalid.`);
    if (l.length > 255) return fail('The label must not exceed 255 characters.');
  }
  return ok([...new Set(raw as string[])]);
}

function parseDate(raw: unknown): Parsed {
  if (raw === null) return ok(null);
  if (typeof raw !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(raw) || Number.isNaN(Date.parse(raw))) {
    return fail(`Error parsing date string: ${String(raw)}`);
  }
  return ok(raw);
}

function parseCustom(def: CustomFieldDef, raw: unknown, ctx: FieldContext): Parsed {
  if (raw === null) return ok(null);
  switch (def.kind) {
    case 'text':
      if (typeof raw !== 'string') return fail('Operation value must be a string');
      return raw.length > 255
        ? fail('The entered text is too long. It exceeds the allowed limit of 255 characters.')
        : ok(raw);
    case 'url':
      if (typeof raw !== 'string') return fail('Operation value must be a string');
      return /^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(raw) ? ok(raw) : fail(`Not a valid URL: ${raw}`);
    case 'textarea':
      return parseRichText(raw, ctx.format);
    case 'number':
      return typeof raw === 'number' && Number.isFinite(raw) ? ok(raw) : fail('Operation value must be a number');
    case 'select': {
      const id = parseOption(def, raw);
      return id ? ok(id) : fail(`Option value '${describeOption(raw)}' is not valid`);
    }
    case 'multiselect': {
      if (!Array.isArray(raw)) return fail('Operation value must be an array');
      const ids: string[] = [];
      for (const r of raw) {
        const id = parseOption(def, r);
        if (!id) return fail(`Option value '${describeOption(r)}' is not valid`);
        if (!ids.includes(id)) ids.push(id);
      }
      return ok(ids);
    }
    case 'labels':
      return parseLabels(raw);
    case 'user':
      return parseUser(ctx.state, raw);
    case 'date':
      return parseDate(raw);
  }
}

function describeOption(raw: unknown): string {
  if (typeof raw === 'object' && raw !== null) {
    const r = raw as { id?: unknown; value?: unknown };
    return String(r.value ?? r.id ?? '');
  }
  return String(raw);
}

/** Parses one field value from a `fields` body. */
export function parseField(fieldId: string, raw: unknown, ctx: FieldContext): Parsed {
  const { state } = ctx;
  switch (fieldId) {
    case 'summary':
      if (typeof raw !== 'string' || raw.trim() === '') return fail('You must specify a summary of the issue.');
      if (raw.includes('\n')) return fail('The summary is invalid because it contains newline characters.');
      return raw.length > 255 ? fail('Summary must be less than 255 characters.') : ok(raw);
    case 'description':
    case 'environment':
      return parseRichText(raw, ctx.format);
    case 'priority': {
      if (raw === null) return ok(null);
      const ref = (typeof raw === 'object' ? raw : {}) as { id?: unknown; name?: unknown };
      const p = state.priority(String(ref.id ?? ref.name ?? ''));
      return p ? ok(p.id) : fail('The priority selected is invalid.');
    }
    case 'labels':
      return parseLabels(raw ?? []);
    case 'assignee':
    case 'reporter':
      return parseUser(state, raw);
    case 'duedate':
      return parseDate(raw);
    case 'resolution': {
      if (raw === null) return ok(null);
      const ref = (typeof raw === 'object' ? raw : {}) as { id?: unknown; name?: unknown };
      const r = state.resolution(String(ref.id ?? ref.name ?? ''));
      return r
        ? ok(r.id)
        : fail(
            `Could not find resolution with ${ref.id !== undefined ? `id '${String(ref.id)}'` : `name '${String(ref.name)}'`}.`,
          );
    }
    default: {
      const def = state.customFields.get(fieldId);
      if (!def || !ctx.project.customFieldIds.includes(fieldId)) {
        return fail(`Field '${fieldId}' cannot be set. It is not on the appropriate screen, or unknown.`);
      }
      return parseCustom(def, raw, ctx);
    }
  }
}

/** The stored value of a field on an issue. */
export function storedValue(issue: SandboxIssue, fieldId: string): unknown {
  switch (fieldId) {
    case 'summary':
      return issue.summary;
    case 'description':
      return issue.description;
    case 'environment':
      return issue.environment;
    case 'priority':
      return issue.priorityId;
    case 'labels':
      return issue.labels;
    case 'assignee':
      return issue.assigneeId;
    case 'reporter':
      return issue.reporterId;
    case 'duedate':
      return issue.dueDate;
    case 'resolution':
      return issue.resolutionId;
    default:
      return issue.custom[fieldId] ?? null;
  }
}

export function setStoredValue(issue: SandboxIssue, fieldId: string, value: unknown): void {
  switch (fieldId) {
    case 'summary':
      issue.summary = value as string;
      return;
    case 'description':
      issue.description = value as AdfNode | null;
      return;
    case 'environment':
      issue.environment = value as AdfNode | null;
      return;
    case 'priority':
      issue.priorityId = value as string | null;
      return;
    case 'labels':
      issue.labels = value as string[];
      return;
    case 'assignee':
      issue.assigneeId = value as string | null;
      return;
    case 'reporter':
      issue.reporterId = value as string | null;
      return;
    case 'duedate':
      issue.dueDate = value as string | null;
      return;
    case 'resolution':
      issue.resolutionId = value as string | null;
      return;
    default:
      if (value === null) delete issue.custom[fieldId];
      else issue.custom[fieldId] = value;
  }
}

/**
 * Applies `update` operations (`set`, `add`, `remove`) to the current value and returns the raw
 * REST value to parse. Array fields accept add/remove; every field accepts set.
 */
export function applyOperations(current: unknown, fieldId: string, ops: unknown, ctx: FieldContext): Parsed {
  if (!Array.isArray(ops)) return fail(`Field '${fieldId}': update operations must be an array`);
  const def = ctx.state.customFields.get(fieldId);
  const arrayKind =
    fieldId === 'labels'
      ? 'labels'
      : def?.kind === 'labels'
        ? 'labels'
        : def?.kind === 'multiselect'
          ? 'multiselect'
          : null;
  let value: unknown = toRestish(current, fieldId, ctx);
  for (const op of ops) {
    if (typeof op !== 'object' || op === null)
      return fail(`Field '${fieldId}': each update operation must be an object`);
    const [verb, arg] = Object.entries(op as Record<string, unknown>)[0] ?? [];
    if (verb === 'set') value = arg;
    else if ((verb === 'add' || verb === 'remove') && arrayKind) {
      const list = Array.isArray(value) ? [...(value as unknown[])] : [];
      const same = (a: unknown, b: unknown): boolean =>
        arrayKind === 'labels'
          ? a === b
          : parseOption(def as CustomFieldDef, a) === parseOption(def as CustomFieldDef, b);
      if (verb === 'add') {
        if (!list.some((x) => same(x, arg))) list.push(arg);
        value = list;
      } else value = list.filter((x) => !same(x, arg));
    } else return fail(`Field '${fieldId}' does not support update operation '${String(verb)}'.`);
  }
  return ok(value);
}

/** Stored → a REST-ish input value so operations can compose with parseField. */
function toRestish(stored: unknown, fieldId: string, ctx: FieldContext): unknown {
  if (stored === null || stored === undefined) return fieldId === 'labels' ? [] : null;
  const def = ctx.state.customFields.get(fieldId);
  if (def?.kind === 'multiselect') return (stored as string[]).map((id) => ({ id }));
  if (def?.kind === 'select') return { id: stored };
  if (def?.kind === 'user' || fieldId === 'assignee' || fieldId === 'reporter') return { accountId: stored };
  if (fieldId === 'priority' || fieldId === 'resolution') return { id: stored };
  if (def?.kind === 'textarea' || fieldId === 'description' || fieldId === 'environment') {
    return ctx.format === 'adf' ? stored : adfToWiki(stored as AdfNode);
  }
  return stored;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** The history item for a field change, or null when the value did not change. */
export function changeItemFor(
  state: SandboxState,
  fieldId: string,
  before: unknown,
  after: unknown,
): ChangeItem | null {
  if (sameValue(before, after)) return null;
  const def = state.customFields.get(fieldId);
  const base = { field: def ? def.name : fieldId, fieldtype: def ? ('custom' as const) : ('jira' as const), fieldId };
  const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
  const userName = (id: unknown): string | null =>
    typeof id === 'string' ? (state.user(id)?.displayName ?? id) : null;
  if (fieldId === 'assignee' || fieldId === 'reporter' || def?.kind === 'user') {
    return {
      ...base,
      from: str(before),
      fromString: userName(before),
      to: str(after),
      toString: userName(after),
      userField: true,
    };
  }
  if (fieldId === 'priority') {
    return {
      ...base,
      from: str(before),
      fromString: before ? (state.priority(String(before))?.name ?? null) : null,
      to: str(after),
      toString: after ? (state.priority(String(after))?.name ?? null) : null,
    };
  }
  if (fieldId === 'resolution') {
    return {
      ...base,
      from: str(before),
      fromString: before ? (state.resolution(String(before))?.name ?? null) : null,
      to: str(after),
      toString: after ? (state.resolution(String(after))?.name ?? null) : null,
    };
  }
  if (fieldId === 'labels' || def?.kind === 'labels') {
    const f = (before as string[] | null) ?? [];
    const t = (after as string[] | null) ?? [];
    return {
      ...base,
      from: null,
      fromString: f.length ? f.join(' ') : null,
      to: null,
      toString: t.length ? t.join(' ') : null,
    };
  }
  if (def?.kind === 'select') {
    const name = (id: unknown): string | null => def.options.find((o) => o.id === id)?.value ?? null;
    return { ...base, from: str(before), fromString: name(before), to: str(after), toString: name(after) };
  }
  if (def?.kind === 'multiselect') {
    const ids = (v: unknown): string[] => (v as string[] | null) ?? [];
    const names = (v: unknown): string | null =>
      ids(v).length
        ? ids(v)
            .map((id) => def.options.find((o) => o.id === id)?.value ?? id)
            .join(',')
        : null;
    return {
      ...base,
      from: ids(before).length ? `[${ids(before).join(', ')}]` : null,
      fromString: names(before),
      to: ids(after).length ? `[${ids(after).join(', ')}]` : null,
      toString: names(after),
    };
  }
  if (fieldId === 'description' || fieldId === 'environment' || def?.kind === 'textarea') {
    const w = (v: unknown): string | null => (v ? adfToWiki(v as AdfNode) : null);
    return { ...base, from: null, fromString: w(before), to: null, toString: w(after) };
  }
  if (fieldId === 'duedate' || def?.kind === 'date') {
    return { ...base, from: str(before), fromString: str(before), to: str(after), toString: str(after) };
  }
  return { ...base, from: null, fromString: str(before), to: null, toString: str(after) };
}
