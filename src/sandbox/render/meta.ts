import type {
  CustomFieldDef,
  SandboxIssueType,
  SandboxPriority,
  SandboxProject,
  SandboxResolution,
  SandboxStatus,
  StatusCategoryKey,
} from '../model.js';
import { apiUrl, avatarUrls, type RenderContext } from './context.js';
import { SYSTEM_FIELD_NAMES } from '../fields.js';

const CATEGORIES: Record<StatusCategoryKey, { id: number; name: string; colorName: string }> = {
  new: { id: 2, name: 'To Do', colorName: 'blue-gray' },
  indeterminate: { id: 4, name: 'In Progress', colorName: 'yellow' },
  done: { id: 3, name: 'Done', colorName: 'green' },
};

export function renderStatusCategory(ctx: RenderContext, key: StatusCategoryKey): Record<string, unknown> {
  const c = CATEGORIES[key];
  return { self: apiUrl(ctx, `statuscategory/${c.id}`), id: c.id, key, colorName: c.colorName, name: c.name };
}

export function renderStatus(ctx: RenderContext, s: SandboxStatus): Record<string, unknown> {
  return {
    self: apiUrl(ctx, `status/${s.id}`),
    description: s.description,
    iconUrl: `${ctx.baseUrl}/images/icons/statuses/generic.png`,
    name: s.name,
    id: s.id,
    statusCategory: renderStatusCategory(ctx, s.category),
  };
}

/** The `/statuses` (bulk status API) shape: JiraStatus. */
export function renderJiraStatus(s: SandboxStatus): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    description: s.description,
    statusCategory: s.category === 'new' ? 'TODO' : s.category === 'indeterminate' ? 'IN_PROGRESS' : 'DONE',
    scope: { type: 'GLOBAL' },
  };
}

export function renderIssueType(ctx: RenderContext, t: SandboxIssueType): Record<string, unknown> {
  return {
    self: apiUrl(ctx, `issuetype/${t.id}`),
    id: t.id,
    description: t.description,
    iconUrl: `${ctx.baseUrl}/secure/viewavatar?size=medium&avatarId=${t.avatarId}&avatarType=issuetype`,
    name: t.name,
    subtask: t.subtask,
    avatarId: t.avatarId,
    hierarchyLevel: t.subtask ? -1 : 0,
  };
}

export function renderPriority(ctx: RenderContext, p: SandboxPriority, full = false): Record<string, unknown> {
  const base = {
    self: apiUrl(ctx, `priority/${p.id}`),
    iconUrl: `${ctx.baseUrl}/images/icons/priorities/${p.icon}.svg`,
    name: p.name,
    id: p.id,
  };
  return full ? { ...base, description: p.description, statusColor: p.statusColor, isDefault: p.isDefault } : base;
}

export function renderResolution(ctx: RenderContext, r: SandboxResolution): Record<string, unknown> {
  return { self: apiUrl(ctx, `resolution/${r.id}`), id: r.id, description: r.description, name: r.name };
}

export function renderProject(
  ctx: RenderContext,
  p: SandboxProject,
  opts: { full?: boolean } = {},
): Record<string, unknown> {
  const base: Record<string, unknown> = {
    self: apiUrl(ctx, `project/${p.id}`),
    id: p.id,
    key: p.key,
    name: p.name,
    projectTypeKey: p.projectTypeKey,
    simplified: false,
    avatarUrls: avatarUrls(ctx, 'project', 10324),
  };
  if (!opts.full) return base;
  const lead = ctx.state.user(p.leadAccountId);
  return {
    expand: 'description,lead,issueTypes,url,projectKeys,permissions,insight',
    ...base,
    description: p.description,
    ...(lead
      ? {
          lead:
            ctx.flavour === 'cloud'
              ? { accountId: lead.accountId, displayName: lead.displayName, active: lead.active }
              : { name: lead.name, key: lead.key, displayName: lead.displayName, active: lead.active },
        }
      : {}),
    components: [],
    issueTypes: p.issueTypeIds
      .map((id) => ctx.state.issueTypes.get(id))
      .filter((t) => t !== undefined)
      .map((t) => renderIssueType(ctx, t)),
    assigneeType: 'UNASSIGNED',
    versions: [],
    roles: {},
    style: 'classic',
    isPrivate: false,
    properties: {},
  };
}

