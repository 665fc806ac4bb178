import { fieldWriteType, NO_NEEDS, type CatalogNeeds, type FieldWriteType, type JiraCatalog } from './catalog.js';

/**
 * Semantic checks of the configuration, pure: cross-references inside the file, and each mapping
 * against the lists fetched from its Jira site. Every issue names the exact path, the bad value
 * and the valid ones. Types are structural so this module does not depend on src/config.
 */
export interface CheckIssue {
  path: string;
  message: string;
}

interface KindTargetLike {
  issue_type?: string;
  subtask_of?: string;
  service_desk?: string;
  request_type?: string;
}

export interface MappingLike {
  id: string;
  connection: string;
  scope: string;
  project: string;
  /** JQL narrowing the project's issues that are the mapping's own. */
  filter?: string | undefined;
  direction?: string | undefined;
  kinds: Record<string, KindTargetLike>;
  status: { out: Record<string, string>; in: Record<string, string>; closed: string[] };
  priority: { out: Record<string, string>; out_default?: string | undefined; in: Record<string, string> };
  fields: Array<{
    host: string;
    jira: string;
    type?: string | undefined;
    direction?: string | undefined;
    /** Host value → Jira option (select and multi-select fields). */
    values?: Record<string, string> | undefined;
  }>;
  labels?: string[] | undefined;
  host_link?: { url: string; title?: string | undefined } | undefined;
  close: { status: string } | { never: true };
  /** One resolution, or a table by closed host status with an optional `default`. */
  resolution?: string | Record<string, string> | undefined;
  reopen: { mode: string; rework_issue_type?: string | undefined; rework_link_type?: string | undefined };
}

export interface ConfigLike {
  connections: Array<{ id: string; tls: { verify: boolean } }>;
  mappings: MappingLike[];
}

const MAX_LISTED = 10;

/** `known: A, B, C, …` with the list cut after ten names. */
export function knownList(names: readonly string[]): string {
  const uniq = [...new Set(names)];
  const shown = uniq.slice(0, MAX_LISTED).join(', ');
  return uniq.length > MAX_LISTED ? `${shown}, … (${uniq.length} in all)` : shown || '(none)';
}

const eq = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

export function checkConfigStructure(config: ConfigLike): CheckIssue[] {
  const issues: CheckIssue[] = [];
  const connIds = new Set<string>();
  config.connections.forEach((c, i) => {
    if (connIds.has(c.id)) issues.push({ path: `connections[${i}].id`, message: `duplicate connection id "${c.id}"` });
    connIds.add(c.id);
  });
  const mappingIds = new Set<string>();
  const scopes = new Map<string, number>();
  config.mappings.forEach((m, i) => {
    const at = `mappings[${i}]`;
    if (mappingIds.has(m.id)) issues.push({ path: `${at}.id`, message: `duplicate mapping id "${m.id}"` });
    mappingIds.add(m.id);
    if (!connIds.has(m.connection)) {
      issues.push({
        path: `${at}.connection`,
        message: `"${m.connection}" is not a connection; known: ${knownList([...connIds])}`,
      });
    }
    const scopeKey = `${m.connection}\u0000${m.scope}`;
    const prev = scopes.get(scopeKey);
    if (prev !== undefined) {
      issues.push({
        path: `${at}.scope`,
        message: `scope "${m.scope}" is already mapped on connection "${m.connection}" by mappings[${prev}]; one Jira project per host scope per connection`,
      });
    } else scopes.set(scopeKey, i);
    issues.push(...checkMappingStructure(m, i));
  });
  for (const o of inboundOverlaps(config.mappings)) {
    issues.push({ path: `mappings[${o.second}].${o.at}`, message: overlapMessage(o, config.mappings, 'mappings') });
  }
  return issues;
}

/** Two mappings that would both take Jira's issues of one project and issue type. */
export interface InboundOverlap {
  /** Indexes of the two mappings (first < second). */
  first: number;
  second: number;
  project: string;
  /** The issue types both cover (`*` where a service-desk kind takes any). */
  issueTypes: string[];
  /** Where in the second mapping the overlap is (its first overlapping kind), e.g. `kinds.incident.issue_type`. */
  at: string;
}

const normJql = (s: string): string => s.trim().replace(/\s+/g, ' ').toLowerCase();

