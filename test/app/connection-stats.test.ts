import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { createMetrics, topConnections } from '../../src/metrics/metrics.js';
import { createQueue } from '../../src/queue/index.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { describeEachEngine } from '../helpers/db.js';
import { sandboxConnectionEntry, startTestService, writeConfig } from '../helpers/service.js';
import { until } from '../helpers/wait.js';

describe('topConnections (pure): a bounded label set', () => {
  it('names the 20 busiest and sums the rest as *other*, losing no call', () => {
    const all = Array.from({ length: 25 }, (_, i) => ({ connection: `c${i}`, calls: i * 10, r429: i % 3 }));
    const top = topConnections(all);
    expect(top).toHaveLength(21);
    expect(top[0]!.connection).toBe('c24');
    expect(top[20]).toEqual({ connection: '*other*', calls: 0 + 10 + 20 + 30 + 40, r429: 0 + 1 + 2 + 0 + 1 });
    expect(top.reduce((n, c) => n + c.calls, 0)).toBe(all.reduce((n, c) => n + c.calls, 0));
    expect(topConnections(all.slice(0, 3))).toHaveLength(3);
  });

  it('ranks by 429s when asked: a connection with many 429s and few calls is named, not summed into *other*', () => {
    const all = [
      ...Array.from({ length: 25 }, (_, i) => ({ connection: `busy${i}`, calls: 100 + i, r429: 0 })),
      { connection: 'throttled', calls: 5, r429: 5 },
    ];
    expect(topConnections(all).map((c) => c.connection)).not.toContain('throttled');
    const by429 = topConnections(all, 20, 'r429');
    expect(by429[0]).toEqual({ connection: 'throttled', calls: 5, r429: 5 });
    expect(by429).toHaveLength(21);
    expect(by429.reduce((n, c) => n + c.r429, 0)).toBe(5);
  });
});

describe('/metrics per connection: the 429 series names the connections with the most 429s', () => {
  it('shows a connection with few calls, all answered 429, among 25 busier ones', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const call = (connection: string, status: number) =>
      metrics.recordJiraCall({ endpoint: '/rest/api/3/myself', method: 'GET', status, connection });
    for (let i = 0; i < 25; i++) for (let n = 0; n < 10 + i; n++) call(`busy${i}`, 200);
    for (let n = 0; n < 3; n++) call('throttled', 429);
    const text = await metrics.render();
    expect(text).toContain('jira_bridge_connection_jira_rate_limited{connection="throttled"} 3');
    expect(text).toContain('jira_bridge_connection_jira_rate_limited{connection="*other*"} 0');
    // The calls series still names the busiest by calls.
    expect(text).not.toContain('jira_bridge_connection_jira_requests{connection="throttled"}');
    expect(text).toContain('jira_bridge_connection_jira_requests{connection="*other*"} 63');
  });
});

describeEachEngine('/metrics per partition: system jobs and a connection named "system" apart', ({ fresh }) => {
  it('labels the partition of system jobs *system*, which no connection id can take', async () => {
    const { store } = await fresh();
    const queue = createQueue(store);
    // `system` is a valid connection id; an inbound job of an issue no record is linked to yet
    // has the bare connection as its partition.
    await store.transaction(async (trx) => {
      for (let i = 0; i < 3; i++)
        await queue.enqueue(trx, { kind: 'work', key: `system-k${i}`, partition: 'system', payload: {} });
      await queue.enqueue(trx, { kind: 'work', key: 'sys', partition: '', payload: {} });
    });
    const metrics = createMetrics({ defaultMetrics: false, queueStats: () => queue.stats() });
    const text = await metrics.render();
    expect(text).toContain('jira_bridge_queue_partition_jobs{partition="system",ready="true"} 3');
    expect(text).toContain('jira_bridge_queue_partition_jobs{partition="*system*",ready="true"} 1');
    expect(text).toMatch(/jira_bridge_queue_partition_oldest_job_age_seconds\{partition="system"\} \d/);
    expect(text).toMatch(/jira_bridge_queue_partition_oldest_job_age_seconds\{partition="\*system\*"\} \d/);
  });
});

