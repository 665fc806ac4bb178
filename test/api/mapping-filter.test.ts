/**
 * Mapping filters and one owner per Jira issue through the admin API and at start-up (issue 18,
 * items 1 and 3): a JQL Jira refuses is a 400 at body.filter with Jira's message; a mapping that
 * would take the same project's issue types as another is a 409 naming both, unless filters
 * separate them; the preview searches under the filter.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { ConfigError } from '../../src/config/errors.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { sandboxConnectionYaml, sandboxUserClient, startTestService, writeConfig } from '../helpers/service.js';

interface ErrorBody {
  error: { code: string; message: string; details: { issues: Array<{ path: string; message: string }> } };
}

describe.each(['cloud', 'datacenter'] as const)(
  'mapping filter and overlapping coverage, admin API (%s)',
  (flavour) => {
    let sb: RunningSandbox;
    let svc: RunningService;
    const dir = mkdtempSync(join(tmpdir(), 'jb-filter-'));
    const api = (path: string, init?: RequestInit) => fetch(`${svc.url}${path}`, init);
    const send = (method: string, path: string, body: unknown) =>
      api(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const put = (id: string, body: unknown) => send('PUT', `/api/v1/mappings/${id}`, body);
    const ops = {
      connection: 'sb',
      scope: 'api-incidents',
      project: 'OPS',
      kinds: { incident: { issue_type: 'Incident' } },
      status: { out: { new: 'To Do' }, closed: ['resolved'] },
      priority: { out: { P1: 'Highest' }, out_default: 'Medium' },
    };

    beforeAll(async () => {
      sb = await startSandbox({ flavour, port: 0 });
      writeConfig(dir, [
        ...(flavour === 'cloud'
          ? sandboxConnectionYaml(sb)
          : [
              'connections:',
              '  - id: sb',
              `    site_url: ${sb.baseUrl}`,
              '    flavour: datacenter',
              `    auth: { type: pat, token: ${sb.credentials.pat} }`,
              '    sweep: { interval_seconds: 0 }',
            ]),
        'mappings:',
        '  - id: stackflow',
        '    connection: sb',
        '    scope: stackflow',
        '    project: OPS',
        '    filter: labels = stackflow-sync',
        '    kinds: { incident: { issue_type: Incident } }',
      ]);
      svc = await startTestService(dir);
    });
    afterAll(async () => {
      await svc?.stop();
      await sb?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('a filter Jira refuses is a 400 at body.filter with Jira’s message; nothing is saved', async () => {
      const r = await put('api-bad', { ...ops, filter: 'labels = infra AND nosuchfield = 1' });
      expect(r.status).toBe(400);
      const e = (await r.json()) as ErrorBody;
      expect(e.error.message).toMatch(/^body\.filter: Jira refuses this JQL: /);
      expect(e.error.message).toContain('nosuchfield');
      expect(e.error.details.issues[0]!.path).toBe('body.filter');
      const order = await put('api-bad', { ...ops, filter: 'labels = infra ORDER BY created' });
      expect(order.status).toBe(400);
      expect(((await order.json()) as ErrorBody).error.message).toMatch(/^body\.filter: must not contain ORDER BY/);
      expect((await api('/api/v1/mappings/api-bad')).status).toBe(404);
    });

    it('a second mapping of the project and issue type is refused naming both, unless filters separate them', async () => {
      const none = await put('api-infra', ops);
      expect(none.status).toBe(409);
      const e = (await none.json()) as ErrorBody;
      expect(e.error.details.issues[0]!.path).toBe('body.kinds.incident.issue_type');
      expect(e.error.message).toContain(
        'mapping "api-infra" and mapping "stackflow" both take issues of OPS (Incident)',
      );
      expect(e.error.message).toContain('only "stackflow" has a filter');
      const same = await put('api-infra', { ...ops, filter: 'labels = stackflow-sync' });
      expect(same.status).toBe(409);
      // Another issue type of the project, or a filter of its own: accepted.
      const task = await put('api-tasks', { ...ops, scope: 'api-tasks', kinds: { change: { issue_type: 'Task' } } });
      expect(task.status).toBe(201);
      const infra = await put('api-infra', { ...ops, filter: 'labels = infra' });
      expect(infra.status).toBe(201);
      // A changed mapping is compared with the others, not with its own saved version.
      expect((await put('api-infra', { ...ops, filter: 'labels = infra OR labels = ops-infra' })).status).toBe(200);
    });

    it('the preview searches under the filter and names a bad one at body.filter', async () => {
      const alice = sandboxUserClient(sb, 'alice');
      try {
        const labelled = await alice.createIssue({
          fields: {
            project: { key: 'OPS' },
            issuetype: { name: 'Incident' },
            summary: 'Preview: labelled',
            labels: ['stackflow-sync'],
          },
        });
        const plain = await alice.createIssue({
          fields: { project: { key: 'OPS' }, issuetype: { name: 'Incident' }, summary: 'Preview: unlabelled' },
        });
        const r = await send('POST', '/api/v1/mappings/preview', { ...ops, filter: 'labels = stackflow-sync' });
        expect(r.status).toBe(200);
        const p = (await r.json()) as { jql: string; issues: Array<{ key: string }> };
        expect(p.jql).toBe(
          'project = "OPS" AND issuetype in ("Incident") AND (labels = stackflow-sync) ORDER BY updated DESC',
        );
        const keys = p.issues.map((i) => i.key);
        expect(keys).toContain(labelled.key);
        expect(keys).not.toContain(plain.key);
        const bad = await send('POST', '/api/v1/mappings/preview', { ...ops, filter: 'labels = = x' });
        expect(bad.status).toBe(400);
        const e = (await bad.json()) as ErrorBody;
        expect(e.error.details.issues[0]!.path).toBe('body.filter');
        expect(e.error.message).toMatch(/^body\.filter: Jira refuses this JQL: /);
      } finally {
        await alice.close();
      }
    });
  },
);

describe('start-up refuses a mapping filter Jira refuses, and overlapping coverage', () => {
  let sb: RunningSandbox;
  const dirs: string[] = [];
  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
  });
  afterAll(async () => {
    await sb?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const mappingYaml = (id: string, scope: string, filter?: string) => [
    `  - id: ${id}`,
    '    connection: sb',
    `    scope: ${scope}`,
    '    project: OPS',
    ...(filter ? [`    filter: '${filter}'`] : []),
    '    kinds: { incident: { issue_type: Incident } }',
  ];
  const startWith = async (lines: string[]): Promise<unknown> => {
    const dir = mkdtempSync(join(tmpdir(), 'jb-filter-start-'));
    dirs.push(dir);
    writeConfig(dir, [...sandboxConnectionYaml(sb), 'mappings:', ...lines]);
    try {
      const svc = await startTestService(dir);
      await svc.stop();
      return null;
    } catch (err) {
      return err;
    }
  };

  it('a JQL error is a config error at mappings[i].filter with Jira’s message', async () => {
    const err = await startWith(mappingYaml('stackflow', 'stackflow', 'labels = = stackflow-sync'));
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues;
    expect(issues.map((i) => i.path)).toEqual(['mappings[0].filter']);
    expect(issues[0]!.message).toMatch(/^Jira refuses this JQL: /);
  });

  it('two mappings on one project and issue type without separating filters are a config error naming both', async () => {
    const err = await startWith([...mappingYaml('astra-a', 'a'), ...mappingYaml('astra-b', 'b')]);
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues;
    expect(issues.map((i) => i.path)).toEqual(['mappings[1].kinds.incident.issue_type']);
    expect(issues[0]!.message).toContain('mapping "astra-b" and mapping "astra-a" (mappings[0])');
    // Separated by two different filters, the same two start.
    expect(
      await startWith([...mappingYaml('astra-a', 'a', 'labels = a'), ...mappingYaml('astra-b', 'b', 'labels = b')]),
    ).toBeNull();
  });
});
