import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, notFound } from '../errors.js';
import type { SandboxUser } from '../model.js';
import { apiUrl } from '../render/context.js';
import { renderUser } from '../render/user.js';
import { actor, api, formatOf, loadIssue, params, query, renderCtx, type SandboxDeps } from './context.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The people on an issue: `PUT /issue/{key}/assignee` (assign without the Edit Issues path) and
 * the watchers (`GET|POST|DELETE /issue/{key}/watchers`). Cloud names users by accountId, Data
 * Center by user name (or key).
 */
export function registerPeopleRoutes(app: FastifyInstance, deps: SandboxDeps): void {
  const { state, ops } = deps;
  const issueOf = (req: FastifyRequest) => loadIssue(deps, params(req).issueIdOrKey ?? '');

  /** A user named the flavour's way: an accountId on Cloud, a user name on Data Center. */
  const userNamed = (ref: string): SandboxUser | undefined =>
    deps.flavour === 'cloud' ? state.findUser({ accountId: ref }) : state.findUser({ name: ref });

  api(app, deps, 'PUT', '/issue/:issueIdOrKey/assignee', (req, reply) => {
    const user = actor(req);
    const issue = issueOf(req);
    const b = req.body;
    if (!isObject(b)) throw badRequest('The request body must be a user: {"accountId": …} or {"name": …}.');
    const given = (['accountId', 'name', 'key'] as const).filter((k) => b[k] !== undefined);
    if (given.length === 0) throw badRequest('One of name, key or accountId is required.');
    if (given.filter((k) => b[k] !== null).length > 1)
      throw badRequest('Only one of name, key and accountId may be given.');
    const field = given.find((k) => b[k] !== null) ?? given[0]!;
    const ref = b[field];
    let assigneeId: string | null;
    if (ref === null) {
      assigneeId = null;
    } else if (ref === '-1') {
      // The project's default assignee: its lead (no project here declares another default).
      assigneeId = state.projects.get(issue.projectId)?.leadAccountId ?? null;
    } else {
      const target = typeof ref === 'string' ? state.findUser({ [field]: ref }) : undefined;
      if (!target || !target.active)
        throw badRequest([], { assignee: 'Specified user does not exist or you do not have required permissions' });
      assigneeId = target.accountId;
    }
    // The same change as an edit of the assignee: history, `updated`, an issue_assigned event.
    ops.editIssue(
      issue,
      { fields: { assignee: assigneeId === null ? null : { accountId: assigneeId } } },
      user.accountId,
      formatOf(req),
    );
    return reply.status(204).send();
  });

  api(app, deps, 'GET', '/issue/:issueIdOrKey/watchers', (req) => {
    const user = actor(req);
    const issue = issueOf(req);
    const ctx = renderCtx(deps, req);
    const watchers = issue.watcherIds
      .map((id) => state.user(id))
      .filter((u): u is SandboxUser => u !== undefined)
      .map((u) => renderUser(ctx, u));
    return {
      self: apiUrl(ctx, `issue/${issue.key}/watchers`),
      isWatching: issue.watcherIds.includes(user.accountId),
      watchCount: watchers.length,
      watchers,
    };
  });

  api(app, deps, 'POST', '/issue/:issueIdOrKey/watchers', (req, reply) => {
    const user = actor(req);
    const issue = issueOf(req);
    // The body is a JSON string (accountId on Cloud, user name on Data Center); none means the caller.
    const b = req.body;
    if (b !== undefined && b !== null && typeof b !== 'string')
      throw badRequest(
        `The request body must be a JSON string: the ${deps.flavour === 'cloud' ? 'accountId' : 'user name'} of the watcher.`,
      );
    const watcher = typeof b === 'string' ? userNamed(b) : user;
    if (!watcher || !watcher.active) throw notFound(`The user "${String(b)}" does not exist.`);
    ops.addWatcher(issue, watcher.accountId);
    return reply.status(204).send();
  });

  api(app, deps, 'DELETE', '/issue/:issueIdOrKey/watchers', (req, reply) => {
    actor(req);
    const issue = issueOf(req);
    const q = query(req);
    const param = deps.flavour === 'cloud' ? 'accountId' : 'username';
    const ref = q[param];
    if (typeof ref !== 'string' || ref === '') throw badRequest(`The '${param}' query parameter is required.`);
    const watcher = userNamed(ref);
    if (!watcher) throw notFound(`The user "${ref}" does not exist.`);
    ops.removeWatcher(issue, watcher.accountId);
    return reply.status(204).send();
  });
}
