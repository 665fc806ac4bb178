/**
 * A declared site: the user's own Jira shape (projects, issue types, workflows, priorities,
 * resolutions, custom fields, users, service desks and request types), from the `site` section of
 * the sandbox file or `POST /_sandbox/site`. A declared site replaces the seeded one whole: what
 * is not declared does not exist (issue link types, which every Jira has, stay Jira's defaults).
 *
 * Everything refers to everything else by name, as a Jira admin sees it; ids are handed out the
 * way Jira numbers them unless given. `compileSite` checks the references and reports every
 * problem as `path: message`; `applySite` fills a cleared state.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { EDITABLE_SYSTEM_FIELDS } from './fields.js';
import type {
  CustomFieldDef,
  CustomFieldKind,
  SandboxIssueType,
  SandboxPriority,
  SandboxProject,
  SandboxResolution,
  SandboxStatus,
  SandboxUser,
  SandboxWorkflow,
  ServiceDesk,
  WorkflowTransition,
} from './model.js';
import { DEFAULT_ISSUE_LINK_TYPES } from './seed.js';
import type { SandboxState } from './state.js';

const name = z.string().trim().min(1);
const id = z.union([z.string().min(1), z.number().int().nonnegative()]).transform(String);

const userSchema = z.strictObject({
  name: name.describe('Data Center user name (login)'),
  displayName: name.optional(),
  email: z.string().email(),
  /** Cloud hides the email when the profile's privacy says so. */
  emailVisible: z.boolean().default(true),
  admin: z.boolean().default(false),
  active: z.boolean().default(true),
  timeZone: z.string().min(1).default('Etc/UTC'),
  accountId: z.string().min(1).max(128).optional(),
  accountType: z.enum(['atlassian', 'app', 'customer']).default('atlassian'),
  apiToken: z.string().min(1).optional(),
  /** Data Center: the login password (Basic username:password). */
  password: z.string().min(1).optional(),
  pat: z.string().min(1).optional(),
  oauthToken: z.string().min(1).optional(),
});

const statusSchema = z.strictObject({
  name,
  category: z.enum(['new', 'indeterminate', 'done']),
  description: z.string().default(''),
  id: id.optional(),
});

const prioritySchema = z.strictObject({
  name,
  default: z.boolean().default(false),
  color: z
    .string()
    .regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour like #d04437')
    .default('#707070'),
  description: z.string().default(''),
  id: id.optional(),
});

const resolutionSchema = z.strictObject({ name, description: z.string().default(''), id: id.optional() });

const issueTypeSchema = z.strictObject({
  name,
  subtask: z.boolean().default(false),
  description: z.string().default(''),
  id: id.optional(),
});

const KINDS = ['text', 'textarea', 'number', 'url', 'select', 'multiselect', 'labels', 'user', 'date'] as const;

const customFieldSchema = z.strictObject({
  name,
  type: z.enum(KINDS),
  description: z.string().default(''),
  /** Option values (select and multiselect). */
  options: z.array(name).default([]),
  /** Issue type names whose create requires the field. */
  requiredFor: z.array(name).default([]),
  id: z
    .string()
    .regex(/^customfield_\d+$/, 'must look like customfield_10050')
    .optional(),
});

const screenFieldSchema = z.union([
  name.transform((field) => ({ field, required: false })),
  z.strictObject({ field: name, required: z.boolean().default(false) }),
]);

const transitionSchema = z.strictObject({
  name,
  /** Status names it leads from, or `any` (a global transition). */
  from: z.union([z.literal('any'), z.array(name).min(1)]),
  to: name,
  /** Fields on the transition screen: `resolution`, `assignee`, … or a custom field's name. */
  screen: z.array(screenFieldSchema).default([]),
  /** Taking it clears the resolution (a reopen). */
  clearsResolution: z.boolean().default(false),
  /** Post function: this resolution (a name) when none is given. */
  defaultResolution: name.optional(),
  id: id.optional(),
});

const workflowSchema = z.strictObject({
  name,
  statuses: z.array(name).min(1),
  /** The status new issues start in (default: the first). */
  initial: name.optional(),
  transitions: z.array(transitionSchema).default([]),
});

const projectSchema = z.strictObject({
  key: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]{1,9}$/, 'must be 2–10 upper-case letters, digits or _, starting with a letter'),
  name,
  description: z.string().default(''),
  type: z.enum(['software', 'business', 'service_desk']).default('software'),
  /** The lead's user name; also the default assignee. Default: the first admin. */
  lead: name.optional(),
  issueTypes: z.array(name).min(1),
  /** The workflow of every issue type not named in `workflows`. */
  workflow: name,
  /** Per issue type name, another workflow. */
  workflows: z.record(name, name).default({}),
  /** Custom field names on the project's screens (default: all). */
  customFields: z.array(name).optional(),
  id: id.optional(),
});

