import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, JiraError } from '../errors.js';
import { renderIssue } from '../render/issue.js';
import { decodePageToken, encodePageToken, runJql } from '../search.js';
import { actor, api, bodyObject, csv, intParam, query, renderCtx, type SandboxDeps } from './context.js';

const GONE =
  'The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046';

/** Search parameters from the query string (GET) or the JSON body (POST). */
function searchParams(req: FastifyRequest): Record<string, unknown> {
  if (req.method === 'GET') return query(req);
  return bodyObject(req);
}

/** Enhanced search (/search/jql, Cloud), legacy /search (DC; 410 on Cloud), approximate count. */
export function registerSearchRoutes(app: FastifyInstance, deps: SandboxDeps): void {
  const { state, flavour } = deps;

  if (flavour === 'cloud') {
    const enhanced = (req: FastifyRequest): Record<string, unknown> => {
      const user = actor(req);
      const p = searchParams(req);
      const jql = typeof p.jql === 'string' ? p.jql : '';
      const fields = csv(p.fields);
      const idOnly = !fields || fields.every((f) => f === 'id');
      const maxResults = intParam(p.maxResults, 50, 'maxResults', 0, idOnly ? 5000 : 100);
      const offset =
        typeof p.nextPageToken === 'string' && p.nextPageToken !== '' ? decodePageToken(p.nextPageToken, jql) : 0;
      const matches = runJql(state, jql, user, { requireBounded: true });
      // The sandbox is always consistent, so reconcileIssues only needs validating.
      if ((csv(p.reconcileIssues) ?? []).length > 50) throw badRequest('reconcileIssues accepts at most 50 issue ids.');
      const page = matches.slice(offset, offset + maxResults);
      const isLast = offset + page.length >= matches.length;
      const ctx = renderCtx(deps, req);
      const expand = new Set(csv(p.expand) ?? []);
      return {
        issues: page.map((issue) =>
          renderIssue(ctx, issue, {
            ...(fields ? { fields } : {}),
            fieldsDefault: 'id',
            expand,
            ...(p.properties !== undefined ? { properties: csv(p.properties) ?? [] } : {}),
          }),
        ),
        ...(isLast ? {} : { nextPageToken: encodePageToken(jql, offset + page.length) }),
        isLast,
      };
    };
    api(app, deps, 'GET', '/search/jql', enhanced);
    api(app, deps, 'POST', '/search/jql', enhanced);
    api(app, deps, 'POST', '/search/approximate-count', (req) => {
      const user = actor(req);
      const jql = bodyObject(req).jql;
      return { count: runJql(state, typeof jql === 'string' ? jql : '', user, { requireBounded: true }).length };
    });
    const gone = (): never => {
      throw new JiraError(410, [GONE]);
    };
    api(app, deps, 'GET', '/search', gone);
    api(app, deps, 'POST', '/search', gone);
    return;
  }

  const legacy = (req: FastifyRequest): Record<string, unknown> => {
    const user = actor(req);
    const p = searchParams(req);
    const jql = typeof p.jql === 'string' ? p.jql : '';
    const startAt = intParam(p.startAt, 0, 'startAt');
    const maxResults = intParam(p.maxResults, 50, 'maxResults', 0, 1000);
    const fields = csv(p.fields);
    const matches = runJql(state, jql, user);
    const ctx = renderCtx(deps, req);
    const expand = new Set(csv(p.expand) ?? []);
    return {
      expand: 'schema,names',
      startAt,
      maxResults,
      total: matches.length,
      issues: matches
        .slice(startAt, startAt + maxResults)
        .map((issue) =>
          renderIssue(ctx, issue, { ...(fields ? { fields } : {}), fieldsDefault: '*navigable', expand }),
        ),
    };
  };
  api(app, deps, 'GET', '/search', legacy);
  api(app, deps, 'POST', '/search', legacy);
}
