import type { FastifyInstance } from 'fastify';
import { badRequest, notFound } from '../errors.js';
import { EDITABLE_SYSTEM_FIELDS } from '../fields.js';
import type { SandboxProject } from '../model.js';
import { jiraTime } from '../render/context.js';
import {
  customFieldSchema,
  renderFields,
  renderIssueType,
  renderJiraStatus,
  renderPriority,
  renderProject,
  renderResolution,
  renderStatus,
  systemFieldSchema,
} from '../render/meta.js';
import { renderMyself, renderUser } from '../render/user.js';
import { SYSTEM_FIELD_NAMES } from '../fields.js';
import { actor, api, csv, intParam, params, query, renderCtx, type SandboxDeps } from './context.js';

/** Site metadata: myself, serverInfo, projects, issue types, createmeta, priorities, statuses, resolutions, fields, users. */
export function registerMetaRoutes(app: FastifyInstance, deps: SandboxDeps): void {
  const { state, flavour } = deps;

  api(app, deps, 'GET', '/myself', (req) => renderMyself(renderCtx(deps, req), actor(req)));

  api(app, deps, 'GET', '/serverInfo', (req) => {
    const ctx = renderCtx(deps, req);
    const cloud = flavour === 'cloud';
    return {
      baseUrl: ctx.baseUrl,
      displayUrl: ctx.baseUrl,
      version: cloud ? '1001.0.0-SNAPSHOT' : '10.3.1',
      versionNumbers: cloud ? [1001, 0, 0] : [10, 3, 1],
      deploymentType: cloud ? 'Cloud' : 'Server',
      buildNumber: cloud ? 100300 : 10030001,
      buildDate: '2025-12-01T00:00:00.000+0000',
      serverTime: jiraTime(Date.now()),
      scmInfo: 'sandbox',
      serverTitle: state.serverTitle,
      serverTimeZone: 'Etc/UTC',
    };
  });

  const projectById = (idOrKey: string): SandboxProject => {
    const p = state.project(idOrKey);
    if (!p) throw notFound(`No project could be found with key '${idOrKey}'.`);
    return p;
  };

  api(app, deps, 'GET', '/project', (req) =>
    [...state.projects.values()].map((p) => renderProject(renderCtx(deps, req), p)),
  );

  api(app, deps, 'GET', '/project/search', (req) => {
    const q = query(req);
    const startAt = intParam(q.startAt, 0, 'startAt');
    const maxResults = intParam(q.maxResults, 50, 'maxResults', 1, 100);
    const text = typeof q.query === 'string' ? q.query.toLowerCase() : '';
    const keys = csv(q.keys);
    const all = [...state.projects.values()].filter(
      (p) =>
        (!text || p.key.toLowerCase().includes(text) || p.name.toLowerCase().includes(text)) &&
        (!keys || keys.includes(p.key)),
    );
    const page = all.slice(startAt, startAt + maxResults);
    const ctx = renderCtx(deps, req);
    const isLast = startAt + page.length >= all.length;
    return {
      self: `${ctx.baseUrl}${req.url}`,
      ...(isLast
        ? {}
        : {
            nextPage: `${ctx.baseUrl}/rest/api/${ctx.version}/project/search?startAt=${startAt + maxResults}&maxResults=${maxResults}`,
          }),
      maxResults,
      startAt,
      total: all.length,
      isLast,
      values: page.map((p) => renderProject(ctx, p)),
    };
  });

  api(app, deps, 'GET', '/project/:projectIdOrKey', (req) =>
    renderProject(renderCtx(deps, req), projectById(params(req).projectIdOrKey ?? ''), { full: true }),
  );

  // The statuses of each issue type's workflow in the project (Jira: IssueTypeWithStatus[]).
  api(app, deps, 'GET', '/project/:projectIdOrKey/statuses', (req) => {
    const p = projectById(params(req).projectIdOrKey ?? '');
    const ctx = renderCtx(deps, req);
    return p.issueTypeIds
      .map((id) => state.issueTypes.get(id))
      .filter((t) => t !== undefined)
      .map((t) => {
        const wf = state.workflowFor({ projectId: p.id, issueTypeId: t.id });
        return {
          self: `${ctx.baseUrl}/rest/api/${ctx.version}/issuetype/${t.id}`,
          id: t.id,
          name: t.name,
          subtask: t.subtask,
          statuses: wf.statusIds
            .map((sid) => state.statuses.get(sid))
            .filter((s) => s !== undefined)
            .map((s) => renderStatus(ctx, s)),
        };
      });
  });

  api(app, deps, 'GET', '/issuetype', (req) =>
    [...state.issueTypes.values()].map((t) => renderIssueType(renderCtx(deps, req), t)),
  );

  api(app, deps, 'GET', '/issuetype/:id', (req) => {
    const t = state.issueTypes.get(params(req).id ?? '');
    if (!t) throw notFound(`The issue type with id '${params(req).id}' does not exist.`);
    return renderIssueType(renderCtx(deps, req), t);
  });

  api(app, deps, 'GET', '/issue/createmeta/:projectIdOrKey/issuetypes', (req) => {
    const p = projectById(params(req).projectIdOrKey ?? '');
    const q = query(req);
    const startAt = intParam(q.startAt, 0, 'startAt');
    const maxResults = intParam(q.maxResults, 50, 'maxResults', 1, 200);
    const types = p.issueTypeIds.map((id) => state.issueTypes.get(id)).filter((t) => t !== undefined);
    const ctx = renderCtx(deps, req);
    const page = types.slice(startAt, startAt + maxResults);
    return { maxResults, startAt, total: types.length, issueTypes: page.map((t) => renderIssueType(ctx, t)) };
  });

  api(app, deps, 'GET', '/issue/createmeta/:projectIdOrKey/issuetypes/:issueTypeId', (req) => {
    const p = projectById(params(req).projectIdOrKey ?? '');
    const t = state.issueTypes.get(params(req).issueTypeId ?? '');
    if (!t || !p.issueTypeIds.includes(t.id))
      throw notFound(`Issue type with id '${params(req).issueTypeId}' is not available in project ${p.key}.`);
    const ctx = renderCtx(deps, req);
    const fieldMeta = (
      fieldId: string,
      required: boolean,
      extra: Record<string, unknown> = {},
    ): Record<string, unknown> => ({
      required,
      schema: systemFieldSchema(fieldId),
      name: SYSTEM_FIELD_NAMES[fieldId] ?? fieldId,
      key: fieldId,
      fieldId,
      hasDefaultValue: false,
      operations: fieldId === 'labels' ? ['add', 'set', 'remove'] : ['set'],
      ...extra,
    });
    const fields: Record<string, unknown>[] = [
      fieldMeta('project', true, { allowedValues: [renderProject(ctx, p)] }),
      fieldMeta('issuetype', true, { allowedValues: [renderIssueType(ctx, t)] }),
      ...(t.subtask ? [fieldMeta('parent', true)] : []),
      ...EDITABLE_SYSTEM_FIELDS.map((id) =>
        fieldMeta(
          id,
          id === 'summary',
          id === 'priority'
            ? {
                allowedValues: [...state.priorities.values()].map((x) => renderPriority(ctx, x)),
                hasDefaultValue: true,
              }
            : {},
        ),
      ),
      ...state.customFieldsOf(p).map((def) => ({
        required: def.requiredFor?.includes(t.id) ?? false,
        schema: customFieldSchema(def),
        name: def.name,
        key: def.id,
        fieldId: def.id,
        hasDefaultValue: false,
        operations: def.kind === 'multiselect' || def.kind === 'labels' ? ['add', 'set', 'remove'] : ['set'],
        ...(def.options.length
          ? {
              allowedValues: def.options.map((o) => ({
                self: `${ctx.baseUrl}/rest/api/${ctx.version}/customFieldOption/${o.id}`,
                value: o.value,
                id: o.id,
                disabled: o.disabled ?? false,
              })),
            }
          : {}),
      })),
    ];
    const q = query(req);
    const startAt = intParam(q.startAt, 0, 'startAt');
    const maxResults = intParam(q.maxResults, 50, 'maxResults', 1, 200);
    const page = fields.slice(startAt, startAt + maxResults);
    return { maxResults, startAt, total: fields.length, fields: page, results: page };
  });

  api(app, deps, 'GET', '/priority', (req) =>
    [...state.priorities.values()].map((p) => renderPriority(renderCtx(deps, req), p, true)),
  );

  api(app, deps, 'GET', '/priority/:id', (req) => {
    const p = state.priorities.get(params(req).id ?? '');
    if (!p) throw notFound(`The priority with ID '${params(req).id}' does not exist.`);
    return renderPriority(renderCtx(deps, req), p, true);
  });

  api(app, deps, 'GET', '/status', (req) =>
    [...state.statuses.values()].map((s) => renderStatus(renderCtx(deps, req), s)),
  );

  api(app, deps, 'GET', '/status/:idOrName', (req) => {
    const ref = params(req).idOrName ?? '';
    const s =
      state.statuses.get(ref) ?? [...state.statuses.values()].find((x) => x.name.toLowerCase() === ref.toLowerCase());
    if (!s) throw notFound(`The status with ID or name '${ref}' does not exist.`);
    return renderStatus(renderCtx(deps, req), s);
  });

  api(app, deps, 'GET', '/statuses', (req) => {
    const ids = csv(query(req).id);
    return [...state.statuses.values()].filter((s) => !ids || ids.includes(s.id)).map(renderJiraStatus);
  });

  api(app, deps, 'GET', '/resolution', (req) =>
    [...state.resolutions.values()].map((r) => renderResolution(renderCtx(deps, req), r)),
  );

  api(app, deps, 'GET', '/field', (req) => renderFields(renderCtx(deps, req)));

  api(app, deps, 'GET', '/user/search', (req) => {
    const q = query(req);
    const ctx = renderCtx(deps, req);
    const text = String(q.query ?? q.username ?? '').toLowerCase();
    const accountId = typeof q.accountId === 'string' ? q.accountId : undefined;
    if (!text && !accountId) {
      throw badRequest("One of 'query' or 'accountId' query parameters must be provided.");
    }
    const startAt = intParam(q.startAt, 0, 'startAt');
    const maxResults = intParam(q.maxResults, 50, 'maxResults', 1, 1000);
    return [...state.users.values()]
      .filter((u) => {
        if (accountId) return u.accountId === accountId;
        const email = flavour === 'cloud' && !u.emailVisible ? '' : u.email.toLowerCase();
        return (
          u.displayName.toLowerCase().includes(text) || u.name.toLowerCase().startsWith(text) || email.startsWith(text)
        );
      })
      .slice(startAt, startAt + maxResults)
      .map((u) => renderUser(ctx, u));
  });

  api(app, deps, 'GET', '/user', (req) => {
    const q = query(req);
    const u = deps.state.findUser({ accountId: q.accountId, name: q.username, key: q.key });
    if (!u)
      throw notFound(
        flavour === 'cloud'
          ? `Specified user does not exist or you do not have required permissions`
          : `The user named '${String(q.username ?? q.key)}' does not exist`,
      );
    return renderUser(renderCtx(deps, req), u);
  });
}
