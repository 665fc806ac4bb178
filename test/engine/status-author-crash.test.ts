/**
 * Issue 16, the journal's status rules against the sandbox: a hop of ours is recognised by the
 * changelog entry's author, not by its names alone, and a Jira user's move before the status was
 * ever agreed is weighed against the host's change (the newer wins) by the outbound job too.
 *
 *  (1) A status walk cut off before Jira got its first hop (Open → Triaged journaled, no outcome),
 *      then a Jira user (alice) makes that very move: the inbound job brings Triaged to the record
 *      (Jira's move is newer than the host's change) instead of taking it for our hop, and the
 *      outbound retry does not walk over it.
 *  (2) A job killed after the create and the link, before its status walk; alice moves the issue
 *      Open → Triaged; the outbound retry runs first: Jira's newer move stands (no walk to the
 *      record's status) and reaches the record through the inbound job it queues.
 *
 * The interruptions are the engine's Jira port failing one call with a retryable error that puts
 * the job off for an hour (create-status-crash.test.ts does the same); the test then lets it run.
 * On Cloud (authors by accountId) and Data Center (by user key and name), on both store engines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import type { JiraClient } from '../../src/jira/client.js';
import { describeEachEngine, type TestDb } from '../helpers/db.js';
import { sandboxUserClient } from '../helpers/service.js';
import {
  CONNECTION_ID,
  interceptPort,
  secMappingStatusIn,
  startHarness,
  untilInterrupted,
  type Harness,
} from './harness.js';

const later = (what: string): AppError =>
  new AppError('INTERNAL', `simulated crash: ${what}`, { retryable: true, retryAfterMs: 3_600_000 });

describeEachEngine('a Jira user’s move is told from our journaled hop by its author', ({ fresh }) => {
  describe.each(['cloud', 'datacenter'] as const)('%s', (flavour) => {
    let db: TestDb;
    let h: Harness;
    let alice: JiraClient;
    /** 'hop': the next transition fails before it is sent; 'create': the read after the next create fails. */
    let cut: 'off' | 'hop' | 'create' | 'create-armed' | 'fired' = 'off';

    beforeAll(async () => {
      db = await fresh();
      h = await startHarness(db, {
        flavour,
        mappings: [secMappingStatusIn()],
        wrapPort: (port) =>
          interceptPort(port, {
            async transition(...args) {
              if (cut === 'hop') {
                cut = 'fired';
                throw later('the hop was journaled, Jira never got it');
              }
              return port.transition(...args);
            },
            async createOnce(...args) {
              const ref = await port.createOnce(...args);
              if (cut === 'create') cut = 'create-armed';
              return ref;
            },
            async getIssue(...args) {
              if (cut === 'create-armed') {
                cut = 'fired';
                throw later('after the link was saved, before the status walk');
              }
              return port.getIssue(...args);
            },
          }),
      });
      alice = sandboxUserClient(h.sandbox, 'alice');
    });
    afterAll(async () => {
      await alice?.close();
      await h?.close();
      await db?.cleanup();
    });

    const upsert = (hostId: string, status: string) =>
      h.engine.records.upsertRecord({
        scope: 'astra-web',
        hostId,
        kind: 'vulnerability',
        title: `Status authors ${hostId}`,
        status,
        severity: 'high',
      });

    /** Runs the worker until the interruption fired and the record's job waits for its retry. */
    const interrupted = (recordId: string) =>
      untilInterrupted(h, db, recordId, () => cut === 'fired', 'the job interrupted, waiting for its retry');

    const journal = (recordId: string) =>
      db.store.db
        .selectFrom('sync_journal')
        .select(['op', 'intent', 'outcome'])
        .where('record_id', '=', recordId)
        .orderBy('created_at')
        .execute();
    const jiraStatus = (key: string): string => h.sandbox.state.status(h.sandbox.state.issue(key)!.statusId).name;
    async function aliceMoves(key: string, to: string): Promise<void> {
      const ts = await alice.getTransitions(key);
      await alice.transition(key, String(ts.find((t) => t.to.name === to)!.id));
    }
    async function retryNow(recordId: string): Promise<void> {
      await db.store.db
        .updateTable('jobs')
        .set({ run_at: Date.now() })
        .where('key', '=', `record:${recordId}`)
        .where('state', '=', 'queued')
        .execute();
      await h.drain();
    }

    it('(1) our hop cut off before Jira got it, alice makes the same move: it reaches the record', async () => {
      const { record } = await upsert('v-hop-cut', 'open');
      await h.drain();
      expect((await h.engine.records.getRecord('astra-web', 'v-hop-cut')).sync.state).toBe('synced');
      // The host moves on to In Progress (Open → Triaged → In Progress); the first hop is cut off.
      cut = 'hop';
      await upsert('v-hop-cut', 'in_progress');
      const link = await interrupted(record.id);
      expect(jiraStatus(link.issue_key)).toBe('Open');
      const left = await journal(record.id);
      expect(left).toEqual([expect.objectContaining({ op: 'transition', outcome: null })]);
      expect(JSON.parse(left[0]!.intent)).toMatchObject({ from: 'Open', to: 'Triaged' });

      // A Jira user makes the very move the journaled hop was to make, after the host's change.
      await aliceMoves(link.issue_key, 'Triaged');
      await h.engine.syncIssue({ connectionId: CONNECTION_ID, issueId: link.issue_id, source: 'sweep' });
      expect((await h.engine.records.getRecord('astra-web', 'v-hop-cut')).status).toBe('triaged');

      // The outbound retry finds Jira where the record is now: no walk over alice's move.
      await retryNow(record.id);
      expect(jiraStatus(link.issue_key)).toBe('Triaged');
      const synced = await h.engine.records.getRecord('astra-web', 'v-hop-cut');
      expect(synced.status).toBe('triaged');
      expect(synced.sync.state).toBe('synced');
      expect(await journal(record.id)).toEqual([]);
    }, 60_000);

    it('(2) alice moves the issue between our create and its walk: the outbound retry lets it stand', async () => {
      cut = 'create';
      const { record } = await upsert('v-create-cut', 'in_progress');
      const link = await interrupted(record.id);
      expect(jiraStatus(link.issue_key)).toBe('Open');
      expect(await journal(record.id)).toEqual([expect.objectContaining({ op: 'create', outcome: 'done' })]);

      await aliceMoves(link.issue_key, 'Triaged');
      // The outbound retry runs first (no inbound run in between): Jira's newer move wins, and the
      // inbound job it queues brings it to the record.
      await retryNow(record.id);
      expect(jiraStatus(link.issue_key)).toBe('Triaged');
      const after = await h.engine.records.getRecord('astra-web', 'v-create-cut');
      expect(after.status).toBe('triaged');
      expect(await journal(record.id)).toEqual([]);
      const outbound = await db.store.db
        .selectFrom('sync_log')
        .select(['fields'])
        .where('record_id', '=', record.id)
        .where('direction', '=', 'outbound')
        .execute();
      // (`fields` is the logged JSON text: its conflicts name Jira as the winner of the status.)
      expect(outbound.map((r) => String(r.fields)).join('\n')).toContain('"field":"status","winner":"jira"');
      // Settled: one more outbound sync leaves Jira as it is.
      await h.engine.syncRecord(record.id);
      expect(jiraStatus(link.issue_key)).toBe('Triaged');
    }, 60_000);
  });
});
