import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { createJiraClient } from '../../src/jira/client.js';
import { Pacer } from '../../src/jira/pacer.js';
import { SEED } from '../../src/sandbox/index.js';
import { connectionFor, env, FLAVOURS, type Env } from './helpers.js';

async function caught(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

describe.each(FLAVOURS)('error mapping on %s', (flavour) => {
  let e: Env;
  const calls: Array<{ method: string; route: string; status: number; retried: boolean }> = [];
  beforeAll(async () => {
    e = await env(flavour, { onCall: (c) => calls.push(c), maxRetries: 3 });
  });
  afterAll(async () => {
    await e.close();
  });

  it("a Service Management 400 keeps JSM's own errorMessage text (its body is {errorMessage}, not errorMessages)", async () => {
    const desks = await e.jira.serviceDesks();
    const err = await caught(e.jira.createRequest(desks[0]!.id, '999999', { summary: 'no such request type' }));
    expect(err.code).toBe('JIRA_BAD_REQUEST');
    expect(err.message).toMatch(/Jira rejected .*\(4\d\d\): \S/);
    expect((err.details as { errorMessages: string[] }).errorMessages.length).toBeGreaterThan(0);
  });

  it('404 → JIRA_NOT_FOUND, permanent, with Jira message', async () => {
    const err = await caught(e.jira.getIssue('SEC-424242'));
    expect(err.code).toBe('JIRA_NOT_FOUND');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('/issue/{idOrKey}');
  });

  it("400 → JIRA_BAD_REQUEST with Jira's errors in details", async () => {
    const err = await caught(
      e.jira.createIssue({ fields: { project: { key: 'SEC' }, issuetype: { id: SEED.issueType.vulnerability } } }),
    );
    expect(err.code).toBe('JIRA_BAD_REQUEST');
    expect(err.retryable).toBe(false);
    const d = err.details as { errors: Record<string, string>; errorMessages: string[] };
    expect(d.errors.summary).toBeTruthy();
    expect(err.message).toContain('summary');
  });

  it('401 via a bad token → JIRA_UNAUTHORIZED with the flavour-specific hint, no secret in the message', async () => {
    const good = connectionFor(e.sb);
    const bad =
      good.auth.type === 'basic'
        ? { ...good, auth: { ...good.auth, apiToken: 'wrong-secret-123' } }
        : { ...good, auth: { type: 'pat' as const, token: 'wrong-secret-123' } };
    const c = createJiraClient(bad, { pacer: new Pacer() });
    try {
      const err = await caught(c.myself());
      expect(err.code).toBe('JIRA_UNAUTHORIZED');
      expect(err.message).toContain(flavour === 'cloud' ? 'API token' : 'Personal Access Token');
      expect(JSON.stringify({ m: err.message, d: err.details })).not.toContain('wrong-secret-123');
      const check = await c.checkConnection();
      expect(check).toMatchObject({ ok: false, code: 'unauthorized' });
      if (!check.ok) expect(check.hint).toMatch(flavour === 'cloud' ? /API token/ : /Personal Access Token/);
    } finally {
      await c.close();
    }
  });

  it('403 → JIRA_FORBIDDEN naming what Jira says is missing', async () => {
    const issue = await e.jira.createIssue({
      fields: { project: { key: 'OPS' }, issuetype: { id: SEED.issueType.task }, summary: 'x' },
    });
    const alice = createJiraClient(connectionFor(e.sb, 'alice'), { pacer: new Pacer() });
    try {
      const err = await caught(alice.editIssue(issue.id, { fields: { summary: 'y' } }, { notifyUsers: false }));
      expect(err.code).toBe('JIRA_FORBIDDEN');
      expect((err.details as { hint: string }).hint).toContain('admin');
    } finally {
      await alice.close();
    }
  });

  it('5xx: a GET is retried a bounded number of times, a POST create is not retried', async () => {
    e.sb.knobs.set({ errorRate: 1, errorStatus: 500 });
    try {
      calls.length = 0;
      const err = await caught(e.jira.getProject('SEC'));
      expect(err.code).toBe('JIRA_UNAVAILABLE');
      expect(err.retryable).toBe(true);
      expect(calls.map((c) => c.retried)).toEqual([false, true, true, true]);

      e.sb.knobs.set({ errorRate: 1, errorStatus: 503 });
      calls.length = 0;
      const post = await caught(
        e.jira.createIssue({
          fields: { project: { key: 'OPS' }, issuetype: { id: SEED.issueType.task }, summary: 'once' },
        }),
      );
      expect(post.code).toBe('JIRA_UNAVAILABLE');
      expect(calls).toHaveLength(1);

      // Some GETs fail, but retries get them through.
      e.sb.knobs.set({ errorRate: 0.4, errorStatus: 502, seed: 7 });
      calls.length = 0;
      for (let i = 0; i < 10; i++) await e.jira.getProject('OPS');
      expect(calls.filter((c) => c.status === 502).length).toBeGreaterThan(0);
      expect(calls.filter((c) => c.status === 200)).toHaveLength(10);
    } finally {
      e.sb.knobs.set({ errorRate: 0 });
    }
  });

  it('checkConnection classifies a wrong context path as not_found', async () => {
    const conn = { ...connectionFor(e.sb), siteUrl: `${e.sb.baseUrl}/jira` };
    const c = createJiraClient(conn, { pacer: new Pacer() });
    try {
      const r = await c.checkConnection();
      expect(r).toMatchObject({ ok: false, code: 'not_found' });
      if (!r.ok) expect(r.hint).toContain('context path');
    } finally {
      await c.close();
    }
  });
});

describe('transport failures', () => {
  it('classifies a refused port, an unresolvable host, a bad URL and a timeout', async () => {
    const mk = (siteUrl: string, timeoutMs?: number) =>
      createJiraClient(
        { id: 'x', siteUrl, flavour: 'datacenter', auth: { type: 'pat', token: 't' } },
        { pacer: new Pacer(), maxRetries: 0, ...(timeoutMs ? { timeoutMs } : {}) },
      );
    const net = await import('node:net');
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const refused = mk(`http://127.0.0.1:${closedPort}`);
    expect(await refused.checkConnection()).toMatchObject({ ok: false, code: 'refused' });
    const dns = mk('http://no-such-host.invalid');
    expect(await dns.checkConnection()).toMatchObject({ ok: false, code: 'dns' });
    expect(() => mk('jira.example.com')).toThrow(/site_url/);

    const silent = net.createServer(() => {
      /* accept and never answer */
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const slow = mk(`http://127.0.0.1:${port}`, 200);
    try {
      expect(await slow.checkConnection()).toMatchObject({ ok: false, code: 'timeout' });
    } finally {
      await Promise.all([refused.close(), dns.close(), slow.close()]);
      silent.close();
    }
  });
});

describe('rate-limit mapping', () => {
  it('429 → JIRA_RATE_LIMITED with retryAfterMs from Retry-After (seconds or HTTP date); 503 keeps its Retry-After', async () => {
    const { errorFromResponse } = await import('../../src/jira/errors.js');
    const now = Date.parse('2026-01-01T00:00:00Z');
    const h = (x: Record<string, string>) => ({ get: (k: string) => x[k.toLowerCase()] ?? null });
    const base = {
      method: 'GET',
      route: '/rest/api/3/myself',
      body: {},
      flavour: 'cloud' as const,
      authType: 'basic',
      now,
    };
    const a = errorFromResponse({
      ...base,
      status: 429,
      headers: h({ 'retry-after': '7', 'ratelimit-reason': 'jira-quota-tenant-based' }),
    });
    expect(a).toMatchObject({ code: 'JIRA_RATE_LIMITED', retryable: true, retryAfterMs: 7000 });
    expect((a.details as { reason: string }).reason).toBe('jira-quota-tenant-based');
    const b = errorFromResponse({
      ...base,
      status: 429,
      headers: h({ 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }),
    });
    expect(b.retryAfterMs).toBe(30_000);
    const c = errorFromResponse({ ...base, status: 503, headers: h({ 'retry-after': '2' }) });
    expect(c).toMatchObject({ code: 'JIRA_UNAVAILABLE', retryable: true, retryAfterMs: 2000 });
  });

  it('a 429 that outlasts the retries surfaces as JIRA_RATE_LIMITED, and a 429 on a POST is retried (Jira did nothing)', async () => {
    const e = await env('cloud', { maxRetries: 0 });
    try {
      e.sb.knobs.set({ rateLimit: { capacity: 1, refillPerSecond: 0 } });
      await e.jira.myself();
      await expect(e.jira.myself()).rejects.toMatchObject({ code: 'JIRA_RATE_LIMITED', retryAfterMs: 60_000 });
    } finally {
      await e.close();
    }
    const e2 = await env('cloud', { maxRetries: 2 });
    try {
      e2.sb.knobs.set({ rateLimit: { capacity: 1, refillPerSecond: 1 } });
      await e2.jira.myself();
      const created = await e2.jira.createIssue({
        fields: { project: { key: 'OPS' }, issuetype: { id: SEED.issueType.task }, summary: 'after 429' },
      });
      expect(created.key).toMatch(/^OPS-/);
      expect(e2.sb.calls.count({ method: 'POST', route: '/rest/api/3/issue', status: 201 })).toBe(1);
    } finally {
      await e2.close();
    }
  });
});