const requestTypeSchema = z.strictObject({
  name,
  issueType: name,
  description: z.string().default(''),
  helpText: z.string().default(''),
  groups: z.array(id).default(['1']),
  id: id.optional(),
});

const serviceDeskSchema = z.strictObject({
  project: name,
  requestTypes: z.array(requestTypeSchema).min(1),
  id: id.optional(),
});

export const siteSchema = z.strictObject({
  users: z.array(userSchema).min(1),
  statuses: z.array(statusSchema).min(1),
  priorities: z.array(prioritySchema).min(1),
  resolutions: z.array(resolutionSchema).default([]),
  issueTypes: z.array(issueTypeSchema).min(1),
  customFields: z.array(customFieldSchema).default([]),
  workflows: z.array(workflowSchema).min(1),
  projects: z.array(projectSchema).min(1),
  serviceDesks: z.array(serviceDeskSchema).default([]),
});

export type SiteInput = z.input<typeof siteSchema>;

/** A site ready to apply: the model's own records. */
export interface CompiledSite {
  users: SandboxUser[];
  adminAccountId: string;
  statuses: SandboxStatus[];
  priorities: SandboxPriority[];
  resolutions: SandboxResolution[];
  issueTypes: SandboxIssueType[];
  customFields: CustomFieldDef[];
  workflows: SandboxWorkflow[];
  projects: SandboxProject[];
  serviceDesks: ServiceDesk[];
}

export type SiteIssue = { path: string; message: string };

