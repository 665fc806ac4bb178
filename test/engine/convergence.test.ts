/**
 * Convergence under duplicated, delayed and reordered deliveries (property-based).
 *
 * fast-check generates a history of edits on both sides — the host upserts the record and adds
 * comments; Alice, in Jira, edits the summary and priority, transitions and comments — and a fault
 * profile for the sandbox's webhooks (duplicates, random delays, shuffled release). Work runs
 * while the history is being made (the worker is not paused), so deliveries arrive late, twice
 * and out of order relative to the writes of both sides. After the faults are lifted and all is
 * quiet, for every generated case:
 *  - record and issue are equal per the mapping (summary, priority ↔ severity, status);
 *  - there is exactly one issue and one link for the record (no duplicates);
 *  - every comment of either side exists exactly once on the other (none lost, none doubled);
 *  - echoes cause no writes: every delivery Jira made is delivered again, late, under new
 *    identifiers (and a sweep runs): the bridge then writes nothing and the record stays as it is;
 *  - the bridge's writes never exceed what the host's own edits can explain.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sign } from '../../src/webhooks/verify.js';
import { freshSqlite, type TestDb } from '../helpers/db.js';
import { opsMapping } from './harness.js';
import { startInboundHarness, WEBHOOK_SECRET, type InboundHarness } from './inbound-harness.js';

type Op =
  | { side: 'host'; kind: 'title'; value: string }
  | { side: 'host'; kind: 'severity'; value: 'P1' | 'P2' | 'P3' | 'P4' }
  | { side: 'host'; kind: 'status'; value: 'new' | 'in_progress' | 'resolved' }
  | { side: 'host'; kind: 'comment'; value: string }
  | { side: 'jira'; kind: 'summary'; value: string }
  | { side: 'jira'; kind: 'priority'; value: 'Highest' | 'High' | 'Medium' | 'Low' }
  | { side: 'jira'; kind: 'status'; value: 'To Do' | 'In Progress' | 'Done' }
  | { side: 'jira'; kind: 'comment'; value: string }
  | { side: 'pause'; kind: 'pause'; value: number };

const word = fc.constantFrom('alpha', 'beta', 'gamma', 'delta', 'omega', 'sigma');
const title = fc.tuple(word, word).map(([a, b]) => `${a} ${b}`);
const op: fc.Arbitrary<Op> = fc.oneof(
  title.map((value) => ({ side: 'host', kind: 'title', value }) as const),
  fc.constantFrom('P1', 'P2', 'P3', 'P4' as const).map((value) => ({ side: 'host', kind: 'severity', value }) as const),
  fc
    .constantFrom('new', 'in_progress', 'resolved' as const)
    .map((value) => ({ side: 'host', kind: 'status', value }) as const),
  word.map((value) => ({ side: 'host', kind: 'comment', value }) as const),
  title.map((value) => ({ side: 'jira', kind: 'summary', value }) as const),
  fc
    .constantFrom('Highest', 'High', 'Medium', 'Low' as const)
    .map((value) => ({ side: 'jira', kind: 'priority', value }) as const),
  fc
    .constantFrom('To Do', 'In Progress', 'Done' as const)
    .map((value) => ({ side: 'jira', kind: 'status', value }) as const),
  word.map((value) => ({ side: 'jira', kind: 'comment', value }) as const),
  fc.integer({ min: 0, max: 30 }).map((value) => ({ side: 'pause', kind: 'pause', value }) as const),
);
const faults = fc.record({
  duplicateRate: fc.constantFrom(0, 0.3, 1),
  delayMs: fc.constantFrom<[number, number]>([0, 0], [0, 20], [5, 60]),
  reorder: fc.boolean(),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
});

const PRIORITY: Record<string, string> = { P1: 'Highest', P2: 'High', P3: 'Medium', P4: 'Low' };
const STATUS_IN: Record<string, string> = { 'To Do': 'new', 'In Progress': 'in_progress', Done: 'resolved' };

describe('convergence: duplicates, delays and reordering end in the same state (property-based)', () => {
  let db: TestDb;
  let h: InboundHarness;
  let run = 0;

  beforeAll(async () => {
    db = await freshSqlite();
    h = await startInboundHarness(db, { mappings: [opsMapping()] });
  });
  afterAll(async () => {
    await h.close();
    await db.cleanup();
  });

  it('record and issue agree, nothing is duplicated or lost, echoes write nothing', { timeout: 600_000 }, async () => {
    const worker = h.startWorker(2);
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 3, maxLength: 14 }), faults, async (ops, f) => {
          const hostId = `conv-${++run}`;
          const host = { title: 'start here', severity: 'P3', status: 'new' };
          const upsert = () =>
            h.engine.records.upsertRecord({
              scope: 'stackflow-incidents',
              hostId,
              kind: 'incident',
              title: host.title,
              description: 'convergence',
              status: host.status,
              severity: host.severity,
            });
          await upsert();
          await h.settle();
          const key = (await h.record('stackflow-incidents', hostId)).link!.issue_key!;
          if (process.env.CONVERGENCE_DEBUG) console.log('lead', h.sandbox.state.now() - Date.now());
          h.sandbox.webhooks.reseed(f.seed);
          h.sandbox.webhooks.setFaults({ duplicateRate: f.duplicateRate, delayMs: f.delayMs, reorder: f.reorder });
          const aliceId = h.sandbox.credentials.users.alice!.accountId;
          const hostComments: string[] = [];
          const jiraComments: string[] = [];
          let aliceWrites = 0;
          let hostCost = 0;
          const writesBefore = h.writes();
          const deliveriesBefore = h.sandbox.webhooks.deliveries().length;
          // The last effective edit of each field, from either side: newest wins.
          const last: { title?: string; severity?: string; status?: string } = {};
          for (const [i, o] of ops.entries()) {
            // Change times are in milliseconds: keep successive edits apart.
            await new Promise((r) => setTimeout(r, 2));
            if (o.side === 'pause') {
              await new Promise((r) => setTimeout(r, o.value));
            } else if (o.side === 'host') {
              if (o.kind === 'comment') {
                const body = `host ${o.value} n${i}x`;
                hostComments.push(body);
                await h.engine.records.addComment('stackflow-incidents', hostId, {
                  author: 'platform',
                  body,
                  hostCommentId: `${hostId}-c${i}`,
                });
                hostCost += 1;
              } else {
                const r = await h.record('stackflow-incidents', hostId);
                host.title = o.kind === 'title' ? o.value : r.title;
                host.severity = o.kind === 'severity' ? o.value : (r.severity ?? 'P3');
                host.status = o.kind === 'status' ? o.value : r.status;
                // Like a real host, it sends the whole record as it last read it; whatever the
                // upsert changed (by the record's per-field clock) is the host's newest edit.
                const times = async () =>
                  JSON.parse(
                    (
                      await db.store.db
                        .selectFrom('records')
                        .select('field_times')
                        .where('id', '=', r.id)
                        .executeTakeFirstOrThrow()
                    ).field_times ?? '{}',
                  ) as Record<string, number>;
                const t0 = await times();
                await upsert();
                const t1 = await times();
                if (t1.summary !== t0.summary) last.title = host.title;
                if (t1.priority !== t0.priority) last.severity = host.severity;
                if (t1.status !== t0.status) last.status = host.status;
                hostCost += 3 + 1; // at most: one edit and a status path of up to three transitions
              }
            } else if (o.kind === 'comment') {
              const body = `jira ${o.value} n${i}x`;
              jiraComments.push(body);
              await h.alice.addComment(key, {
                type: 'doc',
                version: 1,
                content: [{ type: 'paragraph', content: [{ type: 'text', text: body }] }],
              } as never);
              aliceWrites++;
            } else if (o.kind === 'summary' || o.kind === 'priority') {
              const seen = h.sandbox.state.issue(key)!.changelog.length;
              await h.alice.editIssue(key, {
                fields: o.kind === 'summary' ? { summary: o.value } : { priority: { name: o.value } },
              });
              aliceWrites++;
              // Effective only when Jira recorded a change by Alice (the bridge may have written
              // the same value a moment before).
              const mine = h.sandbox.state
                .issue(key)!
                .changelog.slice(seen)
                .some((x) => x.authorId === aliceId && x.items.some((it) => it.fieldId === o.kind));
              if (mine) {
                if (o.kind === 'summary') last.title = o.value;
                else last.severity = Object.keys(PRIORITY).find((k) => PRIORITY[k] === o.value);
              }
            } else {
              const ts = await h.alice.getTransitions(key);
              const t = ts.find((x) => x.to.name === o.value);
              if (t) {
                // The bridge may move the issue between Alice's look and her click, as in life.
                const moved = await h.alice.transition(key, String(t.id)).then(
                  () => true,
                  () => false,
                );
                aliceWrites++;
                if (moved) last.status = STATUS_IN[o.value];
              }
            }
          }
          h.sandbox.webhooks.setFaults({});
          await h.settle();

          // Equal per the mapping.
          const r = await h.record('stackflow-incidents', hostId);
          if (process.env.CONVERGENCE_DEBUG) {
            const logs = await db.store.db
              .selectFrom('sync_log')
              .select(['direction', 'action', 'fields', 'at'])
              .where('record_id', '=', r.id)
              .orderBy('at')
              .execute();
            console.log(
              JSON.stringify(
                {
                  ops,
                  last,
                  logs,
                  times: (
                    await db.store.db
                      .selectFrom('records')
                      .select('field_times')
                      .where('id', '=', r.id)
                      .executeTakeFirst()
                  )?.field_times,
                  changelog: h.sandbox.state.issue(key)!.changelog,
                },
                null,
                1,
              ),
            );
          }
          const issue = h.sandbox.state.issue(key)!;
          const status = h.sandbox.state.status(issue.statusId).name;
          const priority = issue.priorityId ? h.sandbox.state.priority(issue.priorityId)?.name : undefined;
          expect(issue.summary).toBe(r.title);
          expect(PRIORITY[r.severity ?? '']).toBe(priority);
          expect(STATUS_IN[status]).toBe(r.status);
          // … and the newest edit of each field won. One window is accepted: Jira has no
          // conditional edit, so an edit Alice makes between the bridge's read of the issue and
          // its write (milliseconds) can be overwritten by that write (see docs/sync-model.md).
          const raced = (fieldId: string): string | undefined => {
            const entries = issue.changelog.flatMap((x) =>
              x.items
                .filter((it) => it.fieldId === fieldId)
                .map((it) => ({ at: x.created, by: x.authorId, to: it.toString })),
            );
            const final = entries.at(-1);
            const prev = entries.at(-2);
            if (final && prev && final.by !== aliceId && prev.by === aliceId && final.at - prev.at <= 50)
              return final.to ?? undefined;
            return undefined;
          };
          const racedSummary = raced('summary');
          const racedPriority = raced('priority');
          const racedStatus = raced('status');
          if (last.title !== undefined && racedSummary !== r.title) expect(r.title).toBe(last.title);
          if (last.severity !== undefined && racedPriority !== PRIORITY[r.severity ?? ''])
            expect(r.severity).toBe(last.severity);
          if (last.status !== undefined && racedStatus !== status) expect(r.status).toBe(last.status);
          // One issue, one link.
          const links = await db.store.db.selectFrom('links').selectAll().where('issue_id', '=', issue.id).execute();
          expect(links).toHaveLength(1);
          expect(
            h.sandbox.state
              .allIssues()
              .filter((x) => x.labels.some((l) => issue.labels.includes(l) && l.startsWith('jb-'))),
          ).toHaveLength(1);
          // Comments: each exactly once on the other side.
          const jiraTexts = issue.comments.map((c) => JSON.stringify(c.body));
          for (const c of hostComments) expect(jiraTexts.filter((t) => t.includes(c))).toHaveLength(1);
          const recComments = await db.store.db
            .selectFrom('record_comments')
            .select(['body', 'origin'])
            .where('record_id', '=', r.id)
            .execute();
          for (const c of jiraComments) {
            expect(recComments.filter((x) => x.origin === 'jira' && x.body === c)).toHaveLength(1);
          }
          expect(recComments.filter((x) => x.origin === 'jira')).toHaveLength(jiraComments.length);
          // The bridge's writes are explained by the host's edits.
          const bridgeWrites = h.writes() - writesBefore - aliceWrites;
          expect(bridgeWrites).toBeLessThanOrEqual(hostCost);

          // Echoes and stale deliveries: everything Jira sent is delivered again, late.
          const quietWrites = h.writes();
          const version = r.version;
          const sent = h.sandbox.webhooks.deliveries().slice(deliveriesBefore);
          for (const [j, d] of sent.entries()) {
            if (!d.body) continue;
            const res = await fetch(h.intakeUrl, {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                'x-hub-signature': sign(WEBHOOK_SECRET, d.body),
                'x-atlassian-webhook-identifier': `replay-${hostId}-${j}`,
              },
              body: d.body,
            });
            expect(res.status).toBe(202);
          }
          await h.engine.sweep('sandbox');
          await h.settle();
          expect(h.writes()).toBe(quietWrites);
          expect((await h.record('stackflow-incidents', hostId)).version).toBe(version);
        }),
        { numRuns: Number(process.env.CONVERGENCE_RUNS ?? 12), seed: Number(process.env.CONVERGENCE_SEED ?? 20261123) },
      );
    } finally {
      await worker.stop();
    }
  });
});
