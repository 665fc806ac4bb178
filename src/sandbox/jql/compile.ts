/**
 * Compiles a parsed JQL query into a predicate and a comparator over `JqlIssue`s. Field and
 * operator checks happen here (they need the context's custom fields) with Jira's messages.
 *
 * Semantics follow Jira's: names compare case-insensitively; `!=` and `NOT IN` never match an
 * empty field; `~` is a word search (all terms must occur, `*` suffix wildcard, quoted inner
 * phrase for adjacency); dates are UTC.
 */
import { evalDateFunction, isDateFunction, resolveDateLiteral } from './dates.js';
import {
  JqlError,
  type CompiledJql,
  type JqlContext,
  type JqlCustomValue,
  type JqlExpr,
  type JqlFieldRef,
  type JqlIssue,
  type JqlOperator,
  type JqlQuery,
  type JqlUser,
  type JqlValue,
  type JqlValueField,
} from './types.js';

type Predicate = (issue: JqlIssue) => boolean;
type Kind = 'name' | 'user' | 'text' | 'number' | 'date' | 'key' | 'labels';

/** How a field is read and which operators it supports. */
interface FieldDef {
  kind: Kind;
  /** Display name used in error messages (Jira uses the lower-case JQL name). */
  label: string;
  /** Candidate identities for name fields (all compared case-insensitively). */
  names?: (i: JqlIssue) => string[] | null;
  user?: (i: JqlIssue) => JqlUser | null;
  text?: (i: JqlIssue) => string[];
  number?: (i: JqlIssue) => number | null;
  labels?: (i: JqlIssue) => string[];
  /** Values that mean "no value" for this field, e.g. resolution = Unresolved. */
  emptyAliases?: string[];
  /** Sort value for ORDER BY. */
  sort: (i: JqlIssue) => string | number | null;
}

const STATUS_CATEGORY_NAMES: Record<string, string[]> = {
  new: ['new', 'to do', '2'],
  indeterminate: ['indeterminate', 'in progress', '4'],
  done: ['done', 'complete', '3'],
};

/** Jira sorts priorities by importance: ORDER BY priority DESC puts Highest first. */
const PRIORITY_RANK: Record<string, number> = { highest: 5, high: 4, medium: 3, low: 2, lowest: 1 };

const OPERATORS: Record<Kind, ReadonlySet<JqlOperator>> = {
  name: new Set<JqlOperator>(['=', '!=', 'in', 'not in', 'is', 'is not']),
  user: new Set<JqlOperator>(['=', '!=', 'in', 'not in', 'is', 'is not']),
  labels: new Set<JqlOperator>(['=', '!=', 'in', 'not in', 'is', 'is not']),
  text: new Set<JqlOperator>(['~', '!~', 'is', 'is not']),
  number: new Set<JqlOperator>(['=', '!=', '>', '>=', '<', '<=', 'in', 'not in', 'is', 'is not']),
  date: new Set<JqlOperator>(['=', '!=', '>', '>=', '<', '<=', 'in', 'not in', 'is', 'is not']),
  key: new Set<JqlOperator>(['=', '!=', '>', '>=', '<', '<=', 'in', 'not in', 'is', 'is not']),
};

function keyParts(key: string): [string, number] {
  const idx = key.lastIndexOf('-');
  return [key.slice(0, idx).toUpperCase(), Number(key.slice(idx + 1))];
}

function compareKeys(a: string, b: string): number {
  const [pa, na] = keyParts(a);
  const [pb, nb] = keyParts(b);
  return pa < pb ? -1 : pa > pb ? 1 : na - nb;
}

function userIdentities(u: JqlUser): string[] {
  return [u.accountId, u.name, u.key, u.emailAddress ?? undefined, u.displayName]
    .filter((x): x is string => typeof x === 'string' && x !== '')
    .map((x) => x.toLowerCase());
}

