import { badRequest, fieldErrors, JiraError } from './errors.js';
import type { EventSink } from './events.js';
import {
  applyOperations,
  changeItemFor,
  EDITABLE_SYSTEM_FIELDS,
  parseField,
  setStoredValue,
  storedValue,
  type FieldContext,
  type TextFormat,
} from './fields.js';
import type {
  AdfNode,
  ChangeItem,
  SandboxAttachment,
  SandboxComment,
  SandboxIssue,
  SandboxIssueLink,
  SandboxProject,
  SandboxRemoteLink,
} from './model.js';
import { isAdfDoc, wikiToAdf } from './render/text.js';
import type { SandboxState } from './state.js';

export interface IssueInput {
  fields?: Record<string, unknown>;
  update?: Record<string, unknown>;
  properties?: Array<{ key: string; value: unknown }>;
  transition?: { id?: string | number };
}

export interface TransitionInput {
  transition?: { id?: string | number } | undefined;
  fields?: Record<string, unknown>;
  update?: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Everything a Jira user can do to issues, with Jira's validation rules, change histories and
 * events. REST routes and the control API both go through here.
 */
export class IssueOperations {
  constructor(
    private readonly state: SandboxState,
    private readonly emit: EventSink,
  ) {}

  // --- create --------------------------------------------------------------------------------

  createIssue(
    input: IssueInput,
    actorId: string,
    format: TextFormat,
    extra: { requestTypeId?: string } = {},
  ): SandboxIssue {
    const { state } = this;
    const fields = isObject(input.fields) ? input.fields : {};
    const update = isObject(input.update) ? input.update : {};
    const errors: Record<string, string> = {};

    const projectRef = fields.project;
    const project = isObject(projectRef) ? state.project(String(projectRef.id ?? projectRef.key ?? '')) : undefined;
    if (!project) {
      errors.project = projectRef === undefined ? 'Specify a valid project ID or key' : 'valid project is required';
      throw fieldErrors(errors);
    }
    const typeRef = fields.issuetype;
    const type = isObject(typeRef) ? state.issueType(String(typeRef.id ?? typeRef.name ?? '')) : undefined;
    if (!type || !project.issueTypeIds.includes(type.id)) {
      errors.issuetype = typeRef === undefined ? 'Specify an issue type' : 'The issue type selected is invalid.';
      throw fieldErrors(errors);
    }
    let parentId: string | null = null;
    if (type.subtask) {
      const parentRef = fields.parent;
      const parent = isObject(parentRef) ? state.issue(String(parentRef.id ?? parentRef.key ?? '')) : undefined;
      if (!parent)
        errors.parent =
          parentRef === undefined
            ? 'Issue type is a sub-task but parent issue key or id not specified.'
            : 'Could not find issue by id or key.';
      else if (parent.projectId !== project.id) errors.parent = 'Parent issue must be in the same project.';
      else parentId = parent.id;
    } else if (fields.parent !== undefined) {
      errors.parent = 'Only sub-task issue types can have a parent.';
    }

    const ctx: FieldContext = { state, project, format };
    const values = this.collectValues(ctx, null, fields, update, ['project', 'issuetype', 'parent'], errors);
    if (!values.has('summary') && errors.summary === undefined)
      errors.summary = 'You must specify a summary of the issue.';
    for (const def of state.customFieldsOf(project)) {
      if (def.requiredFor?.includes(type.id) && (values.get(def.id) ?? null) === null && errors[def.id] === undefined)
        errors[def.id] = `${def.name} is required.`;
    }
    if (input.properties !== undefined && !Array.isArray(input.properties))
      errors.properties = 'properties must be an array of {key, value}';
    if (Object.keys(errors).length) throw fieldErrors(errors);

    const now = state.now();
    project.counter += 1;
    const issue: SandboxIssue = {
      id: state.nextId('issue'),
      key: `${project.key}-${project.counter}`,
      previousKeys: [],
      projectId: project.id,
      issueTypeId: type.id,
      statusId: state.workflowFor({ projectId: project.id, issueTypeId: type.id }).initialStatusId,
      statusCategoryChanged: now,
      priorityId: [...state.priorities.values()].find((p) => p.isDefault)?.id ?? null,
      resolutionId: null,
      resolutionDate: null,
      summary: '',
      description: null,
      environment: null,
      labels: [],
      assigneeId: null,
      reporterId: actorId,
      creatorId: actorId,
      parentId,
      dueDate: null,
      created: now,
      updated: now,
      custom: {},
      comments: [],
      attachments: [],
      properties: new Map(),
      remoteLinks: [],
      changelog: [],
      requestTypeId: extra.requestTypeId ?? null,
      // Jira's autowatch: whoever creates an issue watches it.
      watcherIds: [actorId],
    };
    const initial: ChangeItem[] = [];
    for (const [id, v] of values) {
      if (id === 'comment') continue;
      const item = changeItemFor(state, id, storedValue(issue, id), v);
      if (item) initial.push(item);
      setStoredValue(issue, id, v);
    }
    for (const p of input.properties ?? [])
      if (isObject(p) && typeof p.key === 'string') issue.properties.set(p.key, p.value);
    state.insertIssue(issue);
    const history = initial.length
      ? { id: state.nextId('history'), authorId: actorId, created: now, items: initial }
      : null;
    this.emit({ kind: 'issue_created', issue, actorId, history });
    return issue;
  }

