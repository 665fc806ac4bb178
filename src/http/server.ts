import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import fastifyHelmet from '@fastify/helmet';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyReply,
  type FastifyRequest,
  type RouteOptions,
} from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import { AppError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Store } from '../store/store.js';
import { errorBody, toAppError } from './errors.js';
import { DEFAULT_MAX_JSON_DEPTH, installJsonParser } from './json-body.js';
import { installNulGuard } from './nul-guard.js';
import { installBodyLimitGuard } from './body-limit.js';
import { accessOf, installAuth, PUBLIC, type ApiAuth } from './auth.js';
import { isAccess, type Access } from '../core/access.js';
import { docsCsp, HELMET_OPTIONS } from './security-headers.js';
import type { RejectLimiter } from '../webhooks/reject-limiter.js';
import { systemRoutes, type Readiness } from './routes/system.js';

export type { Readiness, ReadinessCheck } from './routes/system.js';

export interface ServerDeps {
  logger: Logger;
  /** Not used by the shell itself (readiness covers it); route groups may take it from here. */
  store?: Store;
  readiness: Readiness;
  metrics: Metrics;
  version: string;
  /** Max request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Max JSON nesting depth (default 64). */
  maxJsonDepth?: number;
  /** API route groups (see src/http/routes/index.ts), registered after the system routes. */
  routes?: FastifyPluginAsync[];
  /** Bearer-token access to /api/v1 (open when absent). */
  auth?: ApiAuth;
  /**
   * Whose X-Forwarded-For to believe for `req.ip` (config `server.trust_proxy`, env TRUST_PROXY):
   * the balancer's addresses/CIDRs, or true. Default: none (the socket's address).
   */
  trustProxy?: TrustProxy | undefined;
  /** Failed bearer tokens per client address (default: 20 a minute, then 429 until the minute ends). */
  authFailureLimiter?: RejectLimiter;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export type TrustProxy = boolean | string | string[];

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * `server.trust_proxy` / `TRUST_PROXY` as fastify takes it: `true`/`false`, or a comma-separated
 * list of the balancer's addresses, CIDRs or the names loopback, linklocal, uniquelocal (private
 * ranges). A hop count is refused: it cannot tell the balancer from a client that forges the
 * header. Anything else is a configuration error naming the setting and the forms it takes.
 */
export function parseTrustProxy(value: TrustProxy, source = 'server.trust_proxy'): TrustProxy {
  if (typeof value === 'boolean') return value;
  const raw = Array.isArray(value) ? value.join(',') : value.trim();
  if (raw === 'true' || raw === 'false') return raw === 'true';
  const parts = raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const bad = parts.find((p) => {
    if (PROXY_NAMES.has(p)) return false;
    const [addr, bits, extra] = p.split('/');
    if (extra !== undefined || !addr || isIP(addr) === 0) return true;
    return bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= (isIP(addr) === 4 ? 32 : 128));
  });
  if (bad !== undefined || !parts.length) {
    const hint = /^\d+$/.test(bad ?? raw)
      ? ' (a hop count cannot tell the balancer from a client forging the header)'
      : '';
    const message = `"${bad ?? raw}" is not a proxy address${hint}; use the load balancer's addresses or CIDRs (e.g. 10.0.0.5,127.0.0.1/8), uniquelocal for a private network, loopback, or true`;
    throw new AppError('CONFIG_INVALID', `${source}: ${message}`, { details: { issues: [{ path: source, message }] } });
  }
  return parts;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Honours a well-formed `X-Request-Id`; anything else (absent, too long, odd bytes) gets a fresh id. */
export function requestIdFor(req: IncomingMessage): string {
  const h = req.headers['x-request-id'];
  const v = Array.isArray(h) ? h[0] : h;
  return v !== undefined && REQUEST_ID.test(v) ? v : randomUUID();
}

const SENSITIVE_QUERY = /token|secret|password|passwd|signature|sig|key|code|auth|state|jwt/i;

/** The URL for logs, with values of secret-looking query parameters masked. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const k of [...new Set(params.keys())]) if (SENSITIVE_QUERY.test(k)) params.set(k, '[redacted]');
  return `${url.slice(0, q)}?${params.toString()}`;
}

const ROUTES = new WeakMap<FastifyInstance, RouteOptions[]>();

/** A registered route: its method(s), path template and access declaration (src/core/access.ts). */
export interface RegisteredRoute {
  method: string;
  url: string;
  access: Access | undefined;
}

/** Every route of a server built by `buildServer`, from the router's registrations (HEAD included). */
export function registeredRoutes(app: FastifyInstance): RegisteredRoute[] {
  return (ROUTES.get(app) ?? []).flatMap((r) =>
    (Array.isArray(r.method) ? r.method : [r.method]).map((method) => ({
      method: String(method),
      url: r.url,
      access: accessOf(r),
    })),
  );
}

function routeOf(req: FastifyRequest): string {
  return req.routeOptions.url ?? '(unmatched)';
}

