import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { sandboxClient } from './helpers.js';

interface Received {
  path: string;
  body: Record<string, unknown>;
}

describe('webhook registration APIs and event emission', () => {
  let receiver: Server;
  let receiverUrl: string;
  const received: Received[] = [];
  let sb: RunningSandbox;
  let basic: string;
  let bearer: string;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let data = '';
      req.on('data', (chunk: Buffer) => (data += chunk.toString('utf8')));
      req.on('end', () => {
        received.push({ path: req.url ?? '', body: JSON.parse(data) as Record<string, unknown> });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    sb = await startSandbox({ flavour: 'cloud' });
    basic = `Basic ${Buffer.from(`${sb.credentials.email}:${sb.credentials.apiToken}`).toString('base64')}`;
    bearer = `Bearer ${sb.credentials.oauthToken}`;
  });
  afterAll(async () => {
    await sb.close();
    await new Promise((r) => receiver.close(r));
  });

  const call = async (method: string, path: string, body?: unknown, auth = basic): Promise<Response> =>
    fetch(`${sb.baseUrl}${path}`, {
      method,
      headers: { authorization: auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  it('manages admin webhooks and delivers issue events with a changelog, filtered by JQL', async () => {
    const created = await call('POST', '/rest/webhooks/1.0/webhook', {
      name: 'bridge',
      url: `${receiverUrl}/hook/\${issue.key}`,
      events: ['jira:issue_created', 'jira:issue_updated'],
      filters: { 'issue-related-events-section': 'project = SEC' },
    });
    expect(created.status).toBe(201);
    const hook = (await created.json()) as { self: string; filters: Record<string, string> };
    expect(hook.filters['issue-related-events-section']).toBe('project = SEC');
    const list = (await (await call('GET', '/rest/webhooks/1.0/webhook')).json()) as unknown[];
    expect(list).toHaveLength(1);

    const alice = sb.credentials.users.alice!;
    const aliceAuth = `Basic ${Buffer.from(`${alice.loginEmail}:${alice.apiToken}`).toString('base64')}`;
    expect((await call('GET', '/rest/webhooks/1.0/webhook', undefined, aliceAuth)).status).toBe(403);

    const ops = await call(
      'POST',
      '/rest/api/3/issue',
      { fields: { project: { key: 'OPS' }, issuetype: { name: 'Task' }, summary: 'not delivered' } },
      aliceAuth,
    );
    expect(ops.status).toBe(201);
    const sec = await call(
      'POST',
      '/rest/api/3/issue',
      { fields: { project: { key: 'SEC' }, issuetype: { name: 'Task' }, summary: 'delivered' } },
      aliceAuth,
    );
    const { key } = (await sec.json()) as { key: string };
    expect((await call('PUT', `/rest/api/3/issue/${key}`, { fields: { summary: 'renamed' } }, aliceAuth)).status).toBe(
      204,
    );
    await sb.webhooks.drain();

    expect(received.map((r) => r.body.webhookEvent)).toEqual(['jira:issue_created', 'jira:issue_updated']);
    expect(received[0]?.path).toBe(`/hook/${key}`);
    const updated = received[1]!.body as {
      issue_event_type_name: string;
      user: { accountId: string };
      issue: { key: string; fields: { summary: string } };
      changelog: { items: unknown[] };
    };
    expect(updated.issue_event_type_name).toBe('issue_updated');
    expect(updated.user.accountId).toBe(alice.accountId);
    expect(updated.issue.fields.summary).toBe('renamed');
    expect(updated.changelog.items).toEqual([
      expect.objectContaining({ field: 'summary', fromString: 'delivered', toString: 'renamed' }),
    ]);

    const id = hook.self.split('/').pop();
    expect((await call('DELETE', `/rest/webhooks/1.0/webhook/${id}`)).status).toBe(204);
    expect((await call('GET', `/rest/webhooks/1.0/webhook/${id}`)).status).toBe(404);
  });

  it('registers app webhooks only for OAuth apps, with a 30-day expiry and refresh', async () => {
    const body = {
      url: `${receiverUrl}/app`,
      webhooks: [
        { events: ['jira:issue_created'], jqlFilter: 'project = OPS' },
        { events: ['nope'], jqlFilter: 'project = OPS' },
      ],
    };
    expect((await call('POST', '/rest/api/3/webhook', body)).status).toBe(403);
    const res = await call('POST', '/rest/api/3/webhook', body, bearer);
    expect(res.status).toBe(200);
    const result = (
      (await res.json()) as { webhookRegistrationResult: Array<{ createdWebhookId?: number; errors?: string[] }> }
    ).webhookRegistrationResult;
    expect(result[0]?.createdWebhookId).toEqual(expect.any(Number));
    expect(result[1]?.errors?.[0]).toContain('nope');
    const page = (await (await call('GET', '/rest/api/3/webhook', undefined, bearer)).json()) as {
      total: number;
      values: Array<{ id: number; expirationDate: number }>;
    };
    expect(page.total).toBe(1);
    const days = (page.values[0]!.expirationDate - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
    const refreshed = await call('PUT', '/rest/api/3/webhook/refresh', { webhookIds: [page.values[0]!.id] }, bearer);
    expect(((await refreshed.json()) as { expirationDate: number }).expirationDate).toBeGreaterThanOrEqual(
      page.values[0]!.expirationDate,
    );
    expect((await call('DELETE', '/rest/api/3/webhook', { webhookIds: [page.values[0]!.id] }, bearer)).status).toBe(
      202,
    );
    expect(
      ((await (await call('GET', '/rest/api/3/webhook', undefined, bearer)).json()) as { total: number }).total,
    ).toBe(0);
  });
});

describe('admin webhooks on Data Center', () => {
  it('creates, reads, updates and deletes with the PAT of an admin; no app webhook API', async () => {
    const c = await sandboxClient({ flavour: 'datacenter' });
    const created = await c.call('POST', '/rest/webhooks/1.0/webhook', {
      name: 'dc hook',
      url: 'http://127.0.0.1:9/hook',
      events: ['jira:issue_updated'],
      filters: { 'issue-related-events-section': 'project = OPS' },
    });
    expect(created.statusCode).toBe(201);
    const id = String(created.json().self).split('/').pop();
    const updated = await c.call('PUT', `/rest/webhooks/1.0/webhook/${id}`, { enabled: false });
    expect(updated.json().enabled).toBe(false);
    expect((await c.call('GET', `/rest/webhooks/1.0/webhook/${id}`)).json().name).toBe('dc hook');
    const badJql = await c.call('POST', '/rest/webhooks/1.0/webhook', {
      name: 'x',
      url: 'http://127.0.0.1:9/x',
      events: ['jira:issue_updated'],
      filters: { 'issue-related-events-section': 'project = = OPS' },
    });
    expect(badJql.statusCode).toBe(400);
    expect((await c.as('alice').call('GET', '/rest/webhooks/1.0/webhook')).statusCode).toBe(403);
    expect((await c.call('DELETE', `/rest/webhooks/1.0/webhook/${id}`)).statusCode).toBe(204);
    expect((await c.call('GET', '/rest/api/2/webhook')).statusCode).toBe(404);
    await c.sb.app.close();
  });
});
