import type { FastifyInstance } from 'fastify';
import { availableTransitions, renderTransition } from '../render/issue.js';
import type { TransitionInput } from '../operations.js';
import {
  actor,
  api,
  bodyObject,
  csv,
  formatOf,
  loadIssue,
  params,
  query,
  renderCtx,
  type SandboxDeps,
} from './context.js';

/** GET available transitions (expand=transitions.fields) and POST a transition. */
export function registerTransitionRoutes(app: FastifyInstance, deps: SandboxDeps): void {
  api(app, deps, 'GET', '/issue/:issueIdOrKey/transitions', (req) => {
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    const q = query(req);
    const withFields = (csv(q.expand) ?? []).includes('transitions.fields');
    const ctx = renderCtx(deps, req);
    const only = typeof q.transitionId === 'string' ? q.transitionId : undefined;
    return {
      expand: 'transitions',
      transitions: availableTransitions(ctx, issue)
        .filter((t) => only === undefined || t.id === only)
        .map((t) => renderTransition(ctx, issue, t, withFields)),
    };
  });

  api(app, deps, 'POST', '/issue/:issueIdOrKey/transitions', (req, reply) => {
    const user = actor(req);
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    deps.ops.transitionIssue(issue, bodyObject(req) as TransitionInput, user.accountId, formatOf(req));
    return reply.status(204).send();
  });
}
