import { afterEach, describe, expect, it } from 'vitest';
import { SandboxKnobsController } from '../../src/sandbox/index.js';
import { createIssue, sandboxClient, type Client } from './helpers.js';

describe('realism knobs', () => {
  let c: Client;
  afterEach(async () => {
    await c.sb.app.close();
  });

  it('answers 429 with Retry-After, X-RateLimit-* and RateLimit-Reason when the burst bucket is empty', async () => {
    c = await sandboxClient({ knobs: { rateLimit: { capacity: 2, refillPerSecond: 0 } } });
    const a = await c.call('GET', 'myself');
    expect(a.statusCode).toBe(200);
    expect(a.headers['x-ratelimit-limit']).toBe('2');
    expect(a.headers['x-ratelimit-remaining']).toBe('1');
    expect((await c.call('GET', 'myself')).statusCode).toBe(200);
    const limited = await c.call('GET', 'myself');
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.headers['ratelimit-reason']).toBe('jira-burst-based');
    expect(limited.headers['x-ratelimit-remaining']).toBe('0');
    expect(typeof limited.headers['x-ratelimit-reset']).toBe('string');
    expect(limited.json()).toEqual({ errorMessages: ['Rate limit exceeded.'], errors: {} });
  });

  it('refills the bucket over (injected) time', () => {
    let now = 0;
    const k = new SandboxKnobsController({ rateLimit: { capacity: 1, refillPerSecond: 2 } }, () => now);
    expect(k.takeSite().ok).toBe(true);
    const denied = k.takeSite();
    expect(denied.ok).toBe(false);
    expect(denied.headers['Retry-After']).toBe('1');
    now += 500;
    expect(k.takeSite().ok).toBe(true);
  });

  it('draws latency jitter deterministically from the seed', () => {
    const a = new SandboxKnobsController({ latencyMs: 10, jitterMs: 50, seed: 7 });
    const b = new SandboxKnobsController({ latencyMs: 10, jitterMs: 50, seed: 7 });
    const da = Array.from({ length: 8 }, () => a.delayMs());
    expect(da).toEqual(Array.from({ length: 8 }, () => b.delayMs()));
    expect(da.every((d) => d >= 10 && d < 60)).toBe(true);
    expect(new Set(da).size).toBeGreaterThan(1);
  });

  it('trips the per-issue write limit for one issue but not for another', async () => {
    c = await sandboxClient({ knobs: { perIssueWriteLimit: { capacity: 2, refillPerSecond: 0 } } });
    const a = await createIssue(c, { project: { key: 'OPS' }, issuetype: { name: 'Task' } });
    const b = await createIssue(c, { project: { key: 'OPS' }, issuetype: { name: 'Task' } });
    expect((await c.call('PUT', `issue/${a.key}`, { fields: { summary: '1' } })).statusCode).toBe(204);
    expect((await c.call('PUT', `issue/${a.key}`, { fields: { summary: '2' } })).statusCode).toBe(204);
    const third = await c.call('PUT', `issue/${a.key}`, { fields: { summary: '3' } });
    expect(third.statusCode).toBe(429);
    expect(third.headers['ratelimit-reason']).toBe('jira-per-issue-on-write');
    expect((await c.call('GET', `issue/${a.key}`)).statusCode).toBe(200);
    expect((await c.call('PUT', `issue/${b.key}`, { fields: { summary: 'other' } })).statusCode).toBe(204);
  });

  it('injects 5xx deterministically for a seed', async () => {
    const run = async (): Promise<number[]> => {
      c = await sandboxClient({ knobs: { errorRate: 0.5, errorStatus: 503, seed: 42 } });
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push((await c.call('GET', 'myself')).statusCode);
      await c.sb.app.close();
      return statuses;
    };
    const first = await run();
    const second = await run();
    expect(first).toEqual(second);
    expect(first).toContain(503);
    expect(first).toContain(200);
    c = await sandboxClient();
  });

  it('forces 401 while expiredAuth is on, switchable through the control API', async () => {
    c = await sandboxClient();
    const on = await c.sb.app.inject({ method: 'POST', url: '/_sandbox/knobs', payload: { expiredAuth: true } });
    expect(on.json().expiredAuth).toBe(true);
    expect((await c.call('GET', 'myself')).statusCode).toBe(401);
    await c.sb.app.inject({ method: 'POST', url: '/_sandbox/knobs', payload: { expiredAuth: false } });
    expect((await c.call('GET', 'myself')).statusCode).toBe(200);
    const bad = await c.sb.app.inject({ method: 'POST', url: '/_sandbox/knobs', payload: { errorRate: 2 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errorMessages[0]).toContain('errorRate');
  });

  it('counts calls by method, route template and status, and resets', async () => {
    c = await sandboxClient();
    const { key } = await createIssue(c, { project: { key: 'OPS' }, issuetype: { name: 'Task' } });
    await c.call('GET', `issue/${key}`);
    await c.call('GET', 'issue/NOPE-9');
    expect(c.sb.calls.count({ method: 'GET', route: '/rest/api/3/issue/:issueIdOrKey' })).toBe(2);
    expect(c.sb.calls.count({ route: '/rest/api/3/issue/:issueIdOrKey', status: 404 })).toBe(1);
    expect(c.sb.calls.count({ method: 'POST', route: '/rest/api/3/issue', status: 201 })).toBe(1);
    const viaApi = (await c.sb.app.inject({ method: 'GET', url: '/_sandbox/calls' })).json();
    expect(viaApi.total).toBe(3);
    await c.sb.app.inject({ method: 'DELETE', url: '/_sandbox/calls' });
    expect(c.sb.calls.count()).toBe(0);
  });

  it('resets the whole site through the control API', async () => {
    c = await sandboxClient();
    await createIssue(c, { project: { key: 'OPS' }, issuetype: { name: 'Task' } });
    expect((await c.sb.app.inject({ method: 'POST', url: '/_sandbox/reset' })).statusCode).toBe(204);
    expect(c.sb.state.issues.size).toBe(0);
    const again = await createIssue(c, { project: { key: 'OPS' }, issuetype: { name: 'Task' } });
    expect(again.key).toBe('OPS-1');
  });
});