describe('per-connection figures: GET /api/v1/stats and /metrics (issue 17)', () => {
  let storm: RunningSandbox;
  let calm: RunningSandbox;
  let svc: RunningService;
  const dir = mkdtempSync(join(tmpdir(), 'jb-connstats-'));
  const send = (method: string, path: string, body?: unknown) =>
    fetch(`${svc.url}${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
  interface Figures {
    id: string;
    queued: number;
    jira_calls: number;
    jira_429: number;
  }
  const figures = async (): Promise<{ connections: Figures[]; connections_total: number }> =>
    (await (await send('GET', '/api/v1/stats?connections=10')).json()) as {
      connections: Figures[];
      connections_total: number;
    };

  beforeAll(async () => {
    // Two customers' sites: one answers almost everything with 429.
    storm = await startSandbox({
      flavour: 'cloud',
      port: 0,
      knobs: { rateLimit: { capacity: 2, refillPerSecond: 0 } },
    });
    calm = await startSandbox({ flavour: 'cloud', port: 0 });
    writeConfig(dir, [
      'connections:',
      ...sandboxConnectionEntry(storm, { id: 'storm' }),
      ...sandboxConnectionEntry(calm, { id: 'calm' }),
      'mappings:',
      '  - { id: s, connection: storm, scope: s, project: OPS, kinds: { incident: { issue_type: Incident } } }',
      '  - { id: c, connection: calm, scope: c, project: OPS, kinds: { incident: { issue_type: Incident } } }',
    ]);
    svc = await startTestService(dir);
  });
  afterAll(async () => {
    await svc.stop();
    await storm.close();
    await calm.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts each connection’s Jira calls and 429s apart', async () => {
    for (let i = 0; i < 6; i++) {
      for (const scope of ['s', 'c']) {
        const r = await send('PUT', `/api/v1/records/${scope}/r-${i}`, {
          kind: 'incident',
          title: `Record ${i}`,
          status: 'new',
          severity: 'P2',
        });
        expect(r.status).toBeLessThan(300);
      }
    }
    const seen = await until(
      'calls of both connections and 429s of the storm',
      async () => {
        const f = await figures();
        const s = f.connections.find((c) => c.id === 'storm');
        const c = f.connections.find((x) => x.id === 'calm');
        return s && c && s.jira_429 > 0 && c.jira_calls >= 6 ? f : undefined;
      },
      60_000,
    );
    expect(seen.connections_total).toBe(2);
    const calm429 = seen.connections.find((c) => c.id === 'calm')!;
    expect(calm429.jira_429).toBe(0);
    expect(calm.calls.count({ status: 429 })).toBe(0);
    // What the service counted is what each site answered.
    const stormFig = seen.connections.find((c) => c.id === 'storm')!;
    expect(stormFig.jira_429).toBeLessThanOrEqual(storm.calls.count({ status: 429 }));
    const metrics = await (await send('GET', '/metrics')).text();
    expect(metrics).toMatch(/jira_bridge_connection_jira_requests\{connection="calm"\} \d+/);
    expect(metrics).toMatch(/jira_bridge_connection_jira_rate_limited\{connection="storm"\} [1-9]\d*/);
    expect(metrics).toMatch(/jira_bridge_connection_jira_rate_limited\{connection="calm"\} 0/);
  });

  it('forgets a deleted connection’s figures: customers who come and go do not grow them', async () => {
    const created = await send('POST', '/api/v1/connections', {
      id: 'gone',
      site_url: calm.baseUrl,
      flavour: 'cloud',
      auth: { type: 'basic', email: calm.credentials.email, api_token: calm.credentials.apiToken },
      sweep: { interval_seconds: 0 },
    });
    expect(created.status).toBe(201);
    expect((await send('GET', '/api/v1/connections/gone/catalog')).status).toBe(200);
    const series = /jira_bridge_connection_jira_requests\{connection="gone"\} [1-9]/;
    await until('the new connection’s calls on /metrics', async () =>
      series.test(await (await send('GET', '/metrics')).text()),
    );
    expect((await send('DELETE', '/api/v1/connections/gone')).status).toBe(204);
    const after = await (await send('GET', '/metrics')).text();
    expect(after).not.toContain('connection="gone"');
    // The others' figures stay.
    expect(after).toMatch(/jira_bridge_connection_jira_requests\{connection="calm"\} [1-9]/);
    // A connection created again under the same id starts from nothing.
    expect(
      (
        await send('POST', '/api/v1/connections', {
          id: 'gone',
          site_url: calm.baseUrl,
          flavour: 'cloud',
          auth: { type: 'basic', email: calm.credentials.email, api_token: calm.credentials.apiToken },
          sweep: { interval_seconds: 0 },
        })
      ).status,
    ).toBe(201);
    const again = await figures();
    expect(again.connections.find((c) => c.id === 'gone')).toMatchObject({ jira_calls: 0, jira_429: 0 });
  });
});