/**
 * The HTTP shell: request ids, structured request logs without secrets, one error shape, body
 * and depth limits, `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, `/docs`, then the API
 * route groups. Returns a ready (not listening) instance: `inject()` it or `listen()` it.
 */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const bodyLimit = deps.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const app = Fastify({
    // pino's Logger and Fastify's logger type differ only in generics; it is the same object.
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    // One line per request, written in onResponse below with exactly the fields we choose.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'req_id' }),
    genReqId: requestIdFor,
    bodyLimit,
    ...(deps.trustProxy !== undefined ? { trustProxy: deps.trustProxy } : {}),
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    frameworkErrors(err, req, reply) {
      void sendError(req, reply, err);
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installJsonParser(app, deps.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH);
  installNulGuard(app);
  // A body over its limit gets its 413 (Expect: 100-continue answered by the route's limit).
  const bodyGuard = installBodyLimitGuard(app, { bodyLimit });
  // Every route as the router registers it (any plugin's included), for the access walk and start-up check.
  const registered: RouteOptions[] = [];
  ROUTES.set(app, registered);
  app.addHook('onRoute', (route) => void registered.push(route));

  function sendError(req: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
    const appErr = toAppError(err, { bodyLimit });
    if (appErr.status >= 500) req.log.error({ err }, 'request failed');
    else req.log.info({ code: appErr.code, message: appErr.message }, 'request rejected');
    if (appErr.retryAfterMs !== undefined) reply.header('retry-after', Math.ceil(appErr.retryAfterMs / 1000));
    return reply
      .code(appErr.status)
      .type('application/json; charset=utf-8')
      .serializer((p: unknown) => JSON.stringify(p))
      .send(errorBody(appErr, req.id));
  }

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  // Security headers on every answer, 401s and 404s included (so before the auth hook): see
  // src/http/security-headers.ts. `/docs` replaces the CSP with swagger-ui's own (below).
  await app.register(fastifyHelmet, HELMET_OPTIONS);
  if (deps.auth) installAuth(app, deps.auth, deps.authFailureLimiter);
  app.addHook('onResponse', async (req, reply) => {
    const route = routeOf(req);
    const durationMs = reply.elapsedTime;
    deps.metrics.recordHttp(req.method, route, reply.statusCode, durationMs);
    // Only method, path (secret query values masked), route, status and time: never headers.
    req.log.info(
      {
        method: req.method,
        url: redactUrl(req.url),
        route,
        status: reply.statusCode,
        duration_ms: Math.round(durationMs * 10) / 10,
      },
      'request completed',
    );
  });
  app.setErrorHandler(async (err, req, reply) => {
    const appErr = toAppError(err, { bodyLimit: req.routeOptions.bodyLimit ?? bodyLimit });
    // A client still sending its body reads the 413 instead of a reset.
    if (appErr.code === 'BODY_TOO_LARGE') await bodyGuard.drain(req);
    return sendError(req, reply, appErr);
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(req, reply, new AppError('NOT_FOUND', `No route ${req.method} ${req.url.split('?')[0]}`)),
  );

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'jira-bridge API',
        description:
          'Two-way sync between a platform’s records and Jira. Every error has the shape ' +
          '`{ "error": { "code", "message", "details" } }`; unknown JSON fields are rejected.',
        version: deps.version,
      },
      tags: [
        { name: 'system', description: 'Health, readiness, metrics' },
        { name: 'jobs', description: 'The durable work queue: inspect and retry jobs' },
        { name: 'records', description: 'Host records: upsert, comments, attachments, timeline' },
        { name: 'sync', description: 'Manual re-sync and backfill' },
        { name: 'webhooks', description: 'Jira webhook intake and the delivery log' },
        { name: 'changes', description: 'What the host hears back: the change feed and signed webhooks' },
        {
          name: 'connections',
          description: 'Jira connections: create, check, health, the catalogue a mapping is built from',
        },
        { name: 'mappings', description: 'Mappings: host scope → Jira project, tables, fields, policies' },
        { name: 'access', description: 'API tokens (roles admin, operator, viewer, host) and the audit log' },
      ],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  // The API reference is public: declared for the routes swagger-ui registers in its own scope.
  await app.register(async (docs) => {
    docs.addHook('onRoute', (route) => {
      route.config = { ...route.config, access: PUBLIC.access };
    });
    await docs.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true, transformStaticCSP: docsCsp });
  });

  await app.register(systemRoutes({ readiness: deps.readiness, metrics: deps.metrics }));
  for (const plugin of deps.routes ?? []) await app.register(plugin);

  await app.ready();
  // Default deny: a route without a declaration refuses everyone. Say so at start, not at the first call.
  const undeclared = registeredRoutes(app).filter((r) => !isAccess(r.access));
  if (undeclared.length)
    deps.logger.error(
      { routes: undeclared.map((r) => `${r.method} ${r.url}`) },
      'routes without an access declaration refuse every caller: declare config.access on each',
    );
  return app;
}
