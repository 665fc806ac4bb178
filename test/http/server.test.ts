import { Writable } from 'node:stream';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { storeReadiness } from '../../src/app/readiness.js';
import { AppError } from '../../src/core/errors.js';
import { buildServer, type ServerDeps } from '../../src/http/server.js';
import { createLogger } from '../../src/log/logger.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { freshSqlite, type TestDb } from '../helpers/db.js';

/** A logger whose JSON lines are kept in memory, to assert on what is (not) logged. */
function capturingLogger(): {
  logger: ServerDeps['logger'];
  lines: () => Array<Record<string, unknown>>;
  raw: () => string;
} {
  let buf = '';
  const dest = new Writable({
    write(chunk, _enc, cb) {
      buf += String(chunk);
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination: dest });
  return {
    logger,
    raw: () => buf,
    lines: () =>
      buf
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** A route group shaped like the real ones, to exercise validation and the error handler. */
const testRoutes: FastifyPluginAsync = async (fastify) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.post(
    '/api/v1/echo',
    {
      schema: {
        body: z.strictObject({
          title: z.string().min(1),
          severity: z.enum(['low', 'high']),
          nested: z.strictObject({ count: z.number().int() }).optional(),
        }),
      },
    },
    async (req) => ({ got: req.body }),
  );
  app.get('/api/v1/boom', async () => {
    throw new Error('secret internals: password=hunter2 at /srv/app.ts:12');
  });
  app.get('/api/v1/coded', async () => {
    throw new AppError('CONFLICT', 'Record r-1 is already linked to SEC-4', { details: { record: 'r-1' } });
  });
};

describe('HTTP shell', () => {
  let db: TestDb;
  let app: FastifyInstance;
  let log: ReturnType<typeof capturingLogger>;

  beforeAll(async () => {
    db = await freshSqlite();
    log = capturingLogger();
    app = await buildServer({
      logger: log.logger,
      store: db.store,
      readiness: storeReadiness(db.store),
      metrics: createMetrics({ defaultMetrics: false }),
      version: '9.9.9-test',
      bodyLimit: 2048,
      maxJsonDepth: 8,
      routes: [testRoutes],
    });
  });
  afterAll(async () => {
    await app?.close();
    await db?.cleanup();
  });

  it('GET /healthz answers ok', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers ready when the store is reachable and migrated', async () => {
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.ready).toBe(true);
    expect(body.checks.store.ok).toBe(true);
    expect(body.checks.migrations.ok).toBe(true);
  });

  it('unknown routes are 404 in the error shape', async () => {
    const res = await app.inject({ method: 'GET', url: '/nope?x=1' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'No route GET /nope' } });
  });

  it('malformed JSON is 400 MALFORMED_JSON', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"title": "x",',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('MALFORMED_JSON');
  });

  it('a body over the limit is 413 BODY_TOO_LARGE', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/echo',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ title: 'x'.repeat(4000), severity: 'low' }),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().error).toMatchObject({ code: 'BODY_TOO_LARGE', details: { limit_bytes: 2048 } });
  });

  it('JSON nested deeper than the limit is rejected before parsing', async () => {
    const deep = '['.repeat(50) + ']'.repeat(50);
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/echo',
      headers: { 'content-type': 'application/json' },
      payload: deep,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('JSON_TOO_DEEP');
  });

  it('brackets inside strings do not count towards depth', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/echo',
      payload: { title: '[[[[[[[[[[[[[[[[{{{{{{{{{{{', severity: 'low' },
    });
    expect(res.statusCode).toBe(200);
  });

  it('prototype-poisoning keys are rejected', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"title":"x","severity":"low","__proto__":{"admin":true}}',
    });
    expect(res.statusCode).toBe(400);
  });

  it('validation errors list each field path and problem, unknown fields included', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/echo',
      payload: { title: '', severity: 'urgent', nested: { count: 1.5, extra: 1 }, colour: 'red' },
    });
    expect(res.statusCode).toBe(400);
    const { error } = res.json();
    expect(error.code).toBe('VALIDATION_FAILED');
    const paths = (error.details.issues as Array<{ path: string; message: string }>).map((i) => i.path).sort();
    expect(paths).toEqual(['body.colour', 'body.nested.count', 'body.nested.extra', 'body.severity', 'body.title']);
    const colour = error.details.issues.find((i: { path: string }) => i.path === 'body.colour');
    expect(colour.message).toMatch(/unknown field/);
    expect(error.message).toMatch(/^The request is invalid: body\./);
  });

  it('valid input passes validation', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/echo', payload: { title: 't', severity: 'high' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ got: { title: 't', severity: 'high' } });
  });

  it('unexpected errors are 500 INTERNAL without internals', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/boom', headers: { 'x-request-id': 'boom-1' } });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({
      error: { code: 'INTERNAL', message: 'Internal error', details: { request_id: 'boom-1' } },
    });
    expect(res.body).not.toMatch(/hunter2|app\.ts|stack/);
  });

  it('coded errors keep their status, message and details', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/coded' });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({
      error: { code: 'CONFLICT', message: 'Record r-1 is already linked to SEC-4', details: { record: 'r-1' } },
    });
  });

  it('honours a well-formed X-Request-Id, echoes it, and logs it on every line of the request', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc-123.X' } });
    expect(res.headers['x-request-id']).toBe('abc-123.X');
    const lines = log.lines().filter((l) => l.req_id === 'abc-123.X');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.some((l) => l.msg === 'request completed' && l.route === '/healthz' && l.status === 200)).toBe(true);
  });

  it('generates a request id when none or a hostile one is given', async () => {
    const a = await app.inject({ method: 'GET', url: '/healthz' });
    expect(a.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const b = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'bad id\nwith newline' } });
    expect(b.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const c = await app.inject({ method: 'GET', url: '/nope' });
    expect(c.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('never logs Authorization headers, cookies or secret query values', async () => {
    await app.inject({
      method: 'POST',
      url: '/api/v1/echo?api_token=tok-SECRET-q&page=2',
      headers: { authorization: 'Bearer tok-SECRET-h', cookie: 'sid=tok-SECRET-c', 'x-request-id': 'secret-test' },
      payload: { title: 't', severity: 'low' },
    });
    await app.inject({ method: 'GET', url: '/api/v1/boom', headers: { authorization: 'Basic tok-SECRET-b' } });
    const raw = log.raw();
    expect(raw).toContain('secret-test'); // the lines were written…
    expect(raw).not.toMatch(/tok-SECRET/); // …without any secret
    expect(raw).not.toMatch(/authorization/i);
    const completed = log.lines().find((l) => l.req_id === 'secret-test' && l.msg === 'request completed');
    expect(completed?.url).toBe('/api/v1/echo?api_token=%5Bredacted%5D&page=2');
  });

  it('/metrics exposes HTTP, queue, job and Jira instruments', async () => {
    await app.inject({ method: 'GET', url: '/healthz' });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    for (const name of [
      'jira_bridge_http_requests_total',
      'jira_bridge_http_request_duration_seconds',
      'jira_bridge_queue_jobs',
      'jira_bridge_queue_oldest_job_age_seconds',
      'jira_bridge_job_outcomes_total',
      'jira_bridge_jira_requests_total',
    ]) {
      expect(res.body).toContain(`# TYPE ${name} `);
    }
    expect(res.body).toMatch(/jira_bridge_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
  });

  it('/openapi.json is an OpenAPI 3 document generated from the route schemas', async () => {
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info).toMatchObject({ title: 'jira-bridge API', version: '9.9.9-test' });
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz', '/metrics', '/api/v1/echo']));
    expect(doc.paths['/openapi.json']).toBeUndefined();
    const body = doc.paths['/api/v1/echo'].post.requestBody.content['application/json'].schema;
    expect(body.properties.severity.enum).toEqual(['low', 'high']);
    expect(body.additionalProperties).toBe(false);
    expect(body.required).toEqual(expect.arrayContaining(['title', 'severity']));
  });

  it('/docs renders the browsable reference', async () => {
    let res = await app.inject({ method: 'GET', url: '/docs' });
    if (res.statusCode === 302) res = await app.inject({ method: 'GET', url: String(res.headers.location) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).toMatch(/swagger-ui/i);
  });
});

describe('readiness when the store is not migrated', () => {
  it('GET /readyz answers 503 naming the failing check', async () => {
    const db = await freshSqlite({ migrate: false });
    const app = await buildServer({
      logger: createLogger({ level: 'silent' }),
      readiness: storeReadiness(db.store),
      metrics: createMetrics({ defaultMetrics: false }),
      version: 'test',
    });
    try {
      const res = await app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      const body = res.json();
      expect(body.ready).toBe(false);
      expect(body.checks.store.ok).toBe(true);
      expect(body.checks.migrations).toMatchObject({ ok: false, detail: expect.stringMatching(/pending/) });
    } finally {
      await app.close();
      await db.cleanup();
    }
  });

  it('GET /readyz answers 503 when the store is closed', async () => {
    const db = await freshSqlite();
    const app = await buildServer({
      logger: createLogger({ level: 'silent' }),
      readiness: storeReadiness(db.store),
      metrics: createMetrics({ defaultMetrics: false }),
      version: 'test',
    });
    try {
      await db.store.close();
      const res = await app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.json().checks.store.ok).toBe(false);
    } finally {
      await app.close();
      await db.cleanup();
    }
  });
});
