/**
 * Living with an integration (issue 19, items 3 and 4), end to end against the sandbox: a paused
 * mapping or connection lets nothing through either way and resuming brings both sides across;
 * unlinking leaves the Jira issues as they are; a connection with links is deleted with
 * ?unlink=true.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import type { JiraClient } from '../../src/jira/client.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { JIRA_EVENTS } from '../../src/webhooks/parse.js';
import { sandboxConnectionYaml, sandboxUserClient, startTestService, writeConfig } from '../helpers/service.js';
import { until } from '../helpers/wait.js';

const SECRET = 'pause-remove-webhook-secret-0123456789';

interface RecordBody {
  title: string;
  severity: string;
  link: { issue_key: string | null; issue_id: string | null; state: string } | null;
  sync: { state: string; error: { code: string } | null };
}
interface Delivery {
  issue_key: string | null;
  verdict: string;
  detail: string | null;
}

describe('pause and remove: nothing flows while paused, resuming reconciles, unlinking leaves Jira as it is', () => {
  let sb: RunningSandbox;
  let svc: RunningService;
  let alice: JiraClient;
  const dir = mkdtempSync(join(tmpdir(), 'jb-pause-'));

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    writeConfig(dir, [
      ...sandboxConnectionYaml(sb, { webhookSecret: SECRET }),
      'mappings:',
      '  - id: ops',
      '    connection: sb',
      '    scope: fleet',
      '    project: OPS',
      '    kinds: { incident: { issue_type: Incident } }',
      '    status: { out: { new: To Do, in_progress: In Progress }, closed: [resolved] }',
      '    priority: { out: { P1: Highest, P2: High, P3: Medium, P4: Low } }',
      '    close: { status: Done }',
    ]);
    svc = await startTestService(dir);
    sb.webhooks.register({ url: `${svc.url}/webhooks/jira/sb`, events: [...JIRA_EVENTS], secret: SECRET });
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
  const record = async (scope: string, hostId: string): Promise<RecordBody> =>
    (await api('GET', `/api/v1/records/${scope}/${hostId}`)).json as RecordBody;
  const upsert = async (scope: string, hostId: string, body: Record<string, unknown>) => {
    const r = await api('PUT', `/api/v1/records/${scope}/${hostId}`, { kind: 'incident', status: 'new', ...body });
    expect(r.status).toBeLessThan(300);
  };
  const linked = async (scope: string, hostId: string): Promise<string> => {
    await until(`${hostId} linked`, async () => {
      const r = await record(scope, hostId);
      return r.link?.state === 'linked' && r.sync.state === 'synced';
    });
    return (await record(scope, hostId)).link!.issue_key!;
  };
  const deliveries = async (key: string): Promise<Delivery[]> => {
    const r = await api('GET', '/api/v1/webhooks/deliveries?limit=200');
    return (r.json.deliveries as Delivery[]).filter((d) => d.issue_key === key);
  };
  const quiet = () =>
    until('the queue to be idle', async () => {
      await sb.webhooks.drain();
      const s = await svc.queue.stats();
      return s.byState.queued === 0 && s.byState.running === 0;
    });
  const jiraIssue = (key: string) => alice.getIssue(key, { fields: ['summary', 'priority'] });

  it('a paused mapping: a Jira edit does not reach the record, a host change does not reach Jira, deliveries say ignored:disabled; resuming brings both across', async () => {
    await upsert('fleet', 'p-1', { title: 'Disk full', severity: 'P3' });
    const key = await linked('fleet', 'p-1');
    await quiet();

    const paused = await api('POST', '/api/v1/mappings/ops/pause');
    expect(paused.status).toBe(200);
    expect(paused.json).toMatchObject({ kind: 'mapping', id: 'ops', enabled: false, configured: true, paused: true });
    expect(paused.json.since).toEqual(expect.any(String));
    // Idempotent.
    expect((await api('POST', '/api/v1/mappings/ops/pause')).json.since).toBe(paused.json.since);

    // Jira side: an edit during the pause is acknowledged and not applied.
    await alice.editIssue(key, { fields: { summary: 'Disk full on node 7 (from Jira)' } });
    await until('the delivery to be ignored:disabled', async () => {
      await sb.webhooks.drain();
      return (await deliveries(key)).some((d) => d.verdict === 'ignored:disabled');
    });
    // Host side: the change is stored and waits, the record pending with why.
    await upsert('fleet', 'p-1', { title: 'Disk full', severity: 'P1' });
    await until('the outbound job to hold the record', async () => {
      const l = (await api('GET', '/api/v1/records/fleet/p-1/log')).json.entries as Array<{ action: string }>;
      return l.some((e) => e.action === 'paused');
    });
    await quiet();
    const held = await record('fleet', 'p-1');
    expect(held.title).toBe('Disk full');
    expect(held.severity).toBe('P1');
    expect(held.sync.state).toBe('pending');
    expect(held.sync.error?.code).toBe('SYNC_DISABLED');
    const during = await jiraIssue(key);
    expect(during.fields.summary).toBe('Disk full on node 7 (from Jira)');
    expect((during.fields.priority as { name: string }).name).toBe('Medium');
    // No backfill either.
    const backfill = await api('POST', '/api/v1/backfill', { scope: 'fleet' });
    expect(backfill.status).toBe(409);
    expect(backfill.json.error.message).toMatch(/mapping ops is paused/);
    // The sweep leaves the paused mapping out.
    const sweep = await svc.engine.sweep('sb', { checkLinks: false });
    expect(sweep.queued).toBe(0);
    expect((await record('fleet', 'p-1')).title).toBe('Disk full');

    const states = await api('GET', '/api/v1/pauses');
    expect(states.json.pauses).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'mapping', id: 'ops', enabled: false }),
        expect.objectContaining({ kind: 'connection', id: 'sb', enabled: true }),
      ]),
    );

    const resumed = await api('POST', '/api/v1/mappings/ops/resume');
    expect(resumed.status).toBe(200);
    expect(resumed.json).toMatchObject({ enabled: true, paused: false, since: null });
    await until('both sides to come across', async () => {
      const r = await record('fleet', 'p-1');
      const i = await jiraIssue(key);
      return (
        r.title === 'Disk full on node 7 (from Jira)' &&
        r.sync.state === 'synced' &&
        (i.fields.priority as { name: string }).name === 'Highest'
      );
    });
    const audit = await api('GET', '/api/v1/audit?target=mapping:ops');
    const actions = (audit.json.entries as Array<{ action: string }>).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['mapping.paused', 'mapping.resumed']));
  });

  it('a paused connection: deliveries say ignored:disabled and host changes wait; resuming brings both across', async () => {
    await upsert('fleet', 'c-1', { title: 'Fan noise', severity: 'P4' });
    const key = await linked('fleet', 'c-1');
    await quiet();
    expect((await api('POST', '/api/v1/connections/sb/pause')).json).toMatchObject({
      kind: 'connection',
      enabled: false,
    });
    await alice.editIssue(key, { fields: { summary: 'Fan noise in rack 3' } });
    await until('the delivery to be ignored:disabled', async () => {
      await sb.webhooks.drain();
      return (await deliveries(key)).some((d) => d.verdict === 'ignored:disabled');
    });
    await upsert('fleet', 'c-1', { title: 'Fan noise', severity: 'P2' });
    await until(
      'the record to be held',
      async () => (await record('fleet', 'c-1')).sync.error?.code === 'SYNC_DISABLED',
    );
    expect((await svc.engine.sweep('sb')).skipped).toBe('disabled');
    expect(((await jiraIssue(key)).fields.priority as { name: string }).name).toBe('Low');
    expect((await record('fleet', 'c-1')).title).toBe('Fan noise');

    expect((await api('POST', '/api/v1/connections/sb/resume')).json).toMatchObject({ enabled: true });
    await until('both sides to come across', async () => {
      const r = await record('fleet', 'c-1');
      const i = await jiraIssue(key);
      return r.title === 'Fan noise in rack 3' && (i.fields.priority as { name: string }).name === 'High';
    });
  });

  it('enabled: false in a mapping’s configuration holds it (resume is a 409 naming the switch); enabled: true again brings the waiting change across', async () => {
    const body = {
      connection: 'sb',
      scope: 'cfg-fleet',
      project: 'SEC',
      kinds: { incident: { issue_type: 'Vulnerability' } },
      priority: { out: { P1: 'Highest', P3: 'Medium' } },
    };
    expect((await api('PUT', '/api/v1/mappings/cfg', body)).status).toBe(201);
    await upsert('cfg-fleet', 'e-1', { title: 'Config switch', severity: 'P3' });
    const key = await linked('cfg-fleet', 'e-1');
    await quiet();
    const off = await api('PUT', '/api/v1/mappings/cfg', { ...body, enabled: false });
    expect(off.status).toBe(200);
    expect(off.json.mapping.enabled).toBe(false);
    const states = (await api('GET', '/api/v1/pauses')).json.pauses as Array<Record<string, unknown>>;
    expect(states.find((p) => p.id === 'cfg')).toMatchObject({ enabled: false, configured: false, paused: false });
    const refused = await api('POST', '/api/v1/mappings/cfg/resume');
    expect(refused.status).toBe(409);
    expect(refused.json.error.message).toMatch(/enabled: false/);

    await upsert('cfg-fleet', 'e-1', { title: 'Config switch', severity: 'P1' });
    await until(
      'the record to be held',
      async () => (await record('cfg-fleet', 'e-1')).sync.error?.code === 'SYNC_DISABLED',
    );
    expect(((await jiraIssue(key)).fields.priority as { name: string }).name).toBe('Medium');

    expect((await api('PUT', '/api/v1/mappings/cfg', { ...body, enabled: true })).status).toBe(200);
    await until(
      'the waiting change to reach Jira',
      async () => ((await jiraIssue(key)).fields.priority as { name: string }).name === 'Highest',
    );
    expect((await record('cfg-fleet', 'e-1')).sync.state).toBe('synced');
  });

  it('pause and resume answer 404 for what does not exist and refuse everyone without a declaration of access', async () => {
    expect((await api('POST', '/api/v1/mappings/nope/pause')).status).toBe(404);
    expect((await api('POST', '/api/v1/connections/nope/resume')).status).toBe(404);
    expect((await api('POST', '/api/v1/mappings/nope/unlink')).status).toBe(404);
    expect((await api('DELETE', '/api/v1/records/fleet/none/link')).status).toBe(404);
  });

  it('unlinking a record: the issue stays, the record is unlinked and not re-created in Jira until re-synced', async () => {
    await upsert('fleet', 'u-1', { title: 'Cert expiring', severity: 'P2' });
    const key = await linked('fleet', 'u-1');
    await quiet();
    const out = await api('DELETE', '/api/v1/records/fleet/u-1/link');
    expect(out.status).toBe(200);
    expect(out.json).toEqual({ unlinked: 1, issue_keys: [key] });
    expect((await api('DELETE', '/api/v1/records/fleet/u-1/link')).status).toBe(409);

    const r = await record('fleet', 'u-1');
    expect(r.link).toMatchObject({ state: 'unlinked', issue_key: key, issue_id: null });
    const issue = await jiraIssue(key);
    expect(issue.fields.summary).toBe('Cert expiring');

    // A host change is stored, not sent; no new issue appears.
    const before = (await alice.searchJql('project = OPS', { fields: ['summary'] })).issues.length;
    await upsert('fleet', 'u-1', { title: 'Cert expiring tomorrow', severity: 'P1' });
    await quiet();
    expect((await alice.searchJql('project = OPS', { fields: ['summary'] })).issues.length).toBe(before);
    expect((await jiraIssue(key)).fields.summary).toBe('Cert expiring');
    expect((await record('fleet', 'u-1')).link?.state).toBe('unlinked');
    // A Jira edit of the old issue no longer reaches the record.
    await alice.editIssue(key, { fields: { summary: 'Cert expiring (edited in Jira)' } });
    await until('the delivery to be ignored:unlinked', async () => {
      await sb.webhooks.drain();
      return (await deliveries(key)).some((d) => d.verdict === 'ignored:unlinked');
    });
    expect((await record('fleet', 'u-1')).title).toBe('Cert expiring tomorrow');
    const changes = await api('GET', '/api/v1/changes?limit=1000');
    expect(
      (changes.json.changes as Array<{ event: string; data: { reason?: string } }>).some(
        (c) => c.event === 'record.unlinked' && c.data.reason === 'removed',
      ),
    ).toBe(true);
    const audit = await api('GET', '/api/v1/audit?target=record:fleet/u-1');
    expect((audit.json.entries as Array<{ action: string }>).map((e) => e.action)).toContain('record.unlinked');

    // A re-sync creates a new issue.
    expect((await api('POST', '/api/v1/sync', { scope: 'fleet', host_id: 'u-1' })).status).toBe(202);
    const again = await linked('fleet', 'u-1');
    expect(again).not.toBe(key);
  });

  it('a connection with links is deleted with ?unlink=true and its issues are untouched', async () => {
    const conn = await api('POST', '/api/v1/connections', {
      id: 'api-sb',
      site_url: sb.baseUrl,
      flavour: 'cloud',
      auth: { type: 'basic', email: sb.credentials.email, api_token: sb.credentials.apiToken },
      sweep: { interval_seconds: 0 },
    });
    expect(conn.status).toBe(201);
    expect(conn.json.enabled).toBe(true);
    const map = await api('PUT', '/api/v1/mappings/api-ops', {
      connection: 'api-sb',
      scope: 'api-fleet',
      project: 'OPS',
      kinds: { incident: { issue_type: 'Incident' } },
    });
    expect(map.status).toBe(201);
    await upsert('api-fleet', 'd-1', { title: 'Leaking memory', severity: 'P3' });
    await upsert('api-fleet', 'd-2', { title: 'Slow disk', severity: 'P3' });
    const k1 = await linked('api-fleet', 'd-1');
    const k2 = await linked('api-fleet', 'd-2');
    await quiet();

    expect((await api('DELETE', '/api/v1/connections/api-sb?unlink=true')).status).toBe(409); // the mapping uses it
    expect((await api('DELETE', '/api/v1/mappings/api-ops')).status).toBe(204);
    const refused = await api('DELETE', '/api/v1/connections/api-sb');
    expect(refused.status).toBe(409);
    expect(refused.json.error.message).toMatch(/still links 2 record.*unlink=true/);
    expect((await api('DELETE', '/api/v1/connections/api-sb?unlink=maybe')).status).toBe(400);
    expect((await api('DELETE', '/api/v1/connections/api-sb?unlink=true')).status).toBe(204);

    expect((await api('GET', '/api/v1/connections/api-sb')).status).toBe(404);
    for (const [hostId, key, title] of [
      ['d-1', k1, 'Leaking memory'],
      ['d-2', k2, 'Slow disk'],
    ] as const) {
      // The record stays; its link went with the connection it named.
      const r = await record('api-fleet', hostId);
      expect(r.title).toBe(title);
      expect(r.link).toBeNull();
      expect((await jiraIssue(key)).fields.summary).toBe(title);
    }
    const audit = await api('GET', '/api/v1/audit?target=connection:api-sb');
    expect((audit.json.entries as Array<{ action: string }>).map((e) => e.action)).toEqual(
      expect.arrayContaining(['connection.unlinked', 'connection.deleted']),
    );
  });

  it('a mapping’s records are unlinked at once, the issues left as they are', async () => {
    await upsert('fleet', 'm-1', { title: 'Backup late', severity: 'P3' });
    const key = await linked('fleet', 'm-1');
    await quiet();
    const out = await api('POST', '/api/v1/mappings/ops/unlink');
    expect(out.status).toBe(200);
    expect(out.json.unlinked).toBeGreaterThanOrEqual(1);
    expect(out.json.issue_keys).toContain(key);
    expect((await record('fleet', 'm-1')).link?.state).toBe('unlinked');
    expect((await jiraIssue(key)).fields.summary).toBe('Backup late');
    expect((await api('POST', '/api/v1/mappings/ops/unlink')).json.unlinked).toBe(0);
  });
});
