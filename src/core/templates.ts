/**
 * Mapping templates (issue 18 item 4): the summary, its description and a prefix of the
 * comments the host posts, written in Liquid (liquidjs) over the record's fields and custom values,
 * with conditionals (`{% if custom.device %}`), loops (`{% for l in labels %}`) and filters.
 *
 * Two phases, both pure:
 *  - `checkTemplate` at save (mappings API, `check`, start-up): parses with strict filters,
 *    refuses tags that read files (`include`, `render`, `layout`) and names every variable that is
 *    not a record field, with the valid ones. A template that passes renders for every record.
 *  - `renderTemplate` at sync: never strict about values (a custom value the record has not, the
 *    first of an empty list, a null severity all render empty, as Liquid does), so it does not
 *    throw for any record once the template passed the check (property-tested).
 *
 * Descriptions and comment prefixes render to Markdown, which the engine converts to ADF (Cloud)
 * or wiki markup (Data Center) like any description. Every `{{ value }}` is escaped for Markdown
 * (a record value cannot make a link, an image, a heading or a macro: `*`, `[`, `!`, `{`, `#`, `|`
 * … are backslash-escaped; see escapeMarkdown); `{{ value | raw }}` inserts a value as Markdown on purpose (a
 * description the host already writes in Markdown). Summaries are plain text (one line).
 */
import { Liquid, type Template } from 'liquidjs';

/** The record fields a template may name (custom values under `custom.<name>`). */
export const TEMPLATE_VARIABLES = [
  'title',
  'description',
  'status',
  'severity',
  'assignee_email',
  'labels',
  'custom',
  'kind',
  'scope',
  'host_id',
  'parent_host_id',
] as const;

/** What a comment prefix may name besides the record: the comment's author. */
export const COMMENT_VARIABLES = ['comment'] as const;

export type TemplateName = 'summary' | 'description' | 'comment_prefix';

export interface MappingTemplates {
  summary?: string | undefined;
  description?: string | undefined;
  /** Put before each comment the host posts (Markdown); default: `**{{ comment.author }}** wrote:`. */
  comment_prefix?: string | undefined;
}

/** The values a template sees. */
export interface TemplateRecord {
  scope: string;
  host_id: string;
  kind: string;
  title: string;
  description: string;
  status: string;
  severity: string | null;
  assignee_email: string | null;
  labels: readonly string[];
  custom: Readonly<Record<string, unknown>>;
  parent_host_id: string | null;
}

/** Longest template source accepted (a description template is a page, not a book). */
export const TEMPLATE_MAX_CHARS = 20_000;
const FILE_TAGS = new Set(['include', 'render', 'layout', 'block']);

/**
 * Backslash-escapes what Markdown (and Jira wiki markup, after conversion) reads as markup in a
 * value: emphasis, code, links, images, macros, tables, headings, lists. A hyphen only where it
 * could open or close a strike or a list (`a-b` stays as it is), a dot only after a list number or
 * a wiki heading / quote at the start of a line; `://` and `www.` so that no URL becomes a link.
 */
