/**
 * Mapping edits reaching linked records (issue 19, item 2), end to end against the sandbox: a
 * re-sync applies a changed severity → priority table (the host's mapped value wins even when the
 * issue's priority maps back to the record's severity through `priority.in`), and "apply to
 * linked records" re-syncs every linked record of a mapping as one durable run with progress and
 * its Jira calls counted, writing only what differs. No Jira webhooks are registered: every Jira
 * call the sandbox counts while a run goes is the run's (the sweep is off).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import type { JiraClient } from '../../src/jira/client.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { describeEachEngine, TEST_DATABASE_URL } from '../helpers/db.js';
import { sandboxConnectionYaml, sandboxUserClient, startTestService, writeConfig } from '../helpers/service.js';
import { until } from '../helpers/wait.js';

interface RecordBody {
  severity: string;
  link: { issue_key: string | null; state: string } | null;
  sync: { state: string; error: { code: string } | null };
}

/** The SEC mapping as the file has it: Informational → Lowest, and Lowest → informational back. */
const SEC = {
  connection: 'sb',
  scope: 'astra',
  project: 'SEC',
  kinds: { vulnerability: { issue_type: 'Vulnerability' } },
  status: { out: { open: 'Open' } },
  priority: {
    out: { critical: 'Highest', high: 'High', medium: 'Medium', low: 'Low', informational: 'Lowest' },
    in: { Lowest: 'informational' },
  },
};
const OPS = {
  connection: 'sb',
  scope: 'fleet',
  project: 'OPS',
  kinds: { incident: { issue_type: 'Incident' } },
  status: { out: { new: 'To Do' } },
  priority: { out: { P1: 'Highest', P3: 'Medium', P5: 'Lowest' }, in: { Lowest: 'P5' } },
};
/** A mapping line of jira-bridge.yaml (JSON is YAML). */
const yamlOf = (id: string, m: typeof SEC | typeof OPS): string => `  - ${JSON.stringify({ id, ...m })}`;