function customText(c: JqlCustomValue | undefined): string[] {
  if (!c || c.value === null || c.value === undefined) return [];
  if (Array.isArray(c.value)) return c.value.map((v) => String(v));
  return [String(c.value)];
}

function isTextCustom(type: string): boolean {
  return type === 'text' || type === 'textarea' || type === 'url';
}

function builtinField(name: string): FieldDef | undefined {
  switch (name.toLowerCase()) {
    case 'project':
      return {
        kind: 'name',
        label: 'project',
        names: (i) => [i.projectKey, i.projectId, i.projectName],
        sort: (i) => i.projectKey,
      };
    case 'key':
    case 'issuekey':
    case 'issue':
      return { kind: 'key', label: 'key', sort: (i) => i.key };
    case 'id':
      return { kind: 'number', label: 'id', number: (i) => Number(i.id), sort: (i) => Number(i.id) };
    case 'issuetype':
    case 'type':
      return { kind: 'name', label: 'issuetype', names: (i) => [i.issueType, i.issueTypeId], sort: (i) => i.issueType };
    case 'status':
      return { kind: 'name', label: 'status', names: (i) => [i.status, i.statusId], sort: (i) => i.status };
    case 'statuscategory':
      return {
        kind: 'name',
        label: 'statusCategory',
        names: (i) => STATUS_CATEGORY_NAMES[i.statusCategory] ?? [i.statusCategory],
        sort: (i) => ({ new: 1, indeterminate: 2, done: 3 })[i.statusCategory],
      };
    case 'labels':
      return {
        kind: 'labels',
        label: 'labels',
        labels: (i) => i.labels,
        sort: (i) => [...i.labels].sort().join(' ') || null,
      };
    case 'priority':
      return {
        kind: 'name',
        label: 'priority',
        names: (i) => (i.priority === null ? null : [i.priority]),
        sort: (i) => (i.priority === null ? null : (PRIORITY_RANK[i.priority.toLowerCase()] ?? 99)),
      };
    case 'assignee':
      return { kind: 'user', label: 'assignee', user: (i) => i.assignee, sort: (i) => i.assignee?.displayName ?? null };
    case 'reporter':
      return { kind: 'user', label: 'reporter', user: (i) => i.reporter, sort: (i) => i.reporter?.displayName ?? null };
    case 'creator':
      return {
        kind: 'user',
        label: 'creator',
        user: (i) => i.creator ?? null,
        sort: (i) => i.creator?.displayName ?? null,
      };
    case 'resolution':
      return {
        kind: 'name',
        label: 'resolution',
        names: (i) => (i.resolution === null ? null : [i.resolution]),
        emptyAliases: ['unresolved'],
        sort: (i) => i.resolution,
      };
    case 'summary':
      return { kind: 'text', label: 'summary', text: (i) => [i.summary], sort: (i) => i.summary.toLowerCase() };
    case 'description':
      return {
        kind: 'text',
        label: 'description',
        text: (i) => (i.descriptionText === '' ? [] : [i.descriptionText]),
        sort: (i) => i.descriptionText.toLowerCase() || null,
      };
    case 'text':
      return {
        kind: 'text',
        label: 'text',
        text: (i) => [
          i.summary,
          i.descriptionText,
          ...Object.values(i.custom)
            .filter((c) => isTextCustom(c.type))
            .flatMap((c) => customText(c)),
        ],
        sort: () => null,
      };
    case 'created':
    case 'createddate':
      return { kind: 'date', label: 'created', number: (i) => i.created, sort: (i) => i.created };
    case 'updated':
    case 'updateddate':
      return { kind: 'date', label: 'updated', number: (i) => i.updated, sort: (i) => i.updated };
    default:
      return undefined;
  }
}

