import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { sweepDelay } from '../../src/engine/sweep.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { startTestService, writeConfig } from '../helpers/service.js';

/**
 * Issue 17: many tenants' connections in the store. Start-up reads them and makes no Jira call
 * (catalogues are fetched on need, sweeps come at each connection's own phase of its interval).
 */
describe('start-up with many connections in the store', () => {
  const N = 30;
  let sb: RunningSandbox;
  let svc: RunningService | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'jb-tenants-'));
  const send = (method: string, path: string, body?: unknown) =>
    fetch(`${svc!.url}${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    writeConfig(dir, ['connections: []']);
    svc = await startTestService(dir);
    for (let i = 0; i < N; i++) {
      const id = `tenant-${i}`;
      const conn = await send('POST', '/api/v1/connections', {
        id,
        site_url: sb.baseUrl,
        flavour: 'cloud',
        auth: { type: 'basic', email: sb.credentials.email, api_token: sb.credentials.apiToken },
        sweep: { interval_seconds: 300, link_check_seconds: 3600 },
      });
      expect(conn.status).toBe(201);
      const map = await send('PUT', `/api/v1/mappings/${id}`, {
        connection: id,
        scope: id,
        project: 'OPS',
        kinds: { incident: { issue_type: 'Incident' } },
        status: { out: { new: 'To Do' }, closed: [] },
        fields: [{ host: 'asset', jira: 'Asset' }],
      });
      expect(map.status).toBe(201);
    }
    await svc.stop();
    svc = undefined;
  });
  afterAll(async () => {
    await svc?.stop();
    await sb.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is ready with every connection and mapping live, and has called Jira for nothing but the sweeps due meanwhile', async () => {
    sb.calls.reset();
    const t0 = Date.now();
    svc = await startTestService(dir);
    expect((await send('GET', '/readyz')).status).toBe(200);
    const conns = (await (await send('GET', '/api/v1/connections')).json()) as { connections: unknown[] };
    const maps = (await (await send('GET', '/api/v1/mappings')).json()) as { mappings: unknown[] };
    expect(conns.connections).toHaveLength(N);
    expect(maps.mappings).toHaveLength(N);
    // A sweep whose slot (its own phase of the 300 s interval) came while starting is due: one
    // search. Nothing else calls Jira: no catalogue, no link check, no sweep out of its slot.
    const t1 = Date.now();
    const due = Array.from({ length: N }, (_, i) => `tenant-${i}`).filter(
      (id) => t0 + sweepDelay(id, 300_000, t0) <= t1,
    ).length;
    const calls = sb.calls.snapshot();
    expect(calls.filter((c) => c.route !== '/rest/api/3/search/jql')).toEqual([]);
    expect(sb.calls.count({ route: '/rest/api/3/search/jql' })).toBeLessThanOrEqual(due);
  });
});
