import type { JiraCatalog } from './catalog.js';

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
  kinds: Record<string, KindTargetLike>;
  status: { out: Record<string, string>; in: Record<string, string>; closed: string[] };
  priority: { out: Record<string, string>; out_default?: string | undefined; in: Record<string, string> };
  fields: Array<{ host: string; jira: string }>;
  close: { status: string } | { never: true };
  resolution?: string | undefined;
  reopen: { mode: string; rework_issue_type?: string | undefined };
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
    if (m.reopen.mode === 'rework' && !m.reopen.rework_issue_type) {
      issues.push({
        path: `${at}.reopen.rework_issue_type`,
        message: 'is required when reopen.mode is "rework" (the issue type of the rework task, e.g. Task)',
      });
    }
  });
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
      if (!desk) {
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
    const field = catalog.fields.find((x) => x.id === f.jira || eq(x.name, f.jira));
    if (!field) {
      issues.push({
        path: `${at}.fields[${i}].jira`,
        message: `"${f.jira}" is not a Jira field; known custom fields: ${knownList(catalog.fields.filter((x) => x.custom).map((x) => x.name))}`,
      });
    }
  });

  if (
    m.resolution !== undefined &&
    !catalog.resolutions.some((r) => eq(r.name, m.resolution!) || r.id === m.resolution)
  ) {
    issues.push({
      path: `${at}.resolution`,
      message: `"${m.resolution}" is not a Jira resolution; known: ${knownList(catalog.resolutions.map((r) => r.name))}`,
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
 * Checks mapped select/multi-select host values against the field's options, where a mapping
 * lists fixed values (e.g. `values: [...]`) — used by the API when a record's value is known.
 */
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
