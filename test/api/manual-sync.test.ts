/**
 * Manual sync both ways (issue 19, item 1), end to end against the sandbox through the real
 * service, on SQLite and PostgreSQL: `POST /api/v1/sync` reads a linked issue once and applies
 * both directions (a Jira change whose webhook was lost comes back, the host's change goes, in one
 * job); an issue no record is linked to is imported when a mapping takes it, and refused naming
 * why when none does; host tokens sync within their scopes and are refused outside them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import type { JiraClient } from '../../src/jira/client.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { JIRA_EVENTS } from '../../src/webhooks/parse.js';
import { describeEachEngine, TEST_DATABASE_URL } from '../helpers/db.js';
import { sandboxConnectionYaml, sandboxUserClient, startTestService, writeConfig } from '../helpers/service.js';
import { until } from '../helpers/wait.js';

const SECRET = 'manual-sync-webhook-secret-0123456789';

interface RecordBody {
  scope: string;
  host_id: string;
  title: string;
  status: string;
  severity: string | null;
  link: { issue_key: string | null; issue_id: string | null; state: string } | null;
  sync: { state: string; error: { code: string } | null };
  manual_sync?: { mode: string; job_id: number | null; job_key: string | null; runs: string; jira_calls: number };
}

describeEachEngine('manual sync both ways, import, host tokens', ({ engine, fresh }) => {
  let sb: RunningSandbox;
  let svc: RunningService;
  let alice: JiraClient;
  const dir = mkdtempSync(join(tmpdir(), 'jb-manual-sync-'));
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    writeConfig(dir, [
      ...sandboxConnectionYaml(sb, { webhookSecret: SECRET }),
      'mappings:',
      '  - id: ops',
      '    connection: sb',
      '    scope: fleet',
      '    project: OPS',
      '    filter: labels = fleet-sync',
      '    labels: [fleet-sync]',
      '    kinds: { incident: { issue_type: Incident } }',
      '    status: { out: { new: To Do, in_progress: In Progress }, closed: [resolved] }',
      '    priority: { out: { P1: Highest, P2: High, P3: Medium, P4: Low } }',
      '    close: { status: Done }',
      '    on_jira_create: create_record',
      '  - id: pay',
      '    connection: sb',
      '    scope: payroll',
      '    project: SEC',
      '    kinds: { vulnerability: { issue_type: Vulnerability } }',
    ]);
    const env: Record<string, string> = {};
    if (engine === 'postgres') {
      const db = await fresh({ migrate: false });
      env.DATABASE_URL = `${TEST_DATABASE_URL}?schema=${db.openOpts.schema!}`;
    }
    svc = await startTestService(dir, env);
    sb.webhooks.register({ url: `${svc.url}/webhooks/jira/sb`, events: [...JIRA_EVENTS], secret: SECRET });
    alice = sandboxUserClient(sb, 'alice');
    // The API is open until the first token: mint an admin, then the rest with it.
    const mint = async (name: string, role: string, scopes?: string[]): Promise<string> => {
      const r = await fetch(`${svc.url}/api/v1/tokens`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(tokens.admin ? { authorization: `Bearer ${tokens.admin}` } : {}),
        },
        body: JSON.stringify({ name, role, ...(scopes ? { scopes } : {}) }),
      });
      expect(r.status).toBe(201);
      return ((await r.json()) as { token: string }).token;
    };
    tokens.admin = await mint('admin', 'admin');
    tokens.fleetHost = await mint('fleet-host', 'host', ['fleet']);
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
  const quiet = () =>
    until('the queue to be idle', async () => {
      await sb.webhooks.drain();
      const s = await svc.queue.stats();
      return s.byState.queued === 0 && s.byState.running === 0;
    });
  const linked = async (scope: string, hostId: string): Promise<string> => {
    const r = await until(`${scope}/${hostId} linked and synced`, async () => {
      const x = await record(scope, hostId);
      return x.link?.state === 'linked' && x.sync.state === 'synced' ? x : undefined;
    });
    return r.link!.issue_key!;
  };
  const jobDone = (id: number) =>
    until(`job ${id} done`, async () => {
      const j = await api('GET', `/api/v1/jobs/${id}`);
      return j.json?.state === 'done' ? j.json : undefined;
    });
  /** Jira changes made with the webhook lost: the sandbox drops every delivery while `fn` runs. */
  const withoutWebhooks = async (fn: () => Promise<unknown>) => {
    await sb.webhooks.drain();
    sb.webhooks.setFaults({ dropRate: 1 });
    try {
      await fn();
      await sb.webhooks.drain();
    } finally {
      sb.webhooks.setFaults({});
    }
  };
  const incident = (title: string, severity = 'P3') => ({ kind: 'incident', title, status: 'new', severity });

  it('manual sync brings back a Jira change whose webhook was lost, keeps the host’s own change, and reads the issue once', async () => {
    await upsert('fleet', 'm-1', incident('Disk full on db-1'));
    const key = await linked('fleet', 'm-1');
    await quiet();
    // In Jira: Alice retitles it and starts it; the webhook never arrives.
    await withoutWebhooks(async () => {
      await alice.editIssue(key, { fields: { summary: 'Disk full on db-1 (volume /var)' } });
      const t = await alice.getTransitions(key);
      await alice.transition(key, t.find((x) => x.to.name === 'In Progress')!.id);
    });
    // Nothing reached the record.
    expect((await record('fleet', 'm-1')).title).toBe('Disk full on db-1');
    // Meanwhile the host raises the severity (its outbound job runs and finishes first).
    await upsert('fleet', 'm-1', incident('Disk full on db-1', 'P1'));
    await linked('fleet', 'm-1');
    await quiet();
    sb.calls.reset();

    const r = await api('POST', '/api/v1/sync', { jira_issue_key: key });
    expect(r.status).toBe(202);
    const answer = r.json as RecordBody;
    expect(answer.sync.state).toBe('pending');
    expect(answer.manual_sync).toMatchObject({ mode: 'two_way', job_id: expect.any(Number), jira_calls: 0 });
    expect(answer.manual_sync!.job_key).toMatch(/^record:/);
    expect(answer.manual_sync!.runs).toContain(`reads ${key} once`);
    await jobDone(answer.manual_sync!.job_id!);
    await quiet();

    // One read of the issue for both directions, and one search: the mapping has a filter, and a
    // linked issue's inbound run asks Jira whether it still matches. Nothing to write.
    expect(sb.calls.count({ method: 'GET', route: '/rest/api/3/issue/:issueIdOrKey' })).toBe(1);
    expect(sb.calls.count()).toBe(2);
    const after = await record('fleet', 'm-1');
    expect(after.title).toBe('Disk full on db-1 (volume /var)');
    expect(after.status).toBe('in_progress');
    expect(after.severity).toBe('P1');
    expect(after.sync.state).toBe('synced');
    const issue = await alice.getIssue(key, { fields: ['summary', 'priority', 'status'] });
    expect(issue.fields.summary).toBe('Disk full on db-1 (volume /var)');
    expect((issue.fields.status as { name: string }).name).toBe('In Progress');
    expect((issue.fields.priority as { name: string }).name).toBe('Highest');
    // The record's log tells both halves, in one job.
    const log = (await api('GET', '/api/v1/records/fleet/m-1/log')).json.entries as Array<{
      direction: string;
      action: string;
      job_id: number | null;
    }>;
    const mine = log.filter((e) => e.job_id === answer.manual_sync!.job_id);
    expect(mine.map((e) => e.direction)).toEqual(['inbound', 'outbound']);
  });

  it('a manual sync with nothing changed on either side spends one read and the filter’s search, no write', async () => {
    await upsert('fleet', 'm-2', incident('Fan failure on rack 4'));
    await linked('fleet', 'm-2');
    await quiet();
    sb.calls.reset();
    const r = await api('POST', '/api/v1/sync', { scope: 'fleet', host_id: 'm-2' });
    expect(r.status).toBe(202);
    expect(r.json.manual_sync.mode).toBe('two_way');
    await jobDone(r.json.manual_sync.job_id);
    await quiet();
    expect(sb.calls.count({ method: 'GET', route: '/rest/api/3/issue/:issueIdOrKey' })).toBe(1);
    // The read, and the filter's search: no write.
    expect(sb.calls.count({ method: 'PUT' }) + sb.calls.count({ method: 'POST', route: '/rest/api/3/issue' })).toBe(0);
    expect((await record('fleet', 'm-2')).sync.state).toBe('synced');
  });

  it('manual sync imports an unlinked issue the mapping covers, and says why it does not import the others', async () => {
    // Created in Jira while the webhook was lost: no record.
    let covered = '';
    let unlabelled = '';
    let task = '';
    let sec = '';
    await withoutWebhooks(async () => {
      covered = (
        await alice.createIssue({
          fields: {
            project: { key: 'OPS' },
            issuetype: { name: 'Incident' },
            summary: 'Router flapping in DC2',
            labels: ['fleet-sync'],
          },
        })
      ).key;
      unlabelled = (
        await alice.createIssue({
          fields: { project: { key: 'OPS' }, issuetype: { name: 'Incident' }, summary: 'Not ours (no label)' },
        })
      ).key;
      task = (
        await alice.createIssue({
          fields: {
            project: { key: 'OPS' },
            issuetype: { name: 'Task' },
            summary: 'A task, not an incident',
            labels: ['fleet-sync'],
          },
        })
      ).key;
      sec = (
        await alice.createIssue({
          fields: { project: { key: 'SEC' }, issuetype: { name: 'Vulnerability' }, summary: 'XSS in search' },
        })
      ).key;
    });
    expect(
      (await api('GET', '/api/v1/records?scope=fleet&limit=500')).json.records.map((x: RecordBody) => x.title),
    ).not.toContain('Router flapping in DC2');
    sb.calls.reset();
    const r = await api('POST', '/api/v1/sync', { jira_issue_key: covered });
    expect(r.status).toBe(201);
    const made = r.json as RecordBody;
    expect(made).toMatchObject({ scope: 'fleet', kind: 'incident', title: 'Router flapping in DC2', status: 'new' });
    expect(made.host_id).toMatch(/^jira-sb-\d+$/);
    expect(made.link).toMatchObject({ issue_key: covered, state: 'linked' });
    // One read and one search under the mapping's filter, spent in the request.
    expect(made.manual_sync).toMatchObject({ mode: 'imported', job_id: null, jira_calls: 2 });
    expect(sb.calls.count()).toBe(2);
    // The host hears of it as of any record made from Jira.
    const feed = (await api('GET', '/api/v1/changes?scope=fleet&limit=500')).json.changes as Array<{
      host_id: string;
      event: string;
    }>;
    expect(feed.filter((c) => c.host_id === made.host_id).map((c) => c.event)).toEqual(['record.created']);
    // Again: now it is linked, so it is a two-way sync of that record.
    const again = await api('POST', '/api/v1/sync', { jira_issue_key: covered });
    expect(again.status).toBe(202);
    expect(again.json).toMatchObject({ host_id: made.host_id, manual_sync: { mode: 'two_way' } });
    await jobDone(again.json.manual_sync.job_id);

    // Outside the filter, an issue type no kind maps: 409 naming why; nothing made.
    const out = await api('POST', '/api/v1/sync', { jira_issue_key: unlabelled });
    expect(out.status).toBe(409);
    expect(out.json.error.message).toBe(
      `${unlabelled} is not imported: outside the JQL filter of mapping "ops" (labels = fleet-sync)`,
    );
    const typed = await api('POST', '/api/v1/sync', { jira_issue_key: task });
    expect(typed.status).toBe(409);
    expect(typed.json.error.message).toContain('issue type "Task"');
    expect(typed.json.error.message).toContain('mapping "ops"');
    // A project whose mapping does not create records from Jira: 404 naming the setting.
    const secAnswer = await api('POST', '/api/v1/sync', { jira_issue_key: sec });
    expect(secAnswer.status).toBe(404);
    expect(secAnswer.json.error.message).toContain('mapping "pay" of project SEC does not create records from Jira');
    expect(secAnswer.json.error.message).toContain('on_jira_create: create_record');
    // A project no mapping covers, and an issue Jira does not have.
    const itsd = await api('POST', '/api/v1/sync', { jira_issue_key: 'ITSD-1' });
    expect(itsd.status).toBe(404);
    expect(itsd.json.error.message).toContain('no mapping covers project ITSD');
    const gone = await api('POST', '/api/v1/sync', { jira_issue_key: 'OPS-99999' });
    expect(gone.status).toBe(404);
    expect(gone.json.error.message).toContain('Jira has no issue OPS-99999');
    const records = (await api('GET', '/api/v1/records?scope=fleet&limit=500')).json.records as RecordBody[];
    expect(records.filter((x) => x.link?.issue_key === unlabelled || x.link?.issue_key === task)).toEqual([]);
  });

  it('a host token syncs within its scope and is refused outside it', async () => {
    await upsert('fleet', 'h-1', incident('Host token sync'));
    const fleetKey = await linked('fleet', 'h-1');
    await upsert('payroll', 'h-2', { kind: 'vulnerability', title: 'Payroll leak', status: 'open' });
    const payKey = await linked('payroll', 'h-2');
    await quiet();

    const byRef = await api('POST', '/api/v1/sync', { scope: 'fleet', host_id: 'h-1' }, 'fleetHost');
    expect(byRef.status).toBe(202);
    expect(byRef.json.manual_sync.mode).toBe('two_way');
    const byKey = await api('POST', '/api/v1/sync', { jira_issue_key: fleetKey }, 'fleetHost');
    expect(byKey.status).toBe(202);

    const otherRef = await api('POST', '/api/v1/sync', { scope: 'payroll', host_id: 'h-2' }, 'fleetHost');
    expect(otherRef.status).toBe(403);
    expect(otherRef.json.error.message).toContain('this token may not use scope "payroll"');
    const otherKey = await api('POST', '/api/v1/sync', { jira_issue_key: payKey }, 'fleetHost');
    expect(otherKey.status).toBe(403);
    expect(otherKey.json.error.message).toContain('this token may not use scope "payroll"');
    // Refused before anything was queued: the payroll record was not touched.
    expect((await record('payroll', 'h-2')).sync.state).toBe('synced');
    // A viewer may not sync at all.
    const viewer = await api('POST', '/api/v1/sync', { scope: 'fleet', host_id: 'h-1' }, 'viewer');
    expect(viewer.status).toBe(403);
    await quiet();
    expect((await record('fleet', 'h-1')).sync.state).toBe('synced');
  });
});