  /**
   * Parses `fields` and `update` into stored values; collects per-field errors. `skip` are fields
   * handled by the caller. Comments added via `update.comment` come back under 'comment'.
   */
  private collectValues(
    ctx: FieldContext,
    issue: SandboxIssue | null,
    fields: Record<string, unknown>,
    update: Record<string, unknown>,
    skip: string[],
    errors: Record<string, string>,
    allowed?: Set<string>,
  ): Map<string, unknown> {
    const values = new Map<string, unknown>();
    const settable = (id: string): boolean =>
      allowed
        ? allowed.has(id)
        : (EDITABLE_SYSTEM_FIELDS as readonly string[]).includes(id) || id.startsWith('customfield_');
    for (const [id, raw] of Object.entries(fields)) {
      if (skip.includes(id)) continue;
      if (id in update) {
        errors[id] = `Field '${id}' cannot be set in both fields and update.`;
        continue;
      }
      if (!settable(id)) {
        errors[id] = `Field '${id}' cannot be set. It is not on the appropriate screen, or unknown.`;
        continue;
      }
      const parsed = parseField(id, raw, ctx);
      if (parsed.ok) values.set(id, parsed.value);
      else errors[id] = parsed.error;
    }
    for (const [id, ops] of Object.entries(update)) {
      if (id === 'comment') {
        const bodies: AdfNode[] = [];
        for (const op of Array.isArray(ops) ? ops : []) {
          const body = isObject(op) && isObject(op.add) ? op.add.body : undefined;
          const doc = parseBody(body, ctx.format);
          if (doc) bodies.push(doc);
          else
            errors.comment =
              ctx.format === 'adf' ? 'Comment body must be an Atlassian Document.' : 'Comment body can not be empty!';
        }
        values.set('comment', bodies);
        continue;
      }
      if (!settable(id)) {
        errors[id] = `Field '${id}' cannot be set. It is not on the appropriate screen, or unknown.`;
        continue;
      }
      const raw = applyOperations(issue ? storedValue(issue, id) : null, id, ops, ctx);
      if (!raw.ok) {
        errors[id] = raw.error;
        continue;
      }
      const parsed = parseField(id, raw.value, ctx);
      if (parsed.ok) values.set(id, parsed.value);
      else errors[id] = parsed.error;
    }
    return values;
  }

  private projectOf(issue: SandboxIssue): SandboxProject {
    const p = this.state.projects.get(issue.projectId);
    if (!p) throw new Error(`sandbox: issue ${issue.key} has no project`);
    return p;
  }

  /** Applies values to an issue and returns the change items. */
  private apply(issue: SandboxIssue, values: Map<string, unknown>): ChangeItem[] {
    const items: ChangeItem[] = [];
    for (const [id, v] of values) {
      if (id === 'comment') continue;
      const before = storedValue(issue, id);
      const item = changeItemFor(this.state, id, before, v);
      if (item) {
        setStoredValue(issue, id, v);
        items.push(item);
      }
    }
    return items;
  }

  // --- edit ------------------------------------------------------------------------------------