function customField(id: string, label: string, type: string): FieldDef {
  const get = (i: JqlIssue): JqlCustomValue | undefined => i.custom[id];
  switch (type) {
    case 'number':
      return {
        kind: 'number',
        label,
        number: (i) => {
          const v = get(i)?.value;
          return typeof v === 'number' ? v : v === null || v === undefined || v === '' ? null : Number(v);
        },
        sort: (i) => {
          const v = get(i)?.value;
          return typeof v === 'number' ? v : null;
        },
      };
    case 'date':
      return {
        kind: 'date',
        label,
        number: (i) => {
          const v = get(i)?.value;
          if (v === null || v === undefined || v === '') return null;
          return typeof v === 'number' ? v : Date.parse(String(v));
        },
        sort: (i) => {
          const v = get(i)?.value;
          return v === null || v === undefined ? null : typeof v === 'number' ? v : Date.parse(String(v));
        },
      };
    case 'user':
      return {
        kind: 'user',
        label,
        user: (i) => (get(i)?.value as JqlUser | null | undefined) ?? null,
        sort: (i) => (get(i)?.value as JqlUser | null | undefined)?.displayName ?? null,
      };
    case 'select':
    case 'multiselect':
    case 'labels':
      return {
        kind: 'labels',
        label,
        labels: (i) => customText(get(i)),
        sort: (i) => customText(get(i)).join(' ') || null,
      };
    default:
      return {
        kind: 'text',
        label,
        text: (i) => customText(get(i)),
        sort: (i) => customText(get(i))[0]?.toLowerCase() ?? null,
      };
  }
}

/** Splits text into lower-case word tokens the way a simple analyser would. */
function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? [];
}

function stem(w: string): string {
  return w.length > 3 && w.endsWith('s') && !w.endsWith('ss') ? w.slice(0, -1) : w;
}

/** Builds a `~` matcher: every term (or quoted phrase) must occur; `term*` matches prefixes. */
function textMatcher(query: string): (values: string[]) => boolean {
  const phrases: string[][] = [];
  const rest = query.replace(/"([^"]*)"/gu, (_m, p: string) => {
    phrases.push(words(p).map(stem));
    return ' ';
  });
  const terms = rest
    .split(/\s+/u)
    .filter((t) => t !== '')
    .flatMap((t) => {
      if (/^[\p{L}\p{N}_]+[*?]$/u.test(t)) return [{ prefix: true, word: t.slice(0, -1).toLowerCase() }];
      // A term with punctuation (e.g. "abc-123") must occur as an adjacent phrase of its words.
      const ws = words(t);
      if (ws.length > 1) {
        phrases.push(ws.map(stem));
        return [];
      }
      return ws.map((w) => ({ prefix: false, word: stem(w) }));
    });
  return (values) => {
    const tokens = values.flatMap((v) => words(v));
    const stems = tokens.map(stem);
    if (terms.length === 0 && phrases.every((p) => p.length === 0)) return false;
    for (const t of terms) {
      const ok = t.prefix ? tokens.some((w) => w.startsWith(t.word)) : stems.includes(t.word);
      if (!ok) return false;
    }
    for (const p of phrases) {
      if (p.length === 0) continue;
      let found = false;
      for (let s = 0; s + p.length <= stems.length && !found; s++) {
        found = p.every((w, k) => stems[s + k] === w);
      }
      if (!found) return false;
    }
    return true;
  };
}

function describe(v: JqlValue): string {
  switch (v.kind) {
    case 'string':
      return v.value;
    case 'number':
      return v.raw;
    case 'function':
      return `${v.name}()`;
    case 'empty':
      return 'EMPTY';
  }
}

class Compiler {
  constructor(private readonly ctx: JqlContext) {}

  /** A built-in field, or the custom field id a reference names; throws for unknown fields. */
  private resolve(ref: JqlFieldRef): FieldDef | string {
    if (ref.customId !== undefined) return ref.customId;
    const builtin = builtinField(ref.name);
    if (builtin) return builtin;
    if (/^customfield_\d+$/u.test(ref.name)) return ref.name;
    const id = this.ctx.fieldIdByName?.(ref.name);
    if (id !== undefined) return id;
    throw new JqlError(`Field '${ref.name}' does not exist or you do not have permission to view it.`, ref.position);
  }

