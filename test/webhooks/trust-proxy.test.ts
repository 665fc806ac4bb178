/**
 * Behind a load balancer (examples/compose.replicas.yaml + nginx.replicas.conf): with
 * `server.trust_proxy` the service takes the client address from X-Forwarded-For, so the webhook
 * intake's reject limiter (keyed per connection and client address) and the sign-in limiter count
 * each caller on its own. Without it, every caller is the balancer: one sender's garbage would
 * block Jira's real deliveries. Real service, real HTTP on loopback (the forwarded addresses are
 * only header values).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { parseTrustProxy } from '../../src/http/server.js';
import { isAppError } from '../../src/core/errors.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { sign } from '../../src/webhooks/verify.js';
import { sandboxConnectionEntry, startTestService, writeConfig } from '../helpers/service.js';

const SECRET_A = 'secret-of-connection-a-0123456789';
const SECRET_B = 'secret-of-connection-b-0123456789';

function config(sb: RunningSandbox, trustProxy: string | undefined): string[] {
  const conn = (id: string, webhookSecret: string) => sandboxConnectionEntry(sb, { id, webhookSecret });
  return [
    ...(trustProxy ? ['server:', `  trust_proxy: ${trustProxy}`] : []),
    'connections:',
    ...conn('a', SECRET_A),
    ...conn('b', SECRET_B),
  ];
}

let n = 0;
const delivery = () =>
  JSON.stringify({
    timestamp: Date.now(),
    webhookEvent: 'jira:issue_updated',
    issue: { id: String(90_000 + n), key: `OPS-${90_000 + n++}` },
  });

describe('client addresses behind a load balancer (server.trust_proxy)', () => {
  let sb: RunningSandbox;
  const dirs: string[] = [];
  const services: RunningService[] = [];
  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
  });
  afterAll(async () => {
    for (const s of services) await s.stop();
    await sb.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const start = async (trustProxy: string | undefined, env: Record<string, string> = {}) => {
    const dir = mkdtempSync(join(tmpdir(), 'jb-proxy-'));
    dirs.push(dir);
    writeConfig(dir, config(sb, trustProxy));
    const svc = await startTestService(dir, env);
    services.push(svc);
    return svc;
  };
  const deliver = async (svc: RunningService, conn: string, from: string, secret: string) => {
    const body = delivery();
    const res = await fetch(`${svc.url}/webhooks/jira/${conn}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-forwarded-for': from,
        'x-hub-signature': sign(secret, body),
        'x-atlassian-webhook-identifier': `d-${n}`,
      },
      body,
    });
    await res.arrayBuffer();
    return res.status;
  };

  it('with trust_proxy naming the balancer, bad deliveries from one forwarded address are limited; Jira’s, from another, get through', async () => {
    const svc = await start('127.0.0.1');
    const attacker = '203.0.113.7';
    const jira = '198.51.100.20';
    const statuses: number[] = [];
    for (let i = 0; i < 31; i++) statuses.push(await deliver(svc, 'a', attacker, 'a-guessed-secret-0000000000'));
    expect(statuses.slice(0, 30).every((s) => s === 403)).toBe(true);
    expect(statuses[30]).toBe(429);
    // The attacker is limited even with the right secret (no signature work is done for it).
    expect(await deliver(svc, 'a', attacker, SECRET_A)).toBe(429);
    // Jira's correctly signed deliveries, from its own address, are stored.
    for (let i = 0; i < 3; i++) expect(await deliver(svc, 'a', jira, SECRET_A)).toBe(202);
    // And the same address's deliveries to another connection are not blocked.
    expect(await deliver(svc, 'b', attacker, SECRET_B)).toBe(202);
    // A client can send its own X-Forwarded-For; the balancer appends the address it saw, and
    // only that one is believed (the one before it came from an untrusted hop).
    expect(await deliver(svc, 'a', `198.51.100.99, ${attacker}`, 'a-guessed-secret-0000000000')).toBe(429);
  });

  it('with trust_proxy, 20 unknown API tokens from one forwarded address do not lock out another', async () => {
    const svc = await start('127.0.0.1');
    const created = await fetch(`${svc.url}/api/v1/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'admin', role: 'admin' }),
    });
    const { token } = (await created.json()) as { token: string };
    const get = async (from: string, t: string) => {
      const r = await fetch(`${svc.url}/api/v1/jobs/stats`, {
        headers: { authorization: `Bearer ${t}`, 'x-forwarded-for': from },
      });
      await r.arrayBuffer();
      return r.status;
    };
    for (let i = 0; i < 20; i++) expect(await get('203.0.113.8', `jb_guess-${i}`)).toBe(401);
    expect(await get('203.0.113.8', token)).toBe(429);
    expect(await get('198.51.100.21', token)).toBe(200);
  });

  it('without it (the default), X-Forwarded-For is not believed: every caller is the socket’s address', async () => {
    const svc = await start(undefined);
    for (let i = 0; i < 30; i++) await deliver(svc, 'a', '203.0.113.9', 'a-guessed-secret-0000000000');
    expect(await deliver(svc, 'a', '198.51.100.22', SECRET_A)).toBe(429);
  });

  it('TRUST_PROXY from the environment wins over the file; a bad value names the setting and the forms it takes', async () => {
    const svc = await start(undefined, { TRUST_PROXY: '127.0.0.1/8' });
    for (let i = 0; i < 30; i++) await deliver(svc, 'a', '203.0.113.10', 'a-guessed-secret-0000000000');
    expect(await deliver(svc, 'a', '198.51.100.23', SECRET_A)).toBe(202);
    await expect(start(undefined, { TRUST_PROXY: 'the-balancer' })).rejects.toThrow(
      /TRUST_PROXY: "the-balancer" is not a proxy address; use the load balancer's addresses or CIDRs/,
    );
  });

  it('parseTrustProxy takes booleans, addresses, CIDRs and proxy-addr names', () => {
    expect(parseTrustProxy('true')).toBe(true);
    expect(parseTrustProxy('false')).toBe(false);
    expect(() => parseTrustProxy('1', 'TRUST_PROXY')).toThrow(
      /TRUST_PROXY: "1" is not a proxy address \(a hop count cannot tell the balancer from a client forging the header\)/,
    );
    expect(parseTrustProxy('10.0.0.0/8, 127.0.0.1,loopback')).toEqual(['10.0.0.0/8', '127.0.0.1', 'loopback']);
    expect(parseTrustProxy(['::1', 'fd00::/8'])).toEqual(['::1', 'fd00::/8']);
    for (const bad of ['10.0.0.0/33', 'nginx', '1.2.3.4/8/9', '', '2']) {
      try {
        parseTrustProxy(bad);
        expect.unreachable(`${bad} accepted`);
      } catch (err) {
        expect(isAppError(err) && err.code).toBe('CONFIG_INVALID');
      }
    }
  });
});