  editIssue(issue: SandboxIssue, input: IssueInput, actorId: string, format: TextFormat): void {
    const fields = isObject(input.fields) ? input.fields : {};
    const update = isObject(input.update) ? input.update : {};
    if (input.fields === undefined && input.update === undefined)
      throw badRequest('Request body must contain fields or update.');
    const errors: Record<string, string> = {};
    if ('status' in fields || 'status' in update)
      errors.status = "Field 'status' cannot be set. Use transitions to change the status.";
    const values = this.collectValues(
      { state: this.state, project: this.projectOf(issue), format },
      issue,
      fields,
      update,
      ['status'],
      errors,
    );
    if (Object.keys(errors).length) throw fieldErrors(errors);
    const items = this.apply(issue, values);
    const comments = (values.get('comment') as AdfNode[] | undefined) ?? [];
    const history = this.state.recordChange(issue, actorId, items);
    const onlyAssignee = items.length > 0 && items.every((i) => i.fieldId === 'assignee');
    if (items.length > 0)
      this.emit({
        kind: 'issue_updated',
        issue,
        actorId,
        history,
        eventTypeName: onlyAssignee ? 'issue_assigned' : 'issue_updated',
      });
    for (const body of comments) this.addComment(issue, body, actorId);
  }

  // --- transitions -------------------------------------------------------------------------------

  transitionIssue(issue: SandboxIssue, input: TransitionInput, actorId: string, format: TextFormat): void {
    const { state } = this;
    const id = input.transition?.id;
    if (id === undefined || id === null || id === '') throw badRequest('Missing transition id.');
    const wf = state.workflowFor(issue);
    const t = wf.transitions.find(
      (x) => x.id === String(id) && (x.from === 'global' || x.from.includes(issue.statusId)),
    );
    if (!t) throw badRequest(`Transition id '${String(id)}' is not valid for this issue.`);
    const fields = isObject(input.fields) ? input.fields : {};
    const update = isObject(input.update) ? input.update : {};
    const errors: Record<string, string> = {};
    const screen = new Set(t.screen.map((s) => s.fieldId));
    const values = this.collectValues(
      { state, project: this.projectOf(issue), format },
      issue,
      fields,
      update,
      [],
      errors,
      screen,
    );
    for (const sf of t.screen) {
      if (
        sf.required &&
        (!values.has(sf.fieldId) || values.get(sf.fieldId) === null) &&
        errors[sf.fieldId] === undefined
      ) {
        errors[sf.fieldId] = `Field '${sf.fieldId}' is required`;
      }
    }
    if (Object.keys(errors).length) throw fieldErrors(errors);

    const from = state.status(issue.statusId);
    const to = state.status(t.to);
    if (t.clearsResolution) values.set('resolution', null);
    else if (!values.has('resolution') && t.defaultResolutionId && issue.resolutionId === null)
      values.set('resolution', t.defaultResolutionId);
    const items: ChangeItem[] = [];
    const resolutionBefore = issue.resolutionId;
    items.push(...this.apply(issue, values));
    if (issue.resolutionId !== resolutionBefore) issue.resolutionDate = issue.resolutionId ? state.now() : null;
    if (from.id !== to.id) {
      items.push({
        field: 'status',
        fieldtype: 'jira',
        fieldId: 'status',
        from: from.id,
        fromString: from.name,
        to: to.id,
        toString: to.name,
      });
      issue.statusId = to.id;
      if (from.category !== to.category) issue.statusCategoryChanged = state.now();
    }
    const comments = (values.get('comment') as AdfNode[] | undefined) ?? [];
    const history = state.recordChange(issue, actorId, items);
    const eventTypeName = t.clearsResolution
      ? 'issue_reopened'
      : to.name === 'Closed'
        ? 'issue_closed'
        : issue.resolutionId && !resolutionBefore
          ? 'issue_resolved'
          : from.category === 'new' && to.category === 'indeterminate'
            ? 'issue_work_started'
            : 'issue_generic';
    this.emit({ kind: 'issue_updated', issue, actorId, history, eventTypeName });
    for (const body of comments) this.addComment(issue, body, actorId);
  }

  // --- move ------------------------------------------------------------------------------------

