/**
 * The sweep schedule holds one timer per connection however many sweeps have run (issue 17's
 * review: every re-arm was pushed onto a list never emptied, 288,000 timers a day at 1,000
 * connections on a 300 s interval), and none once stopped.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSweeper } from '../../src/engine/sweep.js';
import { describeEachEngine, type TestDb } from '../helpers/db.js';
import { until } from '../helpers/wait.js';
import { CONNECTION_ID, opsMapping, startHarness, type Harness } from './harness.js';

describeEachEngine('sweep schedule: one timer per connection', ({ fresh }) => {
  let db: TestDb;
  let h: Harness;

  beforeAll(async () => {
    db = await fresh();
    h = await startHarness(db, { mappings: [opsMapping()] });
  });
  afterAll(async () => {
    await h?.close();
    await db?.cleanup();
  });

  const searches = (): number =>
    h.sandbox.calls
      .snapshot()
      .filter((c) => c.method === 'POST' && c.route.includes('/search'))
      .reduce((n, c) => n + c.count, 0);

  it('keeps as many armed timers as connections after many sweeps, and none after stop', async () => {
    const sweeper = createSweeper({
      store: db.store,
      queue: h.queue,
      mappings: h.mappings,
      jira: () => h.port,
      owner: 'sweep-timers-test',
    });
    // Two connections on a 20 ms interval: the harness's (a Jira search per sweep, counted at the
    // sandbox) and one without mappings (its sweep ends at once, then re-arms like any other).
    const before = searches();
    const schedule = sweeper.start({ [CONNECTION_ID]: 20, 'no-mappings': 20 });
    try {
      await until('30 sweeps of the connection', () => searches() - before >= 30);
      expect(schedule.armed()).toBe(2);
    } finally {
      await schedule.stop();
    }
    expect(schedule.armed()).toBe(0);
  });
});
