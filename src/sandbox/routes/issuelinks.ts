import type { FastifyInstance } from 'fastify';
import { badRequest, notFound } from '../errors.js';
import { parseBody } from '../operations.js';
import { renderIssueLink, renderIssueLinkType } from '../render/issue.js';
import { actor, api, bodyObject, formatOf, params, renderCtx, type SandboxDeps } from './context.js';

/**
 * Issue links between issues (`/issueLink`) and their types (`/issueLinkType`). Creating a link
 * answers 201 with no body, also when the link already exists (Jira does not duplicate it).
 */
export function registerIssueLinkRoutes(app: FastifyInstance, deps: SandboxDeps): void {
  api(app, deps, 'GET', '/issueLinkType', (req) => {
    const ctx = renderCtx(deps, req);
    return { issueLinkTypes: [...deps.state.issueLinkTypes.values()].map((t) => renderIssueLinkType(ctx, t)) };
  });

  api(app, deps, 'GET', '/issueLinkType/:issueLinkTypeId', (req) => {
    const t = deps.state.issueLinkTypes.get(params(req).issueLinkTypeId ?? '');
    if (!t) throw notFound(`No issue link type with id '${params(req).issueLinkTypeId ?? ''}' found.`);
    return renderIssueLinkType(renderCtx(deps, req), t);
  });

  api(app, deps, 'POST', '/issueLink', (req, reply) => {
    const user = actor(req);
    const b = bodyObject(req);
    const missing = (['type', 'inwardIssue', 'outwardIssue'] as const).filter((k) => b[k] === undefined);
    if (missing.length > 0) throw badRequest(missing.map((k) => `'${k}' is required.`));
    let comment = null;
    // Clients send `"comment": null` when there is no comment; Jira takes it as none.
    if (b.comment !== undefined && b.comment !== null) {
      const c = b.comment as { body?: unknown };
      comment = parseBody(c.body, formatOf(req));
      if (!comment) throw badRequest([], { comment: 'Comment body can not be empty!' });
    }
    deps.ops.linkIssues(
      { type: b.type, inwardIssue: b.inwardIssue, outwardIssue: b.outwardIssue },
      user.accountId,
      comment,
    );
    return reply.status(201).send();
  });

  api(app, deps, 'GET', '/issueLink/:linkId', (req) => {
    const l = deps.state.issueLinks.get(params(req).linkId ?? '');
    const rendered = l ? renderIssueLink(renderCtx(deps, req), l) : null;
    if (!rendered) throw notFound(`No issue link with id '${params(req).linkId ?? ''}' exists.`);
    return rendered;
  });

  api(app, deps, 'DELETE', '/issueLink/:linkId', (req, reply) => {
    const user = actor(req);
    const l = deps.state.issueLinks.get(params(req).linkId ?? '');
    if (!l) throw notFound(`No issue link with id '${params(req).linkId ?? ''}' exists.`);
    deps.ops.unlinkIssues(l, user.accountId);
    return reply.status(204).send();
  });
}