/** Thrown by compileSite with every problem found. */
export class SiteError extends Error {
  constructor(readonly issues: SiteIssue[]) {
    super(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
    this.name = 'SiteError';
  }
}

function pathOf(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>(
    (out, p) => (typeof p === 'number' ? `${out}[${p}]` : out ? `${out}.${String(p)}` : String(p)),
    '',
  );
}

/** Hands out ids the way Jira numbers them, never one given explicitly. */
function numberer(start: number, given: Array<string | undefined>): () => string {
  const taken = new Set(given.filter((g): g is string => g !== undefined));
  let n = start;
  return () => {
    while (taken.has(String(n))) n++;
    taken.add(String(n));
    return String(n++);
  };
}

/**
 * Parses and checks a site declaration (`prefix` is where it sits, e.g. `site`, for messages).
 * Throws SiteError naming every problem.
 */
export function compileSite(raw: unknown, prefix = 'site'): CompiledSite {
  const parsed = siteSchema.safeParse(raw);
  if (!parsed.success)
    throw new SiteError(parsed.error.issues.map((i) => ({ path: pathOf([prefix, ...i.path]), message: i.message })));
  const site = parsed.data;
  const issues: SiteIssue[] = [];
  const at = (...path: PropertyKey[]): string => pathOf([prefix, ...path]);
  const problem = (path: string, message: string): void => void issues.push({ path, message });

  const unique = <T>(list: T[], key: (t: T) => string | undefined, section: string, what: string): void => {
    const seen = new Map<string, number>();
    list.forEach((t, i) => {
      const k = key(t);
      if (k === undefined) return;
      const lower = k.toLowerCase();
      if (seen.has(lower))
        problem(at(section, i), `${what} "${k}" is declared twice (also ${section}[${seen.get(lower)}])`);
      else seen.set(lower, i);
    });
  };
  unique(site.users, (u) => u.name, 'users', 'user name');
  unique(site.users, (u) => u.email, 'users', 'email');
  unique(site.statuses, (s) => s.name, 'statuses', 'status');
  unique(site.priorities, (p) => p.name, 'priorities', 'priority');
  unique(site.resolutions, (r) => r.name, 'resolutions', 'resolution');
  unique(site.issueTypes, (t) => t.name, 'issueTypes', 'issue type');
  unique(site.customFields, (f) => f.name, 'customFields', 'custom field');
  unique(site.workflows, (w) => w.name, 'workflows', 'workflow');
  unique(site.projects, (p) => p.key, 'projects', 'project key');
  for (const [section, list] of [
    ['statuses', site.statuses],
    ['priorities', site.priorities],
    ['resolutions', site.resolutions],
    ['issueTypes', site.issueTypes],
    ['customFields', site.customFields],
    ['projects', site.projects],
    ['serviceDesks', site.serviceDesks],
  ] as const) {
    unique(list as Array<{ id?: string | undefined }>, (x) => x.id, section, 'id');
  }

  // Users. The first admin is the one whose credentials the sandbox prints.
  const users: SandboxUser[] = site.users.map((u, i) => ({
    accountId: u.accountId ?? createHash('sha256').update(`sandbox-user:${u.name}`).digest('hex').slice(0, 24),
    name: u.name,
    key: `JIRAUSER${10000 + i}`,
    displayName: u.displayName ?? u.name,
    email: u.email,
    emailVisible: u.emailVisible,
    active: u.active,
    timeZone: u.timeZone,
    admin: u.admin,
    apiToken: u.apiToken ?? `sandbox-api-token-${u.name}`,
    password: u.password ?? `sandbox-password-${u.name}`,
    pat: u.pat ?? `sandbox-pat-${u.name}`,
    oauthToken: u.oauthToken ?? `sandbox-oauth-${u.name}`,
    accountType: u.accountType,
  }));
  const admin = users.find((u) => u.admin && u.active);
  if (!admin)
    problem(at('users'), 'declare at least one active user with admin: true (the sandbox prints its credentials)');
  unique(users, (u) => u.accountId, 'users', 'accountId');
  for (const field of ['apiToken', 'pat', 'oauthToken'] as const) unique(users, (u) => u[field], 'users', field);
  const userByName = new Map(users.map((u) => [u.name.toLowerCase(), u]));

  // Statuses, priorities, resolutions, issue types.
  const statusId = numberer(
    10000,
    site.statuses.map((s) => s.id),
  );
  const statuses: SandboxStatus[] = site.statuses.map((s) => ({
    id: s.id ?? statusId(),
    name: s.name,
    description: s.description,
    category: s.category,
  }));
  const statusByName = new Map(statuses.map((s) => [s.name.toLowerCase(), s]));

  const priorityId = numberer(
    1,
    site.priorities.map((p) => p.id),
  );
  const defaults = site.priorities.filter((p) => p.default);
  if (defaults.length > 1) problem(at('priorities'), 'at most one priority can be the default');
  const priorities: SandboxPriority[] = site.priorities.map((p, i) => ({
    id: p.id ?? priorityId(),
    name: p.name,
    description: p.description,
    statusColor: p.color,
    icon: p.name.toLowerCase().replace(/[^a-z0-9]+/g, '-'),
    // Without a declared default, the middle one (Jira's Medium) is.
    isDefault: defaults.length > 0 ? p.default : i === Math.floor((site.priorities.length - 1) / 2),
  }));

  const resolutionId = numberer(
    10000,
    site.resolutions.map((r) => r.id),
  );
  const resolutions: SandboxResolution[] = site.resolutions.map((r) => ({
    id: r.id ?? resolutionId(),
    name: r.name,
    description: r.description,
  }));
  const resolutionByName = new Map(resolutions.map((r) => [r.name.toLowerCase(), r]));

  const typeId = numberer(
    10000,
    site.issueTypes.map((t) => t.id),
  );
  const issueTypes: SandboxIssueType[] = site.issueTypes.map((t) => ({
    id: t.id ?? typeId(),
    name: t.name,
    description: t.description,
    subtask: t.subtask,
    avatarId: t.subtask ? 10316 : 10318,
  }));
  const typeByName = new Map(issueTypes.map((t) => [t.name.toLowerCase(), t]));

  // Custom fields.
  const fieldNumber = numberer(
    10010,
    site.customFields.map((f) => f.id?.replace('customfield_', '')),
  );
  let optionId = 10100;
  const customFields: CustomFieldDef[] = site.customFields.map((f, i) => {
    const hasOptions = f.type === 'select' || f.type === 'multiselect';
    if (hasOptions && f.options.length === 0)
      problem(at('customFields', i, 'options'), `a ${f.type} field needs options`);
    if (!hasOptions && f.options.length > 0)
      problem(
        at('customFields', i, 'options'),
        `only select and multiselect fields have options (this one is ${f.type})`,
      );
    const requiredFor: string[] = [];
    f.requiredFor.forEach((t, j) => {
      const type = typeByName.get(t.toLowerCase());
      if (type) requiredFor.push(type.id);
      else problem(at('customFields', i, 'requiredFor', j), `no issue type "${t}" is declared`);
    });
    return {
      id: f.id ?? `customfield_${fieldNumber()}`,
      name: f.name,
      kind: f.type as CustomFieldKind,
      description: f.description,
      options: f.options.map((value) => ({ id: String(optionId++), value })),
      ...(requiredFor.length > 0 ? { requiredFor } : {}),
    };
  });
  const fieldByName = new Map(customFields.map((f) => [f.name.toLowerCase(), f]));

  // Workflows.
  const screenable = new Set<string>(['resolution', ...EDITABLE_SYSTEM_FIELDS]);
  const workflows: SandboxWorkflow[] = site.workflows.map((w, wi) => {
    const statusIds: string[] = [];
    w.statuses.forEach((s, si) => {
      const st = statusByName.get(s.toLowerCase());
      if (st) statusIds.push(st.id);
      else problem(at('workflows', wi, 'statuses', si), `no status "${s}" is declared under statuses`);
    });
    const inWorkflow = (s: string, path: string): string | undefined => {
      const st = statusByName.get(s.toLowerCase());
      if (!st) problem(path, `no status "${s}" is declared under statuses`);
      else if (!statusIds.includes(st.id)) problem(path, `status "${s}" is not one of workflow "${w.name}"'s statuses`);
      else return st.id;
      return undefined;
    };
    const initialStatusId =
      w.initial === undefined ? statusIds[0] : inWorkflow(w.initial, at('workflows', wi, 'initial'));
    const transitionId = numberer(
      11,
      w.transitions.map((t) => t.id),
    );
    const transitions: WorkflowTransition[] = w.transitions.map((t, ti) => {
      const tPath = (...rest: PropertyKey[]): string => at('workflows', wi, 'transitions', ti, ...rest);
      const from =
        t.from === 'any'
          ? ('global' as const)
          : t.from.map((s, si) => inWorkflow(s, tPath('from', si))).filter((s): s is string => s !== undefined);
      const to = inWorkflow(t.to, tPath('to')) ?? '';
      const screen = t.screen.map((sf, si) => {
        const custom = fieldByName.get(sf.field.toLowerCase());
        const fieldId = custom?.id ?? sf.field;
        if (!custom && !screenable.has(sf.field))
          problem(
            tPath('screen', si),
            `"${sf.field}" is neither a custom field declared under customFields nor one of ${[...screenable].join(', ')}`,
          );
        return { fieldId, required: sf.required };
      });
      let defaultResolutionId: string | undefined;
      if (t.defaultResolution !== undefined) {
        defaultResolutionId = resolutionByName.get(t.defaultResolution.toLowerCase())?.id;
        if (!defaultResolutionId)
          problem(tPath('defaultResolution'), `no resolution "${t.defaultResolution}" is declared under resolutions`);
      }
      // Jira numbers a workflow's transitions 11, 21, 31, …
      let tid = t.id;
      if (tid === undefined) {
        let n = Number(transitionId());
        while (n % 10 !== 1) n = Number(transitionId());
        tid = String(n);
      }
      return {
        id: tid,
        name: t.name,
        from,
        to,
        screen,
        ...(t.clearsResolution ? { clearsResolution: true } : {}),
        ...(defaultResolutionId ? { defaultResolutionId } : {}),
      };
    });
    unique(transitions, (t) => t.id, `workflows[${wi}].transitions`, 'transition id');
    return { name: w.name, initialStatusId: initialStatusId ?? '', statusIds, transitions };
  });
  const workflowByName = new Map(workflows.map((w) => [w.name.toLowerCase(), w]));

  // Projects.
  const projectId = numberer(
    10000,
    site.projects.map((p) => p.id),
  );
  const projects: SandboxProject[] = site.projects.map((p, pi) => {
    const path = (...rest: PropertyKey[]): string => at('projects', pi, ...rest);
    let lead = admin;
    if (p.lead !== undefined) {
      lead = userByName.get(p.lead.toLowerCase());
      if (!lead) problem(path('lead'), `no user "${p.lead}" is declared under users`);
    }
    const issueTypeIds: string[] = [];
    p.issueTypes.forEach((t, ti) => {
      const type = typeByName.get(t.toLowerCase());
      if (type) issueTypeIds.push(type.id);
      else problem(path('issueTypes', ti), `no issue type "${t}" is declared under issueTypes`);
    });
    const workflowOf = (wname: string, wpath: string): string | undefined => {
      const wf = workflowByName.get(wname.toLowerCase());
      if (!wf) problem(wpath, `no workflow "${wname}" is declared under workflows`);
      return wf?.name;
    };
    const fallback = workflowOf(p.workflow, path('workflow'));
    const wfs: Record<string, string> = {};
    for (const t of issueTypeIds) if (fallback) wfs[t] = fallback;
    for (const [tname, wname] of Object.entries(p.workflows)) {
      const type = typeByName.get(tname.toLowerCase());
      if (!type || !issueTypeIds.includes(type.id)) {
        problem(path('workflows', tname), `"${tname}" is not one of the project's issueTypes`);
        continue;
      }
      const wf = workflowOf(wname, path('workflows', tname));
      if (wf) wfs[type.id] = wf;
    }
    const customFieldIds: string[] = [];
    if (p.customFields === undefined) customFieldIds.push(...customFields.map((f) => f.id));
    else
      p.customFields.forEach((f, fi) => {
        const def = fieldByName.get(f.toLowerCase());
        if (def) customFieldIds.push(def.id);
        else problem(path('customFields', fi), `no custom field "${f}" is declared under customFields`);
      });
    // A field required on create of one of this project's types must be on its screens.
    for (const def of customFields) {
      if (def.requiredFor?.some((t) => issueTypeIds.includes(t)) && !customFieldIds.includes(def.id))
        problem(path('customFields'), `"${def.name}" is required on create of one of its issue types but not listed`);
    }
    return {
      id: p.id ?? projectId(),
      key: p.key,
      name: p.name,
      description: p.description,
      projectTypeKey: p.type,
      leadAccountId: lead?.accountId ?? '',
      issueTypeIds,
      workflows: wfs,
      counter: 0,
      customFieldIds,
    };
  });
  const projectByKey = new Map(projects.map((p) => [p.key, p]));

  // Service desks and their request types.
  const deskId = numberer(
    1,
    site.serviceDesks.map((d) => d.id),
  );
  const requestTypeId = numberer(
    1,
    site.serviceDesks.flatMap((d) => d.requestTypes.map((r) => r.id)),
  );
  const serviceDesks: ServiceDesk[] = site.serviceDesks.map((d, di) => {
    const project = projectByKey.get(d.project.toUpperCase());
    if (!project) problem(at('serviceDesks', di, 'project'), `no project with key "${d.project}" is declared`);
    else if (project.projectTypeKey !== 'service_desk')
      problem(at('serviceDesks', di, 'project'), `project ${project.key} must have type: service_desk`);
    const id = d.id ?? deskId();
    return {
      id,
      projectId: project?.id ?? '',
      requestTypes: d.requestTypes.map((r, ri) => {
        const type = typeByName.get(r.issueType.toLowerCase());
        if (!type) problem(at('serviceDesks', di, 'requestTypes', ri, 'issueType'), `no issue type "${r.issueType}"`);
        else if (project && !project.issueTypeIds.includes(type.id))
          problem(
            at('serviceDesks', di, 'requestTypes', ri, 'issueType'),
            `"${r.issueType}" is not one of project ${project.key}'s issueTypes`,
          );
        return {
          id: r.id ?? requestTypeId(),
          name: r.name,
          description: r.description,
          helpText: r.helpText,
          issueTypeId: type?.id ?? '',
          serviceDeskId: id,
          groupIds: r.groups,
        };
      }),
    };
  });
  unique(serviceDesks, (d) => d.projectId || undefined, 'serviceDesks', 'service desk of project id');

  if (issues.length > 0) throw new SiteError(issues);
  return {
    users,
    adminAccountId: admin!.accountId,
    statuses,
    priorities,
    resolutions,
    issueTypes,
    customFields,
    workflows,
    projects,
    serviceDesks,
  };
}

/** Fills a cleared state with a compiled site (no issues exist at start). */
export function applySite(state: SandboxState, site: CompiledSite): void {
  for (const u of site.users) state.users.set(u.accountId, structuredClone(u));
  state.adminAccountId = site.adminAccountId;
  for (const s of site.statuses) state.statuses.set(s.id, { ...s });
  for (const t of site.issueTypes) state.issueTypes.set(t.id, { ...t });
  for (const p of site.priorities) state.priorities.set(p.id, { ...p });
  for (const r of site.resolutions) state.resolutions.set(r.id, { ...r });
  for (const t of DEFAULT_ISSUE_LINK_TYPES) state.issueLinkTypes.set(t.id, { ...t });
  for (const f of site.customFields) {
    state.customFields.set(f.id, structuredClone(f));
    state.reserveId('field', Number(f.id.replace('customfield_', '')));
  }
  for (const w of site.workflows) state.workflows.set(w.name, structuredClone(w));
  for (const p of site.projects) {
    state.projects.set(p.id, structuredClone(p));
    if (/^\d+$/.test(p.id)) state.reserveId('project', Number(p.id));
  }
  for (const s of site.statuses) if (/^\d+$/.test(s.id)) state.reserveId('status', Number(s.id));
  for (const d of site.serviceDesks) state.serviceDesks.set(d.id, structuredClone(d));
}
