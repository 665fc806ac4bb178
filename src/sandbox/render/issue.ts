import type {
  AdfNode,
  ChangeHistory,
  CustomFieldDef,
  SandboxAttachment,
  SandboxComment,
  SandboxIssue,
  SandboxIssueLink,
  SandboxIssueLinkType,
  WorkflowTransition,
} from '../model.js';
import { SYSTEM_FIELD_NAMES } from '../fields.js';
import { apiUrl, jiraTime, type RenderContext } from './context.js';
import {
  customFieldSchema,
  renderIssueType,
  renderOption,
  renderPriority,
  renderProject,
  renderResolution,
  renderStatus,
  systemFieldSchema,
} from './meta.js';
import { adfToHtml, adfToWiki } from './text.js';
import { renderUser, renderUserById } from './user.js';

/** Rich text in the caller's format: ADF on v3, wiki markup on v2. */
export function renderText(ctx: RenderContext, doc: AdfNode | null): unknown {
  if (!doc) return null;
  return ctx.version === '3' ? doc : adfToWiki(doc);
}

export function renderCustomValue(ctx: RenderContext, def: CustomFieldDef, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (def.kind) {
    case 'textarea':
      return renderText(ctx, value as AdfNode);
    case 'select':
      return renderOption(ctx, def, value as string);
    case 'multiselect':
      return (value as string[]).map((id) => renderOption(ctx, def, id));
    case 'user':
      return renderUserById(ctx, value as string);
    default:
      return value;
  }
}

export function renderComment(ctx: RenderContext, issue: SandboxIssue, c: SandboxComment): Record<string, unknown> {
  return {
    self: apiUrl(ctx, `issue/${issue.id}/comment/${c.id}`),
    id: c.id,
    author: renderUserById(ctx, c.authorId),
    body: renderText(ctx, c.body),
    updateAuthor: renderUserById(ctx, c.updateAuthorId),
    created: jiraTime(c.created),
    updated: jiraTime(c.updated),
    ...(c.visibility ? { visibility: { ...c.visibility, identifier: c.visibility.value } } : {}),
    jsdPublic: c.jsdPublic,
  };
}

/** Attachment (POST response, issue fields: string id) or AttachmentMetadata (GET /attachment/{id}: integer id). */
export function renderAttachment(ctx: RenderContext, a: SandboxAttachment, metadata = false): Record<string, unknown> {
  return {
    self: apiUrl(ctx, `attachment/${a.id}`),
    id: metadata ? Number(a.id) : a.id,
    filename: a.filename,
    author: renderUserById(ctx, a.authorId),
    created: jiraTime(a.created),
    size: a.size,
    mimeType: a.mimeType,
    // Data Center's download URL is the web one; Cloud's is the REST content route.
    content:
      ctx.flavour === 'cloud'
        ? `${ctx.baseUrl}/rest/api/${ctx.version}/attachment/content/${a.id}`
        : `${ctx.baseUrl}/secure/attachment/${a.id}/${encodeURIComponent(a.filename)}`,
  };
}

export function renderHistory(ctx: RenderContext, h: ChangeHistory): Record<string, unknown> {
  const userRef = (id: string | null): string | null => {
    if (id === null || ctx.flavour === 'cloud') return id;
    return ctx.state.user(id)?.key ?? id;
  };
  return {
    id: h.id,
    author: renderUserById(ctx, h.authorId),
    created: jiraTime(h.created),
    items: h.items.map((i) => ({
      field: i.field,
      fieldtype: i.fieldtype,
      ...(ctx.flavour === 'cloud' ? { fieldId: i.fieldId } : {}),
      from: i.userField ? userRef(i.from) : i.from,
      fromString: i.fromString,
      to: i.userField ? userRef(i.to) : i.to,
      toString: i.toString,
    })),
  };
}

/**
 * Webhook changelog items: the REST item shape plus, on Cloud, `tmpFromAccountId`/`tmpToAccountId`
 * on user fields (seen in real Cloud deliveries; not part of the REST ChangeDetails schema).
 */
export function renderChangeItems(ctx: RenderContext, h: ChangeHistory): Record<string, unknown>[] {
  const items = renderHistory(ctx, h).items as Record<string, unknown>[];
  if (ctx.flavour !== 'cloud') return items;
  return items.map((item, i) => {
    const src = h.items[i];
    return src?.userField ? { ...item, tmpFromAccountId: src.from, tmpToAccountId: src.to } : item;
  });
}

function issueRef(ctx: RenderContext, issue: SandboxIssue): Record<string, unknown> {
  const status = ctx.state.status(issue.statusId);
  const type = ctx.state.issueTypes.get(issue.issueTypeId);
  const prio = issue.priorityId ? ctx.state.priorities.get(issue.priorityId) : undefined;
  return {
    id: issue.id,
    key: issue.key,
    self: apiUrl(ctx, `issue/${issue.id}`),
    fields: {
      summary: issue.summary,
      status: renderStatus(ctx, status),
      ...(prio ? { priority: renderPriority(ctx, prio) } : {}),
      ...(type ? { issuetype: renderIssueType(ctx, type) } : {}),
    },
  };
}

