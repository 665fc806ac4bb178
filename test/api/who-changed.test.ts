/**
 * Who changed it (issue 19, item 6), end to end against the sandbox: every Jira-origin change
 * names the Jira user behind it — account id (Cloud) or name and key (Data Center), display name,
 * and the email where Jira shows it — in the change feed, the host webhooks and the record's sync
 * log; for changes a webhook brought (the delivery's `user`, the comment's author) and for changes
 * only the sweep found (the changelog entry's author).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { readChanges } from '../../src/host/feed.js';
import type { JiraClient } from '../../src/jira/client.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { SEED } from '../../src/sandbox/seed.js';
import { JIRA_EVENTS } from '../../src/webhooks/parse.js';
import { freshSqlite, type TestDb } from '../helpers/db.js';
import { sandboxConnectionYaml, sandboxUserClient, startTestService, writeConfig } from '../helpers/service.js';
import { until } from '../helpers/wait.js';
import { opsMapping, upsertIncident } from '../engine/harness.js';
import { startInboundHarness, type InboundHarness } from '../engine/inbound-harness.js';

const SECRET = 'who-changed-webhook-secret-0123456789';
const HOST_SECRET = 'who-changed-host-secret-0123456789';

interface Change {
  seq: number;
  event: string;
  host_id: string | null;
  data: { origin: string; jira_user?: Record<string, string>; fields?: string[]; issue_key?: string };
}

const ALICE = {
  account_id: SEED.users.alice,
  display_name: 'Alice Analyst',
  email_address: 'alice@sandbox.example',
};
// Bob hides his email on Cloud: the host hears no email for him.
const BOB = { account_id: SEED.users.bob, display_name: 'Bob Builder' };

describe('a Jira-origin change names the Jira user in the feed and host webhooks (Cloud, service)', () => {
  let sb: RunningSandbox;
  let svc: RunningService;
  let alice: JiraClient;
  let bob: JiraClient;
  let receiver: Server;
  const received: Array<{ type: string; data: Change['data'] & { host_id?: string } }> = [];
  const dir = mkdtempSync(join(tmpdir(), 'jb-who-'));

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body) as (typeof received)[number]);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
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
      'host_webhooks:',
      `  - { url: "http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook", secret: ${HOST_SECRET} }`,
    ]);
    svc = await startTestService(dir);
    sb.webhooks.register({ url: `${svc.url}/webhooks/jira/sb`, events: [...JIRA_EVENTS], secret: SECRET });
    alice = sandboxUserClient(sb, 'alice');
    bob = sandboxUserClient(sb, 'bob');
  });
  afterAll(async () => {
    await alice?.close();
    await bob?.close();
    await svc?.stop();
    await sb?.close();
    await new Promise((r) => receiver?.close(r));
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
  const changes = async (hostId: string): Promise<Change[]> =>
    ((await api('GET', '/api/v1/changes?limit=1000')).json.changes as Change[]).filter((c) => c.host_id === hostId);
  const jiraChange = (hostId: string, event: string, match: (c: Change) => boolean = () => true) =>
    until(`a jira-origin ${event} of ${hostId}`, async () => {
      await sb.webhooks.drain();
      return (await changes(hostId)).find((c) => c.event === event && c.data.origin === 'jira' && match(c));
    });

  it('an edit and a comment made in Jira carry their Jira user; the sweep finds the user of a change whose webhook was lost', async () => {
    const put = await api('PUT', '/api/v1/records/fleet/w-1', {
      kind: 'incident',
      title: 'Disk full',
      status: 'new',
      severity: 'P3',
    });
    expect(put.status).toBeLessThan(300);
    const key = (await until('w-1 linked', async () => {
      const r = (await api('GET', '/api/v1/records/fleet/w-1')).json;
      return r.link?.state === 'linked' && r.sync.state === 'synced' ? (r.link.issue_key as string) : undefined;
    }))!;
    // Our own create is no Jira user's change.
    expect((await changes('w-1')).filter((c) => c.data.origin === 'jira')).toEqual([]);

    // Alice edits the summary in Jira (the delivery's `user` and the changelog both name her).
    await alice.editIssue(key, { fields: { summary: 'Disk full on node 7' } });
    const edit = await jiraChange('w-1', 'record.updated', (c) => c.data.fields?.includes('summary') === true);
    expect(edit.data.jira_user).toEqual(ALICE);

    // Alice comments.
    await alice.addComment(key, {
      type: 'doc',
      version: 1,
      content: [{ type: 'paragraph', content: [{ type: 'text', text: 'Looking at it' }] }],
    });
    const comment = await jiraChange('w-1', 'record.comments');
    expect(comment.data.jira_user).toEqual(ALICE);

    // Bob's edit reaches us only through the sweep (its webhook is lost): the changelog's author.
    sb.webhooks.setFaults({ dropRate: 1 });
    await bob.editIssue(key, { fields: { summary: 'Disk full on node 7 and 8' } });
    await sb.webhooks.drain();
    sb.webhooks.setFaults({ dropRate: 0 });
    await svc.engine.sweep('sb', { checkLinks: false });
    const swept = await jiraChange('w-1', 'record.updated', (c) => c.seq > edit.seq);
    expect(swept.data.jira_user).toEqual(BOB);
    expect((await api('GET', '/api/v1/records/fleet/w-1')).json.title).toBe('Disk full on node 7 and 8');

    // The same events reached the host's webhook, with the same user.
    const hooks = await until('the host webhooks', () => {
      const jira = received.filter((p) => p.data.origin === 'jira');
      return jira.length >= 3 ? jira : undefined;
    });
    expect(hooks.map((p) => [p.type, p.data.jira_user])).toEqual([
      ['record.updated', ALICE],
      ['record.comments', ALICE],
      ['record.updated', BOB],
    ]);

    // The record's sync log says who, for each Jira-origin entry.
    const log = (await api('GET', '/api/v1/records/fleet/w-1/log')).json.entries as Array<{
      direction: string;
      action: string;
      fields: { jira_user?: unknown } | null;
    }>;
    const inbound = log.filter((e) => e.direction === 'inbound' && e.action !== 'noop');
    expect(inbound.map((e) => e.fields?.jira_user)).toEqual(expect.arrayContaining([ALICE, BOB]));
    expect(inbound.every((e) => e.fields?.jira_user !== undefined)).toBe(true);
    // Host-origin changes name no Jira user.
    expect((await changes('w-1')).filter((c) => c.data.origin === 'host').every((c) => !c.data.jira_user)).toBe(true);
  });
});

describe('a Jira-origin change names the Jira user on Data Center (name and key)', () => {
  let db: TestDb;
  let h: InboundHarness;
  beforeAll(async () => {
    db = await freshSqlite();
    h = await startInboundHarness(db, { flavour: 'datacenter', mappings: [opsMapping()] });
  });
  afterAll(async () => {
    await h.close();
    await db.cleanup();
  });

  it('the feed names the Data Center user by name and key, with the email Jira shows', async () => {
    await upsertIncident(h, 'dc-1', 'Printer on fire');
    await h.settle();
    const key = (await h.record('stackflow-incidents', 'dc-1')).link!.issue_key!;
    await h.alice.editIssue(key, { fields: { summary: 'Printer on fire (floor 2)' } });
    await h.settle();
    const feed = (await readChanges(db.store.db, { after: 0, limit: 100 })).changes;
    const updated = feed.find((c) => c.event === 'record.updated' && (c.data as { origin: string }).origin === 'jira');
    expect((updated?.data as { jira_user?: unknown }).jira_user).toEqual({
      name: 'alice',
      key: 'JIRAUSER10001',
      display_name: 'Alice Analyst',
      email_address: 'alice@sandbox.example',
    });
  });
});
