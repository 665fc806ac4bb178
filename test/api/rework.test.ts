/**
 * Rework tasks followed (issue 19, item 5), end to end through the service against the sandbox:
 * a rework task is a linked issue of its vulnerability — its comments come back marked as from
 * the task, it closes when the vulnerability is fixed again, and each reopen makes one more task.
 * Its fields never reach the record, and our own writes to it are echoes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import type { JiraClient } from '../../src/jira/client.js';
import type { JiraText } from '../../src/jira/types.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { SEED } from '../../src/sandbox/seed.js';
import { JIRA_EVENTS } from '../../src/webhooks/parse.js';
import { sandboxConnectionYaml, sandboxUserClient, startTestService, writeConfig } from '../helpers/service.js';
import { until } from '../helpers/wait.js';

const SECRET = 'rework-webhook-secret-0123456789';

interface Comment {
  author: string | null;
  body: string;
  origin: string;
  rework_task: string | null;
}
interface Delivery {
  issue_key: string | null;
  event: string;
  verdict: string;
  detail: string | null;
}

describe('rework tasks are linked issues of their vulnerability', () => {
  let sb: RunningSandbox;
  let svc: RunningService;
  let alice: JiraClient;
  const dir = mkdtempSync(join(tmpdir(), 'jb-rework-'));

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    writeConfig(dir, [
      ...sandboxConnectionYaml(sb, { webhookSecret: SECRET }),
      'mappings:',
      '  - id: vulns',
      '    connection: sb',
      '    scope: astra',
      '    project: SEC',
      '    kinds: { vulnerability: { issue_type: Vulnerability } }',
      '    status: { out: { open: Open, triaged: Triaged }, closed: [resolved] }',
      '    close: { status: Resolved }',
      '    resolution: Fixed',
      '    reopen: { mode: rework, rework_issue_type: Task }',
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
  const upsert = async (hostId: string, status: string, title = `XSS in search (${hostId})`) => {
    const r = await api('PUT', `/api/v1/records/astra/${hostId}`, {
      kind: 'vulnerability',
      title,
      description: 'Reflected XSS in the search box',
      status,
      severity: 'high',
    });
    expect(r.status).toBeLessThan(300);
  };
  const quiet = () =>
    until('the queue to be idle and Jira to have sent everything', async () => {
      await sb.webhooks.drain();
      const s = await svc.queue.stats();
      return s.byState.queued === 0 && s.byState.running === 0;
    });
  const synced = async (hostId: string) => {
    await until(`${hostId} synced`, async () => {
      await sb.webhooks.drain();
      const r = (await api('GET', `/api/v1/records/astra/${hostId}`)).json;
      return r.link?.state === 'linked' && r.sync.state === 'synced';
    });
    await quiet();
    return (await api('GET', `/api/v1/records/astra/${hostId}`)).json as {
      title: string;
      link: { issue_key: string; issue_id: string };
    };
  };
  /** The rework tasks of a vulnerability in Jira (the Tasks linked to its issue), oldest first. */
  const tasks = async (hostId: string) => {
    const link = (await api('GET', `/api/v1/records/astra/${hostId}`)).json.link as { issue_id: string };
    const linked = new Set(sb.state.linksOf(link.issue_id).map((l) => l.destinationId));
    return sb.state
      .allIssues()
      .filter((i) => linked.has(i.id) && i.issueTypeId === SEED.issueType.task)
      .map((i) => ({
        key: i.key,
        id: i.id,
        status: sb.state.status(i.statusId).name,
        resolution: i.resolutionId ? sb.state.resolutions.get(i.resolutionId)?.name : null,
      }));
  };
  const comments = async (hostId: string): Promise<Comment[]> =>
    (await api('GET', `/api/v1/records/astra/${hostId}/comments`)).json.comments as Comment[];
  const deliveries = async (key: string): Promise<Delivery[]> =>
    ((await api('GET', '/api/v1/webhooks/deliveries?limit=500')).json.deliveries as Delivery[]).filter(
      (d) => d.issue_key === key,
    );
  const adf = (text: string): JiraText => ({
    type: 'doc',
    version: 1,
    content: [{ type: 'paragraph', content: [{ type: 'text', text }] }],
  });

  it('a comment on a rework task reaches the vulnerability marked as from the task', async () => {
    await upsert('v-1', 'resolved');
    const rec = await synced('v-1');
    await upsert('v-1', 'open'); // the fix failed re-test
    await synced('v-1');
    const [task] = await tasks('v-1');
    expect(task).toMatchObject({ status: 'To Do' });
    // The vulnerability stays resolved; the task is joined to it by an issue link.
    expect(sb.state.issue(rec.link.issue_key)?.statusId).toBe(SEED.status.resolved);
    expect(sb.state.linksOf(rec.link.issue_id).map((l) => l.destinationId)).toContain(task!.id);
    // Our own writes to the task (create, link) came back as echoes, nothing else.
    expect((await deliveries(task!.key)).map((d) => d.verdict)).toEqual(expect.arrayContaining(['echo']));
    expect((await deliveries(task!.key)).every((d) => d.verdict === 'echo')).toBe(true);

    await alice.addComment(task!.key, adf('The sanitiser misses SVG payloads.'));
    const got = await until('the task comment on the record', async () => {
      await sb.webhooks.drain();
      return (await comments('v-1')).find((c) => c.body.includes('SVG payloads'));
    });
    expect(got).toMatchObject({
      origin: 'jira',
      author: 'Alice Analyst <alice@sandbox.example>',
      rework_task: task!.key,
    });
    // The change feed and the sync log say it came from the task (and who wrote it).
    const feed = (await api('GET', '/api/v1/changes?limit=1000')).json.changes as Array<{
      host_id: string;
      event: string;
      data: Record<string, unknown>;
    }>;
    expect(feed.filter((c) => c.host_id === 'v-1' && c.event === 'record.comments').at(-1)?.data).toMatchObject({
      origin: 'jira',
      created: 1,
      rework_task: task!.key,
      rework_of: rec.link.issue_key,
      jira_user: { display_name: 'Alice Analyst' },
    });
    const log = (await api('GET', '/api/v1/records/astra/v-1/log')).json.entries as Array<{
      direction: string;
      action: string;
      fields: Record<string, unknown> | null;
    }>;
    expect(log.some((e) => e.direction === 'inbound' && e.fields?.rework_task === task!.key)).toBe(true);
    await quiet();
    const verdicts = (await deliveries(task!.key)).filter((d) => d.verdict !== 'echo');
    expect(verdicts.length).toBeGreaterThan(0);
    expect(verdicts.map((d) => d.verdict)).not.toContain('ignored:unlinked');
    expect(verdicts.some((d) => d.verdict === 'applied' && /rework task of/.test(d.detail ?? ''))).toBe(true);

    // The task's fields are not the vulnerability's: a summary edit on it changes nothing.
    await alice.editIssue(task!.key, { fields: { summary: 'Rework: SVG sanitiser' } });
    await quiet();
    expect((await api('GET', '/api/v1/records/astra/v-1')).json.title).toBe('XSS in search (v-1)');
    // The vulnerability's own comments are not the task's: both stay, each marked by its issue.
    await alice.addComment(rec.link.issue_key, adf('Re-test scheduled.'));
    await until('the vulnerability comment on the record', async () => {
      await sb.webhooks.drain();
      return (await comments('v-1')).some((c) => c.body.includes('Re-test scheduled') && c.rework_task === null);
    });
    expect((await comments('v-1')).find((c) => c.body.includes('SVG payloads'))?.rework_task).toBe(task!.key);
  });

  it('fixing a vulnerability again closes its open rework task', async () => {
    const [task] = await tasks('v-1');
    expect(task?.status).toBe('To Do');
    await upsert('v-1', 'resolved');
    await synced('v-1');
    // The task moved to the close status of its own workflow, with the mapping's resolution.
    expect(await tasks('v-1')).toEqual([{ ...task, status: 'Done', resolution: 'Fixed' }]);
    const log = (await api('GET', '/api/v1/records/astra/v-1/log')).json.entries as Array<{
      fields: { rework_closed?: string[] } | null;
    }>;
    expect(log.some((e) => e.fields?.rework_closed?.includes(task!.key))).toBe(true);
    // Our own close is an echo: nothing came back to the record from it.
    await quiet();
    expect((await deliveries(task!.key)).filter((d) => d.event === 'jira:issue_updated').at(0)?.verdict).toBe('echo');
  });

  it('each reopen makes one more rework task', async () => {
    await upsert('v-2', 'resolved');
    await synced('v-2');
    await upsert('v-2', 'open');
    await synced('v-2');
    expect((await tasks('v-2')).map((t) => t.status)).toEqual(['To Do']);
    // An edit of the reopened vulnerability (still open) is no reopen.
    await upsert('v-2', 'open', 'XSS in search (v-2) — payload list attached');
    await upsert('v-2', 'triaged', 'XSS in search (v-2) — payload list attached');
    await synced('v-2');
    expect(await tasks('v-2')).toHaveLength(1);
    // Fixed again: the task closes. Reopened again: a second task, the first left closed.
    await upsert('v-2', 'resolved');
    await synced('v-2');
    await upsert('v-2', 'open');
    await synced('v-2');
    expect((await tasks('v-2')).map((t) => t.status)).toEqual(['Done', 'To Do']);
    await upsert('v-2', 'resolved');
    await synced('v-2');
    await upsert('v-2', 'open');
    await synced('v-2');
    expect((await tasks('v-2')).map((t) => t.status)).toEqual(['Done', 'Done', 'To Do']);
    const primary = (await api('GET', '/api/v1/records/astra/v-2')).json.link as { issue_id: string };
    // Each is linked to the vulnerability; the vulnerability was never reopened.
    expect(sb.state.linksOf(primary.issue_id)).toHaveLength(3);
    expect(sb.state.issue(primary.issue_id)?.statusId).toBe(SEED.status.resolved);
  });
});
