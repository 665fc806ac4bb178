import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JqlIssue } from '../../src/sandbox/jql/types.js';
import { JqlError } from '../../src/sandbox/jql/types.js';
import { WebhookDispatcher, type SandboxWebhookEvent } from '../../src/sandbox/webhooks/index.js';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: Buffer;
}

/** A real HTTP receiver on 127.0.0.1:0; `respond` decides each answer's status. */
class Receiver {
  readonly got: Received[] = [];
  respond: (r: Received, index: number) => number = () => 204;
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r: Received = { path: req.url ?? '', headers: req.headers, raw: Buffer.concat(chunks) };
        this.got.push(r);
        res.statusCode = this.respond(r, this.got.length - 1);
        res.end();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.got.length = 0;
    this.respond = () => 204;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

const receiver = new Receiver();
let dispatcher: WebhookDispatcher | undefined;

beforeAll(() => receiver.start());
afterAll(() => receiver.stop());
afterEach(async () => {
  await dispatcher?.close();
  dispatcher = undefined;
  receiver.reset();
});

function make(opts: Partial<ConstructorParameters<typeof WebhookDispatcher>[0]> = {}): WebhookDispatcher {
  dispatcher = new WebhookDispatcher({ flavour: 'cloud', retryBaseDelayMs: 5, seed: 42, ...opts });
  return dispatcher;
}

function matchIssue(over: Partial<JqlIssue> = {}): JqlIssue {
  return {
    id: '10001',
    key: 'SEC-1',
    projectKey: 'SEC',
    projectId: '10100',
    projectName: 'Security',
    issueType: 'Bug',
    issueTypeId: '10004',
    status: 'Open',
    statusId: '1',
    statusCategory: 'new',
    priority: 'High',
    labels: ['security'],
    assignee: null,
    reporter: null,
    summary: 'SQL injection',
    descriptionText: '',
    created: Date.now(),
    updated: Date.now(),
    resolution: null,
    custom: {},
    ...over,
  };
}

let seq = 0;
function event(over: Partial<SandboxWebhookEvent> = {}, issueOver: Partial<JqlIssue> = {}): SandboxWebhookEvent {
  const m = matchIssue(issueOver);
  seq++;
  return {
    webhookEvent: 'jira:issue_updated',
    issueEventTypeName: 'issue_updated',
    timestamp: 1_700_000_000_000 + seq,
    user: { accountId: 'acc-1', displayName: 'Alice' },
    issue: {
      id: m.id,
      self: `http://x/rest/api/2/issue/${m.id}`,
      key: m.key,
      fields: { summary: m.summary, labels: m.labels },
    },
    changelog: {
      id: String(seq),
      items: [
        {
          field: 'summary',
          fieldtype: 'jira',
          fieldId: 'summary',
          from: null,
          fromString: 'a',
          to: null,
          toString: 'b',
        },
      ],
    },
    matchIssue: m,
    projectKey: m.projectKey,
    ...over,
  };
}

function json(r: Received): Record<string, unknown> {
  return JSON.parse(r.raw.toString('utf8')) as Record<string, unknown>;
}

describe('WebhookDispatcher', () => {
  it('delivers in the background with Jira headers and a body shaped for the event', async () => {
    const d = make();
    d.register({ url: `${receiver.url}/hook`, events: ['jira:issue_updated'] });
    d.emit(event());
    expect(receiver.got).toHaveLength(0); // emit never blocks on delivery
    await d.drain();
    expect(receiver.got).toHaveLength(1);
    const r = receiver.got[0] as Received;
    expect(r.path).toBe('/hook');
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.headers['x-atlassian-webhook-identifier']).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.headers['x-atlassian-webhook-retry']).toBeUndefined();
    expect(r.headers['x-atlassian-webhook-flow']).toBe('Primary');
    expect(r.headers['x-hub-signature']).toBeUndefined();
    expect(Object.keys(json(r))).toEqual([
      'timestamp',
      'webhookEvent',
      'issue_event_type_name',
      'user',
      'issue',
      'changelog',
    ]);
    expect(d.deliveries()).toMatchObject([{ status: 204, attempt: 0, url: `${receiver.url}/hook` }]);
  });

