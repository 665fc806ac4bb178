import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeReadiness } from '../../src/app/readiness.js';
import { backfillRoutes } from '../../src/http/routes/backfill.js';
import { recordsRoutes } from '../../src/http/routes/records.js';
import { syncRoutes } from '../../src/http/routes/sync.js';
import { buildServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log/logger.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { SEED } from '../../src/sandbox/seed.js';
import { freshSqlite, type TestDb } from '../helpers/db.js';
import { startHarness, type Harness } from '../engine/harness.js';

function multipart(filename: string, content: Buffer, fields: Record<string, string> = {}) {
  const boundary = '----jbtest' + Math.random().toString(16).slice(2);
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  }
  parts.push(
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ),
    content,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  );
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

describe('host API /api/v1 (records, sync, backfill) through fastify inject', () => {
  let db: TestDb;
  let h: Harness;
  let app: FastifyInstance;

  beforeAll(async () => {
    db = await freshSqlite();
    h = await startHarness(db);
    app = await buildServer({
      logger: createLogger({ level: 'silent' }),
      readiness: storeReadiness(db.store),
      metrics: createMetrics({ defaultMetrics: false, queueStats: () => h.queue.stats() }),
      version: 'test',
      routes: [
        recordsRoutes({ engine: h.engine }),
        syncRoutes({ engine: h.engine }),
        backfillRoutes({ engine: h.engine }),
      ],
    });
  });
  afterAll(async () => {
    await app.close();
    await h.close();
    await db.cleanup();
  });

  const put = (hostId: string, body: Record<string, unknown>, scope = 'astra-web') =>
    app.inject({ method: 'PUT', url: `/api/v1/records/${scope}/${hostId}`, payload: body });
  const base = { kind: 'vulnerability', title: 'Open redirect on /next', status: 'open', severity: 'medium' };

  it('PUT creates (201), repeats idempotently (200), and the record shows its link once synced', async () => {
    const first = await put('api-1', { ...base, labels: ['web'], custom: { cvss: 6.1 } });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ host_id: 'api-1', version: 1, link: null, sync: { state: 'pending' } });
    const again = await put('api-1', { ...base, labels: ['web'], custom: { cvss: 6.1 } });
    expect(again.statusCode).toBe(200);
    expect(again.json().version).toBe(1);
    await h.drain();
    const got = await app.inject({ method: 'GET', url: '/api/v1/records/astra-web/api-1' });
    expect(got.statusCode).toBe(200);
    const rec = got.json();
    expect(rec.sync).toEqual({ state: 'synced', error: null, warnings: [] });
    expect(rec.link.issue_key).toMatch(/^SEC-\d+$/);
    expect(rec.link.browse_url).toBe(`${h.sandbox.baseUrl}/browse/${rec.link.issue_key}`);
    expect(h.sandbox.state.issue(rec.link.issue_key)!.priorityId).toBe('3');
  });

  it('rejects unknown fields, unknown kinds and unknown scopes with catalogue errors naming the problem', async () => {
    const extra = await put('api-x', { ...base, colour: 'red' });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().error.code).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(extra.json().error)).toContain('colour');

    const kind = await put('api-x', { ...base, kind: 'risk' });
    expect(kind.statusCode).toBe(400);
    expect(kind.json().error.message).toMatch(/"risk".*valid kinds: vulnerability, finding, task/);

    const scope = await put('api-x', base, 'nowhere');
    expect(scope.statusCode).toBe(422);
    expect(scope.json().error).toMatchObject({ code: 'MAPPING_NOT_FOUND' });
    expect(scope.json().error.message).toContain('astra-web');

    const missing = await app.inject({ method: 'GET', url: '/api/v1/records/astra-web/none' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('NOT_FOUND');
  });

  it('comments are idempotent by host_comment_id and reach the issue once', async () => {
    await put('api-c', base);
    const c = {
      author: 'Priya',
      body: 'Confirmed on staging',
      host_comment_id: 'hc-1',
      created_at: '2026-11-20T10:00:00Z',
    };
    const r1 = await app.inject({ method: 'POST', url: '/api/v1/records/astra-web/api-c/comments', payload: c });
    const r2 = await app.inject({ method: 'POST', url: '/api/v1/records/astra-web/api-c/comments', payload: c });
    expect(r1.statusCode).toBe(201);
    expect(r2.statusCode).toBe(200);
    expect(r2.json().id).toBe(r1.json().id);
    await h.drain();
    const key = (await app.inject({ method: 'GET', url: '/api/v1/records/astra-web/api-c' })).json().link.issue_key;
    expect(h.sandbox.state.issue(key)!.comments).toHaveLength(1);
    const listed = await app.inject({ method: 'GET', url: '/api/v1/records/astra-web/api-c/comments' });
    expect(listed.statusCode).toBe(200);
    const comments = listed.json().comments as Array<Record<string, unknown>>;
    expect(comments).toHaveLength(1);
    expect(comments[0]).toMatchObject({
      origin: 'host',
      author: 'Priya',
      body: 'Confirmed on staging',
      host_comment_id: 'hc-1',
      internal: false,
      deleted: false,
      created_at: '2026-11-20T10:00:00.000Z',
    });
    expect(comments[0]!.jira_comment_id).toBe(h.sandbox.state.issue(key)!.comments[0]!.id);
    const missing = await app.inject({ method: 'GET', url: '/api/v1/records/astra-web/nope/comments' });
    expect(missing.statusCode).toBe(404);
  });

  it('attachments upload as multipart and reach the issue', async () => {
    await put('api-a', base);
    const bytes = Buffer.from('%PDF-1.4 fake report');
    const mp = multipart('report.pdf', bytes, { host_attachment_id: 'att-1' });
    const res = await app.inject({ method: 'POST', url: '/api/v1/records/astra-web/api-a/attachments', ...mp });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ created: true, size: bytes.length });
    const notMultipart = await app.inject({
      method: 'POST',
      url: '/api/v1/records/astra-web/api-a/attachments',
      payload: { a: 1 },
    });
    expect(notMultipart.statusCode).toBe(415);
    await h.drain();
    const key = (await app.inject({ method: 'GET', url: '/api/v1/records/astra-web/api-a' })).json().link.issue_key;
    const atts = h.sandbox.state.issue(key)!.attachments;
    expect(atts.map((a) => a.filename)).toEqual(['report.pdf']);
  });

  it('lists records filtered by state and scope, paginated', async () => {
    await put('api-bad', { ...base, title: 'x'.repeat(300) }); // summary over 255 is truncated, not failed
    await h.drain();
    const page1 = await app.inject({ method: 'GET', url: '/api/v1/records?scope=astra-web&state=synced&limit=2' });
    expect(page1.statusCode).toBe(200);
    const b1 = page1.json();
    expect(b1.records).toHaveLength(2);
    expect(b1.next_cursor).toBeTruthy();
    const page2 = await app.inject({
      method: 'GET',
      url: `/api/v1/records?scope=astra-web&state=synced&limit=2&cursor=${b1.next_cursor}`,
    });
    const ids = [...b1.records, ...page2.json().records].map((r: { host_id: string }) => r.host_id);
    expect(new Set(ids).size).toBe(ids.length);
    const bad = await app.inject({ method: 'GET', url: '/api/v1/records?state=lost' });
    expect(bad.statusCode).toBe(400);
  });

  it('POST /sync by Jira issue key and by host reference re-syncs; unknown key is 404', async () => {
    await put(
      'api-s',
      { kind: 'incident', title: 'Disk full on db-2', status: 'new', severity: 'P1' },
      'stackflow-incidents',
    );
    await h.drain();
    const rec = (await app.inject({ method: 'GET', url: '/api/v1/records/stackflow-incidents/api-s' })).json();
    const issue = h.sandbox.state.issue(rec.link.issue_key)!;
    // Someone started it in Jira (no webhook reached us); a manual sync is two-way: the record
    // takes Jira's newer status, and Jira keeps it.
    h.sandbox.ops.transitionIssue(issue, { transition: { id: SEED.opsTransition.start } }, SEED.users.alice, 'wiki');
    expect(issue.statusId).toBe(SEED.status.inProgress);
    const byKey = await app.inject({
      method: 'POST',
      url: '/api/v1/sync',
      payload: { jira_issue_key: rec.link.issue_key },
    });
    expect(byKey.statusCode).toBe(202);
    expect(byKey.json().sync.state).toBe('pending');
    expect(byKey.json().manual_sync).toMatchObject({ mode: 'two_way', job_id: expect.any(Number), jira_calls: 0 });
    await h.drain();
    expect(issue.statusId).toBe(SEED.status.inProgress);
    const took = (await app.inject({ method: 'GET', url: '/api/v1/records/stackflow-incidents/api-s' })).json();
    expect(took.status).toBe('in_progress');
    const byRef = await app.inject({
      method: 'POST',
      url: '/api/v1/sync',
      payload: { scope: 'stackflow-incidents', host_id: 'api-s' },
    });
    expect(byRef.statusCode).toBe(202);
    await h.drain();
    const after = (await app.inject({ method: 'GET', url: '/api/v1/records/stackflow-incidents/api-s' })).json();
    expect(after.sync.state).toBe('synced');
    const unknown = await app.inject({ method: 'POST', url: '/api/v1/sync', payload: { jira_issue_key: 'SEC-99999' } });
    expect(unknown.statusCode).toBe(404);
    const invalid = await app.inject({ method: 'POST', url: '/api/v1/sync', payload: { jira_issue_key: 'not a key' } });
    expect(invalid.statusCode).toBe(400);
  });

  it('backfill starts (202) and reports progress; the timeline lists every action with Jira calls', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/backfill',
      payload: { scope: 'stackflow-incidents' },
    });
    expect(res.statusCode).toBe(202);
    const id = res.json().id;
    await h.drain();
    const p = await app.inject({ method: 'GET', url: `/api/v1/backfill/${id}` });
    expect(p.statusCode).toBe(200);
    expect(p.json()).toMatchObject({ state: 'done' });
    expect((await app.inject({ method: 'GET', url: '/api/v1/backfill/nope' })).statusCode).toBe(404);

    const log = await app.inject({ method: 'GET', url: '/api/v1/records/astra-web/api-1/log' });
    expect(log.statusCode).toBe(200);
    const actions = log.json().entries.map((e: { action: string }) => e.action);
    expect(actions.slice(0, 2)).toEqual(['linked', 'created']);
    expect(log.json().entries[1].jira_calls).toBeGreaterThan(0);
  });

  it('the routes and their schemas are in /openapi.json', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    for (const p of [
      '/api/v1/records/{scope}/{hostId}',
      '/api/v1/records',
      '/api/v1/records/{scope}/{hostId}/comments',
      '/api/v1/records/{scope}/{hostId}/attachments',
      '/api/v1/records/{scope}/{hostId}/log',
      '/api/v1/sync',
      '/api/v1/backfill',
      '/api/v1/backfill/{id}',
    ]) {
      expect(doc.paths[p], p).toBeDefined();
    }
    expect(JSON.stringify(doc.paths['/api/v1/records/{scope}/{hostId}'].put)).toContain('RecordUpsert');
    expect(JSON.stringify(doc.components.schemas)).toContain('assignee_email');
  });
});