describeEachEngine('apply to linked records: mapping edits reach the records already linked', ({ engine, fresh }) => {
  let sb: RunningSandbox;
  let svc: RunningService;
  let alice: JiraClient;
  const dir = mkdtempSync(join(tmpdir(), 'jb-apply-'));
  const tokens: Record<string, string> = {};
  const env: Record<string, string> = {};

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    writeConfig(dir, [...sandboxConnectionYaml(sb), 'mappings:', yamlOf('sec', SEC), yamlOf('ops', OPS)]);
    if (engine === 'postgres') {
      const db = await fresh({ migrate: false });
      env.DATABASE_URL = `${TEST_DATABASE_URL}?schema=${db.openOpts.schema!}`;
    }
    svc = await startTestService(dir, env);
    alice = sandboxUserClient(sb, 'alice');
    // The API is open until the first token: mint an admin, then the rest with it.
    const mint = async (name: string, role: string): Promise<string> => {
      const r = await fetch(`${svc.url}/api/v1/tokens`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(tokens.admin ? { authorization: `Bearer ${tokens.admin}` } : {}),
        },
        body: JSON.stringify({ name, role }),
      });
      expect(r.status).toBe(201);
      return ((await r.json()) as { token: string }).token;
    };
    tokens.admin = await mint('admin', 'admin');
    tokens.operator = await mint('operator', 'operator');
    tokens.viewer = await mint('viewer', 'viewer');
  });
  afterAll(async () => {
    await alice?.close();
    await svc?.stop();
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const api = async (
    method: string,
    path: string,
    body?: unknown,
    as = 'admin',
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers of many shapes, checked by the assertions
  ): Promise<{ status: number; json: any }> => {
    const r = await fetch(`${svc.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${tokens[as]}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : null };
  };
  const record = async (scope: string, hostId: string): Promise<RecordBody> =>
    (await api('GET', `/api/v1/records/${scope}/${hostId}`)).json as RecordBody;
  const upsert = async (scope: string, hostId: string, body: Record<string, unknown>) => {
    const r = await api('PUT', `/api/v1/records/${scope}/${hostId}`, body);
    expect(r.status).toBeLessThan(300);
  };
  const linked = async (scope: string, hostId: string): Promise<string> => {
    await until(`${hostId} linked`, async () => {
      const r = await record(scope, hostId);
      return r.link?.state === 'linked' && r.sync.state === 'synced';
    });
    return (await record(scope, hostId)).link!.issue_key!;
  };
  const quiet = () =>
    until('the queue to be idle', async () => {
      const s = await svc.queue.stats();
      return s.byState.queued === 0 && s.byState.running === 0;
    });
  const issueOf = async (key: string): Promise<{ priority: string; labels: string[] }> => {
    const f = (await alice.getIssue(key, { fields: ['priority', 'labels'] })).fields;
    return { priority: (f.priority as { name: string }).name, labels: f.labels as string[] };
  };
  /** Jira calls that write (everything but reads). */
  const writes = () => sb.calls.count() - sb.calls.count({ method: 'GET' });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the ApplyRun shape, checked by the assertions
  const applied = async (mapping: string, as = 'admin'): Promise<any> => {
    const started = await api('POST', `/api/v1/mappings/${mapping}/apply`, undefined, as);
    expect(started.status).toBe(202);
    expect(started.json).toMatchObject({ mapping_id: mapping, state: 'running' });
    return until(`apply run ${started.json.id} to be done`, async () => {
      const r = await api('GET', `/api/v1/mappings/${mapping}/apply/${started.json.id}`, undefined, 'viewer');
      expect(r.status).toBe(200);
      return r.json.state === 'done' ? r.json : false;
    });
  };

  it('a re-sync applies a changed severity table', async () => {
    await upsert('fleet', 'i-1', { kind: 'incident', title: 'Log volume low', status: 'new', severity: 'P5' });
    const key = await linked('fleet', 'i-1');
    await quiet();
    expect((await issueOf(key)).priority).toBe('Lowest');

    // The table changes: P5 → Low. Lowest still maps back to P5 through priority.in.
    const edited = await api('PUT', '/api/v1/mappings/ops', {
      ...OPS,
      priority: { ...OPS.priority, out: { ...OPS.priority.out, P5: 'Low' } },
    });
    expect(edited.status).toBe(200);
    expect((await api('POST', '/api/v1/sync', { scope: 'fleet', host_id: 'i-1' })).status).toBe(202);
    await until('the re-sync to write the new priority', async () => (await issueOf(key)).priority === 'Low');
    await quiet();
    const r = await record('fleet', 'i-1');
    expect(r.severity).toBe('P5');
    expect(r.sync.state).toBe('synced');
    const log = (await api('GET', '/api/v1/records/fleet/i-1/log')).json.entries as Array<{
      action: string;
      fields: { changed?: string[] } | null;
    }>;
    expect(log.some((e) => e.action === 'updated' && e.fields?.changed?.includes('priority'))).toBe(true);
  });

  it('applying a mapping re-syncs every linked record: what differs is written, the rest costs its read', async () => {
    const severities = ['critical', 'critical', 'high', 'high', 'low', 'low', 'informational'];
    const keys: string[] = [];
    for (const [i, severity] of severities.entries()) {
      await upsert('astra', `v-${i}`, { kind: 'vulnerability', title: `Finding ${i}`, status: 'open', severity });
      keys.push(await linked('astra', `v-${i}`));
    }
    await quiet();
    expect((await issueOf(keys[2]!)).priority).toBe('High');

    // The edit: high → Medium, and a label on every issue. Linked records keep the old mapping…
    const edit1 = {
      ...SEC,
      labels: ['astra-sync'],
      priority: { ...SEC.priority, out: { ...SEC.priority.out, high: 'Medium' } },
    };
    expect((await api('PUT', '/api/v1/mappings/sec', edit1)).status).toBe(200);
    await upsert('astra', 'v-0', {
      kind: 'vulnerability',
      title: 'Finding 0, retitled',
      status: 'open',
      severity: 'critical',
    });
    await quiet();
    expect((await issueOf(keys[0]!)).labels).not.toContain('astra-sync');

    // …until the mapping is applied to them.
    sb.calls.reset();
    const run1 = await applied('sec');
    expect(run1).toMatchObject({ total: 7, queued: 7, done: 7, changed: 7, unchanged: 0, failed: 0, error: null });
    expect(run1.finished_at).not.toBeNull();
    await quiet();
    // Every Jira call the run's re-syncs made is counted, and nothing else called Jira.
    expect(run1.jira_calls).toBe(sb.calls.count());
    for (const [i, key] of keys.entries()) {
      const issue = await issueOf(key);
      expect(issue.labels).toContain('astra-sync');
      expect(issue.priority).toBe(
        { critical: 'Highest', high: 'Medium', low: 'Low', informational: 'Lowest' }[severities[i]!],
      );
    }

    // A second edit touching only the critical ones: 2 changed, 5 unchanged that write nothing.
    const edit2 = { ...edit1, priority: { ...edit1.priority, out: { ...edit1.priority.out, critical: 'High' } } };
    expect((await api('PUT', '/api/v1/mappings/sec', edit2)).status).toBe(200);
    sb.calls.reset();
    const run2 = await applied('sec', 'operator');
    expect(run2).toMatchObject({
      total: 7,
      done: 7,
      changed: 2,
      unchanged: 5,
      failed: 0,
      requested_by: 'operator:operator',
    });
    await quiet();
    expect(run2.jira_calls).toBe(sb.calls.count());
    expect(writes()).toBe(2); // one edit per changed record, none for the unchanged
    expect(sb.calls.count({ method: 'GET' })).toBe(7); // one read each, changed or not
    expect(run2.jira_calls).toBe(9);
    for (const k of keys.slice(0, 2)) expect((await issueOf(k)).priority).toBe('High');
    const records = await Promise.all(severities.map((_, i) => record('astra', `v-${i}`)));
    for (const r of records) expect(r.sync.state).toBe('synced');

    // The runs are listed, newest first, and audited.
    const list = await api('GET', '/api/v1/mappings/sec/apply', undefined, 'viewer');
    expect(list.json.runs.map((r: { id: string }) => r.id)).toEqual([run2.id, run1.id]);
    const audit = await api('GET', '/api/v1/audit?action=mapping.applied');
    expect(audit.json.entries.filter((e: { target: string }) => e.target === 'mapping:sec')).toHaveLength(2);
  });

  it('a run survives a restart of the service: the next one carries it on to done', async () => {
    const keys: string[] = [];
    for (let i = 0; i < 12; i++) {
      await upsert('fleet', `r-${i}`, { kind: 'incident', title: `Disk ${i} filling`, status: 'new', severity: 'P3' });
      keys.push(await linked('fleet', `r-${i}`));
    }
    await quiet();
    const edited = await api('PUT', '/api/v1/mappings/ops', {
      ...OPS,
      priority: { ...OPS.priority, out: { ...OPS.priority.out, P5: 'Low', P3: 'High' } },
    });
    expect(edited.status).toBe(200);
    // Slow Jira calls, so the run is still going when the service stops.
    sb.knobs.set({ latencyMs: 400 });
    const started = await api('POST', '/api/v1/mappings/ops/apply');
    expect(started.status).toBe(202);
    const runId = started.json.id as string;
    await until('some records re-synced', async () => {
      const r = await api('GET', `/api/v1/mappings/ops/apply/${runId}`);
      return r.json.done >= 1 && r.json.state === 'running';
    });
    await svc.stop();
    sb.knobs.set({ latencyMs: 0 });
    svc = await startTestService(dir, env);
    const run = await until('the run to be done after the restart', async () => {
      const r = await api('GET', `/api/v1/mappings/ops/apply/${runId}`);
      return r.json.state === 'done' ? r.json : false;
    });
    // i-1 (P5, already Low) and the 12 new ones (P3 → High): each re-synced once, counted once.
    expect(run).toMatchObject({ total: 13, queued: 13, done: 13, changed: 12, unchanged: 1, failed: 0 });
    for (const k of keys) expect((await issueOf(k)).priority).toBe('High');
    await quiet();
  });

  it('refuses an unknown mapping or run (404, coded), a viewer (403), and says why', async () => {
    const none = await api('POST', '/api/v1/mappings/nope/apply');
    expect(none.status).toBe(404);
    expect(none.json.error.code).toBe('NOT_FOUND');
    expect(none.json.error.message).toContain('nope');
    const run = await api('GET', '/api/v1/mappings/sec/apply/no-such-run');
    expect(run.status).toBe(404);
    expect(run.json.error.code).toBe('NOT_FOUND');
    const viewer = await api('POST', '/api/v1/mappings/sec/apply', undefined, 'viewer');
    expect(viewer.status).toBe(403);
    // A paused mapping is not applied (409), nor is one being applied already.
    expect((await api('POST', '/api/v1/mappings/ops/pause')).status).toBe(200);
    const paused = await api('POST', '/api/v1/mappings/ops/apply', undefined, 'operator');
    expect(paused.status).toBe(409);
    expect(paused.json.error.message).toContain('paused');
    expect((await api('POST', '/api/v1/mappings/ops/resume')).status).toBe(200);
    await quiet();
  });
});
