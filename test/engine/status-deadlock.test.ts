import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshSqlite, type TestDb } from '../helpers/db.js';
import { CONNECTION_ID, opsMapping, inboundSettings } from './harness.js';
import { startInboundHarness, type InboundHarness } from './inbound-harness.js';

/**
 * Found by the fault soak: the host wins a status conflict on the inbound side, then changes its
 * status back to the value last pushed before the outbound job runs. The outbound job must still
 * push it (Jira moved away from it), or the two sides stay apart with both "synced".
 */
describe('a status conflict the host won is pushed even when the host status returns to its last pushed value', () => {
  let db: TestDb;
  let h: InboundHarness;

  beforeAll(async () => {
    db = await freshSqlite();
    h = await startInboundHarness(db, {
      mappings: [
        opsMapping({
          inbound: inboundSettings(),
        }),
      ],
    });
  });
  afterAll(async () => {
    await h.close();
    await db.cleanup();
  });

  const upsert = (status: string) =>
    h.engine.records.upsertRecord({
      scope: 'stackflow-incidents',
      hostId: 'dl-1',
      kind: 'incident',
      title: 'Deadlock candidate',
      status,
    });

  it('ends with Jira at the host status', async () => {
    await upsert('resolved');
    await h.settle();
    const r0 = await h.record('stackflow-incidents', 'dl-1');
    const key = r0.link!.issue_key!;
    expect(h.sandbox.state.status(h.sandbox.state.issue(key)!.statusId).name).toBe('Done');

    // Alice reopens the issue; then the host moves its record to "in_progress" (later: the host wins).
    const ts = await h.alice.getTransitions(key);
    const reopen = ts.find((t) => t.to.name !== 'Done')!;
    await h.alice.transition(key, String(reopen.id));
    await h.sandbox.webhooks.drain();
    await new Promise((r) => setTimeout(r, 5));
    await upsert('in_progress');
    // The inbound side runs first and decides: host wins (its outbound job is queued).
    await h.engine.syncIssue({
      connectionId: CONNECTION_ID,
      issueId: h.sandbox.state.issue(key)!.id,
      source: 'manual',
    });
    // Before that outbound job runs, the host goes back to the status it had last pushed.
    await upsert('resolved');
    await h.settle();

    const r = await h.record('stackflow-incidents', 'dl-1');
    const jira = h.sandbox.state.status(h.sandbox.state.issue(key)!.statusId).name;
    expect(`${r.status} / ${jira}`).toBe('resolved / Done');
    expect(r.sync.state).toBe('synced');
  });
});
