import type { FastifyInstance, HTTPMethods } from 'fastify';
import { badRequest, JiraError, notFound } from '../errors.js';
import type { RequestType, SandboxComment, SandboxIssue, ServiceDesk } from '../model.js';
import { avatarUrls, jiraTime, type RenderContext } from '../render/context.js';
import { adfToWiki, wikiToAdf } from '../render/text.js';
import { dataCenterEmail } from '../render/user.js';
import {
  actor,
  type Handler,
  baseUrlOf,
  bodyObject,
  intParam,
  params,
  query,
  renderCtx,
  route,
  type SandboxDeps,
} from './context.js';

const BASE = '/rest/servicedeskapi';

function dateDto(ms: number): Record<string, unknown> {
  const iso = new Date(ms).toISOString();
  return {
    iso8601: iso.replace('Z', '+0000'),
    jira: jiraTime(ms),
    friendly: iso.slice(0, 16).replace('T', ' '),
    epochMillis: ms,
  };
}

function paged<T>(values: T[], startRaw: unknown, limitRaw: unknown): Record<string, unknown> {
  const start = intParam(startRaw, 0, 'start');
  const limit = intParam(limitRaw, 50, 'limit', 1, 100);
  const page = values.slice(start, start + limit);
  return {
    size: page.length,
    start,
    limit,
    isLastPage: start + page.length >= values.length,
    values: page,
    _links: {},
  };
}

/**
 * Service Management's own error body (ErrorResponse in its OpenAPI): one `errorMessage`, not the
 * platform's `errorMessages`/`errors`. (Its `i18nErrorMessage` keys are not reproduced: no
 * source lists them.)
 */
function jsmErrorBody(err: JiraError): { errorMessage: string } {
  const messages = [...err.errorMessages, ...Object.entries(err.errors).map(([field, m]) => `${field}: ${m}`)];
  return { errorMessage: messages.join(' ') || `Error ${err.status}` };
}

/** A user as Service Management shows one (UserDTO): links under `_links`, no top-level self or avatars. */
function renderJsmUser(ctx: RenderContext, accountId: string | null): Record<string, unknown> | null {
  const user = accountId ? ctx.state.user(accountId) : undefined;
  if (!user) return null;
  const rest =
    ctx.flavour === 'cloud'
      ? `${ctx.baseUrl}/rest/api/2/user?accountId=${user.accountId}`
      : `${ctx.baseUrl}/rest/api/2/user?username=${user.name}`;
  return {
    ...(ctx.flavour === 'cloud' ? { accountId: user.accountId } : { name: user.name, key: user.key }),
    ...(ctx.flavour === 'cloud'
      ? user.emailVisible
        ? { emailAddress: user.email }
        : {}
      : dataCenterEmail(ctx, user) !== undefined
        ? { emailAddress: dataCenterEmail(ctx, user) }
        : {}),
    displayName: user.displayName,
    active: user.active,
    timeZone: user.timeZone,
    _links: {
      jiraRest: rest,
      avatarUrls: avatarUrls(ctx, 'user', user.key.replace(/\D/g, '') || '10000'),
      self: rest,
    },
  };
}

