import type { JqlContext, JqlIssue, JqlUser, JqlValueField } from './jql/types.js';
import type { SandboxIssue, SandboxUser } from './model.js';
import { adfToPlain } from './render/text.js';
import type { SandboxState } from './state.js';

export function toJqlUser(user: SandboxUser): JqlUser {
  return {
    accountId: user.accountId,
    name: user.name,
    key: user.key,
    emailAddress: user.email,
    displayName: user.displayName,
  };
}

/** The flat view of an issue the JQL engine evaluates against. */
export function toJqlIssue(state: SandboxState, issue: SandboxIssue): JqlIssue {
  const project = state.projects.get(issue.projectId);
  const type = state.issueTypes.get(issue.issueTypeId);
  const status = state.status(issue.statusId);
  const user = (id: string | null): JqlUser | null => {
    const u = id ? state.user(id) : undefined;
    return u ? toJqlUser(u) : null;
  };
  const custom: JqlIssue['custom'] = {};
  for (const [id, value] of Object.entries(issue.custom)) {
    const def = state.customFields.get(id);
    if (!def) continue;
    let v: unknown = value;
    if (def.kind === 'textarea') v = adfToPlain(value as never);
    else if (def.kind === 'select') v = def.options.find((o) => o.id === value)?.value ?? value;
    else if (def.kind === 'multiselect')
      v = (value as string[]).map((oid) => def.options.find((o) => o.id === oid)?.value ?? oid);
    else if (def.kind === 'user') v = user(value as string);
    custom[id] = { name: def.name, type: def.kind, value: v };
  }
  return {
    id: issue.id,
    key: issue.key,
    previousKeys: [...issue.previousKeys],
    projectKey: project?.key ?? '',
    projectId: issue.projectId,
    projectName: project?.name ?? '',
    issueType: type?.name ?? '',
    issueTypeId: issue.issueTypeId,
    status: status.name,
    statusId: status.id,
    statusCategory: status.category,
    priority: issue.priorityId ? (state.priorities.get(issue.priorityId)?.name ?? null) : null,
    labels: [...issue.labels],
    assignee: user(issue.assigneeId),
    reporter: user(issue.reporterId),
    creator: user(issue.creatorId),
    summary: issue.summary,
    descriptionText: issue.description ? adfToPlain(issue.description) : '',
    created: issue.created,
    updated: issue.updated,
    resolution: issue.resolutionId ? (state.resolutions.get(issue.resolutionId)?.name ?? null) : null,
    custom,
  };
}

/** The JQL evaluation context for a caller. */
export function jqlContext(state: SandboxState, currentUser: SandboxUser | undefined): JqlContext {
  return {
    now: state.now(),
    ...(currentUser ? { currentUser: toJqlUser(currentUser) } : {}),
    fieldIdByName: (name) =>
      [...state.customFields.values()].find((f) => f.name.toLowerCase() === name.toLowerCase())?.id,
    customFieldType: (id) => state.customFields.get(id)?.kind,
    valueExists: (field, value) => valueExists(state, field, value),
  };
}

/** Whether the site has this value of a built-in field, compared as Jira compares it (any case). */
function valueExists(state: SandboxState, field: JqlValueField, value: string): boolean {
  const v = value.toLowerCase();
  const named = (items: Iterable<{ id: string; name: string }>, extra: (x: never) => string[] = () => []) =>
    [...items].some(
      (x) => x.id === value || x.name.toLowerCase() === v || extra(x as never).some((e) => e.toLowerCase() === v),
    );
  switch (field) {
    case 'project':
      return named(state.projects.values(), (p: { key: string }) => [p.key]);
    case 'issuetype':
      return named(state.issueTypes.values());
    case 'status':
      return named(state.statuses.values());
    case 'priority':
      return named(state.priorities.values());
    case 'resolution':
      return named(state.resolutions.values());
    case 'user':
      return [...state.users.values()].some((u) =>
        [u.accountId, u.name, u.key, u.email, u.displayName].some((x) => x.toLowerCase() === v),
      );
  }
}