  /** Moves an issue to another project (and optionally issue type): new key, same id. */
  moveIssue(issue: SandboxIssue, projectIdOrKey: string, issueTypeIdOrName: string | undefined, actorId: string): void {
    const { state } = this;
    const target = state.project(projectIdOrKey);
    if (!target) throw fieldErrors({ project: `Project '${projectIdOrKey}' does not exist.` });
    if (target.id === issue.projectId) throw badRequest('The issue is already in this project.');
    const type = issueTypeIdOrName ? state.issueType(issueTypeIdOrName) : state.issueTypes.get(issue.issueTypeId);
    if (!type || !target.issueTypeIds.includes(type.id)) {
      throw fieldErrors({
        issuetype: `Issue type '${type?.name ?? String(issueTypeIdOrName)}' is not available in project ${target.key}.`,
      });
    }
    const source = this.projectOf(issue);
    const items: ChangeItem[] = [
      {
        field: 'project',
        fieldtype: 'jira',
        fieldId: 'project',
        from: source.id,
        fromString: source.name,
        to: target.id,
        toString: target.name,
      },
    ];
    const oldKey = issue.key;
    target.counter += 1;
    state.rekeyIssue(issue, `${target.key}-${target.counter}`);
    items.push({
      field: 'Key',
      fieldtype: 'jira',
      fieldId: 'issuekey',
      from: null,
      fromString: oldKey,
      to: null,
      toString: issue.key,
    });
    if (type.id !== issue.issueTypeId) {
      const before = state.issueTypes.get(issue.issueTypeId);
      items.push({
        field: 'issuetype',
        fieldtype: 'jira',
        fieldId: 'issuetype',
        from: issue.issueTypeId,
        fromString: before?.name ?? null,
        to: type.id,
        toString: type.name,
      });
    }
    issue.projectId = target.id;
    issue.issueTypeId = type.id;
    const wf = state.workflowFor(issue);
    if (!wf.statusIds.includes(issue.statusId)) {
      const from = state.status(issue.statusId);
      const to = state.status(wf.initialStatusId);
      items.push({
        field: 'status',
        fieldtype: 'jira',
        fieldId: 'status',
        from: from.id,
        fromString: from.name,
        to: to.id,
        toString: to.name,
      });
      issue.statusId = to.id;
    }
    issue.custom = Object.fromEntries(
      Object.entries(issue.custom).filter(([id]) => target.customFieldIds.includes(id)),
    );
    const history = state.recordChange(issue, actorId, items);
    this.emit({ kind: 'issue_updated', issue, actorId, history, eventTypeName: 'issue_moved' });
  }

  // --- delete ----------------------------------------------------------------------------------

  deleteIssue(issue: SandboxIssue, deleteSubtasks: boolean, actorId: string): void {
    const subtasks = this.state.allIssues().filter((i) => i.parentId === issue.id);
    if (subtasks.length > 0 && !deleteSubtasks) {
      throw badRequest(
        `The issue '${issue.key}' has subtasks. Set deleteSubtasks=true to delete the issue and its subtasks.`,
      );
    }
    for (const s of subtasks) this.deleteIssue(s, false, actorId);
    this.emit({ kind: 'issue_deleted', issue, actorId });
    // Its links go with it (Jira sends no issuelink_deleted for them).
    for (const l of this.state.linksOf(issue.id)) this.state.issueLinks.delete(l.id);
    this.state.removeIssue(issue);
  }

  // --- comments --------------------------------------------------------------------------------

  addComment(
    issue: SandboxIssue,
    body: AdfNode,
    actorId: string,
    opts: { jsdPublic?: boolean; visibility?: SandboxComment['visibility'] } = {},
  ): SandboxComment {
    const now = this.state.now();
    const comment: SandboxComment = {
      id: this.state.nextId('comment'),
      authorId: actorId,
      updateAuthorId: actorId,
      body,
      created: now,
      updated: now,
      jsdPublic: opts.jsdPublic ?? true,
      visibility: opts.visibility ?? null,
    };
    issue.comments.push(comment);
    issue.updated = now;
    // Autowatch: commenting on an issue watches it too.
    this.addWatcher(issue, actorId);
    this.emit({ kind: 'comment_created', issue, actorId, comment });
    this.emit({ kind: 'issue_updated', issue, actorId, history: null, eventTypeName: 'issue_commented', comment });
    return comment;
  }