  it('skips registrations for other events, disabled ones and expired app webhooks', async () => {
    const d = make();
    d.register({ url: `${receiver.url}/created`, events: ['jira:issue_created'] });
    d.register({ url: `${receiver.url}/disabled`, events: ['jira:issue_updated'], enabled: false });
    d.register({ url: `${receiver.url}/expired`, events: ['jira:issue_updated'], expiresAt: Date.now() - 1 });
    const live = d.register({
      url: `${receiver.url}/live`,
      events: ['jira:issue_updated'],
      expiresAt: Date.now() + 60_000,
    });
    d.emit(event());
    await d.drain();
    expect(receiver.got.map((r) => r.path)).toEqual(['/live']);
    expect(d.get(live.id)).toMatchObject({ enabled: true, hasSecret: false });
  });

  it('signs the exact body bytes with X-Hub-Signature when a secret is set, and never exposes the secret', async () => {
    const d = make();
    const reg = d.register({ url: `${receiver.url}/signed`, events: ['jira:issue_updated'], secret: 's3cr3t' });
    d.emit(event({}, { summary: 'Unicode é ✓ body' }));
    await d.drain();
    const r = receiver.got[0] as Received;
    const header = String(r.headers['x-hub-signature']);
    expect(header).toMatch(/^sha256=[0-9a-f]{64}$/);
    const expected = Buffer.from(`sha256=${createHmac('sha256', 's3cr3t').update(r.raw).digest('hex')}`);
    expect(timingSafeEqual(Buffer.from(header), expected)).toBe(true);
    const wrong = createHmac('sha256', 'other').update(r.raw).digest('hex');
    expect(header).not.toBe(`sha256=${wrong}`);
    expect(JSON.stringify(d.list())).not.toContain('s3cr3t');
    expect(reg.hasSecret).toBe(true);
    // Removing the secret stops signing.
    d.update(reg.id, { secret: '' });
    d.emit(event());
    await d.drain();
    expect(receiver.got[1]?.headers['x-hub-signature']).toBeUndefined();
  });

  it('retries failures with backoff, an incrementing retry header and a stable identifier', async () => {
    const d = make();
    receiver.respond = (_r, i) => (i < 3 ? ([500, 429, 503][i] as number) : 200);
    d.register({ url: `${receiver.url}/flaky`, events: ['jira:issue_updated'], secret: 'k' });
    d.emit(event());
    await d.drain();
    expect(receiver.got).toHaveLength(4);
    const ids = new Set(receiver.got.map((r) => r.headers['x-atlassian-webhook-identifier']));
    expect(ids.size).toBe(1);
    expect(receiver.got.map((r) => r.headers['x-atlassian-webhook-retry'])).toEqual([undefined, '1', '2', '3']);
    expect(receiver.got.map((r) => r.headers['x-atlassian-webhook-flow'])).toEqual([
      'Primary',
      'Secondary',
      'Secondary',
      'Secondary',
    ]);
    // Same bytes and signature on every attempt.
    expect(new Set(receiver.got.map((r) => r.raw.toString())).size).toBe(1);
    expect(d.deliveries().map((x) => [x.attempt, x.status])).toEqual([
      [0, 500],
      [1, 429],
      [2, 503],
      [3, 200],
    ]);
  });

  it('gives up after 5 retries on Cloud, does not retry a 4xx, and does not retry on Data Center', async () => {
    const d = make();
    receiver.respond = (r) => (r.path === '/gone' ? 404 : 500);
    d.register({ url: `${receiver.url}/down`, events: ['jira:issue_updated'] });
    d.register({ url: `${receiver.url}/gone`, events: ['jira:issue_updated'] });
    d.emit(event());
    await d.drain();
    expect(receiver.got.filter((r) => r.path === '/down')).toHaveLength(6);
    expect(receiver.got.filter((r) => r.path === '/gone')).toHaveLength(1);
    await d.close();
    receiver.reset();
    receiver.respond = () => 500;
    const dc = make({ flavour: 'datacenter' });
    dc.register({ url: `${receiver.url}/dc`, events: ['jira:issue_updated'] });
    dc.emit(event());
    await dc.drain();
    expect(receiver.got).toHaveLength(1);
    expect(receiver.got[0]?.headers['x-atlassian-webhook-flow']).toBeUndefined();
  });