  /** Compiles a clause on a custom field: eagerly when its type is known, else per issue value type. */
  private customClause(id: string, ref: JqlFieldRef, op: JqlOperator, values: JqlValue[]): Predicate {
    const known = this.ctx.customFieldType?.(id);
    if (known !== undefined) return this.compileClause(customField(id, ref.name, known), op, values);
    const byType = new Map<string, Predicate>();
    const forType = (type: string): Predicate => {
      let p = byType.get(type);
      if (!p) {
        try {
          p = this.compileClause(customField(id, ref.name, type), op, values);
        } catch {
          p = () => false;
        }
        byType.set(type, p);
      }
      return p;
    };
    // Validate syntax-level problems once with the most permissive reading.
    if (op === 'is' || op === 'is not') void forType('text');
    return (i) => forType(i.custom[id]?.type ?? 'text')(i);
  }

  sortFor(ref: JqlFieldRef): (i: JqlIssue) => string | number | null {
    const r = this.resolve(ref);
    if (typeof r !== 'string') return r.sort;
    const known = this.ctx.customFieldType?.(r);
    if (known !== undefined) return customField(r, ref.name, known).sort;
    return (i) => {
      const c = i.custom[r];
      return c ? customField(r, ref.name, c.type).sort(i) : null;
    };
  }

  compileExpr(e: JqlExpr): Predicate {
    switch (e.kind) {
      case 'and': {
        const items = e.items.map((x) => this.compileExpr(x));
        return (i) => items.every((p) => p(i));
      }
      case 'or': {
        const items = e.items.map((x) => this.compileExpr(x));
        return (i) => items.some((p) => p(i));
      }
      case 'not': {
        const item = this.compileExpr(e.item);
        return (i) => !item(i);
      }
      case 'clause': {
        const r = this.resolve(e.field);
        if (typeof r === 'string') return this.customClause(r, e.field, e.operator, e.values);
        return this.compileClause(r, e.operator, e.values);
      }
    }
  }

  private compileClause(f: FieldDef, op: JqlOperator, rawValues: JqlValue[]): Predicate {
    const aliases = f.emptyAliases ?? [];
    const values = rawValues.map((v): JqlValue =>
      v.kind === 'string' && aliases.includes(v.value.toLowerCase()) ? { kind: 'empty' } : v,
    );
    if (!OPERATORS[f.kind].has(op)) {
      throw new JqlError(`The operator '${op}' is not supported by the '${f.label}' field.`);
    }
    const isEmpty = this.emptiness(f);
    if ((op === 'is' || op === 'is not') && values.some((v) => v.kind !== 'empty')) {
      throw new JqlError(`The operator '${op.toUpperCase()}' only supports searching for EMPTY values.`);
    }
    if (op === 'is') return isEmpty;
    if (op === 'is not') return (i) => !isEmpty(i);
    const hasEmpty = values.some((v) => v.kind === 'empty');
    const concrete = values.filter((v) => v.kind !== 'empty');
    if (hasEmpty && (op === '~' || op === '!~' || op === '>' || op === '<' || op === '>=' || op === '<=')) {
      throw new JqlError(`The operator '${op}' does not support searching for EMPTY values.`);
    }
    this.checkValuesExist(f, concrete);
    const positive = op === '=' || op === 'in' || op === '~';
    const base = concrete.length === 0 ? () => false : this.valueMatcher(f, op, concrete);
    if (positive) return hasEmpty ? (i) => isEmpty(i) || base(i) : base;
    // Negative operators: Jira never returns issues whose field is empty for != / NOT IN / !~,
    // unless EMPTY is itself among the excluded values.
    if (op === '!=' || op === 'not in' || op === '!~') {
      return (i) => {
        if (isEmpty(i)) return false;
        return !base(i);
      };
    }
    return (i) => !isEmpty(i) && base(i);
  }