export function escapeMarkdown(s: string): string {
  return (
    s
      .replace(/[\\`*_{}[\]()#!|<>~^+]/g, (c) => `\\${c}`)
      .replace(/-/g, (m: string, at: number, all: string) =>
        at === 0 || /\s/.test(all[at - 1]!) || at === all.length - 1 || /\s/.test(all[at + 1]!) ? '\\-' : m,
      )
      .replace(/(^|\n)([ \t]*)(\d+|h[1-6]|bq)\./gi, '$1$2$3\\.')
      // No autolink either: a value's URL is text, not a link (GFM links http://… and www.…).
      .replace(/:\/\//g, '\\://')
      .replace(/\b(www)\./gi, '$1\\.')
  );
}

function stringify(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map(stringify).join(', ');
  return JSON.stringify(v);
}

/** No files: a template cannot include one (the check refuses the tags; this makes sure). */
const noFiles = {
  exists: async () => false,
  existsSync: () => false,
  readFile: async (file: string): Promise<string> => {
    throw new Error(`templates cannot read files (${file})`);
  },
  readFileSync: (file: string): string => {
    throw new Error(`templates cannot read files (${file})`);
  },
  resolve: (_root: string, file: string) => file,
  sep: '/',
  dirname: () => '',
  contains: async () => false,
};

const limits = {
  fs: noFiles,
  root: [] as string[],
  relativeReference: false,
  // A runaway loop over a record's values stops instead of eating the process.
  memoryLimit: 20_000_000,
  parseLimit: TEMPLATE_MAX_CHARS * 2,
} as const;

/** Markdown outputs: every value escaped unless `| raw`. */
const markdownEngine = new Liquid({
  strictFilters: true,
  strictVariables: false,
  ownPropertyOnly: true,
  jsTruthy: false,
  outputEscape: (v: unknown) => escapeMarkdown(stringify(v)),
  ...limits,
});
/** Plain-text outputs (summaries): values as they are. */
const plainEngine = new Liquid({
  strictFilters: true,
  strictVariables: false,
  ownPropertyOnly: true,
  outputEscape: (v: unknown) => stringify(v),
  ...limits,
});

const engineFor = (name: TemplateName): Liquid => (name === 'summary' ? plainEngine : markdownEngine);

const cache = new Map<string, Template[]>();
function compiled(name: TemplateName, source: string): Template[] {
  const key = `${name === 'summary' ? 'p' : 'm'}\u0000${source}`;
  let t = cache.get(key);
  if (!t) {
    t = engineFor(name).parse(source);
    if (cache.size >= 500) cache.delete(cache.keys().next().value!);
    cache.set(key, t);
  }
  return t;
}

export interface TemplateProblem {
  /** Which template (its key under `templates`). */
  template: TemplateName;
  message: string;
  /** The unknown variable, when that is the problem. */
  variable?: string | undefined;
}

function validFor(name: TemplateName): readonly string[] {
  return name === 'comment_prefix' ? [...TEMPLATE_VARIABLES, ...COMMENT_VARIABLES] : TEMPLATE_VARIABLES;
}

function walkTags(templates: readonly Template[], seen: (tag: string) => void): void {
  for (const t of templates) {
    const tag = t as unknown as {
      name?: unknown;
      templates?: Template[];
      branches?: Array<{ templates?: Template[] }>;
    };
    if (typeof tag.name === 'string') seen(tag.name);
    for (const v of Object.values(t as object)) {
      if (Array.isArray(v) && v.every((x) => x && typeof x === 'object' && 'token' in x))
        walkTags(v as Template[], seen);
      else if (Array.isArray(v))
        for (const b of v)
          if (b && typeof b === 'object' && Array.isArray((b as { templates?: unknown }).templates))
            walkTags((b as { templates: Template[] }).templates, seen);
    }
  }
}

/**
 * The problems of one template (empty: it renders for every record). Pure: parses only, with
 * strict filters; variables are checked statically against the record's fields.
 */
export function checkTemplate(name: TemplateName, source: string): TemplateProblem[] {
  const valid = validFor(name);
  if (source.length > TEMPLATE_MAX_CHARS)
    return [{ template: name, message: `is ${source.length} characters; at most ${TEMPLATE_MAX_CHARS}` }];
  let templates: Template[];
  try {
    templates = engineFor(name).parse(source);
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0] ?? String(err);
    const filter = /undefined filter: ([^\s,]+)/.exec(msg);
    return [
      {
        template: name,
        message: filter
          ? `unknown filter "${filter[1]}" (Liquid's standard filters are available, e.g. upcase, downcase, default, join, size, truncate, date, raw)`
          : `is not a valid Liquid template: ${msg}`,
      },
    ];
  }
  const problems: TemplateProblem[] = [];
  walkTags(templates, (tag) => {
    if (FILE_TAGS.has(tag))
      problems.push({ template: name, message: `the {% ${tag} %} tag is not available (templates cannot read files)` });
  });
  if (problems.length) return problems;
  let segments: Array<Array<string | number>>;
  try {
    segments = engineFor(name).globalVariableSegmentsSync(templates) as Array<Array<string | number>>;
  } catch (err) {
    return [{ template: name, message: `is not a valid Liquid template: ${(err as Error).message}` }];
  }
  const reported = new Set<string>();
  for (const seg of segments) {
    const root = String(seg[0]);
    let bad: string | undefined;
    if (!valid.includes(root)) bad = root;
    else if (root === 'comment' && seg.length > 1 && seg[1] !== 'author') bad = seg.slice(0, 2).join('.');
    if (bad === undefined || reported.has(bad)) continue;
    reported.add(bad);
    problems.push({
      template: name,
      variable: bad,
      message: `unknown variable "${bad}"; valid: ${valid.join(', ')}${root === 'comment' ? ' (comment.author)' : ''} (custom values as custom.<name>)`,
    });
  }
  return problems;
}

/** The problems of every template of a mapping. */
export function checkTemplates(t: MappingTemplates): TemplateProblem[] {
  const out: TemplateProblem[] = [];
  for (const name of ['summary', 'description', 'comment_prefix'] as const) {
    const source = t[name];
    if (source !== undefined) out.push(...checkTemplate(name, source));
  }
  return out;
}

/** Plain JSON values only (records are JSON): no prototypes, getters or cycles reach the engine. */
function plain(v: unknown): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as object))
      Object.defineProperty(out, k, { value: plain(x), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return null;
}

function scope(record: TemplateRecord, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return plain({
    scope: record.scope,
    host_id: record.host_id,
    kind: record.kind,
    title: record.title,
    description: record.description,
    status: record.status,
    severity: record.severity,
    assignee_email: record.assignee_email,
    labels: [...record.labels],
    custom: { ...record.custom },
    parent_host_id: record.parent_host_id,
    ...extra,
  }) as Record<string, unknown>;
}

/**
 * Renders a checked template for a record: Markdown for `description` and `comment_prefix`, one
 * line of plain text for `summary`. Pure.
 */
export function renderTemplate(
  name: TemplateName,
  source: string,
  record: TemplateRecord,
  extra: { comment?: { author: string | null } } = {},
): string {
  const out = engineFor(name).renderSync(compiled(name, source), scope(record, extra)) as string;
  if (name === 'summary') return out.replace(/\s+/g, ' ').trim();
  return out;
}
