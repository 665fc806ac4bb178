/**
 * The plan preview (issue 16), end to end against the sandbox: GET /api/v1/records/{scope}/{hostId}/plan
 * says what the next sync would do and why — from the store alone (no Jira call) or with one read
 * of the issue (`?read=jira`, Jira-side changes and conflicts seen) — and the sync that follows
 * does that, at the Jira calls the plan said.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import type { JiraClient } from '../../src/jira/client.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { sandboxConnectionYaml, sandboxUserClient, startTestService, writeConfig } from '../helpers/service.js';
import { until } from '../helpers/wait.js';

const SEC = {
  id: 'sec',
  connection: 'sb',
  scope: 'astra',
  project: 'SEC',
  kinds: { vulnerability: { issue_type: 'Vulnerability' } },
  status: {
    out: { open: 'Open', triaged: 'Triaged', in_progress: 'In Progress', fixed: 'Resolved' },
    closed: ['fixed'],
  },
  close: { status: 'Resolved' },
  priority: { out: { critical: 'Highest', high: 'High', medium: 'Medium', low: 'Low' } },
};

interface Plan {
  summary: string;
  source: string;
  preview_calls: number;
  calls: number;
  calls_exact: boolean;
  steps: Array<{
    op: string;
    why: string;
    calls: number;
    from?: string;
    to?: string;
    fields?: unknown;
    screen_fields?: unknown;
  }>;
  fields: Array<{ key: string; action: string; rule: string }>;
  status: { action: string; from?: string; to?: string; hops?: number | null };
  conflicts: Array<{ field: string; winner: string; rule: string }>;
  warnings: string[];
}

describe('the plan preview: what the next sync would do, and why', () => {
  let sb: RunningSandbox;
  let svc: RunningService;
  let alice: JiraClient;
  const dir = mkdtempSync(join(tmpdir(), 'jb-plan-'));

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    writeConfig(dir, [...sandboxConnectionYaml(sb), 'mappings:', `  - ${JSON.stringify(SEC)}`]);
    svc = await startTestService(dir);
    alice = sandboxUserClient(sb, 'alice');
  });
  afterAll(async () => {
    await alice?.close();
    await svc?.stop();
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers of many shapes, checked by the assertions
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> => {
    const r = await fetch(`${svc.url}${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : null };
  };
  const base = { kind: 'vulnerability', title: 'SQL injection in login', description: 'Found by the scanner.' };
  const upsert = async (hostId: string, body: Record<string, unknown>) => {
    const r = await api('PUT', `/api/v1/records/astra/${hostId}`, { ...base, ...body });
    expect(r.status).toBeLessThan(300);
  };
  const synced = (hostId: string) =>
    until(`${hostId} synced`, async () => {
      const r = (await api('GET', `/api/v1/records/astra/${hostId}`)).json;
      return r.link?.state === 'linked' && r.sync.state === 'synced' && r;
    });
  const plan = async (hostId: string, read?: 'jira'): Promise<Plan> => {
    const r = await api('GET', `/api/v1/records/astra/${hostId}/plan${read ? '?read=jira' : ''}`);
    expect(r.status).toBe(200);
    return r.json as Plan;
  };
  const jiraCalls = (): number => sb.calls.count();

  it('a synced record: nothing to send, from the store alone', async () => {
    // The first record walks Open → Resolved: the workflow is learnt on the way.
    await upsert('v-0', { status: 'fixed', severity: 'low' });
    await synced('v-0');
    await upsert('v-1', { status: 'in_progress', severity: 'low' });
    await synced('v-1');
    const before = jiraCalls();
    const p = await plan('v-1');
    expect(p.source).toBe('store');
    expect(p.preview_calls).toBe(0);
    expect(p.steps).toEqual([]);
    expect(p.calls).toBe(0);
    expect(p.summary).toBe('next sync: nothing to send — 0 Jira calls');
    expect(p.fields.every((f) => f.action === 'none' && f.rule === 'unchanged')).toBe(true);
    expect(jiraCalls()).toBe(before);
  });

  it('a change waiting behind a pause: the hops over the learnt workflow, the edit, the calls — and the sync does that', async () => {
    expect((await api('POST', '/api/v1/mappings/sec/pause', {})).status).toBeLessThan(300);
    await upsert('v-1', { status: 'fixed', severity: 'high' });
    const p = await plan('v-1');
    expect(p.warnings.join(' ')).toMatch(/paused/);
    const key = ((await api('GET', '/api/v1/records/astra/v-1')).json.link.issue_key as string) ?? '';
    expect(p.summary).toBe(`next sync: move ${key} In Progress → Resolved (2 hops), set priority High — 4 Jira calls`);
    expect(p.steps.map((s) => s.op)).toEqual(['read', 'edit', 'transition', 'transition']);
    const hops = p.steps.filter((s) => s.op === 'transition');
    expect(hops.map((h) => [h.from, h.to])).toEqual([
      ['In Progress', 'In Review'],
      ['In Review', 'Resolved'],
    ]);
    expect(hops[1]!.screen_fields).toEqual({ resolution: { name: 'Done' } });
    expect(p.fields.find((f) => f.key === 'priority')).toMatchObject({ action: 'push', rule: 'host_changed' });

    // With one read of the issue the plan is the same (nobody touched it in Jira).
    const read = await plan('v-1', 'jira');
    expect(read.source).toBe('jira');
    expect(read.preview_calls).toBe(1);
    expect(read.summary).toBe(p.summary);

    expect((await api('POST', '/api/v1/mappings/sec/resume', {})).status).toBeLessThan(300);
    await until('v-1 resolved in Jira', async () => {
      const r = (await api('GET', '/api/v1/records/astra/v-1')).json;
      return r.sync.state === 'synced' && r.status === 'fixed' && r;
    });
    const log = (await api('GET', '/api/v1/records/astra/v-1/log')).json.entries as Array<{
      action: string;
      jira_calls: number;
      fields: { changed?: string[] } | null;
    }>;
    const done = log.find((e) => e.action === 'updated' && e.fields?.changed?.includes('status'));
    expect(done?.jira_calls).toBe(p.calls);
    expect((await plan('v-1')).calls).toBe(0);
  });

  it("a Jira user's newer change: seen only with read=jira, as a conflict Jira wins", async () => {
    await upsert('v-2', { status: 'open', severity: 'low' });
    await synced('v-2');
    const key = (await api('GET', '/api/v1/records/astra/v-2')).json.link.issue_key as string;
    expect((await api('POST', '/api/v1/mappings/sec/pause', {})).status).toBeLessThan(300);
    await upsert('v-2', { status: 'open', severity: 'high' });
    // Later, in Jira, Alice sets another priority.
    await alice.editIssue(key, { fields: { priority: { name: 'Highest' } } });

    const store = await plan('v-2');
    expect(store.summary).toBe('next sync: set priority High — 2 Jira calls');
    const p = await plan('v-2', 'jira');
    expect(p.fields.find((f) => f.key === 'priority')).toMatchObject({ action: 'jira_wins', rule: 'jira_newer' });
    expect(p.conflicts).toEqual([expect.objectContaining({ field: 'priority', winner: 'jira', rule: 'newest' })]);
    expect(p.steps.map((s) => s.op)).toEqual(['read']);
    expect(p.summary).toBe("next sync: keep Jira's priority (newer) — 1 Jira call");
    expect((await api('POST', '/api/v1/mappings/sec/resume', {})).status).toBeLessThan(300);
  });

  it('unknown records and bad queries are refused naming the fix', async () => {
    expect((await api('GET', '/api/v1/records/astra/nope/plan')).status).toBe(404);
    const bad = await api('GET', '/api/v1/records/astra/v-1/plan?read=maybe');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toMatch(/read/);
  });
});
