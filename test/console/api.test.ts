/**
 * The API behind the console's dashboard, records page and mapping preview, against the real service
 * and the sandbox (Cloud and Data Center): GET /api/v1/stats counts what the service did, GET
 * /api/v1/records/counts counts records by sync state, POST
 * /api/v1/mappings/preview runs the JQL a mapping covers and names what is wrong with a body.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../../src/app/service.js';
import type { JiraCatalog } from '../../src/core/catalog.js';
import { mappingJql } from '../../src/http/routes/preview.js';
import { createLogger } from '../../src/log/logger.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';

const waitFor = async (cond: () => Promise<boolean>, ms = 20_000): Promise<void> => {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe.each(['cloud', 'datacenter'] as const)('stats and preview API (%s)', (flavour) => {
  let sb: RunningSandbox;
  let svc: RunningService;
  let admin = '';
  let viewer = '';
  const dir = mkdtempSync(join(tmpdir(), `jb-console-api-${flavour}-`));
  const call = async (token: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${svc.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown> & {
        error?: { code: string; details?: { issues: Array<{ path: string }> } };
      },
    };
  };

  beforeAll(async () => {
    sb = await startSandbox({ flavour, port: 0 });
    const auth =
      flavour === 'cloud'
        ? `{ type: basic, email: ${sb.credentials.email}, api_token: ${sb.credentials.apiToken} }`
        : `{ type: pat, token: ${sb.credentials.pat} }`;
    writeFileSync(
      join(dir, 'jira-bridge.yaml'),
      [
        'connections:',
        '  - id: sb',
        `    site_url: ${sb.baseUrl}`,
        `    flavour: ${flavour}`,
        `    auth: ${auth}`,
        '    sweep: { interval_seconds: 0 }',
        'mappings:',
        '  - id: ops',
        '    connection: sb',
        '    scope: stackflow',
        '    project: OPS',
        '    kinds: { incident: { issue_type: Incident } }',
        '',
      ].join('\n'),
    );
    svc = await startService({
      configPath: join(dir, 'jira-bridge.yaml'),
      env: { PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(dir, 'data') },
      logger: createLogger({ level: 'silent' }),
      drainMs: 1000,
    });
    admin = ((await call('', 'POST', '/api/v1/tokens', { name: 'admin', role: 'admin' })).body as { token: string })
      .token;
    viewer = (
      (await call(admin, 'POST', '/api/v1/tokens', { name: 'viewer', role: 'viewer' })).body as { token: string }
    ).token;
  });
  afterAll(async () => {
    await svc?.stop();
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stats count the sync to Jira, its Jira calls and the queue depth', async () => {
    for (const id of ['inc-1', 'inc-2', 'inc-3'])
      await call(admin, 'PUT', `/api/v1/records/stackflow/${id}`, {
        kind: 'incident',
        title: `Incident ${id}`,
        status: 'new',
      });
    await waitFor(async () => {
      const r = await call(admin, 'GET', '/api/v1/records?state=synced');
      return (r.body.records as unknown[]).length === 3;
    });
    const { status, body } = await call(viewer, 'GET', '/api/v1/stats?minutes=5&step=10');
    expect(status).toBe(200);
    const s = body as unknown as {
      step_seconds: number;
      points: Array<Record<string, number | null>>;
      totals: Record<string, number | null>;
    };
    expect(s.step_seconds).toBe(10);
    expect(s.points).toHaveLength(30);
    expect(s.totals.sync_to_jira).toBe(3);
    expect(s.totals.jira_calls).toBeGreaterThanOrEqual(3);
    expect(s.totals.latency_p50_ms).not.toBeNull();
    // The route samples the queue before answering: the last step has a depth.
    expect(s.points.at(-1)!.queue_queued).not.toBeNull();
    expect((await call(viewer, 'GET', '/api/v1/stats?step=15')).status).toBe(400);
    expect((await call('', 'GET', '/api/v1/stats')).status).toBe(401);
  });

  it('the preview runs the mapping’s JQL through its connection', async () => {
    const r = await call(admin, 'POST', '/api/v1/mappings/preview', {
      connection: 'sb',
      scope: 'stackflow',
      project: 'OPS',
      kinds: { incident: { issue_type: 'Incident' } },
      status: { out: { new: 'To Do' } },
    });
    expect(r.status).toBe(200);
    expect(r.body.jql).toBe('project = "OPS" AND issuetype in ("Incident") ORDER BY updated DESC');
    expect(r.body.total).toBe(3);
    const issues = r.body.issues as Array<{ key: string; summary: string; status: string }>;
    expect(issues.map((i) => i.summary).sort()).toEqual(['Incident inc-1', 'Incident inc-2', 'Incident inc-3']);
    expect(issues.every((i) => /^OPS-\d+$/.test(i.key) && i.status !== '')).toBe(true);
    expect(String(r.body.browse_url)).toBe(`${sb.baseUrl}/issues/?jql=${encodeURIComponent(String(r.body.jql))}`);

    // More than a page: the first ten, and the count (Cloud: Jira's approximate count).
    for (let i = 4; i <= 12; i++)
      await call(admin, 'PUT', `/api/v1/records/stackflow/inc-${i}`, {
        kind: 'incident',
        title: `Incident ${i}`,
        status: 'new',
      });
    await waitFor(
      async () => ((await call(admin, 'GET', '/api/v1/records?state=synced')).body.records as unknown[]).length === 12,
    );
    const many = await call(admin, 'POST', '/api/v1/mappings/preview', {
      connection: 'sb',
      project: 'OPS',
      kinds: { incident: { issue_type: 'Incident' } },
    });
    expect(many.body.total).toBe(12);
    expect(many.body.issues).toHaveLength(10);

    // Another issue type: nothing matches.
    const none = await call(admin, 'POST', '/api/v1/mappings/preview', {
      connection: 'sb',
      project: 'OPS',
      kinds: { bug: { issue_type: 'Bug' } },
    });
    expect(none.body).toMatchObject({ total: 0, issues: [] });
  });

  it('record counts by sync state match the lists state by state; by scope and kind; scoped host tokens', async () => {
    const all = await call(viewer, 'GET', '/api/v1/records/counts');
    expect(all.status).toBe(200);
    const counts = all.body as unknown as { total: number; by_state: Record<'pending' | 'synced' | 'failed', number> };
    expect(counts).toEqual({ total: 12, by_state: { pending: 0, synced: 12, failed: 0 } });
    // The same numbers as the lists, state by state.
    for (const state of ['pending', 'synced', 'failed'] as const) {
      const list = await call(viewer, 'GET', `/api/v1/records?state=${state}&limit=500`);
      expect((list.body.records as unknown[]).length).toBe(counts.by_state[state]);
    }
    expect((await call(viewer, 'GET', '/api/v1/records/counts?scope=stackflow')).body).toEqual({
      total: 12,
      by_state: { pending: 0, synced: 12, failed: 0 },
    });
    expect((await call(viewer, 'GET', '/api/v1/records/counts?scope=payroll')).body).toMatchObject({ total: 0 });
    expect((await call(viewer, 'GET', '/api/v1/records/counts?kind=incident')).body).toMatchObject({ total: 12 });
    expect((await call(viewer, 'GET', '/api/v1/records/counts?kind=alert')).body).toMatchObject({ total: 0 });
    // Not a list: a state filter is refused, naming it.
    const bad = await call(viewer, 'GET', '/api/v1/records/counts?state=failed');
    expect(bad.status).toBe(400);
    expect(bad.body.error?.details?.issues[0]?.path).toMatch(/state/);
    // A host token limited to a scope counts in it only.
    const host = (
      (await call(admin, 'POST', '/api/v1/tokens', { name: 'host', role: 'host', scopes: ['stackflow'] })).body as {
        token: string;
      }
    ).token;
    expect((await call(host, 'GET', '/api/v1/records/counts?scope=stackflow')).body).toMatchObject({ total: 12 });
    expect((await call(host, 'GET', '/api/v1/records/counts')).status).toBe(403);
    expect((await call(host, 'GET', '/api/v1/records/counts?scope=payroll')).status).toBe(403);
  });

  it('the preview names what is wrong, and is for admins', async () => {
    const unknown = await call(admin, 'POST', '/api/v1/mappings/preview', { connection: 'nope', project: 'OPS' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error?.details?.issues[0]?.path).toBe('body.connection');
    const noProject = await call(admin, 'POST', '/api/v1/mappings/preview', { connection: 'sb' });
    expect(noProject.status).toBe(400);
    expect(noProject.body.error?.code).toBe('VALIDATION_FAILED');
    const badProject = await call(admin, 'POST', '/api/v1/mappings/preview', { connection: 'sb', project: 'NOPE' });
    expect(badProject.status).toBe(400);
    expect(badProject.body.error?.details?.issues).toEqual([
      {
        path: 'body.project',
        message: '"NOPE" is not a Jira project visible to this connection; known: SEC, OPS, ITSD',
      },
    ]);
    const badType = await call(admin, 'POST', '/api/v1/mappings/preview', {
      connection: 'sb',
      project: 'OPS',
      kinds: { incident: { issue_type: 'Epic' } },
    });
    expect(badType.status).toBe(400);
    expect(badType.body.error?.details?.issues[0]?.path).toBe('body.kinds.incident.issue_type');
    expect((await call(viewer, 'POST', '/api/v1/mappings/preview', { connection: 'sb', project: 'OPS' })).status).toBe(
      403,
    );
  });
});

describe('mappingJql', () => {
  const catalog = {
    projects: [
      {
        id: '1',
        key: 'ITSD',
        name: 'IT',
        issueTypes: [{ id: '10', name: 'Service Request', subtask: false, fields: [] }],
      },
    ],
    serviceDesks: [
      { id: '5', projectId: '1', projectKey: 'ITSD', requestTypes: [{ id: '7', name: 'Get help', issueTypeId: '10' }] },
    ],
  } as unknown as JiraCatalog;

  it('quotes values and covers a request type by its issue type', () => {
    expect(mappingJql({ project: 'A"B', kinds: { x: { issue_type: 'Bug' }, y: { issue_type: 'Task' } } })).toBe(
      'project = "A\\"B" AND issuetype in ("Bug", "Task") ORDER BY updated DESC',
    );
    expect(
      mappingJql({ project: 'ITSD', kinds: { req: { service_desk: '5', request_type: 'Get help' } } }, catalog),
    ).toBe('project = "ITSD" AND issuetype in ("Service Request") ORDER BY updated DESC');
  });

  it('covers the whole project when a request type’s issue type is unknown', () => {
    expect(
      mappingJql(
        {
          project: 'ITSD',
          kinds: { a: { issue_type: 'Incident' }, req: { service_desk: '5', request_type: 'Other' } },
        },
        catalog,
      ),
    ).toBe('project = "ITSD" ORDER BY updated DESC');
  });
});