/** An issue link type (IssueLinkType). */
export function renderIssueLinkType(ctx: RenderContext, t: SandboxIssueLinkType): Record<string, unknown> {
  return { id: t.id, name: t.name, inward: t.inward, outward: t.outward, self: apiUrl(ctx, `issueLinkType/${t.id}`) };
}

/**
 * One link as seen from `viewer` (the `issuelinks` field): the other issue under `outwardIssue`
 * when the viewer is the source (label with type.outward), under `inwardIssue` otherwise.
 */
export function renderIssueLinkFor(
  ctx: RenderContext,
  viewerId: string,
  l: SandboxIssueLink,
): Record<string, unknown> | null {
  const type = ctx.state.issueLinkTypes.get(l.typeId);
  const otherId = l.sourceId === viewerId ? l.destinationId : l.sourceId;
  const other = ctx.state.issues.get(otherId);
  if (!type || !other) return null;
  return {
    id: l.id,
    self: apiUrl(ctx, `issueLink/${l.id}`),
    type: renderIssueLinkType(ctx, type),
    [l.sourceId === viewerId ? 'outwardIssue' : 'inwardIssue']: issueRef(ctx, other),
  };
}

/** GET /issueLink/{id}: both ends (IssueLink). */
export function renderIssueLink(ctx: RenderContext, l: SandboxIssueLink): Record<string, unknown> | null {
  const type = ctx.state.issueLinkTypes.get(l.typeId);
  const from = ctx.state.issues.get(l.sourceId);
  const to = ctx.state.issues.get(l.destinationId);
  if (!type || !from || !to) return null;
  return {
    id: l.id,
    self: apiUrl(ctx, `issueLink/${l.id}`),
    type: renderIssueLinkType(ctx, type),
    inwardIssue: issueRef(ctx, to),
    outwardIssue: issueRef(ctx, from),
  };
}

/** Every field of an issue as GET issue renders it (ids → values). */
export function renderAllFields(ctx: RenderContext, issue: SandboxIssue): Record<string, unknown> {
  const { state } = ctx;
  const project = state.projects.get(issue.projectId);
  const type = state.issueTypes.get(issue.issueTypeId);
  const prio = issue.priorityId ? state.priorities.get(issue.priorityId) : undefined;
  const res = issue.resolutionId ? state.resolutions.get(issue.resolutionId) : undefined;
  const parent = issue.parentId ? state.issues.get(issue.parentId) : undefined;
  const subtasks = state.allIssues().filter((i) => i.parentId === issue.id);
  const fields: Record<string, unknown> = {
    statuscategorychangedate: jiraTime(issue.statusCategoryChanged),
    issuetype: type ? renderIssueType(ctx, type) : null,
    ...(parent ? { parent: issueRef(ctx, parent) } : {}),
    project: project ? renderProject(ctx, project) : null,
    resolution: res ? renderResolution(ctx, res) : null,
    resolutiondate: issue.resolutionDate === null ? null : jiraTime(issue.resolutionDate),
    created: jiraTime(issue.created),
    updated: jiraTime(issue.updated),
    priority: prio ? renderPriority(ctx, prio) : null,
    labels: [...issue.labels],
    assignee: renderUserById(ctx, issue.assigneeId),
    status: renderStatus(ctx, state.status(issue.statusId)),
    creator: renderUserById(ctx, issue.creatorId),
    reporter: renderUserById(ctx, issue.reporterId),
    summary: issue.summary,
    description: renderText(ctx, issue.description),
    environment: renderText(ctx, issue.environment),
    duedate: issue.dueDate,
    subtasks: subtasks.map((s) => issueRef(ctx, s)),
    issuelinks: state
      .linksOf(issue.id)
      .map((l) => renderIssueLinkFor(ctx, issue.id, l))
      .filter((l): l is Record<string, unknown> => l !== null),
    attachment: issue.attachments.map((a) => renderAttachment(ctx, a)),
    comment: {
      comments: issue.comments.map((c) => renderComment(ctx, issue, c)),
      self: apiUrl(ctx, `issue/${issue.id}/comment`),
      maxResults: issue.comments.length,
      total: issue.comments.length,
      startAt: 0,
    },
  };
  if (project) {
    for (const def of state.customFieldsOf(project)) fields[def.id] = renderCustomValue(ctx, def, issue.custom[def.id]);
  }
  return fields;
}

/**
 * Selects fields like Jira's `fields` parameter: `*all`, `*navigable`, names, `-name` exclusions.
 * `fallback` applies when the caller did not ask.
 */
export function selectFields(
  all: Record<string, unknown>,
  requested: string[] | undefined,
  fallback: '*all' | '*navigable' | 'id',
): Record<string, unknown> {
  const list = requested && requested.length > 0 ? requested : [fallback];
  const include = new Set<string>();
  let everything = false;
  for (const f of list) {
    if (f === '*all' || f === '*navigable') everything = true;
    else if (!f.startsWith('-') && f !== 'id' && f !== 'key') include.add(f);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(all)) {
    if (list.includes(`-${k}`)) continue;
    if (everything || include.has(k)) out[k] = v;
  }
  return out;
}

