import type { FastifyInstance } from 'fastify';
import { badRequest, notFound } from '../errors.js';
import { apiUrl } from '../render/context.js';
import { actor, api, loadIssue, params, renderCtx, type SandboxDeps } from './context.js';

const MAX_PROPERTY_BYTES = 32_768;
const MAX_KEY_LENGTH = 255;

/** Issue entity properties: list keys, get, set (create/replace), delete. */
export function registerPropertyRoutes(app: FastifyInstance, deps: SandboxDeps): void {
  api(app, deps, 'GET', '/issue/:issueIdOrKey/properties', (req) => {
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    const ctx = renderCtx(deps, req);
    return {
      keys: [...issue.properties.keys()].map((key) => ({
        key,
        self: apiUrl(ctx, `issue/${issue.id}/properties/${encodeURIComponent(key)}`),
      })),
    };
  });

  api(app, deps, 'GET', '/issue/:issueIdOrKey/properties/:propertyKey', (req) => {
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    const key = params(req).propertyKey ?? '';
    if (!issue.properties.has(key)) throw notFound(`The property with key '${key}' does not exist.`);
    return { key, value: issue.properties.get(key) };
  });

  api(app, deps, 'PUT', '/issue/:issueIdOrKey/properties/:propertyKey', (req, reply) => {
    actor(req);
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    const key = params(req).propertyKey ?? '';
    if (key.length === 0 || key.length > MAX_KEY_LENGTH)
      throw badRequest(`The property key must be between 1 and ${MAX_KEY_LENGTH} characters long.`);
    if (req.body === undefined) throw badRequest('The property value must be valid JSON.');
    if (Buffer.byteLength(JSON.stringify(req.body)) > MAX_PROPERTY_BYTES)
      throw badRequest('The property value is too long. It exceeds the allowed limit of 32768 bytes.');
    const existed = issue.properties.has(key);
    issue.properties.set(key, req.body);
    return reply
      .status(existed ? 200 : 201)
      .send(
        existed
          ? {}
          : { key, self: apiUrl(renderCtx(deps, req), `issue/${issue.id}/properties/${encodeURIComponent(key)}`) },
      );
  });

  api(app, deps, 'DELETE', '/issue/:issueIdOrKey/properties/:propertyKey', (req, reply) => {
    actor(req);
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    const key = params(req).propertyKey ?? '';
    if (!issue.properties.delete(key)) throw notFound(`The property with key '${key}' does not exist.`);
    return reply.status(204).send();
  });
}
