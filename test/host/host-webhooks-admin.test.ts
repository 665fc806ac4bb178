/**
 * Host-webhook subscriptions through the admin API, against the real service: created live (a
 * secret generated or given, returned once), beside the configuration file's; deliveries verify
 * with the secret (Standard Webhooks reference library); the secret is sealed at rest (not in the
 * SQLite files), never returned after creation, audited masked; rotated and replaced at once;
 * deleted (no more deliveries); re-sealed by rotate-key.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiHostWebhooks } from '../../src/app/host-webhooks-admin.js';
import type { RunningService } from '../../src/app/service.js';
import { rotateKeyCommand } from '../../src/cli/commands/rotate-key.js';
import { webhookFor } from '../../src/host/sign.js';
import { createSecretBox } from '../../src/security/secret-box.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { openStore } from '../../src/store/index.js';
import { sandboxConnectionYaml, startTestService, writeConfig } from '../helpers/service.js';

const FILE_SECRET = 'file-subscription-secret-0123456789';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

describe('host webhooks through the admin API (real service)', () => {
  let sb: RunningSandbox;
  let svc: RunningService;
  let receiver: Server;
  let base = '';
  const received: Received[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'jb-hostwh-'));
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const env = { JIRA_BRIDGE_MASTER_KEY: oldKey.toString('base64') };
  const secretsSeen: string[] = [];
  let n = 0;

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${svc.url}${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, text, json: (text ? JSON.parse(text) : null) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  const verify = (secret: string, r: Received) =>
    webhookFor(secret).verify(r.body, {
      'webhook-id': String(r.headers['webhook-id']),
      'webhook-timestamp': String(r.headers['webhook-timestamp']),
      'webhook-signature': String(r.headers['webhook-signature']),
    }) as { type: string; data: { record: { host_id: string } } };
  const waitFor = async (cond: () => boolean, ms = 15_000): Promise<void> => {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > ms) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  /** A record change; resolves to its host id. */
  const change = async (): Promise<string> => {
    const id = `hw-${++n}`;
    const r = await call('PUT', `/api/v1/records/web/${id}`, { kind: 'incident', title: `Change ${n}`, status: 'new' });
    expect(r.status).toBe(201);
    return id;
  };
  const to = (path: string, hostId: string) =>
    received.filter((r) => r.path === path && r.body.includes(`"host_id":"${hostId}"`));

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ path: req.url ?? '', headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    writeConfig(dir, [
      ...sandboxConnectionYaml(sb),
      'mappings:',
      '  - { id: web, connection: sb, scope: web, project: OPS, kinds: { incident: { issue_type: Incident } } }',
      'host_webhooks:',
      `  - { url: ${base}/file, secret: ${FILE_SECRET}, events: ['record.created'] }`,
    ]);
    svc = await startTestService(dir, env);
  });
  afterAll(async () => {
    await svc?.stop();
    await sb?.close();
    await new Promise((r) => receiver?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  let api1 = '';
  let secret1 = '';

  it('creates a subscription live, with a generated secret shown once; deliveries verify with it', async () => {
    const bad = await call('POST', '/api/v1/host-webhooks', { url: 'not a url' });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/body\.url.*absolute http\(s\) URL/);
    const short = await call('POST', '/api/v1/host-webhooks', { url: `${base}/x`, secret: 'short' });
    expect(short.status).toBe(400);
    expect(short.text).toMatch(/body\.secret.*at least 16 characters/);
    const typo = await call('POST', '/api/v1/host-webhooks', { url: `${base}/x`, events: ['record.updatd'] });
    expect(typo.status).toBe(400);
    expect(typo.text).toMatch(/body\.events.*\\"record\.updatd\\" is not a change type; known: record\.created/);

    const created = await call('POST', '/api/v1/host-webhooks', {
      url: `${base}/api-1`,
      events: ['record.created', 'record.updated'],
      description: 'StackFlow prod',
    });
    expect(created.status).toBe(201);
    secret1 = created.json.secret as string;
    api1 = created.json.subscription.id as string;
    secretsSeen.push(secret1);
    expect(secret1).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(created.json.subscription).toMatchObject({
      url: `${base}/api-1`,
      events: ['record.created', 'record.updated'],
      description: 'StackFlow prod',
      source: 'api',
      active: true,
      has_secret: true,
    });
    expect(created.json.note).toMatch(/not shown again/);

    // Listed beside the file's, never with a secret.
    const list = await call('GET', '/api/v1/host-webhooks');
    expect(list.json.subscriptions.map((s: { source: string; url: string }) => [s.source, s.url])).toEqual([
      ['file', `${base}/file`],
      ['api', `${base}/api-1`],
    ]);
    expect(list.text).not.toContain(secret1);
    expect(list.text).not.toContain(FILE_SECRET);
    expect((await call('GET', `/api/v1/host-webhooks/${api1}`)).text).not.toContain(secret1);
    expect((await call('POST', '/api/v1/host-webhooks', { url: `${base}/file` })).text).toMatch(
      /already a subscription in the configuration file/,
    );
    expect((await call('POST', '/api/v1/host-webhooks', { url: `${base}/api-1` })).status).toBe(409);

    // Live at once: the next change reaches both, each signed with its own secret.
    const id = await change();
    await waitFor(() => to('/api-1', id).length > 0 && to('/file', id).length > 0);
    expect(verify(secret1, to('/api-1', id)[0]!)).toMatchObject({ type: 'record.created' });
    expect(verify(FILE_SECRET, to('/file', id)[0]!)).toMatchObject({ type: 'record.created' });
    expect(() => verify(FILE_SECRET, to('/api-1', id)[0]!)).toThrow();
  });

  it('the secret is sealed at rest: not in the database files, not in the audit log', async () => {
    const row = await svc.store.db
      .selectFrom('outbound_webhooks')
      .selectAll()
      .where('id', '=', api1)
      .executeTakeFirstOrThrow();
    expect(row.secret_enc).toMatch(/^v1\./);
    const audit = await call('GET', '/api/v1/audit?action=host_webhook.');
    expect(audit.json.entries[0]).toMatchObject({
      action: 'host_webhook.created',
      target: `host_webhook:${api1}`,
      after: { url: `${base}/api-1`, secret: '••••••' },
    });
    expect(audit.text).not.toContain(secret1);
    await svc.store.db.selectFrom('outbound_webhooks').select('id').execute(); // let the WAL settle
    const files = readdirSync(join(dir, 'data')).filter((f) => /\.db(-wal)?$/.test(f));
    expect(files.length).toBeGreaterThan(0);
    const bytes = files.map((f) => readFileSync(join(dir, 'data', f)).toString('latin1')).join('');
    expect(bytes).toContain(`${base}/api-1`); // the scan does see the row
    for (const s of [secret1, secret1.slice(6)]) expect(bytes.includes(s)).toBe(false);
  });

  it('a rotated secret signs the very next delivery; a given one replaces it without being echoed', async () => {
    const rotated = await call('PUT', `/api/v1/host-webhooks/${api1}`, { rotate_secret: true });
    expect(rotated.status).toBe(200);
    const secret2 = rotated.json.secret as string;
    secretsSeen.push(secret2);
    expect(secret2).not.toBe(secret1);
    const id = await change();
    await waitFor(() => to('/api-1', id).length > 0);
    expect(verify(secret2, to('/api-1', id)[0]!)).toMatchObject({ type: 'record.created' });
    expect(() => verify(secret1, to('/api-1', id)[0]!)).toThrow();

    const given = 'host-chosen-secret-abcdefghijklmnop';
    secretsSeen.push(given);
    const put = await call('PUT', `/api/v1/host-webhooks/${api1}`, { secret: given, events: ['record.created'] });
    expect(put.status).toBe(200);
    expect(put.text).not.toContain(given);
    expect(put.json.subscription.events).toEqual(['record.created']);
    const id2 = await change();
    await waitFor(() => to('/api-1', id2).length > 0);
    expect(verify(given, to('/api-1', id2)[0]!)).toMatchObject({ type: 'record.created' });
    const audit = await call('GET', `/api/v1/audit?target=host_webhook:${api1}`);
    expect(audit.json.entries[0]).toMatchObject({
      action: 'host_webhook.updated',
      before: { events: ['record.created', 'record.updated'], secret: '••••••' },
      after: { events: ['record.created'], secret: '•••••• (replaced)' },
    });
    for (const s of secretsSeen) expect(audit.text).not.toContain(s);
    // The file's subscription is edited in the file.
    const fileId = (await call('GET', '/api/v1/host-webhooks')).json.subscriptions[0].id as string;
    const fileEdit = await call('PUT', `/api/v1/host-webhooks/${fileId}`, { events: ['*'] });
    expect(fileEdit.status).toBe(409);
    expect(fileEdit.text).toMatch(/configuration file.*change it there/);
  });

  it('deleted: no further deliveries; rotate-key re-seals the remaining subscriptions', async () => {
    const second = await call('POST', '/api/v1/host-webhooks', { url: `${base}/api-2` });
    expect(second.status).toBe(201);
    const secret3 = second.json.secret as string;
    expect((await call('DELETE', `/api/v1/host-webhooks/${api1}`)).status).toBe(204);
    expect((await call('GET', `/api/v1/host-webhooks/${api1}`)).status).toBe(404);
    const id = await change();
    await waitFor(() => to('/api-2', id).length > 0 && to('/file', id).length > 0);
    expect(verify(secret3, to('/api-2', id)[0]!).data.record.host_id).toBe(id);
    expect(to('/api-1', id)).toEqual([]);

    await svc.stop();
    const out = { stdout: new PassThrough(), stderr: new PassThrough() };
    let printed = '';
    out.stdout.on('data', (c: Buffer) => (printed += c.toString()));
    const code = await rotateKeyCommand({
      configPath: join(dir, 'jira-bridge.yaml'),
      env: {
        DATA_DIR: join(dir, 'data'),
        JIRA_BRIDGE_MASTER_KEY: newKey.toString('base64'),
        JIRA_BRIDGE_PREVIOUS_MASTER_KEYS: oldKey.toString('base64'),
        LOG_LEVEL: 'silent',
      },
      out,
    });
    expect(code).toBe(0);
    expect(printed).toMatch(/[1-9]\d* secret\(s\) re-sealed/);
    const store = await openStore({ dataDir: join(dir, 'data') });
    try {
      const opened = await loadApiHostWebhooks(store.db, createSecretBox(newKey));
      expect(opened.map((s) => [s.url, s.secret])).toEqual([[`${base}/api-2`, secret3]]);
      expect(await loadApiHostWebhooks(store.db, createSecretBox(oldKey))).toEqual([]);
    } finally {
      await store.close();
    }
    // Started again under the new key, it still delivers, signed with the same secret.
    svc = await startTestService(dir, { JIRA_BRIDGE_MASTER_KEY: newKey.toString('base64') });
    const id2 = await change();
    await waitFor(() => to('/api-2', id2).length > 0);
    expect(verify(secret3, to('/api-2', id2)[0]!).data.record.host_id).toBe(id2);
    // The generated secret is the standard form: the reference library takes its key part as is.
    expect(() =>
      new Webhook(secret3.slice(6)).verify(to('/api-2', id2)[0]!.body, {
        'webhook-id': String(to('/api-2', id2)[0]!.headers['webhook-id']),
        'webhook-timestamp': String(to('/api-2', id2)[0]!.headers['webhook-timestamp']),
        'webhook-signature': String(to('/api-2', id2)[0]!.headers['webhook-signature']),
      }),
    ).not.toThrow();
  });
});

