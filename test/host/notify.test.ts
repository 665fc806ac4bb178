/**
 * Telling the host: the change feed (every change exactly once, in order, on both engines, also
 * while writers commit concurrently) and signed outbound webhooks (Standard Webhooks, verified
 * with the reference library; retried with the same id until acknowledged; in order; nothing lost
 * across a restart).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHostWebhooks, subscriptionId } from '../../src/host/dispatcher.js';
import { appendChange, decodeCursor, encodeCursor, readChanges } from '../../src/host/feed.js';
import { changesRoutes } from '../../src/http/routes/changes.js';
import { buildServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log/logger.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { newId } from '../../src/store/ids.js';
import { describeEachEngine, type TestDb } from '../helpers/db.js';

const SECRET = 'host-webhook-secret-0123456789';

async function seedRecord(db: TestDb, hostId: string): Promise<string> {
  const id = newId();
  const t = Date.now();
  await db.store.db
    .insertInto('records')
    .values({
      id,
      host_id: hostId,
      scope: 'feed',
      kind: 'incident',
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

const append = (db: TestDb, recordId: string, event: string, data: unknown = {}) =>
  db.store.transaction((trx) => appendChange(trx, db.store.dialect, { recordId, event, data, at: Date.now() }));

describeEachEngine('change feed', ({ fresh, engine }) => {
  let shared: TestDb | undefined;
  const getDb = (): TestDb => shared!;
  beforeAll(async () => {
    shared = await fresh();
  });

  it('pages return every change once, in order, and tell the host who and what', async () => {
    const db = getDb();
    const rid = await seedRecord(db, 'r-1');
    for (let i = 0; i < 25; i++) await append(db, rid, i % 2 ? 'record.updated' : 'record.comments', { i });
    const seen: number[] = [];
    let after = 0;
    for (;;) {
      const page = await readChanges(db.store.db, { after, limit: 7 });
      if (!page.changes.length) break;
      seen.push(...page.changes.map((c) => (c.data as { i: number }).i));
      expect(page.changes[0]).toMatchObject({ record_id: rid, scope: 'feed', host_id: 'r-1', kind: 'incident' });
      after = page.last;
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(decodeCursor(encodeCursor(after))).toBe(after);
  });

  it(`concurrent writers never make a reader skip a change (${engine})`, async () => {
    const db = getDb();
    const rid = await seedRecord(db, 'r-2');
    const start = (await readChanges(db.store.db, { after: 0, limit: 100_000 })).last;
    const seen: number[] = [];
    let after = start;
    let writing = true;
    const reader = (async () => {
      while (writing || after < (await readChanges(db.store.db, { after: 0, limit: 100_000 })).last) {
        const page = await readChanges(db.store.db, { after, limit: 50 });
        for (const c of page.changes) seen.push((c.data as { n: number }).n);
        after = page.last;
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    // 8 writers, each holding its transaction open a little after appending.
    await Promise.all(
      Array.from({ length: 8 }, (_, w) =>
        (async () => {
          for (let i = 0; i < 15; i++) {
            await db.store.transaction(async (trx: Parameters<Parameters<TestDb['store']['transaction']>[0]>[0]) => {
              await appendChange(trx, db.store.dialect, {
                recordId: rid,
                event: 'x',
                data: { n: w * 100 + i },
                at: Date.now(),
              });
              await new Promise((r) => setTimeout(r, (w * 7 + i * 3) % 5));
            });
          }
        })(),
      ),
    );
    writing = false;
    await reader;
    expect(seen).toHaveLength(120);
    expect(new Set(seen).size).toBe(120);
  });
});

describe('GET /api/v1/changes', () => {
  it('a cursor it did not issue is a 400 that names the parameter', async () => {
    const { freshSqlite } = await import('../helpers/db.js');
    const db = await freshSqlite();
    const app = await buildServer({
      logger: createLogger({ level: 'silent' }),
      readiness: () => Promise.resolve({ ready: true, checks: {} }),
      metrics: createMetrics(),
      version: 't',
      routes: [changesRoutes({ store: db.store })],
    });
    const rid = await seedRecord(db, 'r-api');
    await append(db, rid, 'record.updated', { origin: 'jira', fields: ['summary'] });
    const ok = await app.inject({ method: 'GET', url: '/api/v1/changes' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().changes[0]).toMatchObject({ event: 'record.updated', host_id: 'r-api', data: { origin: 'jira' } });
    const again = await app.inject({ method: 'GET', url: `/api/v1/changes?after=${ok.json().next_cursor as string}` });
    expect(again.json().changes).toEqual([]);
    const bad = await app.inject({ method: 'GET', url: '/api/v1/changes?after=garbage' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/^The request is invalid: querystring\.after: /);
    expect(bad.json().error.details.issues[0].path).toBe('querystring.after');
    await app.close();
    await db.cleanup();
  });
});

describe('signed host webhooks', () => {
  let db: TestDb;
  let server: Server;
  let url = '';
  const received: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
  let failNext = 0;

  beforeAll(async () => {
    const { freshSqlite } = await import('../helpers/db.js');
    db = await freshSqlite();
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        if (failNext > 0) {
          failNext--;
          res.writeHead(500).end('not now');
        } else res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await db.cleanup();
  });

  const waitFor = async (cond: () => boolean | Promise<boolean>): Promise<void> => {
    for (let i = 0; i < 2000 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 5));
    expect(await cond()).toBe(true);
  };

  it('delivers in order, signed, retried with the same id until acknowledged, filtered, across a restart', async () => {
    const rid = await seedRecord(db, 'r-hook');
    const start = () =>
      startHostWebhooks({
        store: db.store,
        subscriptions: [{ url, secret: SECRET, events: ['record.updated', 'record.comments'] }],
        owner: `test-${Math.random()}`,
        pollMs: 10,
        backoff: { baseMs: 10, capMs: 50 },
      });
    let d = start();
    await new Promise((r) => setTimeout(r, 50)); // the subscription starts at the present
    failNext = 2;
    await append(db, rid, 'record.updated', { n: 1 });
    await append(db, rid, 'record.linked', { n: 2 }); // not subscribed
    await append(db, rid, 'record.comments', { n: 3 });
    await waitFor(() => received.filter((r) => r.headers['webhook-id']?.toString().endsWith('')).length >= 4);
    await d.stop();
    await append(db, rid, 'record.updated', { n: 4 }); // while stopped
    d = start();
    await waitFor(() => received.length >= 5);
    await d.stop();

    const wh = new Webhook(Buffer.from(SECRET).toString('base64'));
    const events = received.map((r) => {
      const payload = wh.verify(r.body, {
        'webhook-id': String(r.headers['webhook-id']),
        'webhook-timestamp': String(r.headers['webhook-timestamp']),
        'webhook-signature': String(r.headers['webhook-signature']),
      }) as { type: string; data: { n: number; record: { host_id: string } } };
      return { id: String(r.headers['webhook-id']), n: payload.data.n, host: payload.data.record.host_id };
    });
    if (process.env.DEBUG_HOOKS) console.log(received.map((r) => [r.headers['webhook-id'], r.body.slice(0, 120)]));
    // Two failed attempts, then the same id again; later events only after it.
    expect(events.map((e) => e.n)).toEqual([1, 1, 1, 3, 4]);
    expect(new Set(events.slice(0, 3).map((e) => e.id)).size).toBe(1);
    expect(events[0]!.id.startsWith(subscriptionId(url))).toBe(true);
    expect(events.every((e) => e.host === 'r-hook')).toBe(true);
    const rows = await db.store.db
      .selectFrom('outbound_webhook_deliveries')
      .selectAll()
      .orderBy('created_at')
      .execute();
    expect(rows.map((r) => [r.status, r.attempts])).toEqual([
      ['delivered', 3],
      ['delivered', 1],
      ['delivered', 1],
    ]);
    // A tampered body does not verify.
    expect(() =>
      wh.verify(received[0]!.body.replace('"n":1', '"n":9'), {
        'webhook-id': String(received[0]!.headers['webhook-id']),
        'webhook-timestamp': String(received[0]!.headers['webhook-timestamp']),
        'webhook-signature': String(received[0]!.headers['webhook-signature']),
      }),
    ).toThrow();
  });
});
