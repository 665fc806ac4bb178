import type { FastifyInstance } from 'fastify';
import { badRequest, forbidden, JiraError } from '../errors.js';
import type { IssueInput } from '../operations.js';
import { apiUrl } from '../render/context.js';
import { renderHistory, renderIssue } from '../render/issue.js';
import {
  actor,
  api,
  bodyObject,
  csv,
  formatOf,
  intParam,
  loadIssue,
  params,
  query,
  renderCtx,
  type SandboxDeps,
} from './context.js';

const MAX_BULK = 50;

function expandSet(v: unknown): Set<string> {
  return new Set(csv(v) ?? []);
}

/** Issue create, bulk create, get, edit, delete, changelog. */
export function registerIssueRoutes(app: FastifyInstance, deps: SandboxDeps): void {
  const { ops } = deps;

  const createOne = (
    input: IssueInput,
    actorId: string,
    format: 'adf' | 'wiki',
  ): ReturnType<typeof ops.createIssue> => {
    const issue = ops.createIssue(input, actorId, format);
    if (input.transition?.id !== undefined)
      ops.transitionIssue(issue, { transition: input.transition }, actorId, format);
    return issue;
  };

  api(app, deps, 'POST', '/issue', (req, reply) => {
    const user = actor(req);
    const issue = createOne(bodyObject(req) as IssueInput, user.accountId, formatOf(req));
    const ctx = renderCtx(deps, req);
    return reply.status(201).send({ id: issue.id, key: issue.key, self: apiUrl(ctx, `issue/${issue.id}`) });
  });

  api(app, deps, 'POST', '/issue/bulk', (req, reply) => {
    const user = actor(req);
    const updates = bodyObject(req).issueUpdates;
    if (!Array.isArray(updates) || updates.length === 0) throw badRequest('issueUpdates must be a non-empty array.');
    if (updates.length > MAX_BULK) throw badRequest(`The number of issues to create exceeds the limit of ${MAX_BULK}.`);
    const ctx = renderCtx(deps, req);
    const issues: Array<{ id: string; key: string; self: string }> = [];
    const errors: Array<{
      status: number;
      elementErrors: { errorMessages: string[]; errors: Record<string, string> };
      failedElementNumber: number;
    }> = [];
    updates.forEach((u, i) => {
      try {
        const issue = createOne((u ?? {}) as IssueInput, user.accountId, formatOf(req));
        issues.push({ id: issue.id, key: issue.key, self: apiUrl(ctx, `issue/${issue.id}`) });
      } catch (err) {
        if (!(err instanceof JiraError)) throw err;
        errors.push({ status: err.status, elementErrors: err.body(), failedElementNumber: i });
      }
    });
    return reply.status(issues.length === 0 ? 400 : 201).send({ issues, errors });
  });

  api(app, deps, 'GET', '/issue/:issueIdOrKey', (req) => {
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    const q = query(req);
    const fields = csv(q.fields);
    return renderIssue(renderCtx(deps, req), issue, {
      ...(fields ? { fields } : {}),
      fieldsDefault: '*all',
      expand: expandSet(q.expand),
      ...(q.properties !== undefined ? { properties: csv(q.properties) ?? [] } : {}),
    });
  });

  api(app, deps, 'PUT', '/issue/:issueIdOrKey', (req, reply) => {
    const user = actor(req);
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    const q = query(req);
    if (q.notifyUsers === 'false' && !user.admin) {
      throw forbidden('To discard the user notification either admin or project admin permissions are required.');
    }
    if (req.body === undefined) throw badRequest('Request body is missing.');
    ops.editIssue(issue, bodyObject(req) as IssueInput, user.accountId, formatOf(req));
    if (q.returnIssue === 'true')
      return reply.status(200).send(renderIssue(renderCtx(deps, req), issue, { expand: expandSet(q.expand) }));
    return reply.status(204).send();
  });

  api(app, deps, 'DELETE', '/issue/:issueIdOrKey', (req, reply) => {
    const user = actor(req);
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    ops.deleteIssue(issue, query(req).deleteSubtasks === 'true', user.accountId);
    return reply.status(204).send();
  });

  api(app, deps, 'GET', '/issue/:issueIdOrKey/changelog', (req) => {
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    const q = query(req);
    const startAt = intParam(q.startAt, 0, 'startAt');
    const maxResults = intParam(q.maxResults, 100, 'maxResults', 1, 100);
    const ctx = renderCtx(deps, req);
    const page = issue.changelog.slice(startAt, startAt + maxResults);
    const isLast = startAt + page.length >= issue.changelog.length;
    return {
      self: `${ctx.baseUrl}${req.url}`,
      ...(isLast
        ? {}
        : {
            nextPage: apiUrl(
              ctx,
              `issue/${issue.key}/changelog?startAt=${startAt + maxResults}&maxResults=${maxResults}`,
            ),
          }),
      maxResults,
      startAt,
      total: issue.changelog.length,
      isLast,
      values: page.map((h) => renderHistory(ctx, h)),
    };
  });
}
