import type { FastifyInstance } from 'fastify';
import { badRequest, notFound } from '../errors.js';
import type { SandboxRemoteLink } from '../model.js';
import { apiUrl, type RenderContext } from '../render/context.js';
import { actor, api, bodyObject, loadIssue, params, query, renderCtx, type SandboxDeps } from './context.js';

function renderLink(ctx: RenderContext, issueId: string, l: SandboxRemoteLink): Record<string, unknown> {
  return {
    id: l.id,
    self: apiUrl(ctx, `issue/${issueId}/remotelink/${l.id}`),
    ...(l.globalId !== null ? { globalId: l.globalId } : {}),
    application: l.application ?? {},
    ...(l.relationship !== null ? { relationship: l.relationship } : {}),
    object: l.object,
  };
}

/** Remote issue links: list (optionally by globalId), upsert by globalId, get, delete by id or globalId. */
export function registerRemoteLinkRoutes(app: FastifyInstance, deps: SandboxDeps): void {
  api(app, deps, 'GET', '/issue/:issueIdOrKey/remotelink', (req) => {
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    const ctx = renderCtx(deps, req);
    const globalId = query(req).globalId;
    if (typeof globalId === 'string') {
      const l = issue.remoteLinks.find((x) => x.globalId === globalId);
      if (!l) throw notFound(`No remote link with globalId '${globalId}' exists on this issue.`);
      return renderLink(ctx, issue.id, l);
    }
    return issue.remoteLinks.map((l) => renderLink(ctx, issue.id, l));
  });

  api(app, deps, 'GET', '/issue/:issueIdOrKey/remotelink/:linkId', (req) => {
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    const l = issue.remoteLinks.find((x) => String(x.id) === params(req).linkId);
    if (!l) throw notFound(`No remote link with id '${params(req).linkId}' exists on this issue.`);
    return renderLink(renderCtx(deps, req), issue.id, l);
  });

  api(app, deps, 'POST', '/issue/:issueIdOrKey/remotelink', (req, reply) => {
    actor(req);
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    const { link, created } = deps.ops.upsertRemoteLink(issue, bodyObject(req));
    return reply
      .status(created ? 201 : 200)
      .send({ id: link.id, self: apiUrl(renderCtx(deps, req), `issue/${issue.id}/remotelink/${link.id}`) });
  });

  api(app, deps, 'DELETE', '/issue/:issueIdOrKey/remotelink', (req, reply) => {
    actor(req);
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    const globalId = query(req).globalId;
    if (typeof globalId !== 'string') throw badRequest('The globalId parameter is required.');
    const before = issue.remoteLinks.length;
    issue.remoteLinks = issue.remoteLinks.filter((l) => l.globalId !== globalId);
    if (issue.remoteLinks.length === before)
      throw notFound(`No remote link with globalId '${globalId}' exists on this issue.`);
    return reply.status(204).send();
  });

  api(app, deps, 'DELETE', '/issue/:issueIdOrKey/remotelink/:linkId', (req, reply) => {
    actor(req);
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    const before = issue.remoteLinks.length;
    issue.remoteLinks = issue.remoteLinks.filter((l) => String(l.id) !== params(req).linkId);
    if (issue.remoteLinks.length === before)
      throw notFound(`No remote link with id '${params(req).linkId}' exists on this issue.`);
    return reply.status(204).send();
  });
}