describe('host webhooks: another replica picks up a change', () => {
  it('the configuration sync reloads the subscriptions another instance changed (same database)', async () => {
    const { freshSqlite } = await import('../helpers/db.js');
    const { createHostWebhookAdmin } = await import('../../src/app/host-webhooks-admin.js');
    const { startConfigSync } = await import('../../src/app/config-sync.js');
    const db = await freshSqlite();
    const box = createSecretBox(randomBytes(32));
    const seen: string[][] = [];
    const a = createHostWebhookAdmin({ store: db.store, box, fileSubscriptions: [], apply: async () => undefined });
    const b = createHostWebhookAdmin({
      store: db.store,
      box,
      fileSubscriptions: [],
      apply: async (subs) => void seen.push(subs.map((s) => s.url)),
    });
    const sync = await startConfigSync({ store: db.store, reload: () => b.reload(), intervalMs: 20 });
    try {
      const { view } = await a.create({ url: 'http://127.0.0.1:9/one' }, 'test');
      const until = async (cond: () => boolean) => {
        for (let i = 0; i < 250 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
        expect(cond()).toBe(true);
      };
      await until(() => seen.some((s) => s.includes('http://127.0.0.1:9/one')));
      await a.remove(view.id, 'test');
      await until(() => seen.at(-1)?.length === 0);
    } finally {
      await sync.stop();
      await db.cleanup();
    }
  });
});
