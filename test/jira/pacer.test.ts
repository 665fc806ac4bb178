import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJiraClient } from '../../src/jira/client.js';
import { PARK_SLOW_CALL_MS } from '../../src/jira/transport.js';
import { until } from '../helpers/wait.js';
import { Pacer, parseRetryAfter, putBackWaitLimit, withPutBack } from '../../src/jira/pacer.js';
import { connectionFor, env, FLAVOURS, type Env } from './helpers.js';
import { jiraPortFromClient } from '../../src/engine/jira-port.js';

/** A fake clock whose sleep advances time at once: the pacer's decisions become deterministic. */
function fakeTime(start = 1_700_000_000_000) {
  let now = start;
  const sleeps: number[] = [];
  return {
    clock: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
      await Promise.resolve();
    },
    advance: (ms: number) => {
      now += ms;
    },
    sleeps,
  };
}

const headers = (h: Record<string, string>) => ({ get: (k: string) => h[k.toLowerCase()] ?? null });

describe('Pacer (deterministic clock)', () => {
  it('parses Retry-After in seconds and as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('garbage', now)).toBeNull();
  });

  it('a 429 pauses the whole connection until the reset: every later caller waits', async () => {
    const t = fakeTime();
    const p = new Pacer({ clock: t.clock, sleep: t.sleep, concurrency: 2 });
    const r1 = await p.acquire();
    p.observe({ status: 429, headers: headers({ 'retry-after': '4', 'ratelimit-reason': 'jira-burst-based' }) });
    r1();
    const start = t.clock();
    // Two other "jobs" using the same connection.
    const [a, b] = await Promise.all([p.acquire(), p.acquire()]);
    expect(t.clock() - start).toBeGreaterThanOrEqual(4000);
    a();
    b();
    const s = p.stats();
    expect(s).toMatchObject({ rateLimited: 1, wasted: 1, pauses: 1, lastReason: 'jira-burst-based' });
    expect(s.waits).toBe(2);
  });

  it('answers without rate-limit headers (a burst of 401s) leave no phantom deficit behind', async () => {
    const t = fakeTime();
    const p = new Pacer({ clock: t.clock, sleep: t.sleep, concurrency: 4 });
    // Jira reported 2 tokens left, then 3 a second later: a refill rate is learnt.
    const r0 = await p.acquire();
    p.observe({ status: 200, headers: headers({ 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '2' }) });
    r0();
    t.advance(1000);
    const r1 = await p.acquire();
    p.observe({ status: 200, headers: headers({ 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '3' }) });
    r1();
    expect(p.stats().estimatedRefillPerSecond).toBeGreaterThan(0);
    // 200 calls answered 401 without headers (credentials expired for a while).
    for (let i = 0; i < 200; i++) {
      const r = await p.acquire();
      p.observe({ status: 401, headers: headers({}) });
      r();
    }
    const before = t.clock();
    const r = await p.acquire();
    r();
    expect(t.clock() - before).toBe(0);
  });

  it('an old estimate is not trusted: a connection never stalls longer than the estimate is stale', async () => {
    const t = fakeTime();
    const p = new Pacer({ clock: t.clock, sleep: t.sleep, concurrency: 4 });
    const r0 = await p.acquire();
    p.observe({ status: 200, headers: headers({ 'x-ratelimit-limit': '100', 'x-ratelimit-remaining': '0' }) });
    r0();
    t.advance(100_000);
    const r1 = await p.acquire();
    p.observe({ status: 200, headers: headers({ 'x-ratelimit-limit': '100', 'x-ratelimit-remaining': '1' }) });
    r1();
    // A learnt refill of 0.02 tokens/s would make each call wait ~50 s; the estimate goes stale
    // after 10 s without confirmation, so calls go on (Jira's 429 would teach the pacer again).
    expect(p.stats().estimatedRefillPerSecond).toBeLessThan(0.1);
    const start = t.clock();
    for (let i = 0; i < 5; i++) (await p.acquire())();
    expect(t.clock() - start).toBeLessThanOrEqual(10_000 + 1000);
  });

  it('honours X-RateLimit-Reset when Retry-After is absent, and caps the concurrency', async () => {
    const t = fakeTime(Date.parse('2026-01-01T00:00:00Z'));
    const p = new Pacer({ clock: t.clock, sleep: t.sleep, concurrency: 1 });
    const r = await p.acquire();
    let second = false;
    const next = p.acquire().then((rel) => {
      second = true;
      return rel;
    });
    await Promise.resolve();
    expect(second).toBe(false); // concurrency 1: waits for the first call
    p.observe({ status: 429, headers: headers({ 'x-ratelimit-reset': '2026-01-01T00:00:07Z' }) });
    r();
    (await next)();
    expect(t.clock()).toBeGreaterThanOrEqual(Date.parse('2026-01-01T00:00:07Z'));
  });

  it('meters calls from X-RateLimit-Remaining so an empty bucket is not hammered', async () => {
    const t = fakeTime();
    const p = new Pacer({ clock: t.clock, sleep: t.sleep, concurrency: 4 });
    // Jira says: limit 10, and the remaining count holds steady while we spend 1 call per 100 ms
    // (so it refills ~10/s); then it reports the bucket empty.
    for (const remaining of [5, 5, 5, 0]) {
      const r = await p.acquire();
      t.advance(100);
      p.observe({
        status: 200,
        headers: headers({ 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': String(remaining) }),
      });
      r();
    }
    expect(p.stats().estimatedRefillPerSecond).toBeCloseTo(10, 0);
    expect(p.stats().observedLimit).toBe(10);
    const before = t.clock();
    const r = await p.acquire();
    r();
    expect(t.clock() - before).toBeGreaterThanOrEqual(90); // had to wait for a refill rather than spend a 429
  });
});

describe('Pacer.admitWaitMs: budget for one more job (issue 17, workers ask before claiming)', () => {
  it('is the pause after a 429, Infinity while the running jobs hold every call slot, the refill time without a token', async () => {
    const t = fakeTime();
    const p = new Pacer({ clock: t.clock, sleep: t.sleep, concurrency: 2 });
    expect(p.admitWaitMs(0)).toBe(0); // nothing learnt: no limit
    expect(p.admitWaitMs(1)).toBe(0);
    expect(p.admitWaitMs(2)).toBe(Number.POSITIVE_INFINITY); // its call slots are its running jobs'
    // Jira: 0 left of 10, then 1 a second later (a refill is learnt): one token now.
    const r0 = await p.acquire();
    p.observe({ status: 200, headers: headers({ 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '0' }) });
    r0();
    t.advance(1000);
    const r1 = await p.acquire();
    p.observe({ status: 200, headers: headers({ 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '1' }) });
    r1();
    expect(p.admitWaitMs(0)).toBe(0); // a token for a first job
    const w = p.admitWaitMs(1); // one job running between calls will spend one: none left for another
    expect(w).toBeGreaterThan(0);
    expect(Number.isFinite(w)).toBe(true);
    // A 429 with Retry-After pauses the connection: no job may start before it ends.
    const r2 = await p.acquire();
    p.observe({ status: 429, headers: headers({ 'retry-after': '7' }) });
    r2();
    expect(p.admitWaitMs(0)).toBe(7000);
    t.advance(7000);
    expect(p.admitWaitMs(0)).toBeLessThan(7000);
  });
});

describe('a queued job’s call is put back instead of waiting for budget (issue 17)', () => {
  it('throws JOB_PUT_BACK, without taking a slot, on a 429 pause or a token wait over the limit; waits under it', async () => {
    const t = fakeTime();
    const p = new Pacer({ clock: t.clock, sleep: t.sleep, concurrency: 2 });
    const r0 = await p.acquire({ maxWaitMs: 1000 }); // budget: no wait at all
    p.observe({ status: 429, headers: headers({ 'retry-after': '3' }) });
    r0();
    // Any pause (429 / Retry-After): put back until it ends, the clock not moved (no sleep).
    const before = t.clock();
    await expect(p.acquire({ maxWaitMs: 1000 })).rejects.toMatchObject({
      code: 'JOB_PUT_BACK',
      retryable: true,
      retryAfterMs: 3000,
    });
    expect(t.clock()).toBe(before);
    expect(p.stats()).toMatchObject({ inFlight: 0, putBacks: 1, waits: 0 });
    // Outside a job the same call waits the pause out.
    const r1 = await p.acquire();
    expect(t.clock() - before).toBeGreaterThanOrEqual(3000);
    // Jira: 0 of 10 left, 1 a second later: a refill of ~1/s is learnt, the bucket is empty.
    p.observe({ status: 200, headers: headers({ 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '0' }) });
    r1();
    t.advance(1000);
    const r2 = await p.acquire();
    p.observe({ status: 200, headers: headers({ 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '0' }) });
    r2();
    // A token ~1 s away: over a 500 ms limit it is put back; under a 5 s limit it waits.
    await expect(p.acquire({ maxWaitMs: 500 })).rejects.toMatchObject({ code: 'JOB_PUT_BACK' });
    const slept = t.sleeps.length;
    const r3 = await p.acquire({ maxWaitMs: 5000 });
    expect(t.sleeps.length).toBeGreaterThan(slept);
    r3();
    expect(p.stats()).toMatchObject({ inFlight: 0, putBacks: 2 });
  });

  it('tells a waiting caller when its wait for a token starts and ends (a job lends its worker slot meanwhile)', async () => {
    const t = fakeTime();
    const p = new Pacer({ clock: t.clock, sleep: t.sleep, concurrency: 4 });
    const rate = (remaining: string) => headers({ 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': remaining });
    // Jira reported 2 tokens left, then 3 a second later: a refill of 2 a second is learnt.
    const r0 = await p.acquire();
    p.observe({ status: 200, headers: rate('2') });
    r0();
    t.advance(1000);
    const r1 = await p.acquire();
    p.observe({ status: 200, headers: rate('3') });
    r1();
    // Three calls spend the three tokens; the fourth waits for the refill and says so, once each way.
    const quiet: boolean[] = [];
    for (let i = 0; i < 3; i++) (await p.acquire({ maxWaitMs: 5000, onWait: (w) => quiet.push(w) }))();
    expect(quiet).toEqual([]);
    const told: boolean[] = [];
    (await p.acquire({ maxWaitMs: 5000, onWait: (w) => told.push(w) }))();
    expect(told).toEqual([true, false]);
    // One put back at once (a pause longer than its limit) never waited: it is told nothing.
    const r3 = await p.acquire();
    p.observe({ status: 429, headers: headers({ 'retry-after': '4' }) });
    r3();
    const putBack: boolean[] = [];
    await expect(p.acquire({ maxWaitMs: 1000, onWait: (w) => putBack.push(w) })).rejects.toMatchObject({
      code: 'JOB_PUT_BACK',
    });
    expect(putBack).toEqual([]);
  });

  it('withPutBack scopes the limit to the job’s async calls only', async () => {
    expect(putBackWaitLimit()).toBeUndefined();
    const seen = await withPutBack(async () => {
      await Promise.resolve();
      return putBackWaitLimit();
    });
    expect(seen).toBe(1000);
    expect(putBackWaitLimit()).toBeUndefined();
  });
});

describe.each(FLAVOURS)('a put-back call is never sent (sandbox on %s)', (flavour) => {
  it('inside a job a paused connection’s call throws JOB_PUT_BACK before the request; outside, it waits and is sent', async () => {
    const e = await env(flavour, { maxRetries: 3 });
    try {
      // One call a second: the second call of the burst is refused (429, Retry-After 1 s).
      e.sb.knobs.set({ rateLimit: { capacity: 1, refillPerSecond: 1 } });
      e.sb.calls.reset();
      await e.jira.getProject('OPS');
      // The job's next call meets the 429: the transport's retry finds the pause and gives up unsent.
      await expect(withPutBack(() => e.jira.getProject('OPS'))).rejects.toMatchObject({ code: 'JOB_PUT_BACK' });
      expect(e.sb.calls.count({ status: 429 })).toBe(1);
      expect(e.sb.calls.count()).toBe(2);
      // Still paused: a job's call is not sent at all.
      await expect(withPutBack(() => e.jira.getProject('OPS'))).rejects.toMatchObject({ code: 'JOB_PUT_BACK' });
      expect(e.sb.calls.count()).toBe(2);
      // An admin call (no job) waits for the pause and is answered.
      await expect(e.jira.getProject('OPS')).resolves.toMatchObject({ key: 'OPS' });
      expect(e.sb.calls.count({ status: 200 })).toBeGreaterThanOrEqual(2);
    } finally {
      e.sb.knobs.set({ rateLimit: null });
      await e.close();
    }
  });
});

describe('a job’s call that waits for a token', () => {
  it('parks the job while it waits (told through withPutBack), and is sent when the token comes', async () => {
    // The pacer's clock is real time plus a skew the test moves, so a second can pass at once.
    let skew = 0;
    const pacer = new Pacer({ clock: () => Date.now() + skew });
    const e = await env('cloud', { maxRetries: 3, pacer });
    try {
      const rate = (remaining: string) => headers({ 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': remaining });
      // Jira said no token was left, and none again 0.95 s later after one call: a refill of about
      // one token a second is learnt, and the bucket is empty now — the next call waits under the
      // put-back limit of 1 s for its token, parked.
      pacer.observe({ status: 200, headers: rate('0') });
      skew += 950;
      pacer.observe({ status: 200, headers: rate('0') });
      e.sb.calls.reset();
      const told: boolean[] = [];
      await expect(withPutBack(() => e.jira.getProject('OPS'), { park: (w) => told.push(w) })).resolves.toMatchObject({
        key: 'OPS',
      });
      expect(told).toEqual([true, false]);
      expect(e.sb.calls.count({ status: 200 })).toBe(1);
    } finally {
      await e.close();
    }
  });
});

describe('a job’s call to a slow Jira site', () => {
  it('parks the job once the call has been unanswered for PARK_SLOW_CALL_MS, until the answer', async () => {
    const e = await env('cloud', { maxRetries: 0 });
    try {
      const told: boolean[] = [];
      // The site answers after 3 s: the job is parked from PARK_SLOW_CALL_MS on, and unparked by the answer.
      e.sb.knobs.set({ latencyMs: Math.max(3000, PARK_SLOW_CALL_MS * 3) });
      const slow = withPutBack(() => e.jira.getProject('OPS'), { park: (w) => told.push(w) });
      await until('the slow call parked its job', () => told.length === 1);
      expect(told).toEqual([true]);
      await expect(slow).resolves.toMatchObject({ key: 'OPS' });
      expect(told).toEqual([true, false]);
    } finally {
      e.sb.knobs.set({ latencyMs: 0 });
      await e.close();
    }
  });
});

describe('a shared call a job started and was put back', () => {
  it('is made again by a caller outside jobs that joined it (it waits for the budget), not failed with the job’s put-back', async () => {
    const e = await env('cloud', { maxRetries: 3 });
    try {
      const port = jiraPortFromClient(e.jira, { searchLagMs: 0 });
      // Jira answered a 429 with Retry-After 1 s: the connection is paused.
      e.jira.transport.pacer.observe({ status: 429, headers: headers({ 'retry-after': '1' }) });
      e.sb.calls.reset();
      // A job asks who the bridge is (a cached, shared call); an admin request joins it at once.
      const job = withPutBack(() => port.whoami());
      const admin = port.whoami();
      await expect(job).rejects.toMatchObject({ code: 'JOB_PUT_BACK' });
      await expect(admin).resolves.toMatchObject({ displayName: expect.any(String) });
      expect(e.sb.calls.count({ route: '/rest/api/3/myself', status: 200 })).toBe(1);
    } finally {
      await e.close();
    }
  });
});

describe.each(FLAVOURS)('429 storm against the sandbox on %s', (flavour) => {
  let e: Env;
  beforeAll(async () => {
    e = await env(flavour, { maxRetries: 8 });
  });
  afterAll(async () => {
    await e.close();
  });

  it('jobs sharing a connection pause together and waste few calls', async () => {
    // Burst 5, refill 20/s: 60 calls need many refills.
    e.sb.knobs.set({ rateLimit: { capacity: 5, refillPerSecond: 20 } });
    const pacer = new Pacer({ concurrency: 4 });
    const conn = connectionFor(e.sb);
    // Three jobs, each with its own client object, share the connection's pacer.
    const clients = [0, 1, 2].map(() => createJiraClient(conn, { pacer, maxRetries: 8, backoffMs: 1 }));
    try {
      e.sb.calls.reset();
      await Promise.all(
        clients.map(async (c) => {
          for (let i = 0; i < 20; i++) await c.getProject('SEC');
        }),
      );
      const s = pacer.stats();
      const total = e.sb.calls.count();
      const r429 = e.sb.calls.count({ status: 429 });
      expect(e.sb.calls.count({ status: 200 })).toBe(60);
      expect(s.rateLimited).toBe(r429);
      expect(s.calls).toBe(total);
      // Without pacing, 60 calls against a 5-token bucket waste dozens; paced, at most a handful.
      expect(r429).toBeLessThanOrEqual(Math.ceil(total * 0.1));
      expect(s.waits).toBeGreaterThan(0);
    } finally {
      e.sb.knobs.set({ rateLimit: null });
      await Promise.all(clients.map((c) => c.close()));
    }
  });
});

describe('default pacer sharing', () => {
  it('clients of the same connection share one pacer; another site or connection gets its own', async () => {
    const conn = {
      id: 'shared-1',
      siteUrl: 'https://a.example',
      flavour: 'datacenter' as const,
      auth: { type: 'pat' as const, token: 't' },
    };
    const a = createJiraClient(conn);
    const b = createJiraClient(conn);
    const c = createJiraClient({ ...conn, siteUrl: 'https://b.example' });
    const d = createJiraClient({ ...conn, id: 'shared-2' });
    expect(a.transport.pacer).toBe(b.transport.pacer);
    expect(c.transport.pacer).not.toBe(a.transport.pacer);
    expect(d.transport.pacer).not.toBe(a.transport.pacer);
    await Promise.all([a, b, c, d].map((x) => x.close()));
  });
});