/**
 * The issue types a mapping takes from Jira: each kind's issue type; a service-desk kind takes
 * whatever type its request type has (`*`, as the engine's kindForIssueType does). Null for a
 * mapping nothing flows back through (to_jira).
 */
function inboundTypes(m: MappingLike): Map<string, { name: string; at: string }> | null {
  if (m.direction === 'to_jira') return null;
  const out = new Map<string, { name: string; at: string }>();
  for (const [kind, t] of Object.entries(m.kinds)) {
    if (t.issue_type !== undefined) {
      const key = t.issue_type.toLowerCase();
      if (!out.has(key)) out.set(key, { name: t.issue_type, at: `kinds.${kind}.issue_type` });
    } else if (!out.has('*')) out.set('*', { name: '*', at: `kinds.${kind}.service_desk` });
  }
  return out;
}

/**
 * Overlapping inbound coverage: two mappings of one connection on one project whose issue types
 * overlap, so an issue created in Jira would have no single owner. JQL filters separate them
 * only when both have one and the two differ: whether two JQL queries can match the same issue
 * cannot be decided in general, so different filters are taken as the admin's word that they
 * are disjoint (one mapping without a filter covers everything the other's filter does).
 */
export function inboundOverlaps(mappings: readonly MappingLike[]): InboundOverlap[] {
  const out: InboundOverlap[] = [];
  const types = mappings.map(inboundTypes);
  for (let j = 0; j < mappings.length; j++) {
    const b = mappings[j]!;
    const tb = types[j];
    if (!tb) continue;
    for (let i = 0; i < j; i++) {
      const a = mappings[i]!;
      const ta = types[i];
      if (!ta || a.connection !== b.connection || !eq(a.project, b.project)) continue;
      if (a.filter && b.filter && normJql(a.filter) !== normJql(b.filter)) continue;
      const shared = [...tb.keys()].filter((t) => t === '*' || ta.has('*') || ta.has(t));
      if (!shared.length) continue;
      const names = shared.includes('*') || ta.has('*') ? ['*'] : shared.map((t) => tb.get(t)!.name);
      out.push({ first: i, second: j, project: b.project, issueTypes: names, at: tb.get(shared[0]!)!.at });
    }
  }
  return out;
}

/** What an overlap means and how to fix it, naming both mappings (`list`: how the caller names positions). */
export function overlapMessage(o: InboundOverlap, mappings: readonly MappingLike[], list?: string): string {
  const a = mappings[o.first]!;
  const b = mappings[o.second]!;
  const types = o.issueTypes.includes('*') ? 'any issue type (a service-desk kind)' : o.issueTypes.join(', ');
  const filters =
    a.filter && b.filter
      ? 'both have the same filter'
      : a.filter || b.filter
        ? `only "${a.filter ? a.id : b.id}" has a filter, so "${a.filter ? b.id : a.id}" covers its issues too`
        : 'neither has a filter';
  return (
    `mapping "${b.id}" and mapping "${a.id}"${list ? ` (${list}[${o.first}])` : ''} both take issues of ${o.project} (${types}) ` +
    `from connection "${b.connection}", and ${filters}: an issue created in Jira would have no single owner. ` +
    'Give both mappings filters that separate them (filter: <JQL>), map different issue types, or use one mapping'
  );
}

/** Words a mapping filter must not have: it is ANDed into other queries, which order themselves. */
function filterProblem(filter: string): string | null {
  const unquoted = filter.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  if (/\border\s+by\b/i.test(unquoted)) {
    return "must not contain ORDER BY: the filter is ANDed into jira-bridge's own searches, which set their order";
  }
  return null;
}

/** The placeholders a host_link template may use. */
const HOST_LINK_PLACEHOLDERS = ['scope', 'host_id', 'kind'];

