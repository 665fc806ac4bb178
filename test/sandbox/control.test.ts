/**
 * The sandbox's control API over real HTTP: webhook faults, the delivery log and drain, acting as
 * a Jira user (comment, delete), reset and info. What tests and demos use to drive the Jira side.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';

let sb: RunningSandbox;
let receiver: Server;
let hookUrl = '';
const received: Array<{ id: string | undefined; event: string; raw: string }> = [];

const control = async (path: string, body?: unknown): Promise<Response> =>
  fetch(`${sb.baseUrl}/_sandbox${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });

const rest = async (method: string, path: string, body?: unknown): Promise<Response> =>
  fetch(`${sb.baseUrl}/rest/api/3/${path}`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(`${sb.credentials.email}:${sb.credentials.apiToken}`).toString('base64')}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });

async function newIssue(summary: string): Promise<string> {
  const res = await rest('POST', 'issue', {
    fields: { project: { key: 'OPS' }, issuetype: { name: 'Task' }, summary },
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { key: string }).key;
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      received.push({
        id: req.headers['x-atlassian-webhook-identifier'] as string | undefined,
        event: (JSON.parse(raw) as { webhookEvent: string }).webhookEvent,
        raw,
      });
      res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  sb = await startSandbox({ flavour: 'cloud', port: 0 });
});

afterAll(async () => {
  await sb.close();
  await new Promise((r) => receiver.close(r));
});

describe('sandbox control API', () => {
  it('info names the flavour and the seeded users', async () => {
    const info = (await (await control('/info')).json()) as { flavour: string; users: Array<{ name: string }> };
    expect(info.flavour).toBe('cloud');
    expect(info.users.map((u) => u.name)).toEqual(expect.arrayContaining(['admin', 'alice', 'bob']));
  });

  it('webhook faults: duplicates keep their identifier; the delivery log shows the fault; bad values are a 400', async () => {
    sb.webhooks.register({ url: hookUrl, events: ['jira:issue_created'] });
    expect((await control('/webhooks/faults', { duplicateRate: 1 })).status).toBe(200);
    const key = await newIssue('duplicated delivery');
    expect((await control('/webhooks/drain', {})).status).toBe(200);
    const log = (await (await control('/webhooks/deliveries')).json()) as Array<{
      identifier: string;
      fault?: string;
      body: string;
    }>;
    const mine = log.filter((d) => d.body.includes(key));
    expect(mine).toHaveLength(2);
    expect(mine.filter((d) => d.fault === 'duplicate')).toHaveLength(1);
    expect(new Set(mine.map((d) => d.identifier)).size).toBe(1);
    expect(received.filter((r) => r.id === mine[0]!.identifier)).toHaveLength(2);

    const bad = await control('/webhooks/faults', { dropRate: 3 });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('dropRate and duplicateRate must be between 0 and 1');

    // Drop everything: the change happens, nothing is sent, the log says dropped.
    expect((await control('/webhooks/faults', { dropRate: 1 })).status).toBe(200);
    const dropped = await newIssue('dropped delivery');
    await control('/webhooks/drain', {});
    const after = (await (await control('/webhooks/deliveries')).json()) as Array<{ fault?: string; body: string }>;
    expect(after.filter((d) => d.body.includes(dropped)).map((d) => d.fault)).toEqual(['dropped']);
    expect(received.filter((r) => r.raw.includes(dropped))).toEqual([]);
    await control('/webhooks/faults', {});
  });

  it('acts as a Jira user: alice comments (internal when public is false); bob deletes an issue', async () => {
    const key = await newIssue('acted upon');
    const c = await control(`/issues/${key}/comment`, { as: 'alice', body: 'Seen on *staging*', public: false });
    expect(c.status).toBe(201);
    const { id } = (await c.json()) as { id: string };
    const comment = (await (await rest('GET', `issue/${key}/comment/${id}`)).json()) as {
      author: { accountId: string };
      body: { content: Array<{ content: Array<{ text: string; marks?: Array<{ type: string }> }> }> };
      jsdPublic: boolean;
    };
    expect(comment.author.accountId).toBe(sb.credentials.users.alice!.accountId);
    expect(comment.body.content[0]!.content.find((n) => n.text === 'staging')?.marks?.[0]?.type).toBe('strong');
    expect(comment.jsdPublic).toBe(false);

    expect((await control(`/issues/${key}/comment`, { as: 'nobody', body: 'x' })).status).toBe(404);
    expect((await control(`/issues/${key}/comment`, { as: 'alice', body: '' })).status).toBe(400);

    expect((await control(`/issues/${key}/delete`, { as: 'bob' })).status).toBe(204);
    expect((await rest('GET', `issue/${key}`)).status).toBe(404);
    expect((await control(`/issues/${key}/delete`, { as: 'bob' })).status).toBe(404);
  });

  it('reset forgets issues, webhooks, faults, knobs and counters and re-seeds the site', async () => {
    await control('/knobs', { latencyMs: 7 });
    const key = await newIssue('before the reset');
    expect((await control('/reset', {})).status).toBe(204);
    expect((await rest('GET', `issue/${key}`)).status).toBe(404);
    expect(((await (await control('/knobs')).json()) as { latencyMs: number }).latencyMs).toBe(0);
    expect(sb.webhooks.list()).toEqual([]);
    const calls = (await (await control('/calls')).json()) as { total: number };
    expect(calls.total).toBe(1); // counted since the reset: only the GET of the forgotten issue
    expect((await rest('GET', 'project/SEC')).status).toBe(200);
  });
});
