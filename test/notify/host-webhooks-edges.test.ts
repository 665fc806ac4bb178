/**
 * Edges of "telling the host" that test/host/notify.test.ts does not cover: two replicas tailing
 * the same subscription deliver every event exactly once and in order (the lease in `locks`); a
 * host that does not answer within the timeout gets the same webhook-id again; stop() does not
 * wait out a long backoff and the pending event is delivered after a restart with its id; the
 * delivery log API shows attempts without the secret; the change feed's scope filter.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHostWebhooks } from '../../src/host/dispatcher.js';
import { appendChange, readChanges } from '../../src/host/feed.js';
import { changesRoutes } from '../../src/http/routes/changes.js';
import { buildServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log/logger.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { newId } from '../../src/store/ids.js';
import { openStore } from '../../src/store/index.js';
import { describeEachEngine, freshSqlite, type TestDb } from '../helpers/db.js';

const SECRET = 'edge-host-secret-0123456789abcdef';
const verifier = new Webhook(Buffer.from(SECRET).toString('base64'));

interface Hit {
  id: string;
  n: number;
}

type Handler = (req: IncomingMessage, res: ServerResponse, hit: Hit, count: number) => void;

/** A loopback receiver that verifies every request with the reference library. */
async function receiver(handler: Handler): Promise<{ url: string; hits: Hit[]; close(): Promise<void> }> {
  const hits: Hit[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const payload = verifier.verify(body, {
        'webhook-id': String(req.headers['webhook-id']),
        'webhook-timestamp': String(req.headers['webhook-timestamp']),
        'webhook-signature': String(req.headers['webhook-signature']),
      }) as { data: { n: number } };
      const hit = { id: String(req.headers['webhook-id']), n: payload.data.n };
      hits.push(hit);
      handler(req, res, hit, hits.length);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function seedRecord(db: TestDb, hostId: string, scope = 'edge'): Promise<string> {
  const id = newId();
  const t = Date.now();
  await db.store.db
    .insertInto('records')
    .values({
      id,
      host_id: hostId,
      scope,
      kind: 'finding',
      data: '{}',
      version: 1,
      sync_state: 'synced',
      last_error: null,
      deleted_at: null,
      created_at: t,
      updated_at: t,
    })
    .execute();
  return id;
}

const append = (db: TestDb, recordId: string, event: string, data: unknown) =>
  db.store.transaction((trx) => appendChange(trx, db.store.dialect, { recordId, event, data, at: Date.now() }));

const waitFor = async (what: string, cond: () => boolean | Promise<boolean>): Promise<void> => {
  for (let i = 0; i < 3000 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 5));
  expect(await cond(), what).toBe(true);
};

/** Lets a freshly started dispatcher register its subscription at the present (it skips history). */
const settle = () => new Promise((r) => setTimeout(r, 80));

describeEachEngine('host webhooks across two replicas', ({ fresh }) => {
  it('two dispatchers on one database deliver each event exactly once, in order', async () => {
    const db = await fresh();
    const other = await openStore(db.openOpts); // the second replica's own connection(s)
    const rx = await receiver((_req, res) => res.writeHead(200).end());
    const sub = { url: rx.url, secret: SECRET, events: ['*'] };
    const opts = { pollMs: 5, backoff: { baseMs: 5, capMs: 20 } };
    const a = startHostWebhooks({ store: db.store, subscriptions: [sub], owner: 'replica-a', ...opts });
    const b = startHostWebhooks({ store: other, subscriptions: [sub], owner: 'replica-b', ...opts });
    try {
      await settle();
      const rid = await seedRecord(db, 'two-replicas');
      for (let n = 0; n < 30; n++) await append(db, rid, 'record.updated', { n });
      await waitFor('all 30 delivered', () => new Set(rx.hits.map((h) => h.n)).size >= 30);
      await new Promise((r) => setTimeout(r, 50)); // a duplicate would arrive now
      expect(rx.hits.map((h) => h.n)).toEqual(Array.from({ length: 30 }, (_, n) => n));
      expect(new Set(rx.hits.map((h) => h.id)).size).toBe(30);
    } finally {
      await a.stop();
      await b.stop();
      await other.close();
      await rx.close();
    }
  });
});

describe('host webhooks: timeouts, stop during backoff', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await freshSqlite();
  });
  afterAll(async () => {
    await db.cleanup();
  });

  it('a host that does not answer in time gets the same webhook-id again', async () => {
    const held: ServerResponse[] = [];
    const rx = await receiver((_req, res, _hit, count) => {
      if (count === 1)
        held.push(res); // never answered: the dispatcher's timeout aborts it
      else res.writeHead(202).end();
    });
    const d = startHostWebhooks({
      store: db.store,
      subscriptions: [{ url: rx.url, secret: SECRET, events: ['record.updated'] }],
      owner: 'timeout',
      pollMs: 5,
      timeoutMs: 150,
      backoff: { baseMs: 5, capMs: 20 },
    });
    try {
      await settle();
      const rid = await seedRecord(db, 'slow-host');
      await append(db, rid, 'record.updated', { n: 1 });
      await append(db, rid, 'record.updated', { n: 2 });
      await waitFor('both delivered', () => rx.hits.length >= 3);
      expect(rx.hits.map((h) => h.n)).toEqual([1, 1, 2]);
      expect(rx.hits[0]!.id).toBe(rx.hits[1]!.id);
      const row = await db.store.db
        .selectFrom('outbound_webhook_deliveries')
        .selectAll()
        .where('id', '=', rx.hits[0]!.id)
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({ status: 'delivered', attempts: 2, response_status: 202 });
    } finally {
      await d.stop();
      for (const res of held) res.destroy();
      await rx.close();
    }
  });

  it('stop() does not wait out a long backoff; the event stays pending and goes out after a restart', async () => {
    let accept = false;
    const rx = await receiver((_req, res) => res.writeHead(accept ? 200 : 503).end());
    const sub = { url: rx.url, secret: SECRET, events: ['*'] };
    const first = startHostWebhooks({
      store: db.store,
      subscriptions: [sub],
      owner: 'backoff-1',
      pollMs: 5,
      backoff: { baseMs: 600_000, capMs: 600_000 }, // ten minutes: stop() must not wait for it
    });
    await settle();
    const rid = await seedRecord(db, 'backoff');
    await append(db, rid, 'record.comments', { n: 7 });
    await waitFor('first attempt refused', () => rx.hits.length >= 1);
    await first.stop(); // the test's own timeout fails this if stop waited for the backoff
    const pending = await db.store.db
      .selectFrom('outbound_webhook_deliveries')
      .selectAll()
      .where('id', '=', rx.hits[0]!.id)
      .executeTakeFirstOrThrow();
    expect(pending).toMatchObject({ status: 'pending', attempts: 1, response_status: 503 });

    accept = true;
    const second = startHostWebhooks({
      store: db.store,
      subscriptions: [sub],
      owner: 'backoff-2',
      pollMs: 5,
      backoff: { baseMs: 5, capMs: 20 },
    });
    try {
      await waitFor('delivered after restart', () => rx.hits.length >= 2);
      expect(rx.hits.map((h) => h.n)).toEqual([7, 7]);
      expect(rx.hits[1]!.id).toBe(rx.hits[0]!.id);
    } finally {
      await second.stop();
      await rx.close();
    }
  });

  it('a redirect is not an acknowledgement, and the signed event is not handed to the redirect target', async () => {
    const elsewhere = await receiver((_req, res) => res.writeHead(200).end());
    let redirect = true;
    const rx = await receiver((_req, res) =>
      redirect ? res.writeHead(307, { location: elsewhere.url }).end() : res.writeHead(200).end(),
    );
    const d = startHostWebhooks({
      store: db.store,
      subscriptions: [{ url: rx.url, secret: SECRET, events: ['*'] }],
      owner: 'redirect',
      pollMs: 5,
      backoff: { baseMs: 5, capMs: 20 },
    });
    try {
      await settle();
      const rid = await seedRecord(db, 'redirected');
      await append(db, rid, 'record.updated', { n: 11 });
      await waitFor('two refused attempts', () => rx.hits.length >= 2);
      redirect = false;
      await waitFor('acknowledged at the configured URL', async () => {
        const row = await db.store.db
          .selectFrom('outbound_webhook_deliveries')
          .select('status')
          .where('id', '=', rx.hits[0]!.id)
          .executeTakeFirst();
        return row?.status === 'delivered';
      });
      expect(elsewhere.hits).toEqual([]);
      expect(new Set(rx.hits.map((h) => h.id)).size).toBe(1);
    } finally {
      await d.stop();
      await rx.close();
      await elsewhere.close();
    }
  });
});

