/**
 * Health without flapping (issue 16): only an authenticated Jira answer marks a connection healthy.
 * During a 10 s credential outage, jobs that finish without calling Jira (an inbound job for an
 * issue nobody links, an outbound job with nothing to push) keep running; they must not report the
 * connection healthy, so the connection goes paused once and healthy once when the credentials
 * work again — at most 2 transitions, not one per probe interval.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { enqueueInbound } from '../../src/engine/inbound.js';
import { enqueueOutbound } from '../../src/engine/records.js';
import { createLogger } from '../../src/log/logger.js';
import { startWorker, type Worker } from '../../src/queue/index.js';
import { freshSqlite, type TestDb } from '../helpers/db.js';
import { CONNECTION_ID, startHarness, type Harness } from './harness.js';
import { until } from '../helpers/wait.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a credential outage pauses the connection once and resumes it once', () => {
  let db: TestDb;
  let h: Harness;
  let engine: Engine;
  let worker: Worker | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'jb-flap-'));
  /** The engine's health transitions, from its log (paused / healthy again). */
  const transitions: string[] = [];

  beforeAll(async () => {
    db = await freshSqlite();
    h = await startHarness(db);
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) {
          if (line.includes('Jira connection paused')) transitions.push('paused');
          if (line.includes('Jira connection healthy again')) transitions.push('healthy');
        }
        done();
      },
    });
    engine = createEngine({
      store: db.store,
      queue: h.queue,
      mappings: h.mappings,
      jira: () => h.port,
      dataDir,
      pauseRetryMs: 300, // a probe every 0.3 s: 30 chances to flap in the outage
      logger: createLogger({ level: 'info', destination: sink }),
    });
    worker = startWorker({
      store: db.store,
      queue: h.queue,
      handlers: engine.handlers,
      concurrency: 3,
      pollMs: 10,
      leaseMs: 10_000,
    });
  });
  afterAll(async () => {
    await worker?.stop({ graceful: false });
    await h.close();
    await db.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const upsert = (n: number, title: string) =>
    engine.records.upsertRecord({
      scope: 'stackflow-incidents',
      hostId: `flap-${n}`,
      kind: 'incident',
      title,
      status: 'new',
      severity: 'P3',
    });
  const allSynced = async (n: number): Promise<boolean> => {
    const page = await engine.records.listRecords({ scope: 'stackflow-incidents', limit: 50 });
    return page.records.length === n && page.records.every((r) => r.sync.state === 'synced');
  };

  it('10 s of rejected credentials under traffic: ≤ 2 paused/healthy transitions, nothing lost', async () => {
    const ids: string[] = [];
    for (let n = 0; n < 3; n++) ids.push((await upsert(n, `Flap ${n}`)).record.id);
    await until('the records synced', () => allSynced(3), 60_000);
    await h.port.whoami(); // known before the outage (as after any inbound job): cached, no call
    expect(transitions).toEqual([]);

    h.sandbox.knobs.set({ expiredAuth: true });
    const end = Date.now() + 10_000;
    let i = 0;
    try {
      while (Date.now() < end) {
        i++;
        await db.store.transaction(async (trx) => {
          // Jobs that call nothing: an issue nobody links, a record with nothing to push.
          await enqueueInbound(h.queue, trx, {
            connectionId: CONNECTION_ID,
            issueId: String(900_000 + i),
            source: 'webhook',
          });
          await enqueueOutbound(h.queue, trx, ids[i % ids.length]!);
        });
        // …and real work, which needs Jira (a probe when one is due).
        if (i % 5 === 0) await upsert(i % 3, `Flap ${i % 3} (${i})`);
        await sleep(100);
      }
      expect(engine.connectionHealth()[CONNECTION_ID]).toMatchObject({ healthy: false });
    } finally {
      h.sandbox.knobs.set({ expiredAuth: false });
    }
    await until('the records synced after the outage', () => allSynced(3), 60_000);
    await until(
      'the connection healthy',
      async () => engine.connectionHealth()[CONNECTION_ID]?.healthy === true,
      60_000,
    );
    expect(transitions).toEqual(['paused', 'healthy']);
  }, 120_000);
});
