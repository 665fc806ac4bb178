import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../../src/app/service.js';
import { createLogger } from '../../src/log/logger.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { sign } from '../../src/webhooks/verify.js';
import { pgUnreachableReason, TEST_DATABASE_URL } from '../helpers/db.js';

const SECRET = 'webhook-secret-for-tests-0123';
const pgReason = await pgUnreachableReason();
if (pgReason) console.warn(`PostgreSQL half of test/webhooks/receive.test.ts skipped: ${pgReason}`);

describe.each([
  { engine: 'sqlite', skip: false },
  { engine: 'postgres', skip: pgReason !== null },
])('Jira webhooks into the service ($engine)', ({ engine, skip }) => {
  let sb: RunningSandbox;
  let svc: RunningService;
  const dir = mkdtempSync(join(tmpdir(), 'jb-wh-'));
  const schema = `wh_${process.pid}_${Date.now()}`;
  const alice = (): string => {
    const u = sb.credentials.users.alice;
    return `Basic ${Buffer.from(`${u.loginEmail}:${u.apiToken}`).toString('base64')}`;
  };
  const deliveries = async (
    q = '',
  ): Promise<Array<{ identifier: string; event: string; issue_key: string; verdict: string }>> =>
    ((await (await fetch(`${svc.url}/api/v1/webhooks/deliveries?limit=500${q}`)).json()) as { deliveries: [] })
      .deliveries;

  beforeAll(async () => {
    if (skip) return;
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    writeFileSync(
      join(dir, 'jira-bridge.yaml'),
      [
        'connections:',
        '  - id: sb',
        `    site_url: ${sb.baseUrl}`,
        '    flavour: cloud',
        `    auth: { type: basic, email: ${sb.credentials.email}, api_token: ${sb.credentials.apiToken} }`,
        `    webhook: { secret: ${SECRET} }`,
        // A connection whose webhook has no secret yet (the operator generates one below).
        '  - id: fresh',
        `    site_url: ${sb.baseUrl}`,
        '    flavour: cloud',
        `    auth: { type: basic, email: ${sb.credentials.email}, api_token: ${sb.credentials.apiToken} }`,
        '    sweep: { interval_seconds: 0 }',
        '',
      ].join('\n'),
    );
    const env: NodeJS.ProcessEnv = { PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(dir, 'data') };
    if (engine === 'postgres') env.DATABASE_URL = `${TEST_DATABASE_URL}?schema=${schema}`;
    svc = await startService({
      configPath: join(dir, 'jira-bridge.yaml'),
      env,
      logger: createLogger({ level: 'silent' }),
    });
    const setup = (await (await fetch(`${svc.url}/api/v1/connections/sb/webhook`)).json()) as {
      url: string;
      authentication: string;
    };
    expect(setup.authentication).toBe('signature');
    sb.webhooks.register({
      url: setup.url,
      events: ['jira:issue_created', 'jira:issue_updated', 'comment_created'],
      secret: SECRET,
    });
  });
  afterAll(async () => {
    if (skip) return;
    await svc.stop();
    await sb.close();
    rmSync(dir, { recursive: true, force: true });
    if (engine === 'postgres') {
      const pg = await import('pg');
      const c = new pg.default.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    }
  });

  it.skipIf(skip)(
    'signed deliveries from Jira are stored once each, duplicates acknowledged, in the delivery log',
    async () => {
      sb.webhooks.setFaults({ duplicateRate: 1 });
      const created = await fetch(`${sb.baseUrl}/rest/api/3/issue`, {
        method: 'POST',
        headers: { authorization: alice(), 'content-type': 'application/json' },
        body: JSON.stringify({
          fields: { project: { key: 'OPS' }, issuetype: { name: 'Task' }, summary: 'Printer on fire' },
        }),
      });
      expect(created.status).toBe(201);
      const { key } = (await created.json()) as { key: string };
      const comment = await fetch(`${sb.baseUrl}/rest/api/3/issue/${key}/comment`, {
        method: 'POST',
        headers: { authorization: alice(), 'content-type': 'application/json' },
        body: JSON.stringify({
          body: {
            type: 'doc',
            version: 1,
            content: [{ type: 'paragraph', content: [{ type: 'text', text: 'Extinguished' }] }],
          },
        }),
      });
      expect(comment.status).toBe(201);
      await sb.webhooks.drain();
      sb.webhooks.setFaults({ duplicateRate: 0 });

      const sent = sb.webhooks.deliveries().filter((d) => d.fault !== 'dropped');
      const identifiers = new Set(sent.map((d) => d.identifier));
      expect(sent.length).toBeGreaterThan(identifiers.size); // Jira really sent duplicates
      expect(sent.every((d) => d.status === 200 || d.status === 202)).toBe(true);
      const log = await deliveries(`&issue_key=${key}`);
      expect(log.map((d) => d.identifier).sort()).toEqual([...identifiers].sort());
      // A comment also raises jira:issue_updated (issue_commented), as in real Jira.
      expect([...new Set(log.map((d) => d.event))].sort()).toEqual([
        'comment_created',
        'jira:issue_created',
        'jira:issue_updated',
      ]);
      // Each was stored, then the inbound job gave it its verdict (the issue is not linked).
      expect(log.every((d) => ['stored', 'ignored:unlinked'].includes(d.verdict))).toBe(true);
    },
  );

  it.skipIf(skip)('a generated secret is shown once and then accepted beside the configured one', async () => {
    const gen = await fetch(`${svc.url}/api/v1/connections/sb/webhook/secret`, { method: 'POST' });
    expect(gen.status).toBe(201);
    const { secret, url } = (await gen.json()) as { secret: string; url: string };
    expect(secret.length).toBeGreaterThanOrEqual(40);
    expect(url).toBe(`${svc.url}/webhooks/jira/sb`);
    const setup = await (await fetch(`${svc.url}/api/v1/connections/sb/webhook`)).text();
    expect(setup).not.toContain(secret);
    for (const [i, s] of [secret, SECRET].entries()) {
      const raw = JSON.stringify({
        webhookEvent: 'jira:issue_updated',
        issue: { id: `9990${i}`, key: `OPS-9990${i}` },
      });
      const res = await fetch(`${svc.url}/webhooks/jira/sb`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hub-signature': sign(s, raw) },
        body: raw,
      });
      expect(res.status).toBe(202);
    }
    const audit = await svc.store.db.selectFrom('audit_log').selectAll().execute();
    expect(audit.map((a) => a.action)).toContain('webhook_secret.generated');
    expect(JSON.stringify(audit)).not.toContain(secret);
    // Sealed at rest: not in the store in clear (and, on SQLite, not in the database files).
    const settings = await svc.store.db.selectFrom('settings').selectAll().execute();
    expect(settings.find((x) => x.key === 'webhook-secret:sb')?.value).toContain('"sealed":"v1.');
    expect(JSON.stringify(settings)).not.toContain(secret);
    if (engine === 'sqlite') {
      const files = readdirSync(join(dir, 'data')).filter((f) => /\.db(-wal)?$/.test(f));
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) expect(readFileSync(join(dir, 'data', f)).toString('latin1')).not.toContain(secret);
    }
  });

  it.skipIf(skip)(
    'a wrong signature is refused with 403: only a body-less rejected row, with the fix, nothing stored or queued',
    async () => {
      const before = await deliveries();
      const jobsBefore = (await svc.store.db.selectFrom('jobs').select('id').execute()).length;
      const raw = JSON.stringify({
        webhookEvent: 'jira:issue_updated',
        issue: { id: '1', key: 'OPS-1', fields: { summary: 'body-marker-7f3a' } },
      });
      const badSig = sign('not-the-secret-0000000', raw);
      const res = await fetch(`${svc.url}/webhooks/jira/sb`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-hub-signature': badSig,
          'x-atlassian-webhook-identifier': 'rejected-id-1',
        },
        body: raw,
      });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SIGNATURE_MISMATCH');
      const unsigned = await fetch(`${svc.url}/webhooks/jira/sb`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: raw,
      });
      expect(unsigned.status).toBe(403);
      const after = await deliveries();
      // One row per cause for the address (each with its own fix).
      expect(after.length).toBe(before.length + 2);
      const rows = (await deliveries('&verdict=rejected&connection=sb')) as unknown as Array<Record<string, unknown>>;
      const wrong = rows.find((r) => r.identifier === 'rejected-id-1')!;
      expect(wrong).toMatchObject({
        connection_id: 'sb',
        verdict: 'rejected:signature',
        identifier: 'rejected-id-1',
        event: null,
        issue_key: null,
        source_address: '127.0.0.1',
        repeats: 0,
      });
      expect(wrong.detail).toMatch(/the secret in Jira does not match.*generate a new secret/);
      const missing = rows.find((r) => r !== wrong)!;
      expect(missing).toMatchObject({ verdict: 'rejected:signature', repeats: 0 });
      expect(missing.detail).toMatch(/carries no signature/);
      const stored = await svc.store.db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('verdict', 'like', 'rejected:%')
        .execute();
      expect(stored).toHaveLength(2);
      expect(stored.every((r) => r.body === '')).toBe(true);
      expect(JSON.stringify(stored)).not.toContain('body-marker-7f3a');
      expect(JSON.stringify(stored)).not.toContain(badSig.slice(7));
      expect((await svc.store.db.selectFrom('jobs').select('id').execute()).length).toBe(jobsBefore);
      // Jira retries the same delivery once the secret is fixed: stored, not taken for a duplicate.
      const retry = await fetch(`${svc.url}/webhooks/jira/sb`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-hub-signature': sign(SECRET, raw),
          'x-atlassian-webhook-identifier': 'rejected-id-1',
          'x-atlassian-webhook-retry': '1',
        },
        body: raw,
      });
      expect(retry.status).toBe(202);
      expect(((await retry.json()) as { verdict: string }).verdict).toBe('stored');
    },
  );

  it.skipIf(skip)("a rejected delivery's fix text follows its cause", async () => {
    // Jira delivers to a connection that has no webhook secret yet: "no secret configured".
    const raw = JSON.stringify({ webhookEvent: 'jira:issue_updated', issue: { id: '7', key: 'OPS-7' } });
    const send = (signature: string | undefined, id: string) =>
      fetch(`${svc.url}/webhooks/jira/fresh`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-atlassian-webhook-identifier': id,
          ...(signature ? { 'x-hub-signature': signature } : {}),
        },
        body: raw,
      });
    expect((await send(sign('what-jira-has-0000000000', raw), 'cause-1')).status).toBe(403);
    // The operator generates a secret, but Jira still signs with its old one (within the 10 s).
    const gen = await fetch(`${svc.url}/api/v1/connections/fresh/webhook/secret`, { method: 'POST' });
    expect(gen.status).toBe(201);
    const { secret } = (await gen.json()) as { secret: string };
    expect((await send(sign('what-jira-has-0000000000', raw), 'cause-2')).status).toBe(403);
    expect((await send(sign('what-jira-has-0000000000', raw), 'cause-3')).status).toBe(403);
    expect((await send(sign(secret, raw), 'cause-4')).status).toBe(202);
    const rows = (await deliveries('&verdict=rejected&connection=fresh')) as unknown as Array<{
      identifier: string;
      detail: string;
      repeats: number;
    }>;
    const byId = new Map(rows.map((r) => [r.identifier, r]));
    expect(rows).toHaveLength(2);
    // The first cause keeps its fix; the wrong signature has its own row, its fix, its repeat.
    expect(byId.get('cause-1')).toMatchObject({ repeats: 0 });
    expect(byId.get('cause-1')!.detail).toMatch(/has no webhook secret or URL token/);
    expect(byId.get('cause-2')).toMatchObject({ repeats: 1 });
    expect(byId.get('cause-2')!.detail).toMatch(/The signature does not match: the secret in Jira does not match/);
    expect(byId.get('cause-2')!.detail).not.toMatch(/no webhook secret/);
  });

  it.skipIf(skip)('malformed JSON is 400, an oversized body 413, an unknown connection 404', async () => {
    const bad = '{"webhookEvent": ';
    const r1 = await fetch(`${svc.url}/webhooks/jira/sb`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature': sign(SECRET, bad) },
      body: bad,
    });
    expect(r1.status).toBe(400);
    const big = JSON.stringify({ webhookEvent: 'jira:issue_updated', pad: 'x'.repeat(1024 * 1024 + 10) });
    const r2 = await fetch(`${svc.url}/webhooks/jira/sb`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature': sign(SECRET, big) },
      body: big,
    });
    expect(r2.status).toBe(413);
    const ok = JSON.stringify({ webhookEvent: 'jira:issue_updated' });
    const r3 = await fetch(`${svc.url}/webhooks/jira/nope`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature': sign(SECRET, ok) },
      body: ok,
    });
    expect(r3.status).toBe(404);
  });
});
