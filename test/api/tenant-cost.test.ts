import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { startTestService, writeConfig } from '../helpers/service.js';

/**
 * Issue 17, cheap tenants: a platform creates a connection and a mapping per customer through the
 * API. The catalogue is fetched part by part, once per connection, only what the mapping names.
 * Counted on the sandbox (every REST call it answered).
 */
describe('the Jira calls a tenant costs: connection + mapping through the API', () => {
  let sb: RunningSandbox;
  let svc: RunningService;
  const dir = mkdtempSync(join(tmpdir(), 'jb-tenant-'));
  const send = (method: string, path: string, body?: unknown) =>
    fetch(`${svc.url}${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
  const connection = (id: string) => ({
    id,
    site_url: sb.baseUrl,
    flavour: 'cloud',
    auth: { type: 'basic', email: sb.credentials.email, api_token: sb.credentials.apiToken },
    sweep: { interval_seconds: 0 },
  });
  const mapping = (conn: string, scope: string, over: Record<string, unknown> = {}) => ({
    connection: conn,
    scope,
    project: 'OPS',
    kinds: { incident: { issue_type: 'Incident' } },
    status: { out: { new: 'To Do', in_progress: 'In Progress' }, closed: ['resolved'] },
    priority: { out: { P1: 'Highest', P2: 'High' }, out_default: 'Medium' },
    close: { status: 'Done' },
    ...over,
  });

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    writeConfig(dir, ['connections: []']);
    svc = await startTestService(dir);
  });
  afterAll(async () => {
    await svc.stop();
    await sb.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a connection costs no call, its first mapping only the parts it names (at most 10), a second one its create fields', async () => {
    sb.calls.reset();
    expect((await send('POST', '/api/v1/connections', connection('t1'))).status).toBe(201);
    expect(sb.calls.count()).toBe(0);
    expect((await send('PUT', '/api/v1/mappings/t1-ops', mapping('t1', 'tenant-1'))).status).toBe(201);
    const first = sb.calls.count();
    // projects, OPS's issue types, Incident's create fields, statuses, priorities.
    expect(first).toBe(5);
    expect(first).toBeLessThanOrEqual(10);
    expect(sb.calls.count({ route: '/rest/api/3/field' })).toBe(0);
    expect(sb.calls.count({ route: '/rest/servicedeskapi/servicedesk' })).toBe(0);
    expect(sb.calls.count({ route: '/rest/api/3/issue/createmeta/:projectIdOrKey/issuetypes/:issueTypeId' })).toBe(1);

    // The same connection's second mapping reuses the cached parts; only the create fields of its
    // issue type are read again (a field made required in Jira must not be missed).
    sb.calls.reset();
    const sec = mapping('t1', 'tenant-1-sec', {
      project: 'SEC',
      direction: 'to_jira',
      kinds: { vulnerability: { issue_type: 'Vulnerability' } },
      status: { out: { new: 'Open' }, closed: [] },
      close: { never: true },
      fields: [{ host: 'cvss', jira: 'CVSS Score' }],
    });
    expect((await send('PUT', '/api/v1/mappings/t1-sec', sec)).status).toBe(201);
    // SEC's issue types, Vulnerability's create fields, and the field list (the mapping names a field).
    expect(sb.calls.snapshot().map((c) => [c.route, c.count])).toEqual([
      ['/rest/api/3/field', 1],
      ['/rest/api/3/issue/createmeta/:projectIdOrKey/issuetypes', 1],
      ['/rest/api/3/issue/createmeta/:projectIdOrKey/issuetypes/:issueTypeId', 1],
    ]);
    // Saving it again: only the create fields.
    sb.calls.reset();
    expect((await send('PUT', '/api/v1/mappings/t1-sec', sec)).status).toBe(200);
    expect(sb.calls.count()).toBe(1);
  });

  it('the console’s whole catalogue reuses what mappings fetched, and a mapping after it costs only its create fields', async () => {
    expect((await send('POST', '/api/v1/connections', connection('t2'))).status).toBe(201);
    sb.calls.reset();
    const full = (await (await send('GET', '/api/v1/connections/t2/catalog')).json()) as {
      projects: Array<{ key: string; issueTypes: unknown[] }>;
      serviceDesks: unknown[];
    };
    expect(full.projects.every((p) => p.issueTypes.length > 0)).toBe(true);
    expect(full.serviceDesks.length).toBeGreaterThan(0);
    const whole = sb.calls.count();
    sb.calls.reset();
    expect((await (await send('GET', '/api/v1/connections/t2/catalog')).json()) as unknown).toEqual(full);
    expect(sb.calls.count()).toBe(0);
    expect((await send('PUT', '/api/v1/mappings/t2-ops', mapping('t2', 'tenant-2'))).status).toBe(201);
    expect(sb.calls.count()).toBe(1);
    sb.calls.reset();
    await send('GET', '/api/v1/connections/t2/catalog?reload=true');
    expect(sb.calls.count()).toBe(whole);
  });

  it('a value the cached catalogue does not know is looked up again before it is refused', async () => {
    expect((await send('POST', '/api/v1/connections', connection('t3'))).status).toBe(201);
    expect((await send('PUT', '/api/v1/mappings/t3-ops', mapping('t3', 'tenant-3'))).status).toBe(201);
    // A priority added in Jira after the catalogue was cached.
    sb.state.priorities.set('90', {
      id: '90',
      name: 'Blocker',
      description: 'Stops everything',
      statusColor: '#ff0000',
      icon: '',
      isDefault: false,
    });
    sb.calls.reset();
    const withBlocker = mapping('t3', 'tenant-3', { priority: { out: { P0: 'Blocker' }, out_default: 'Medium' } });
    expect((await send('PUT', '/api/v1/mappings/t3-ops', withBlocker)).status).toBe(200);
    expect(sb.calls.count({ route: '/rest/api/3/priority' })).toBe(1);
    // A misspelt one is refused after one more look, naming it.
    sb.calls.reset();
    const bad = await send('PUT', '/api/v1/mappings/t3-ops', mapping('t3', 'tenant-3', { close: { status: 'Dnoe' } }));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/body\.close\.status: "Dnoe"/);
    expect(sb.calls.count({ route: '/rest/api/3/status' })).toBe(1);
  });
});