/** Checks of one mapping that need no Jira (the file's and the admin API's alike). */
export function checkMappingStructure(m: MappingLike, index: number): CheckIssue[] {
  const at = `mappings[${index}]`;
  const issues: CheckIssue[] = [];
  for (const [kind, t] of Object.entries(m.kinds)) {
    if (t.subtask_of !== undefined && !(t.subtask_of in m.kinds)) {
      issues.push({
        path: `${at}.kinds.${kind}.subtask_of`,
        message: `"${t.subtask_of}" is not a kind of this mapping; known: ${knownList(Object.keys(m.kinds))}`,
      });
    }
    if (t.subtask_of === kind) {
      issues.push({ path: `${at}.kinds.${kind}.subtask_of`, message: 'a kind cannot be a sub-task of itself' });
    }
  }
  if (m.filter !== undefined) {
    const bad = filterProblem(m.filter);
    if (bad) issues.push({ path: `${at}.filter`, message: bad });
  }
  if (m.resolution !== undefined && typeof m.resolution !== 'string') {
    // A resolution table is by closed host status: any other key would never be used.
    const closed = m.status.closed;
    for (const key of Object.keys(m.resolution)) {
      if (key === 'default' || closed.includes(key)) continue;
      issues.push({
        path: `${at}.resolution.${key}`,
        message: closed.length
          ? `"${key}" is not a closed host status (status.closed); known: ${knownList([...closed, 'default'])}`
          : `"${key}" is not a closed host status: status.closed is empty, so only default applies; list the host statuses that close an issue in status.closed`,
      });
    }
  }
  if (m.reopen.mode === 'rework' && !m.reopen.rework_issue_type) {
    issues.push({
      path: `${at}.reopen.rework_issue_type`,
      message: 'is required when reopen.mode is "rework" (the issue type of the rework task, e.g. Task)',
    });
  }
  m.fields.forEach((f, i) => {
    if (f.values !== undefined && f.type !== undefined && f.type !== 'select' && f.type !== 'multiselect') {
      issues.push({
        path: `${at}.fields[${i}].values`,
        message: `maps host values to Jira options: only for select and multi-select fields, and this one is declared "${f.type}"; remove values or the type`,
      });
    }
  });
  if (m.host_link) {
    for (const key of ['url', 'title'] as const) {
      const template = m.host_link[key];
      if (template === undefined) continue;
      for (const [, name] of template.matchAll(/\{([^{}]*)\}/g)) {
        if (!HOST_LINK_PLACEHOLDERS.includes(name!)) {
          issues.push({
            path: `${at}.host_link.${key}`,
            message: `"{${name}}" is not a placeholder; known: ${HOST_LINK_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`,
          });
        }
      }
    }
    // Filled with sample values, the URL must be one (a stray space or bracket is caught here).
    const sample = m.host_link.url.replace(/\{(scope|host_id|kind)\}/g, 'x');
    if (!URL.canParse(sample)) {
      issues.push({
        path: `${at}.host_link.url`,
        message: `"${m.host_link.url}" is not a URL once {scope}, {host_id} and {kind} are filled in`,
      });
    }
  }
  return issues;
}