  updateComment(
    issue: SandboxIssue,
    comment: SandboxComment,
    body: AdfNode,
    actorId: string,
    visibility?: SandboxComment['visibility'],
  ): void {
    comment.body = body;
    comment.updateAuthorId = actorId;
    comment.updated = this.state.now();
    if (visibility !== undefined) comment.visibility = visibility;
    issue.updated = comment.updated;
    this.emit({ kind: 'comment_updated', issue, actorId, comment });
    this.emit({ kind: 'issue_updated', issue, actorId, history: null, eventTypeName: 'issue_comment_edited', comment });
  }

  deleteComment(issue: SandboxIssue, comment: SandboxComment, actorId: string): void {
    issue.comments = issue.comments.filter((c) => c.id !== comment.id);
    issue.updated = this.state.now();
    this.emit({ kind: 'comment_deleted', issue, actorId, comment });
    this.emit({
      kind: 'issue_updated',
      issue,
      actorId,
      history: null,
      eventTypeName: 'issue_comment_deleted',
      comment,
    });
  }

  // --- watchers ----------------------------------------------------------------------------------

  /** Starts watching (no change history, no event, `updated` unchanged, as in Jira). */
  addWatcher(issue: SandboxIssue, accountId: string): void {
    if (!issue.watcherIds.includes(accountId)) issue.watcherIds.push(accountId);
  }

  removeWatcher(issue: SandboxIssue, accountId: string): void {
    issue.watcherIds = issue.watcherIds.filter((id) => id !== accountId);
  }

  // --- attachments, properties, remote links -----------------------------------------------------

  addAttachment(
    issue: SandboxIssue,
    file: { filename: string; mimeType: string; content: Buffer },
    actorId: string,
  ): SandboxAttachment {
    const attachment: SandboxAttachment = {
      id: this.state.nextId('attachment'),
      filename: file.filename,
      mimeType: file.mimeType,
      size: file.content.length,
      content: file.content,
      authorId: actorId,
      created: this.state.now(),
    };
    issue.attachments.push(attachment);
    const history = this.state.recordChange(issue, actorId, [
      {
        field: 'Attachment',
        fieldtype: 'jira',
        fieldId: 'attachment',
        from: null,
        fromString: null,
        to: attachment.id,
        toString: attachment.filename,
      },
    ]);
    this.emit({ kind: 'issue_updated', issue, actorId, history, eventTypeName: 'issue_updated' });
    this.emit({ kind: 'attachment_created', issue, actorId, attachment });
    return attachment;
  }

  removeAttachment(issue: SandboxIssue, attachment: SandboxAttachment, actorId: string): void {
    issue.attachments = issue.attachments.filter((a) => a.id !== attachment.id);
    const history = this.state.recordChange(issue, actorId, [
      {
        field: 'Attachment',
        fieldtype: 'jira',
        fieldId: 'attachment',
        from: attachment.id,
        fromString: attachment.filename,
        to: null,
        toString: null,
      },
    ]);
    this.emit({ kind: 'issue_updated', issue, actorId, history, eventTypeName: 'issue_updated' });
    this.emit({ kind: 'attachment_deleted', issue, actorId, attachment });
  }

  // --- issue links -----------------------------------------------------------------------------