export interface IssueRenderOptions {
  fields?: string[];
  fieldsDefault?: '*all' | '*navigable' | 'id';
  expand?: Set<string>;
  properties?: string[];
}

/** An IssueBean. */
export function renderIssue(
  ctx: RenderContext,
  issue: SandboxIssue,
  opts: IssueRenderOptions = {},
): Record<string, unknown> {
  const expand = opts.expand ?? new Set<string>();
  const fields = selectFields(renderAllFields(ctx, issue), opts.fields, opts.fieldsDefault ?? '*all');
  const bean: Record<string, unknown> = {
    expand: 'renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations',
    id: issue.id,
    self: apiUrl(ctx, `issue/${issue.id}`),
    key: issue.key,
    fields,
  };
  if (expand.has('renderedFields')) {
    const rendered: Record<string, unknown> = {};
    for (const k of Object.keys(fields)) rendered[k] = null;
    if ('description' in fields) rendered.description = issue.description ? adfToHtml(issue.description) : null;
    if ('created' in fields) rendered.created = new Date(issue.created).toUTCString();
    if ('updated' in fields) rendered.updated = new Date(issue.updated).toUTCString();
    if ('comment' in fields) {
      rendered.comment = {
        ...(fields.comment as object),
        comments: issue.comments.map((c) => ({ ...renderComment(ctx, issue, c), body: adfToHtml(c.body) })),
      };
    }
    bean.renderedFields = rendered;
  }
  if (expand.has('names') || expand.has('schema')) {
    const names: Record<string, string> = {};
    const schema: Record<string, unknown> = {};
    for (const k of Object.keys(fields)) {
      const def = ctx.state.customFields.get(k);
      names[k] = def ? def.name : (SYSTEM_FIELD_NAMES[k] ?? k);
      schema[k] = def ? customFieldSchema(def) : systemFieldSchema(k);
    }
    if (expand.has('names')) bean.names = names;
    if (expand.has('schema')) bean.schema = schema;
  }
  if (expand.has('changelog')) {
    const histories = issue.changelog.map((h) => renderHistory(ctx, h));
    bean.changelog = { startAt: 0, maxResults: histories.length, total: histories.length, histories };
  }
  if (expand.has('transitions'))
    bean.transitions = availableTransitions(ctx, issue).map((t) => renderTransition(ctx, issue, t, false));
  if (opts.properties && opts.properties.length > 0) {
    const props: Record<string, unknown> = {};
    const all = opts.properties.includes('*all');
    for (const [k, v] of issue.properties) if (all || opts.properties.includes(k)) props[k] = v;
    bean.properties = props;
  }
  return bean;
}

export function availableTransitions(ctx: RenderContext, issue: SandboxIssue): WorkflowTransition[] {
  return ctx.state.workflowFor(issue).transitions.filter((t) => t.from === 'global' || t.from.includes(issue.statusId));
}

/** IssueTransition, with `fields` (FieldMetadata) when expand=transitions.fields. */
export function renderTransition(
  ctx: RenderContext,
  issue: SandboxIssue,
  t: WorkflowTransition,
  withFields: boolean,
): Record<string, unknown> {
  const to = ctx.state.status(t.to);
  const out: Record<string, unknown> = {
    id: t.id,
    name: t.name,
    to: renderStatus(ctx, to),
    hasScreen: t.screen.length > 0,
    isGlobal: t.from === 'global',
    isInitial: false,
    isAvailable: true,
    isConditional: false,
    looped: false,
  };
  if (withFields) {
    const fields: Record<string, unknown> = {};
    for (const sf of t.screen) {
      if (sf.fieldId === 'resolution') {
        fields.resolution = {
          required: sf.required,
          schema: systemFieldSchema('resolution'),
          name: 'Resolution',
          key: 'resolution',
          operations: ['set'],
          allowedValues: [...ctx.state.resolutions.values()].map((r) => renderResolution(ctx, r)),
        };
      } else if (!sf.fieldId.startsWith('customfield_')) {
        // A system field on the screen (assignee, labels, …): the edit screen's metadata.
        fields[sf.fieldId] = {
          required: sf.required,
          schema: systemFieldSchema(sf.fieldId),
          name: SYSTEM_FIELD_NAMES[sf.fieldId] ?? sf.fieldId,
          key: sf.fieldId,
          operations: sf.fieldId === 'labels' ? ['add', 'set', 'remove'] : ['set'],
        };
      } else {
        const def = ctx.state.customFields.get(sf.fieldId);
        if (def) {
          fields[def.id] = {
            required: sf.required,
            schema: customFieldSchema(def),
            name: def.name,
            key: def.id,
            operations: ['set'],
          };
        }
      }
    }
    out.fields = fields;
  }
  void issue;
  return out;
}

export { renderUser };