/** Checks one mapping against its Jira site's catalogue (`index` is its position in the file). */
export function checkMappingAgainstCatalog(m: MappingLike, catalog: JiraCatalog, index: number): CheckIssue[] {
  const at = `mappings[${index}]`;
  const issues: CheckIssue[] = [];
  const project = catalog.projects.find((p) => eq(p.key, m.project) || p.id === m.project);
  if (!project) {
    return [
      {
        path: `${at}.project`,
        message: `"${m.project}" is not a Jira project visible to this connection; known: ${knownList(catalog.projects.map((p) => p.key))}`,
      },
    ];
  }
  const types = project.issueTypes;
  for (const [kind, t] of Object.entries(m.kinds)) {
    const path = `${at}.kinds.${kind}`;
    if (t.issue_type !== undefined) {
      const it = types.find((x) => eq(x.name, t.issue_type!) || x.id === t.issue_type);
      if (!it) {
        issues.push({
          path: `${path}.issue_type`,
          message: `"${t.issue_type}" is not an issue type of ${project.key}; known: ${knownList(types.map((x) => x.name))}`,
        });
      } else if (it.subtask && t.subtask_of === undefined) {
        issues.push({
          path: `${path}.issue_type`,
          message: `"${it.name}" is a sub-task type: set subtask_of to the kind of its parent record, or pick one of ${knownList(types.filter((x) => !x.subtask).map((x) => x.name))}`,
        });
      } else if (!it.subtask && t.subtask_of !== undefined) {
        issues.push({
          path: `${path}.issue_type`,
          message: `"${it.name}" is not a sub-task type but subtask_of is set; sub-task types of ${project.key}: ${knownList(types.filter((x) => x.subtask).map((x) => x.name))}`,
        });
      }
    } else if (t.service_desk !== undefined) {
      const desk = catalog.serviceDesks.find((d) => d.id === t.service_desk || eq(d.projectKey, t.service_desk!));
      if (!desk && catalog.serviceDesksUnreadable !== undefined) {
        // Not readable with this grant (the connection's health says to reconnect): nothing to check against.
      } else if (!desk) {
        issues.push({
          path: `${path}.service_desk`,
          message: `"${t.service_desk}" is not a service desk; known: ${knownList(catalog.serviceDesks.map((d) => `${d.id} (${d.projectKey})`))}`,
        });
      } else if (!desk.requestTypes.some((r) => r.id === t.request_type || eq(r.name, t.request_type ?? ''))) {
        issues.push({
          path: `${path}.request_type`,
          message: `"${t.request_type}" is not a request type of service desk ${desk.projectKey}; known: ${knownList(desk.requestTypes.map((r) => r.name))}`,
        });
      }
    }
  }

  const statusNames = catalog.statuses.map((s) => s.name);
  const statusKnown = (v: string): boolean => catalog.statuses.some((s) => eq(s.name, v) || s.id === v);
  for (const [host, jira] of Object.entries(m.status.out)) {
    if (!statusKnown(jira)) {
      issues.push({
        path: `${at}.status.out.${host}`,
        message: `"${jira}" is not a Jira status; known: ${knownList(statusNames)}`,
      });
    }
  }
  for (const jira of Object.keys(m.status.in)) {
    const cat = /^category:(.*)$/.exec(jira);
    if (cat) {
      if (!['new', 'indeterminate', 'done'].includes(cat[1]!)) {
        issues.push({
          path: `${at}.status.in.${jira}`,
          message: `"${cat[1]}" is not a status category; known: new, indeterminate, done`,
        });
      }
    } else if (!statusKnown(jira)) {
      issues.push({
        path: `${at}.status.in.${jira}`,
        message: `"${jira}" is not a Jira status; known: ${knownList(statusNames)} (or category:new|indeterminate|done)`,
      });
    }
  }
  if ('status' in m.close && !statusKnown(m.close.status)) {
    issues.push({
      path: `${at}.close.status`,
      message: `"${m.close.status}" is not a Jira status; known: ${knownList(statusNames)}`,
    });
  }

  const priorityNames = catalog.priorities.map((p) => p.name);
  const priorityKnown = (v: string): boolean => catalog.priorities.some((p) => eq(p.name, v) || p.id === v);
  for (const [sev, prio] of Object.entries(m.priority.out)) {
    if (!priorityKnown(prio)) {
      issues.push({
        path: `${at}.priority.out.${sev}`,
        message: `"${prio}" is not a Jira priority; known: ${knownList(priorityNames)}`,
      });
    }
  }
  if (m.priority.out_default !== undefined && !priorityKnown(m.priority.out_default)) {
    issues.push({
      path: `${at}.priority.out_default`,
      message: `"${m.priority.out_default}" is not a Jira priority; known: ${knownList(priorityNames)}`,
    });
  }
  for (const prio of Object.keys(m.priority.in)) {
    if (!priorityKnown(prio)) {
      issues.push({
        path: `${at}.priority.in.${prio}`,
        message: `"${prio}" is not a Jira priority; known: ${knownList(priorityNames)}`,
      });
    }
  }

  m.fields.forEach((f, i) => {
    const byName = catalog.fields.filter((x) => eq(x.name, f.jira));
    if (!catalog.fields.some((x) => x.id === f.jira) && byName.length > 1) {
      // Jira lets fields share a name (a custom "Environment" beside the system one).
      issues.push({
        path: `${at}.fields[${i}].jira`,
        message: `"${f.jira}" names ${byName.length} Jira fields: ${byName.map((x) => `${x.id} (${x.custom ? 'custom' : 'system'}, ${fieldWriteType(x)})`).join(', ')}; use the id of the one meant`,
      });
      return;
    }
    const field = catalog.fields.find((x) => x.id === f.jira) ?? byName[0];
    if (!field) {
      issues.push({
        path: `${at}.fields[${i}].jira`,
        message: `"${f.jira}" is not a Jira field; known custom fields: ${knownList(catalog.fields.filter((x) => x.custom).map((x) => x.name))}`,
      });
      return;
    }
    const jiraType = fieldWriteType(field);
    if (f.type !== undefined && !compatibleTypes(f.type, jiraType)) {
      issues.push({
        path: `${at}.fields[${i}].type`,
        message: `"${f.type}" does not fit ${field.name}, a ${jiraType} field in Jira (${field.customType ?? field.type}); use type: ${jiraType}, or leave type out to take Jira's`,
      });
    }
    if (f.values !== undefined) {
      const type = (f.type as FieldWriteType | undefined) ?? jiraType;
      if (type !== 'select' && type !== 'multiselect') {
        issues.push({
          path: `${at}.fields[${i}].values`,
          message: `maps host values to Jira options, and ${field.name} is a ${jiraType} field, not a select or multi-select; remove values`,
        });
      } else {
        for (const [host, option] of Object.entries(f.values)) {
          const path = `${at}.fields[${i}].values.${host}`;
          const bad = checkOption(catalog, field.id, option, path);
          if (bad) issues.push(bad);
          else {
            // Written as Jira's option value (not its id, not in another case): the value both
            // sides agree on is compared exactly.
            const known = field.options?.find((o) => eq(o.value, option) || o.id === option);
            if (known && known.value !== option) {
              issues.push({ path, message: `"${option}" must be written as Jira's option value: "${known.value}"` });
            }
          }
        }
      }
    }
  });
  if (m.direction !== 'from_jira') issues.push(...checkRequiredCreateFields(m, project, catalog, at));

  issues.push(...checkCloseAgainstCatalog(m, catalog, index));
  // The rework task is joined by this link type; an unknown one would quietly become a remote link.
  const linkType = m.reopen.rework_link_type ?? 'Relates';
  if (m.reopen.mode === 'rework' && catalog.linkTypes?.length && !catalog.linkTypes.some((t) => eq(t.name, linkType))) {
    issues.push({
      path: `${at}.reopen.rework_link_type`,
      message: `"${linkType}"${m.reopen.rework_link_type === undefined ? ' (the default)' : ''} is not an issue link type of this site; known: ${knownList(catalog.linkTypes.map((t) => t.name))}`,
    });
  }
  if (m.reopen.rework_issue_type !== undefined && !types.some((x) => eq(x.name, m.reopen.rework_issue_type!))) {
    issues.push({
      path: `${at}.reopen.rework_issue_type`,
      message: `"${m.reopen.rework_issue_type}" is not an issue type of ${project.key}; known: ${knownList(types.map((x) => x.name))}`,
    });
  }
  return issues;
}

