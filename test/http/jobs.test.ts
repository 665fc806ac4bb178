import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeReadiness } from '../../src/app/readiness.js';
import { AppError } from '../../src/core/errors.js';
import { apiRoutes } from '../../src/http/routes/index.js';
import { buildServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log/logger.js';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { createQueue, startWorker, type Queue } from '../../src/queue/index.js';
import { freshSqlite, type TestDb } from '../helpers/db.js';

async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('/api/v1/jobs on a real queue (SQLite)', () => {
  let db: TestDb;
  let queue: Queue;
  let app: FastifyInstance;
  let metrics: Metrics;
  let deadId: number;
  let queuedId: number;

  beforeAll(async () => {
    db = await freshSqlite();
    queue = createQueue(db.store);
    metrics = createMetrics({ defaultMetrics: false, queueStats: () => queue.stats() });
    // One job fails permanently (dead), one is scheduled far in the future (stays queued).
    deadId = (
      await db.store.transaction((trx) => queue.enqueue(trx, { kind: 'push', key: 'rec-1', payload: { n: 1 } }))
    ).id;
    const worker = startWorker({
      store: db.store,
      queue,
      pollMs: 20,
      handlers: {
        push: async () => {
          throw new AppError('JIRA_BAD_REQUEST', 'Field "priority" is invalid');
        },
      },
      onOutcome: (job, outcome, ms) => metrics.recordJobOutcome(job.kind, outcome, ms),
    });
    await until(async () => (await queue.getJob(deadId))?.state === 'dead', 'the job to die');
    await worker.stop();
    queuedId = (
      await db.store.transaction((trx) =>
        queue.enqueue(trx, { kind: 'push', key: 'rec-2', runAt: Date.now() + 3_600_000 }),
      )
    ).id;
    app = await buildServer({
      logger: createLogger({ level: 'silent' }),
      readiness: storeReadiness(db.store),
      metrics,
      version: 'test',
      routes: apiRoutes({ queue }),
    });
  });
  afterAll(async () => {
    await app?.close();
    await db?.cleanup();
  });

  it('lists jobs by state with their last error', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/jobs?state=dead' });
    expect(res.statusCode).toBe(200);
    const { jobs, next_before_id } = res.json();
    expect(next_before_id).toBeNull();
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({
      id: deadId,
      kind: 'push',
      key: 'rec-1',
      state: 'dead',
      payload: { n: 1 },
      last_error: { code: 'JIRA_BAD_REQUEST', message: 'Field "priority" is invalid', retryable: false },
    });
    expect(new Date(jobs[0].last_error.at).toISOString()).toBe(jobs[0].last_error.at);
    const all = await app.inject({ method: 'GET', url: '/api/v1/jobs' });
    expect(all.json().jobs.map((j: { id: number }) => j.id)).toEqual([queuedId, deadId]);
  });

  it('pages with limit and before_id', async () => {
    const page1 = (await app.inject({ method: 'GET', url: '/api/v1/jobs?limit=1' })).json();
    expect(page1.jobs.map((j: { id: number }) => j.id)).toEqual([queuedId]);
    expect(page1.next_before_id).toBe(queuedId);
    const page2 = (await app.inject({ method: 'GET', url: `/api/v1/jobs?limit=1&before_id=${queuedId}` })).json();
    expect(page2.jobs.map((j: { id: number }) => j.id)).toEqual([deadId]);
  });

  it('rejects unknown states and unknown query parameters with the field named', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/jobs?state=zombie&colour=red' });
    expect(res.statusCode).toBe(400);
    const paths = res
      .json()
      .error.details.issues.map((i: { path: string }) => i.path)
      .sort();
    expect(paths).toEqual(['querystring.colour', 'querystring.state']);
  });

  it('shows one job, 404 for an unknown id', async () => {
    expect((await app.inject({ method: 'GET', url: `/api/v1/jobs/${deadId}` })).json().state).toBe('dead');
    const res = await app.inject({ method: 'GET', url: '/api/v1/jobs/999999' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toMatchObject({ code: 'NOT_FOUND', message: 'No job with id 999999' });
  });

  it('queue depth and job outcomes show in /metrics', async () => {
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/jira_bridge_queue_jobs\{state="dead"\} 1/);
    expect(text).toMatch(/jira_bridge_queue_jobs\{state="queued"\} 1/);
    expect(text).toMatch(/jira_bridge_queue_oldest_job_age_seconds\{state="queued"\} [\d.e+-]+/);
    expect(text).toMatch(/jira_bridge_job_outcomes_total\{kind="push",outcome="dead"\} 1/);
  });

  it('retrying a job that is not dead is 409 naming its state', async () => {
    const res = await app.inject({ method: 'POST', url: `/api/v1/jobs/${queuedId}/retry` });
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toMatchObject({ code: 'CONFLICT', details: { state: 'queued' } });
  });

  it('retries one dead job', async () => {
    const res = await app.inject({ method: 'POST', url: `/api/v1/jobs/${deadId}/retry` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: deadId, state: 'queued', attempts: 0 });
    expect((await queue.getJob(deadId))?.state).toBe('queued');
  });

  it('retries every dead job', async () => {
    await db.store.db.updateTable('jobs').set({ state: 'dead' }).execute();
    const res = await app.inject({ method: 'POST', url: '/api/v1/jobs/retry-dead' });
    expect(res.json()).toEqual({ retried: 2 });
    expect((await queue.listJobs({ state: 'dead' })).length).toBe(0);
  });

  it('the jobs group is in the OpenAPI document', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/jobs',
        '/api/v1/jobs/{id}',
        '/api/v1/jobs/{id}/retry',
        '/api/v1/jobs/retry-dead',
      ]),
    );
    expect(doc.components.schemas.Job).toBeDefined();
    expect(doc.components.schemas.Error).toBeDefined();
  });
});
