import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runBackfill } from '../../src/cli/backfill.js';
import { AppError } from '../../src/core/errors.js';
import { SEED } from '../../src/sandbox/seed.js';
import { describeEachEngine, type TestDb } from '../helpers/db.js';
import { issuesOf, startHarness, type Harness } from './harness.js';

const BULK = '/rest/api/3/issue/bulk';
const CREATE = '/rest/api/3/issue';

describeEachEngine('backfill with bulk create', ({ fresh }) => {
  let db: TestDb;
  let h: Harness;

  beforeAll(async () => {
    db = await fresh();
    h = await startHarness(db);
  });
  afterAll(async () => {
    await h.close();
  });

  it('120 unlinked records are created with 3 bulk calls, progress reaches 120/120, nothing twice', async () => {
    for (let n = 0; n < 120; n++) {
      await h.engine.records.upsertRecord({
        scope: 'astra-web',
        hostId: `bf-${n}`,
        kind: 'vulnerability',
        title: `Backfilled finding ${n}`,
        status: 'open',
        severity: n % 2 ? 'high' : 'low',
        labels: ['backfill'],
      });
    }
    // The per-record jobs are not run yet: the backfill does the creating.
    const started = await h.engine.backfill.start({ scope: 'astra-web' });
    expect(started).toMatchObject({ total: 120, done: 0, state: 'queued' });
    h.sandbox.calls.reset();
    await h.engine.backfill.run(started.id);
    const p = (await h.engine.backfill.get(started.id))!;
    expect(p).toMatchObject({ state: 'done', total: 120, done: 120, failed: 0, bulk_calls: 3 });
    expect(h.sandbox.calls.count({ method: 'POST', route: BULK })).toBe(3);
    expect(h.sandbox.calls.count({ method: 'POST', route: CREATE })).toBe(0);
    const created = issuesOf(h.sandbox, 'SEC').filter((i) => i.summary.startsWith('Backfilled finding '));
    expect(created).toHaveLength(120);
    expect(new Set(created.map((i) => i.summary)).size).toBe(120);
    expect(created.find((i) => i.summary === 'Backfilled finding 1')!.priorityId).toBe('2');

    // The queued per-record jobs then find the links and add no issue.
    await h.drain({ timeoutMs: 60_000 });
    expect(issuesOf(h.sandbox, 'SEC').filter((i) => i.summary.startsWith('Backfilled finding '))).toHaveLength(120);
    const page = await h.engine.records.listRecords({ scope: 'astra-web', state: 'synced', limit: 500 });
    expect(page.records.filter((r) => r.host_id.startsWith('bf-'))).toHaveLength(120);
    const first = await h.engine.records.getRecord('astra-web', 'bf-0');
    expect(h.sandbox.state.issue(first.link!.issue_key!)!.statusId).toBe(SEED.status.open);
  });

  it('a record Jira refuses in the bulk create fails for good and the host hears record.sync_failed once', async () => {
    for (let n = 0; n < 3; n++) {
      await h.engine.records.upsertRecord({
        scope: 'astra-web',
        hostId: `bf-refused-${n}`,
        kind: 'vulnerability',
        title: `Refused backfill ${n}`,
        status: 'open',
        severity: 'high',
        // Jira refuses a label over 255 characters: this one element of the bulk create fails.
        labels: n === 1 ? ['x'.repeat(300)] : ['backfill'],
      });
    }
    const started = await h.engine.backfill.start({ scope: 'astra-web' });
    await h.engine.backfill.run(started.id);
    const p = (await h.engine.backfill.get(started.id))!;
    expect(p).toMatchObject({ state: 'done', total: 3, done: 2, failed: 1 });
    const refused = await h.engine.records.getRecord('astra-web', 'bf-refused-1');
    expect(refused.sync.state).toBe('failed');
    const events = await db.store.db
      .selectFrom('change_feed')
      .select(['event', 'data'])
      .where('record_id', '=', refused.id)
      .where('event', '=', 'record.sync_failed')
      .execute();
    expect(events).toHaveLength(1);
    const data = JSON.parse(String(events[0]!.data)) as Record<string, unknown>;
    expect(data).toMatchObject({ code: 'JIRA_BAD_REQUEST', state: 'failed', retrying: false, attempts: 1 });
    expect(String(data.message)).toMatch(/255/);
  });

  it('a backfill interrupted after Jira created the batch adopts those issues on retry', async () => {
    for (let n = 0; n < 5; n++) {
      await h.engine.records.upsertRecord({
        scope: 'stackflow-incidents',
        hostId: `bfi-${n}`,
        kind: 'incident',
        title: `Interrupted backfill ${n}`,
        status: 'new',
      });
    }
    // Simulate the crash: links claimed with tokens, Jira created the issues, our write never happened.
    const started = await h.engine.backfill.start({ scope: 'stackflow-incidents' });
    const port = h.port;
    const realBulk = port.bulkCreate.bind(port);
    let crashed = false;
    (port as { bulkCreate: typeof port.bulkCreate }).bulkCreate = async (bodies) => {
      const out = await realBulk(bodies);
      if (!crashed) {
        crashed = true;
        throw new Error('simulated crash after bulk create');
      }
      return out;
    };
    try {
      await expect(h.engine.backfill.run(started.id)).resolves.toBeUndefined();
      expect((await h.engine.backfill.get(started.id))!.state).toBe('failed');
      const again = await h.engine.backfill.start({ scope: 'stackflow-incidents' });
      expect(again.total).toBe(5);
      await h.engine.backfill.run(again.id);
      expect((await h.engine.backfill.get(again.id))!).toMatchObject({ state: 'done', done: 5 });
    } finally {
      (port as { bulkCreate: typeof port.bulkCreate }).bulkCreate = realBulk;
    }
    const issues = issuesOf(h.sandbox, 'OPS').filter((i) => i.summary.startsWith('Interrupted backfill '));
    expect(issues).toHaveLength(5);
  });

  it('counts every record it covers that ends linked: linked by its own job meanwhile, adopted after a crash', async () => {
    for (let n = 0; n < 6; n++) {
      await h.engine.records.upsertRecord({
        scope: 'stackflow-incidents',
        hostId: `bfl-${n}`,
        kind: 'incident',
        title: `Linked elsewhere ${n}`,
        status: 'new',
      });
    }
    const started = await h.engine.backfill.start({ scope: 'stackflow-incidents' });
    expect(started.total).toBe(6);
    // Two of them link through their own outbound jobs before the backfill job runs.
    for (const n of [0, 1]) {
      const r = await h.engine.records.getRecord('stackflow-incidents', `bfl-${n}`);
      await h.engine.syncRecord(r.id);
    }
    // The first run dies after Jira's bulk create (the links not saved); the retry adopts them.
    const port = h.port;
    const realBulk = port.bulkCreate.bind(port);
    (port as { bulkCreate: typeof port.bulkCreate }).bulkCreate = async (bodies) => {
      await realBulk(bodies);
      throw new AppError('JIRA_UNAVAILABLE', 'simulated crash after bulk create');
    };
    try {
      await expect(h.engine.backfill.run(started.id)).rejects.toThrow('simulated crash');
    } finally {
      (port as { bulkCreate: typeof port.bulkCreate }).bulkCreate = realBulk;
    }
    expect(await h.engine.backfill.get(started.id)).toMatchObject({ total: 6, done: 2 });
    h.sandbox.calls.reset();
    await h.engine.backfill.run(started.id);
    expect(h.sandbox.calls.count({ method: 'POST', route: BULK })).toBe(0); // all four adopted
    expect(await h.engine.backfill.get(started.id)).toMatchObject({ state: 'done', total: 6, done: 6, failed: 0 });
    // A record made after the backfill started is not one of its records.
    await h.engine.records.upsertRecord({
      scope: 'stackflow-incidents',
      hostId: 'bfl-late',
      kind: 'incident',
      title: 'Linked elsewhere late',
      status: 'new',
    });
    await h.drain({ timeoutMs: 60_000 });
    expect(await h.engine.backfill.get(started.id)).toMatchObject({ total: 6, done: 6 });
    const issues = issuesOf(h.sandbox, 'OPS').filter((i) => i.summary.startsWith('Linked elsewhere '));
    expect(issues).toHaveLength(7);
  }, 120_000);

  it('rejected credentials (401) make a backfill wait for them, not fail: it finishes once they work', async () => {
    for (let n = 0; n < 3; n++) {
      await h.engine.records.upsertRecord({
        scope: 'stackflow-incidents',
        hostId: `bfa-${n}`,
        kind: 'incident',
        title: `Outage backfill ${n}`,
        status: 'new',
      });
    }
    const started = await h.engine.backfill.start({ scope: 'stackflow-incidents' });
    h.sandbox.knobs.set({ expiredAuth: true });
    try {
      const err = await h.engine.backfill.run(started.id).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'JIRA_UNAUTHORIZED', retryable: true });
      expect(await h.engine.backfill.get(started.id)).toMatchObject({ state: 'running', done: 0, failed: 0 });
    } finally {
      h.sandbox.knobs.set({ expiredAuth: false });
    }
    await h.engine.backfill.run(started.id);
    expect(await h.engine.backfill.get(started.id)).toMatchObject({ state: 'done', total: 3, done: 3, failed: 0 });
    expect(issuesOf(h.sandbox, 'OPS').filter((i) => i.summary.startsWith('Outage backfill '))).toHaveLength(3);
  });

  it('runBackfill shows progress and returns the final state', async () => {
    await h.engine.records.upsertRecord({
      scope: 'stackflow-incidents',
      hostId: 'bfc-1',
      kind: 'incident',
      title: 'CLI backfill',
      status: 'new',
    });
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const p = await runBackfill({
      backfill: h.engine.backfill,
      scope: 'stackflow-incidents',
      inline: true,
      stream: out,
      bar: true,
      pollMs: 5,
    });
    expect(p).toMatchObject({ state: 'done', total: 1, done: 1 });
    expect(text).toContain('1/1');
  });
});