  it('retries when the receiver is unreachable (connection refused)', async () => {
    const d = make({ maxRetries: 2 });
    d.register({ url: 'http://127.0.0.1:1/nothing-listens', events: ['jira:issue_updated'] });
    d.emit(event());
    await d.drain();
    const recs = d.deliveries();
    expect(recs.map((r) => [r.attempt, r.status])).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
    ]);
    expect(recs[0]?.error).toBeTruthy();
  });

  it('evaluates the JQL filter against the issue and rejects a bad filter at registration', async () => {
    const d = make();
    d.register({
      url: `${receiver.url}/sec-high`,
      events: ['jira:issue_updated'],
      jqlFilter: 'project = SEC AND priority in (High, Highest)',
    });
    d.emit(event({}, { priority: 'Low' }));
    d.emit(event({}, { priority: 'High', key: 'SEC-2' }));
    d.emit(event({}, { projectKey: 'OPS', key: 'OPS-1', priority: 'High' }));
    await d.drain();
    expect(receiver.got.map((r) => (json(r).issue as { key: string }).key)).toEqual(['SEC-2']);
    expect(() =>
      d.register({ url: `${receiver.url}/x`, events: ['jira:issue_updated'], jqlFilter: 'project = SEC foo' }),
    ).toThrow(JqlError);
    expect(() => d.register({ url: 'not a url', events: ['jira:issue_updated'] })).toThrow(/not a valid http/);
    expect(() => d.register({ url: `${receiver.url}/x`, events: [] })).toThrow(/non-empty list/);
  });

  it('substitutes URL variables, URL-encoded', async () => {
    const d = make();
    d.register({
      url: `${receiver.url}/i/\${issue.key}/\${issue.id}/p/\${project.key}/\${project.id}/c/\${comment.id}?u=\${modifiedUser.accountId}`,
      events: ['jira:issue_updated', 'comment_created'],
    });
    d.emit(event({ user: { accountId: 'a b/c', displayName: 'x' } }));
    d.emit(
      event({
        webhookEvent: 'comment_created',
        comment: { id: '20001', body: 'hi' },
        issue: { id: '10001', key: 'SEC-1', self: 'http://x', fields: { summary: 's', status: {}, extra: 1 } },
      }),
    );
    await d.drain();
    expect(receiver.got.map((r) => r.path)).toEqual([
      '/i/SEC-1/10001/p/SEC/10100/c/?u=a%20b%2Fc',
      '/i/SEC-1/10001/p/SEC/10100/c/20001?u=acc-1',
    ]);
    // Cloud comment events carry the comment and a slim issue, no user.
    const body = json(receiver.got[1] as Received);
    expect(Object.keys(body)).toEqual(['timestamp', 'webhookEvent', 'comment', 'issue']);
    expect(Object.keys((body.issue as { fields: object }).fields)).toEqual(['summary', 'status']);
  });

  it('sends an empty body when excludeBody is set', async () => {
    const d = make();
    d.register({ url: `${receiver.url}/nobody`, events: ['jira:issue_updated'], excludeBody: true, secret: 'k' });
    d.emit(event());
    await d.drain();
    expect(receiver.got[0]?.raw.length).toBe(0);
    expect(receiver.got[0]?.headers['x-hub-signature']).toBe(
      `sha256=${createHmac('sha256', 'k').update('').digest('hex')}`,
    );
  });

  it('keeps first attempts in emit order without faults', async () => {
    const d = make();
    d.register({ url: `${receiver.url}/ordered`, events: ['jira:issue_updated'] });
    const emitted = Array.from({ length: 8 }, () => event());
    emitted.forEach((e) => d.emit(e));
    await d.drain();
    expect(receiver.got.map((r) => json(r).timestamp)).toEqual(emitted.map((e) => e.timestamp));
  });

  describe('faults', () => {
    async function runWith(
      seed: number,
      faults: Parameters<WebhookDispatcher['setFaults']>[0],
      n = 20,
    ): Promise<{ sent: number[]; ids: string[]; emitted: number[] }> {
      receiver.reset();
      const d = make({ seed });
      d.setFaults(faults);
      d.register({ url: `${receiver.url}/faulty`, events: ['jira:issue_updated'] });
      const emitted = Array.from({ length: n }, () => event());
      emitted.forEach((e) => d.emit(e));
      await d.drain();
      const out = {
        sent: receiver.got
          .map((r) => json(r).timestamp as number)
          .map((t) => emitted.findIndex((e) => e.timestamp === t)),
        ids: receiver.got.map((r) => String(r.headers['x-atlassian-webhook-identifier'])),
        emitted: emitted.map((e) => e.timestamp),
      };
      await d.close();
      dispatcher = undefined;
      return out;
    }

    it('drops deliveries at the given rate, reproducibly for a seed, and records them', async () => {
      const a = await runWith(7, { dropRate: 0.5 });
      const b = await runWith(7, { dropRate: 0.5 });
      expect(a.sent).toEqual(b.sent);
      expect(a.sent.length).toBeGreaterThan(0);
      expect(a.sent.length).toBeLessThan(20);
      const d = make({ seed: 1 });
      d.setFaults({ dropRate: 1 });
      d.register({ url: `${receiver.url}/dropped`, events: ['jira:issue_updated'] });
      d.emit(event());
      await d.drain();
      expect(d.deliveries()).toMatchObject([{ fault: 'dropped', status: 0 }]);
    });

    it('duplicates keep the same identifier', async () => {
      const a = await runWith(3, { duplicateRate: 1 }, 5);
      expect(a.sent).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
      for (let k = 0; k < a.ids.length; k += 2) expect(a.ids[k]).toBe(a.ids[k + 1]);
      expect(new Set(a.ids).size).toBe(5);
      const b = await runWith(3, { duplicateRate: 0.3 });
      const c = await runWith(3, { duplicateRate: 0.3 });
      expect(b.sent).toEqual(c.sent);
      expect(b.sent.length).toBeGreaterThan(20);
    });

    it('reorders a burst deterministically for a seed', async () => {
      const a = await runWith(11, { reorder: true }, 10);
      const b = await runWith(11, { reorder: true }, 10);
      expect(a.sent).toEqual(b.sent);
      expect([...a.sent].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(a.sent).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it('delays deliveries and drain waits for them', async () => {
      const a = await runWith(5, { delayMs: [20, 60] }, 5);
      expect([...a.sent].sort()).toEqual([0, 1, 2, 3, 4]);
    });

    it('fails the first attempts of every delivery, then succeeds on retry with the same identifier', async () => {
      const d = make();
      d.setFaults({ failFirstAttempts: 2 });
      d.register({ url: `${receiver.url}/late`, events: ['jira:issue_updated'] });
      d.emit(event());
      await d.drain();
      expect(receiver.got).toHaveLength(1);
      expect(receiver.got[0]?.headers['x-atlassian-webhook-retry']).toBe('2');
      const recs = d.deliveries();
      expect(recs.map((r) => r.fault)).toEqual(['failed-attempt', 'failed-attempt', undefined]);
      expect(new Set(recs.map((r) => r.identifier)).size).toBe(1);
    });

    it('close() cancels delayed deliveries and pending retries instead of hanging', async () => {
      const d = make({ retryBaseDelayMs: 60_000 });
      d.register({ url: `${receiver.url}/never`, events: ['jira:issue_updated'] });
      d.setFaults({ delayMs: [60_000, 60_000] });
      d.emit(event());
      d.setFaults({ failFirstAttempts: 1 });
      d.emit(event());
      await new Promise((r) => setTimeout(r, 50));
      await d.close(); // would wait a minute if the sleeps were not cancelled
      expect(receiver.got).toHaveLength(0);
      d.emit(event()); // ignored after close
      await d.drain();
      expect(receiver.got).toHaveLength(0);
      dispatcher = undefined;
    });

    it('rejects nonsensical fault settings', () => {
      const d = make();
      expect(() => d.setFaults({ dropRate: 2 })).toThrow(RangeError);
      expect(() => d.setFaults({ delayMs: [10, 5] })).toThrow(RangeError);
    });
  });

  it('keeps a bounded delivery history', async () => {
    const d = make({ maxRecords: 3 });
    d.register({ url: `${receiver.url}/bounded`, events: ['jira:issue_updated'] });
    const emitted = Array.from({ length: 5 }, () => event());
    emitted.forEach((e) => d.emit(e));
    await d.drain();
    expect(receiver.got).toHaveLength(5);
    expect(d.deliveries().map((r) => JSON.parse(r.body).timestamp)).toEqual(emitted.slice(2).map((e) => e.timestamp));
    d.clearDeliveries();
    expect(d.deliveries()).toEqual([]);
  });

  it('refreshes app webhooks by 30 days and manages registrations', () => {
    const now = 1_800_000_000_000;
    const d = make({ now: () => now });
    const a = d.register({
      url: `${receiver.url}/a`,
      events: ['jira:issue_created'],
      expiresAt: now + 1000,
      owner: 'app-1',
    });
    expect(d.refresh([a.id, 999])).toEqual({ expirationDate: now + 30 * 24 * 3_600_000 });
    expect(d.get(a.id)?.expiresAt).toBe(now + 30 * 24 * 3_600_000);
    expect(d.update(a.id, { name: 'renamed', jqlFilter: 'project = SEC' })).toMatchObject({
      name: 'renamed',
      jqlFilter: 'project = SEC',
    });
    expect(d.update(12345, { name: 'x' })).toBeUndefined();
    expect(d.list()).toHaveLength(1);
    expect(d.remove(a.id)).toBe(true);
    expect(d.remove(a.id)).toBe(false);
    expect(d.list()).toEqual([]);
  });
});
