import type { FastifyInstance } from 'fastify';
import { badRequest, forbidden, notFound } from '../errors.js';
import type { AdfNode, SandboxComment, SandboxIssue, SandboxUser } from '../model.js';
import { parseBody } from '../operations.js';
import { MAX_TEXT } from '../fields.js';
import { adfToWiki } from '../render/text.js';
import { renderComment } from '../render/issue.js';
import {
  actor,
  api,
  bodyObject,
  formatOf,
  intParam,
  loadIssue,
  params,
  query,
  renderCtx,
  type SandboxDeps,
} from './context.js';

/** JSM marks a comment internal through this entity property on the platform API. */
const SD_PUBLIC_PROPERTY = 'sd.public.comment';

function parseVisibility(v: unknown): SandboxComment['visibility'] | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  const o = v as { type?: unknown; value?: unknown; identifier?: unknown };
  if ((o.type === 'group' || o.type === 'role') && (typeof o.value === 'string' || typeof o.identifier === 'string')) {
    return { type: o.type, value: String(o.value ?? o.identifier) };
  }
  throw badRequest('Invalid visibility: use {"type": "group"|"role", "value": "..."}.');
}

function internalFromProperties(props: unknown): boolean {
  if (!Array.isArray(props)) return false;
  return props.some((p) => {
    const e = p as { key?: unknown; value?: { internal?: unknown } };
    return e.key === SD_PUBLIC_PROPERTY && e.value?.internal === true;
  });
}

/** Jira refuses a comment body over its text limit, as it does a text field. */
function assertFits(body: AdfNode): void {
  if (adfToWiki(body).length > MAX_TEXT) {
    throw badRequest([], {
      comment: 'The entered text is too long. It exceeds the allowed limit of 32,767 characters.',
    });
  }
}

function findComment(issue: SandboxIssue, id: string): SandboxComment {
  const c = issue.comments.find((x) => x.id === id);
  if (!c) throw notFound(`Can not find a comment for the id: ${id}.`);
  return c;
}

function assertMayChange(user: SandboxUser, c: SandboxComment, verb: 'edit' | 'delete'): void {
  if (!user.admin && c.authorId !== user.accountId)
    throw forbidden(`You do not have the permission to ${verb} this comment.`);
}

/** Comments: list (paged), add, get, update, delete. */
export function registerCommentRoutes(app: FastifyInstance, deps: SandboxDeps): void {
  const bodyError = (req: Parameters<typeof formatOf>[0]): Error =>
    badRequest([], {
      comment:
        formatOf(req) === 'adf'
          ? 'Comment body is not valid! It must be an Atlassian Document.'
          : 'Comment body can not be empty!',
    });

  api(app, deps, 'GET', '/issue/:issueIdOrKey/comment', (req) => {
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    const q = query(req);
    const startAt = intParam(q.startAt, 0, 'startAt');
    const maxResults = intParam(q.maxResults, 5000, 'maxResults', 0, 5000);
    const ordered = q.orderBy === '-created' ? [...issue.comments].reverse() : issue.comments;
    const ctx = renderCtx(deps, req);
    return {
      startAt,
      maxResults,
      total: issue.comments.length,
      comments: ordered.slice(startAt, startAt + maxResults).map((c) => renderComment(ctx, issue, c)),
    };
  });

  api(app, deps, 'POST', '/issue/:issueIdOrKey/comment', (req, reply) => {
    const user = actor(req);
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    const b = bodyObject(req);
    const body = parseBody(b.body, formatOf(req));
    if (!body) throw bodyError(req);
    assertFits(body);
    const visibility = parseVisibility(b.visibility);
    const comment = deps.ops.addComment(issue, body, user.accountId, {
      jsdPublic: !internalFromProperties(b.properties),
      ...(visibility !== undefined ? { visibility } : {}),
    });
    return reply.status(201).send(renderComment(renderCtx(deps, req), issue, comment));
  });

  api(app, deps, 'GET', '/issue/:issueIdOrKey/comment/:id', (req) => {
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    return renderComment(renderCtx(deps, req), issue, findComment(issue, params(req).id ?? ''));
  });

  api(app, deps, 'PUT', '/issue/:issueIdOrKey/comment/:id', (req) => {
    const user = actor(req);
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    const comment = findComment(issue, params(req).id ?? '');
    assertMayChange(user, comment, 'edit');
    const b = bodyObject(req);
    const body = parseBody(b.body, formatOf(req));
    if (!body) throw bodyError(req);
    assertFits(body);
    deps.ops.updateComment(issue, comment, body, user.accountId, parseVisibility(b.visibility));
    return renderComment(renderCtx(deps, req), issue, comment);
  });

  api(app, deps, 'DELETE', '/issue/:issueIdOrKey/comment/:id', (req, reply) => {
    const user = actor(req);
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    const comment = findComment(issue, params(req).id ?? '');
    assertMayChange(user, comment, 'delete');
    deps.ops.deleteComment(issue, comment, user.accountId);
    return reply.status(204).send();
  });
}