  private emptiness(f: FieldDef): Predicate {
    switch (f.kind) {
      case 'name':
        return (i) => {
          const n = f.names?.(i);
          return n === null || n === undefined || n.length === 0;
        };
      case 'user':
        return (i) => f.user?.(i) === null || f.user?.(i) === undefined;
      case 'labels':
        return (i) => (f.labels?.(i) ?? []).length === 0;
      case 'text':
        return (i) => (f.text?.(i) ?? []).every((t) => t.trim() === '');
      case 'number':
      case 'date':
        return (i) => {
          const n = f.number?.(i);
          return n === null || n === undefined || Number.isNaN(n);
        };
      case 'key':
        return () => false;
    }
  }

  /** The positive matcher for the operator family (=, IN, ~, comparisons); negation happens outside. */
  private valueMatcher(f: FieldDef, op: JqlOperator, values: JqlValue[]): Predicate {
    switch (f.kind) {
      case 'name': {
        const wanted = values.map((v) => this.scalar(v, f).toLowerCase());
        return (i) => (f.names?.(i) ?? []).some((n) => wanted.includes(n.toLowerCase()));
      }
      case 'labels': {
        const wanted = values.map((v) => this.scalar(v, f).toLowerCase());
        return (i) => (f.labels?.(i) ?? []).some((n) => wanted.includes(n.toLowerCase()));
      }
      case 'user': {
        const wanted = values.flatMap((v) => this.userIds(v, f));
        return (i) => {
          const u = f.user?.(i);
          return u ? userIdentities(u).some((x) => wanted.includes(x)) : false;
        };
      }
      case 'text': {
        const matchers = values.map((v) => textMatcher(this.scalar(v, f)));
        return (i) => {
          const texts = f.text?.(i) ?? [];
          return matchers.some((m) => m(texts));
        };
      }
      case 'key': {
        const wanted = values.map((v) => this.scalar(v, f));
        for (const w of wanted) {
          if (!/^[A-Za-z][A-Za-z0-9_]*-\d+$/u.test(w) && !/^\d+$/u.test(w)) {
            throw new JqlError(`The issue key '${w}' for field 'key' is invalid.`);
          }
        }
        if (op === '=' || op === '!=' || op === 'in' || op === 'not in') {
          const lower = wanted.map((w) => w.toLowerCase());
          return (i) =>
            lower.includes(i.key.toLowerCase()) ||
            lower.includes(i.id) ||
            (i.previousKeys ?? []).some((k) => lower.includes(k.toLowerCase()));
        }
        const bound = wanted[0] as string;
        return (i) => {
          if (keyParts(i.key)[0] !== keyParts(bound)[0]) return false;
          return compareOp(op, compareKeys(i.key, bound));
        };
      }
      case 'number':
      case 'date': {
        const nums = values.map((v) => (f.kind === 'date' ? this.date(v, f) : this.number(v, f)));
        if (op === '=' || op === '!=' || op === 'in' || op === 'not in') {
          return (i) => {
            const n = f.number?.(i);
            return n !== null && n !== undefined && nums.includes(n);
          };
        }
        const bound = nums[0] as number;
        return (i) => {
          const n = f.number?.(i);
          return n !== null && n !== undefined && !Number.isNaN(n) && compareOp(op, n - bound);
        };
      }
    }
  }