const CUSTOM_SCHEMA: Record<CustomFieldDef['kind'], { type: string; items?: string; custom: string }> = {
  text: { type: 'string', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:textfield' },
  textarea: { type: 'string', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:textarea' },
  number: { type: 'number', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:float' },
  url: { type: 'string', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:url' },
  select: { type: 'option', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:select' },
  multiselect: {
    type: 'array',
    items: 'option',
    custom: 'com.atlassian.jira.plugin.system.customfieldtypes:multiselect',
  },
  labels: { type: 'array', items: 'string', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:labels' },
  user: { type: 'user', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:userpicker' },
  date: { type: 'date', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:datepicker' },
};

export function customFieldSchema(def: CustomFieldDef): Record<string, unknown> {
  const s = CUSTOM_SCHEMA[def.kind];
  return {
    type: s.type,
    ...(s.items ? { items: s.items } : {}),
    custom: s.custom,
    customId: Number(def.id.replace('customfield_', '')),
  };
}

const SYSTEM_SCHEMA: Record<string, Record<string, unknown>> = {
  summary: { type: 'string', system: 'summary' },
  description: { type: 'string', system: 'description' },
  environment: { type: 'string', system: 'environment' },
  priority: { type: 'priority', system: 'priority' },
  labels: { type: 'array', items: 'string', system: 'labels' },
  assignee: { type: 'user', system: 'assignee' },
  reporter: { type: 'user', system: 'reporter' },
  creator: { type: 'user', system: 'creator' },
  duedate: { type: 'date', system: 'duedate' },
  resolution: { type: 'resolution', system: 'resolution' },
  resolutiondate: { type: 'datetime', system: 'resolutiondate' },
  status: { type: 'status', system: 'status' },
  issuetype: { type: 'issuetype', system: 'issuetype' },
  project: { type: 'project', system: 'project' },
  parent: { type: 'issuelink', system: 'parent' },
  comment: { type: 'comments-page', system: 'comment' },
  attachment: { type: 'array', items: 'attachment', system: 'attachment' },
  created: { type: 'datetime', system: 'created' },
  updated: { type: 'datetime', system: 'updated' },
  subtasks: { type: 'array', items: 'issuelinks', system: 'subtasks' },
  issuelinks: { type: 'array', items: 'issuelinks', system: 'issuelinks' },
  statuscategorychangedate: { type: 'datetime', system: 'statuscategorychangedate' },
};

export function systemFieldSchema(id: string): Record<string, unknown> {
  return SYSTEM_SCHEMA[id] ?? { type: 'any', system: id };
}

export function systemFieldIds(): string[] {
  return Object.keys(SYSTEM_SCHEMA);
}

/** `GET /field` entries (FieldDetails). */
export function renderFields(ctx: RenderContext): Record<string, unknown>[] {
  const system = systemFieldIds().map((id) => ({
    id,
    key: id,
    name: SYSTEM_FIELD_NAMES[id] ?? id,
    custom: false,
    orderable: ![
      'status',
      'created',
      'updated',
      'creator',
      'resolutiondate',
      'subtasks',
      'statuscategorychangedate',
    ].includes(id),
    navigable: true,
    searchable: true,
    clauseNames: [id],
    schema: systemFieldSchema(id),
  }));
  const custom = [...ctx.state.customFields.values()].map((f) => ({
    id: f.id,
    key: f.id,
    name: f.name,
    custom: true,
    orderable: true,
    navigable: true,
    searchable: true,
    clauseNames: [`cf[${f.id.replace('customfield_', '')}]`, f.name],
    schema: customFieldSchema(f),
  }));
  return [...system, ...custom];
}

export function renderOption(ctx: RenderContext, def: CustomFieldDef, optionId: string): Record<string, unknown> {
  const o = def.options.find((x) => x.id === optionId);
  return {
    self: `${ctx.baseUrl}/rest/api/${ctx.version}/customFieldOption/${optionId}`,
    value: o?.value ?? optionId,
    id: optionId,
  };
}