/**
 * How records close, against the site (`index`: the mapping's position): every resolution named
 * (one, or each of the table's) is one of the site's, and each closed host status's Jira status —
 * the one `status.out` names for it, else `close.status` — is in the done category and in the
 * workflow of at least one issue type the mapping creates (where the site lists its workflows'
 * statuses).
 * Start-up runs it on its own, `check` and the admin API as part of checkMappingAgainstCatalog.
 */
export function checkCloseAgainstCatalog(m: MappingLike, catalog: JiraCatalog, index: number): CheckIssue[] {
  const at = `mappings[${index}]`;
  const issues: CheckIssue[] = [];
  const resolutionNames = catalog.resolutions.map((r) => r.name);
  const resolutionKnown = (v: string): boolean => catalog.resolutions.some((r) => eq(r.name, v) || r.id === v);
  const named: Array<[string, string]> =
    m.resolution === undefined
      ? []
      : typeof m.resolution === 'string'
        ? [[`${at}.resolution`, m.resolution]]
        : Object.entries(m.resolution).map(([k, v]) => [`${at}.resolution.${k}`, v]);
  for (const [path, name] of named) {
    if (!resolutionKnown(name)) {
      issues.push({ path, message: `"${name}" is not a Jira resolution; known: ${knownList(resolutionNames)}` });
    }
  }

  const project = catalog.projects.find((p) => eq(p.key, m.project) || p.id === m.project);
  if (!project) return issues;
  // The issue types the mapping creates, with the statuses of their workflows where known.
  const workflows: Array<{ name: string; statuses: string[] }> = [];
  for (const t of Object.values(m.kinds)) {
    let it: JiraCatalog['projects'][number]['issueTypes'][number] | undefined;
    if (t.issue_type !== undefined) {
      it = project.issueTypes.find((x) => eq(x.name, t.issue_type!) || x.id === t.issue_type);
    } else if (t.service_desk !== undefined) {
      const desk = catalog.serviceDesks.find((d) => d.id === t.service_desk || eq(d.projectKey, t.service_desk!));
      const rt = desk?.requestTypes.find((r) => r.id === t.request_type || eq(r.name, t.request_type ?? ''));
      it = rt?.issueTypeId ? project.issueTypes.find((x) => x.id === rt.issueTypeId) : undefined;
    }
    if (it?.statuses && !workflows.some((w) => w.name === it.name))
      workflows.push({ name: it.name, statuses: it.statuses });
  }
  const reported = new Set<string>();
  for (const host of m.status.closed) {
    const own = Object.hasOwn(m.status.out, host) ? m.status.out[host] : undefined;
    const target = own ?? ('status' in m.close ? m.close.status : undefined);
    if (target === undefined) continue; // close: never, and no status of its own: not pushed
    const path = own !== undefined ? `${at}.status.out.${host}` : `${at}.close.status`;
    if (reported.has(path)) continue;
    const status = catalog.statuses.find((s) => eq(s.name, target) || s.id === target);
    if (!status) continue; // reported as an unknown status already
    const why =
      own !== undefined
        ? `"${host}" is a closed host status (status.closed)`
        : `the closed host status "${host}" falls back to close.status`;
    if (status.category !== 'done') {
      reported.add(path);
      issues.push({
        path,
        message: `"${status.name}" is not a done status (its category is ${status.category}), and ${why}: a closing transition must reach the done category; done statuses: ${knownList(catalog.statuses.filter((s) => s.category === 'done').map((s) => s.name))}`,
      });
      continue;
    }
    // In no workflow of the mapping's issue types: no record could ever reach it. (A kind whose
    // workflow lacks it while another's has it fails when one of its records closes, naming the
    // transitions available, as any unreachable status does.)
    if (workflows.length && !workflows.some((w) => w.statuses.some((x) => eq(x, status.name)))) {
      reported.add(path);
      issues.push({
        path,
        message: `"${status.name}" is in no workflow of the mapping's issue types in ${project.key} (${workflows.map((w) => w.name).join(', ')}), and ${why}: its records could never reach it; statuses of those workflows: ${knownList(workflows.flatMap((w) => w.statuses))}`,
      });
    }
  }
  return issues;
}