  /** Jira refuses a query naming a project, type, status, priority, resolution or user the site has not. */
  private checkValuesExist(f: FieldDef, values: JqlValue[]): void {
    const exists = this.ctx.valueExists;
    if (!exists) return;
    const field: JqlValueField | undefined =
      f.kind === 'user'
        ? f.label === 'assignee' || f.label === 'reporter' || f.label === 'creator'
          ? 'user'
          : undefined
        : f.kind === 'name' && ['project', 'issuetype', 'status', 'priority', 'resolution'].includes(f.label)
          ? (f.label as JqlValueField)
          : undefined;
    if (!field) return;
    for (const v of values) {
      if (v.kind !== 'string' && v.kind !== 'number') continue;
      const value = v.kind === 'string' ? v.value : v.raw;
      if (!exists(field, value)) throw new JqlError(`The value '${value}' does not exist for the field '${f.label}'.`);
    }
  }

  private scalar(v: JqlValue, f: FieldDef): string {
    if (v.kind === 'string') return v.value;
    if (v.kind === 'number') return v.raw;
    if (v.kind === 'function') {
      throw new JqlError(`Unable to find JQL function '${v.name}()' for the field '${f.label}'.`);
    }
    return '';
  }

  private userIds(v: JqlValue, f: FieldDef): string[] {
    if (v.kind === 'function') {
      if (v.name.toLowerCase() !== 'currentuser') {
        throw new JqlError(`Unable to find JQL function '${v.name}()' for the field '${f.label}'.`);
      }
      return this.ctx.currentUser ? userIdentities(this.ctx.currentUser).slice(0, 3) : [];
    }
    return [this.scalar(v, f).toLowerCase()];
  }

  private number(v: JqlValue, f: FieldDef): number {
    const raw = describe(v);
    const n = v.kind === 'number' ? v.value : v.kind === 'string' ? Number(v.value) : NaN;
    if (v.kind === 'function' || !Number.isFinite(n) || (v.kind === 'string' && v.value.trim() === '')) {
      throw new JqlError(`The value '${raw}' is invalid for the '${f.label}' field.`);
    }
    return n;
  }

  private date(v: JqlValue, f: FieldDef): number {
    if (v.kind === 'function') {
      if (!isDateFunction(v.name))
        throw new JqlError(`Unable to find JQL function '${v.name}()' for the field '${f.label}'.`);
      return evalDateFunction(v.name, v.args, this.ctx.now);
    }
    return resolveDateLiteral(describe(v), f.label, this.ctx.now);
  }
}

function compareOp(op: JqlOperator, diff: number): boolean {
  switch (op) {
    case '>':
      return diff > 0;
    case '>=':
      return diff >= 0;
    case '<':
      return diff < 0;
    case '<=':
      return diff <= 0;
    default:
      return diff === 0;
  }
}

function compareSortValues(a: string | number | null, b: string | number | null): number {
  // Jira sorts empty values last in ascending order.
  if (a === null && b === null) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}

function tieBreak(a: JqlIssue, b: JqlIssue): number {
  const na = Number(a.id);
  const nb = Number(b.id);
  if (Number.isFinite(na) && Number.isFinite(nb) && na !== nb) return na - nb;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Compiles `q` for evaluation. Throws JqlError when a field does not exist, an operator does not
 * apply to a field, or a value cannot be interpreted (bad date, bad number, unknown function).
 * A custom field whose type the context cannot tell (no `customFieldType`) is typed per issue
 * from the issue's own value; a clause that does not apply to that type simply does not match.
 */
export function compileJql(q: JqlQuery, ctx: JqlContext): CompiledJql {
  const compiler = new Compiler(ctx);
  const predicate: Predicate = q.where ? compiler.compileExpr(q.where) : () => true;
  const orderFields = q.orderBy.map((k) => ({ sort: compiler.sortFor(k.field), dir: k.direction === 'desc' ? -1 : 1 }));
  return {
    matches: predicate,
    compare(a, b) {
      for (const { sort, dir } of orderFields) {
        const va = sort(a);
        const vb = sort(b);
        // Empty values sort last whatever the direction.
        const c = va === null || vb === null ? compareSortValues(va, vb) : compareSortValues(va, vb) * dir;
        if (c !== 0) return c;
      }
      return tieBreak(a, b);
    },
  };
}