  /**
   * POST /issueLink: the `outwardIssue` is the "from" issue (the link reads
   * `outwardIssue {type.outward} inwardIssue`, and the optional comment goes on it). A link that
   * already exists is not created twice; Jira still answers 201.
   */
  linkIssues(
    input: { type: unknown; inwardIssue: unknown; outwardIssue: unknown },
    actorId: string,
    comment: AdfNode | null,
  ): { link: SandboxIssueLink; created: boolean } {
    const errors: Record<string, string> = {};
    const type = isObject(input.type) ? this.state.issueLinkType(input.type) : undefined;
    if (!type) {
      const names = [...this.state.issueLinkTypes.values()].map((t) => t.name).join(', ');
      throw new JiraError(404, [
        `No issue link type with name or id '${isObject(input.type) ? String(input.type.name ?? input.type.id) : ''}' found. Known: ${names}.`,
      ]);
    }
    const ref = (v: unknown): SandboxIssue | undefined =>
      isObject(v) && (typeof v.key === 'string' || typeof v.id === 'string')
        ? this.state.issue(String(v.key ?? v.id))
        : undefined;
    const from = ref(input.outwardIssue);
    const to = ref(input.inwardIssue);
    if (!from) errors.outwardIssue = 'The outward issue does not exist or you do not have permission to see it.';
    if (!to) errors.inwardIssue = 'The inward issue does not exist or you do not have permission to see it.';
    if (!from || !to) throw new JiraError(404, [...Object.values(errors)]);
    if (from.id === to.id) throw badRequest('You cannot link an issue to itself.');
    const existing = [...this.state.issueLinks.values()].find(
      (l) => l.typeId === type.id && l.sourceId === from.id && l.destinationId === to.id,
    );
    if (comment) this.addComment(from, comment, actorId, { jsdPublic: true });
    if (existing) return { link: existing, created: false };
    const link: SandboxIssueLink = {
      id: this.state.nextId('issueLink'),
      typeId: type.id,
      sourceId: from.id,
      destinationId: to.id,
      created: this.state.now(),
    };
    this.state.issueLinks.set(link.id, link);
    const item = (other: SandboxIssue, label: string): ChangeItem => ({
      field: 'Link',
      fieldtype: 'jira',
      fieldId: 'issuelinks',
      from: null,
      fromString: null,
      to: other.key,
      toString: `This issue ${label} ${other.key}`,
    });
    this.state.recordChange(from, actorId, [item(to, type.outward)]);
    this.state.recordChange(to, actorId, [item(from, type.inward)]);
    this.emit({ kind: 'issuelink_created', issue: from, actorId, link });
    return { link, created: true };
  }

  unlinkIssues(link: SandboxIssueLink, actorId: string): void {
    const type = this.state.issueLinkTypes.get(link.typeId);
    const from = this.state.issues.get(link.sourceId);
    const to = this.state.issues.get(link.destinationId);
    this.state.issueLinks.delete(link.id);
    const item = (other: SandboxIssue, label: string): ChangeItem => ({
      field: 'Link',
      fieldtype: 'jira',
      fieldId: 'issuelinks',
      from: other.key,
      fromString: `This issue ${label} ${other.key}`,
      to: null,
      toString: null,
    });
    if (from && to && type) {
      this.state.recordChange(from, actorId, [item(to, type.outward)]);
      this.state.recordChange(to, actorId, [item(from, type.inward)]);
    }
    if (from) this.emit({ kind: 'issuelink_deleted', issue: from, actorId, link });
  }

  /** Upsert by globalId: a link with the same globalId is replaced (keeps its id). */
  upsertRemoteLink(issue: SandboxIssue, input: Record<string, unknown>): { link: SandboxRemoteLink; created: boolean } {
    if (!isObject(input.object) || typeof input.object.url !== 'string' || typeof input.object.title !== 'string') {
      const errors: Record<string, string> = {};
      if (!isObject(input.object) || typeof input.object.url !== 'string') errors.url = "'url' is required.";
      if (!isObject(input.object) || typeof input.object.title !== 'string') errors.title = "'title' is required.";
      throw fieldErrors(errors);
    }
    const globalId = typeof input.globalId === 'string' && input.globalId !== '' ? input.globalId : null;
    const existing = globalId ? issue.remoteLinks.find((l) => l.globalId === globalId) : undefined;
    const data = {
      globalId,
      application: isObject(input.application) ? input.application : null,
      relationship: typeof input.relationship === 'string' ? input.relationship : null,
      object: input.object,
    };
    if (existing) {
      Object.assign(existing, data);
      return { link: existing, created: false };
    }
    const link: SandboxRemoteLink = { id: Number(this.state.nextId('remoteLink')), ...data };
    issue.remoteLinks.push(link);
    return { link, created: true };
  }
}

/** A comment body in the caller's format → ADF, or null when invalid/empty. */
export function parseBody(body: unknown, format: TextFormat): AdfNode | null {
  if (format === 'adf') return isAdfDoc(body) ? body : null;
  return typeof body === 'string' && body.trim() !== '' ? wikiToAdf(body) : null;
}

export { JiraError };