/** A declared field type Jira's field takes as written: the same, or a plain string for a URL field and back. */
function compatibleTypes(declared: string, jira: FieldWriteType): boolean {
  if (declared === jira) return true;
  const plain = new Set(['string', 'url']);
  return plain.has(declared) && plain.has(jira);
}

/** Fields a create never lacks, or that jira-bridge fills itself. */
const ALWAYS_SET = new Set(['summary', 'description', 'project', 'issuetype', 'reporter', 'parent']);

/**
 * The fields each mapped issue type requires on create must be set by the mapping (or filled by
 * Jira's default): otherwise every create of that kind fails with Jira's 400.
 */
function checkRequiredCreateFields(
  m: MappingLike,
  project: JiraCatalog['projects'][number],
  catalog: JiraCatalog,
  at: string,
): CheckIssue[] {
  const issues: CheckIssue[] = [];
  const mapped = new Set<string>();
  for (const f of m.fields) {
    if (f.direction === 'from_jira') continue;
    const field = catalog.fields.find((x) => x.id === f.jira || eq(x.name, f.jira));
    mapped.add(field?.id ?? f.jira);
  }
  for (const [kind, t] of Object.entries(m.kinds)) {
    if (t.issue_type === undefined) continue; // request types: their own fields, not in the catalogue
    const it = project.issueTypes.find((x) => eq(x.name, t.issue_type!) || x.id === t.issue_type);
    if (!it) continue;
    for (const f of it.fields) {
      if (!f.required || f.hasDefault || ALWAYS_SET.has(f.id) || mapped.has(f.id)) continue;
      const hint =
        f.id === 'priority'
          ? m.priority.out_default !== undefined
            ? null
            : 'set priority.out_default so every record has one'
          : f.id === 'labels'
            ? m.labels && m.labels.length > 0
              ? null
              : 'add labels: [...] to the mapping so every issue has one'
            : f.id === 'assignee'
              ? 'every record must then carry assignee_email; better give the field a default in Jira'
              : `map it: fields: [{ host: <your value's name>, jira: "${f.name}" }]`;
      if (hint === null) continue;
      issues.push({
        path: `${at}.kinds.${kind}.issue_type`,
        message: `"${it.name}" in ${project.key} requires the field "${f.name}" (${f.id}) on create, and the mapping does not set it: ${hint}, or make it optional in Jira`,
      });
    }
  }
  return issues;
}