describe('GET /api/v1/host-webhooks/deliveries', () => {
  it('lists attempts (filterable by status) and never the secret', async () => {
    const db = await freshSqlite();
    let fail = true;
    const rx = await receiver((_req, res) => res.writeHead(fail ? 500 : 200).end());
    const app = await buildServer({
      logger: createLogger({ level: 'silent' }),
      readiness: () => Promise.resolve({ ready: true, checks: {} }),
      metrics: createMetrics(),
      version: 't',
      routes: [changesRoutes({ store: db.store })],
    });
    const d = startHostWebhooks({
      store: db.store,
      subscriptions: [{ url: rx.url, secret: SECRET, events: ['*'] }],
      owner: 'log',
      pollMs: 5,
      backoff: { baseMs: 5, capMs: 20 },
    });
    try {
      await settle();
      const rid = await seedRecord(db, 'logged');
      await append(db, rid, 'record.linked', { n: 1 });
      await waitFor('a refused attempt', () => rx.hits.length >= 1);
      const pending = await app.inject({ method: 'GET', url: '/api/v1/host-webhooks/deliveries?status=pending' });
      expect(pending.statusCode).toBe(200);
      expect(pending.json().deliveries[0]).toMatchObject({
        id: rx.hits[0]!.id,
        event: 'record.linked',
        status: 'pending',
        response_status: 500,
      });
      fail = false;
      await waitFor('delivered', async () => {
        const r = await app.inject({ method: 'GET', url: '/api/v1/host-webhooks/deliveries?status=delivered' });
        return r.json<{ deliveries: unknown[] }>().deliveries.length === 1;
      });
      const all = await app.inject({ method: 'GET', url: '/api/v1/host-webhooks/deliveries' });
      expect(all.body).not.toContain(SECRET);
      expect(all.body).not.toContain(Buffer.from(SECRET).toString('base64'));
      const rows = all.json<{ deliveries: Array<{ status: string; attempts: number; delivered_at: string | null }> }>();
      expect(rows.deliveries).toHaveLength(1);
      expect(rows.deliveries[0]!.status).toBe('delivered');
      expect(rows.deliveries[0]!.attempts).toBeGreaterThanOrEqual(2);
      expect(rows.deliveries[0]!.delivered_at).not.toBeNull();
      const bad = await app.inject({ method: 'GET', url: '/api/v1/host-webhooks/deliveries?status=lost' });
      expect(bad.statusCode).toBe(400);
    } finally {
      await d.stop();
      await app.close();
      await rx.close();
      await db.cleanup();
    }
  });
});

describeEachEngine('change feed scope filter', ({ fresh }) => {
  it('a scope sees only its records, every one once, and an empty page keeps the cursor', async () => {
    const db = await fresh();
    const a = await seedRecord(db, 'in-a', 'scope-a');
    const b = await seedRecord(db, 'in-b', 'scope-b');
    for (let n = 0; n < 12; n++) await append(db, n % 3 ? a : b, 'record.updated', { n });
    const seen: number[] = [];
    let after = 0;
    for (;;) {
      const page = await readChanges(db.store.db, { after, limit: 3, scope: 'scope-a' });
      if (!page.changes.length) {
        expect(page.last).toBe(after);
        break;
      }
      expect(page.changes.every((c) => c.scope === 'scope-a' && c.host_id === 'in-a')).toBe(true);
      seen.push(...page.changes.map((c) => (c.data as { n: number }).n));
      after = page.last;
    }
    expect(seen).toEqual([1, 2, 4, 5, 7, 8, 10, 11]);
  });
});