/** Jira Service Management: service desks, request types, customer requests, public/internal comments. */
export function registerServiceDeskRoutes(app: FastifyInstance, deps: SandboxDeps): void {
  const { state, ops } = deps;

  /** A servicedeskapi route: its errors in Service Management's shape. */
  const jsmRoute = (method: HTTPMethods, url: string, handler: Handler): void =>
    route(app, deps, method, url, async (req, reply) => {
      try {
        return await handler(req, reply);
      } catch (err) {
        if (!(err instanceof JiraError)) throw err;
        void reply.headers(err.headers);
        return reply.status(err.status).send(jsmErrorBody(err));
      }
    });

  const desk = (id: string): ServiceDesk => {
    const d =
      state.serviceDesks.get(id) ??
      [...state.serviceDesks.values()].find((x) => state.projects.get(x.projectId)?.key === id.toUpperCase());
    if (!d) throw notFound(`Service desk '${id}' does not exist.`);
    return d;
  };

  const renderDesk = (base: string, d: ServiceDesk): Record<string, unknown> => {
    const p = state.projects.get(d.projectId);
    return {
      id: d.id,
      projectId: d.projectId,
      projectName: p?.name ?? '',
      projectKey: p?.key ?? '',
      _links: { self: `${base}${BASE}/servicedesk/${d.id}` },
    };
  };

  const renderRequestType = (base: string, t: RequestType): Record<string, unknown> => ({
    _links: { self: `${base}${BASE}/servicedesk/${t.serviceDeskId}/requesttype/${t.id}` },
    id: t.id,
    name: t.name,
    description: t.description,
    helpText: t.helpText,
    issueTypeId: t.issueTypeId,
    serviceDeskId: t.serviceDeskId,
    groupIds: t.groupIds,
  });

  const renderRequest = (
    base: string,
    issue: SandboxIssue,
    ctxVersion: ReturnType<typeof renderCtx>,
  ): Record<string, unknown> => {
    const d = [...state.serviceDesks.values()].find((x) => x.projectId === issue.projectId);
    const status = state.status(issue.statusId);
    return {
      _expands: ['participant', 'status', 'sla', 'requestType', 'serviceDesk', 'attachment', 'action', 'comment'],
      issueId: issue.id,
      issueKey: issue.key,
      requestTypeId: issue.requestTypeId ?? '',
      serviceDeskId: d?.id ?? '',
      createdDate: dateDto(issue.created),
      reporter: renderJsmUser(ctxVersion, issue.reporterId),
      requestFieldValues: [
        { fieldId: 'summary', label: 'Summary', value: issue.summary },
        {
          fieldId: 'description',
          label: 'Description',
          value: issue.description ? adfToWiki(issue.description) : null,
        },
      ],
      currentStatus: {
        status: status.name,
        statusCategory: status.category.toUpperCase(),
        statusDate: dateDto(issue.statusCategoryChanged),
      },
      _links: {
        jiraRest: `${base}/rest/api/2/issue/${issue.id}`,
        web: `${base}/servicedesk/customer/portal/${d?.id ?? ''}/${issue.key}`,
        self: `${base}${BASE}/request/${issue.id}`,
      },
    };
  };

  const renderRequestComment = (
    base: string,
    issue: SandboxIssue,
    c: SandboxComment,
    ctx: ReturnType<typeof renderCtx>,
  ): Record<string, unknown> => ({
    _expands: ['attachment', 'renderedBody'],
    id: c.id,
    body: adfToWiki(c.body),
    public: c.jsdPublic,
    author: renderJsmUser(ctx, c.authorId),
    created: dateDto(c.created),
    _links: { self: `${base}${BASE}/request/${issue.id}/comment/${c.id}` },
  });

  const loadRequest = (idOrKey: string): SandboxIssue => {
    const issue = state.issue(idOrKey);
    if (!issue || ![...state.serviceDesks.values()].some((d) => d.projectId === issue.projectId)) {
      throw notFound(`The request '${idOrKey}' does not exist or you do not have permission to see it.`);
    }
    return issue;
  };

  jsmRoute('GET', `${BASE}/servicedesk`, (req) =>
    paged(
      [...state.serviceDesks.values()].map((d) => renderDesk(baseUrlOf(req), d)),
      query(req).start,
      query(req).limit,
    ),
  );

  jsmRoute('GET', `${BASE}/servicedesk/:serviceDeskId`, (req) =>
    renderDesk(baseUrlOf(req), desk(params(req).serviceDeskId ?? '')),
  );

  jsmRoute('GET', `${BASE}/servicedesk/:serviceDeskId/requesttype`, (req) => {
    const d = desk(params(req).serviceDeskId ?? '');
    const text = String(query(req).searchQuery ?? '').toLowerCase();
    return paged(
      d.requestTypes
        .filter((t) => t.name.toLowerCase().includes(text))
        .map((t) => renderRequestType(baseUrlOf(req), t)),
      query(req).start,
      query(req).limit,
    );
  });

  jsmRoute('POST', `${BASE}/request`, (req, reply) => {
    const user = actor(req);
    const b = bodyObject(req);
    const d = desk(String(b.serviceDeskId ?? ''));
    const type = d.requestTypes.find((t) => t.id === String(b.requestTypeId ?? ''));
    if (!type)
      throw badRequest(`The request type '${String(b.requestTypeId)}' does not exist in service desk ${d.id}.`);
    const values = (
      typeof b.requestFieldValues === 'object' && b.requestFieldValues !== null ? b.requestFieldValues : {}
    ) as Record<string, unknown>;
    let reporterId = user.accountId;
    if (b.raiseOnBehalfOf !== undefined) {
      const ref = b.raiseOnBehalfOf;
      const other =
        state.findUser({ accountId: ref }) ?? state.findUser({ name: ref }) ?? state.findUser({ emailAddress: ref });
      if (!other) throw badRequest(`The user '${String(b.raiseOnBehalfOf)}' does not exist.`);
      reporterId = other.accountId;
    }
    const project = state.projects.get(d.projectId);
    const issue = ops.createIssue(
      {
        fields: {
          ...values,
          project: { id: project?.id },
          issuetype: { id: type.issueTypeId },
          reporter: { accountId: reporterId },
        },
      },
      user.accountId,
      'wiki',
      { requestTypeId: type.id },
    );
    return reply.status(201).send(renderRequest(baseUrlOf(req), issue, renderCtx(deps, req, '2')));
  });

  jsmRoute('GET', `${BASE}/request/:issueIdOrKey`, (req) =>
    renderRequest(baseUrlOf(req), loadRequest(params(req).issueIdOrKey ?? ''), renderCtx(deps, req, '2')),
  );

  jsmRoute('GET', `${BASE}/request/:issueIdOrKey/comment`, (req) => {
    const issue = loadRequest(params(req).issueIdOrKey ?? '');
    const q = query(req);
    const ctx = renderCtx(deps, req, '2');
    const filtered = issue.comments.filter(
      (c) => (q.public !== 'false' || !c.jsdPublic) && (q.internal !== 'false' || c.jsdPublic),
    );
    return paged(
      filtered.map((c) => renderRequestComment(baseUrlOf(req), issue, c, ctx)),
      q.start,
      q.limit,
    );
  });

  jsmRoute('POST', `${BASE}/request/:issueIdOrKey/comment`, (req, reply) => {
    const user = actor(req);
    const issue = loadRequest(params(req).issueIdOrKey ?? '');
    const b = bodyObject(req);
    if (typeof b.body !== 'string' || b.body.trim() === '') throw badRequest('The comment body must not be empty.');
    const comment = ops.addComment(issue, wikiToAdf(b.body), user.accountId, { jsdPublic: b.public !== false });
    return reply.status(201).send(renderRequestComment(baseUrlOf(req), issue, comment, renderCtx(deps, req, '2')));
  });
}