/** A select / multi-select option a mapping names (`fields[].values`), against the field's options. */
export function checkOption(
  catalog: JiraCatalog,
  fieldRef: string,
  value: string,
  path: string,
): CheckIssue | undefined {
  const field = catalog.fields.find((x) => x.id === fieldRef || eq(x.name, fieldRef));
  if (!field?.options || field.options.length === 0) return undefined;
  if (field.options.some((o) => eq(o.value, value) || o.id === value)) return undefined;
  return {
    path,
    message: `"${value}" is not an option of ${field.name}; known: ${knownList(field.options.map((o) => o.value))}`,
  };
}

/**
 * What of the site's catalogue checking a mapping against it reads (checkMappingAgainstCatalog):
 * its project's issue types, the create fields of the issue types it creates (required fields,
 * select options), and statuses, priorities, resolutions, fields, link types and service desks
 * only when it names one. Nothing else of the site is fetched for it.
 */
export function mappingCatalogNeeds(m: MappingLike): CatalogNeeds {
  const typed = Object.values(m.kinds).flatMap((t) => (t.issue_type !== undefined ? [t.issue_type] : []));
  const creates = m.direction !== 'from_jira' || m.fields.some((f) => f.values !== undefined);
  return {
    statuses:
      Object.keys(m.status.out).length > 0 ||
      Object.keys(m.status.in).some((s) => !s.startsWith('category:')) ||
      'status' in m.close,
    priorities:
      Object.keys(m.priority.out).length > 0 ||
      Object.keys(m.priority.in).length > 0 ||
      m.priority.out_default !== undefined,
    resolutions: m.resolution !== undefined,
    fields: m.fields.length > 0,
    linkTypes: m.reopen.mode === 'rework',
    projects: [m.project],
    createFields: creates ? typed.map((issueType) => ({ project: m.project, issueType })) : [],
    serviceDesks: Object.values(m.kinds).flatMap((t) => (t.service_desk !== undefined ? [t.service_desk] : [])),
    // The workflows' statuses only for a mapping that closes its own way (a call per project).
    workflows: closesOwnWay(m) ? [m.project] : [],
  };
}

/**
 * A mapping that gives a closed host status a Jira status of its own (`status.out`) or has a
 * resolution table: its closing is checked against the site's workflows at start-up too.
 */
export function closesOwnWay(m: MappingLike): boolean {
  return (
    (m.resolution !== undefined && typeof m.resolution !== 'string') ||
    m.status.closed.some((h) => Object.hasOwn(m.status.out, h))
  );
}

/** What checkCloseAgainstCatalog reads of the site. */
export function closeCatalogNeeds(m: MappingLike): CatalogNeeds {
  return {
    ...NO_NEEDS,
    statuses: true,
    resolutions: m.resolution !== undefined,
    projects: [m.project],
    workflows: [m.project],
    serviceDesks: Object.values(m.kinds).flatMap((t) => (t.service_desk !== undefined ? [t.service_desk] : [])),
  };
}

/**
 * What resolving a mapping for the engine (src/config/to-engine.ts) reads: field names and types
 * (a field not written as a `customfield_…` id with its type) and request types named by name.
 */
export function resolutionCatalogNeeds(m: MappingLike): CatalogNeeds {
  return {
    ...NO_NEEDS,
    fields: m.fields.some((f) => f.type === undefined || !f.jira.startsWith('customfield_')),
    serviceDesks: Object.values(m.kinds).flatMap((t) => (t.service_desk !== undefined ? [t.service_desk] : [])),
  };
}
