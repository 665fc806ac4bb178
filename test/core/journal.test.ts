import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  adoptionBases,
  byAccount,
  hasOpenHops,
  initialStatusOfOurCreate,
  journaledValues,
  madeByOurCreate,
  movedSinceOurCreate,
  ourBase,
  ourStatusChange,
  type Actor,
  type JournalEntry,
  type StatusChange,
} from '../../src/core/journal.js';
import { decideField } from '../../src/core/merge.js';

let n = 0;
const entry = (intent: JournalEntry['intent'], outcome: JournalEntry['outcome'] = null): JournalEntry => ({
  id: `j${n++}`,
  target: intent.op === 'create' ? null : '10001',
  intent,
  outcome,
});
const hop = (from: string, to: string, outcome: JournalEntry['outcome'] = 'done') =>
  entry({ op: 'transition', from, to, transition: '1' }, outcome);
const ME: Actor = { accountId: 'jira-bridge' };
const ALICE: Actor = { accountId: 'alice' };

describe('journal rules', () => {
  it('a Jira value a journaled write sent is the base; any other value leaves the base', () => {
    const j = [entry({ op: 'create', values: { summary: 'A' } }), entry({ op: 'edit', values: { summary: 'B' } })];
    expect(ourBase('old', 'A', journaledValues(j, 'summary'))).toBe('A');
    expect(ourBase('old', 'B', journaledValues(j, 'summary'))).toBe('B');
    expect(ourBase('old', 'by a person', journaledValues(j, 'summary'))).toBe('old');
    expect(ourBase('A', 'A', journaledValues(j, 'summary'))).toBe('A');
    expect(ourBase(undefined, 'B', journaledValues(j, 'summary'))).toBe('B');
  });

  it('writes Jira refused are not ours', () => {
    const j = [entry({ op: 'edit', values: { summary: 'B' } }, 'failed'), hop('Open', 'Triaged', 'failed')];
    expect(journaledValues(j, 'summary')).toEqual([]);
    expect(ourStatusChange({ from: 'Open', to: 'Triaged' }, j)).toBe(false);
    expect(hasOpenHops(j)).toBe(false);
  });

  it('adoption takes the oldest journaled create; none journaled: null', () => {
    const j = [
      entry({ op: 'create', values: { summary: 'first' } }),
      entry({ op: 'create', values: { summary: 'second' } }),
    ];
    expect(adoptionBases(j)).toEqual(new Map([['summary', 'first']]));
    expect(adoptionBases([hop('Open', 'Triaged')])).toBeNull();
  });

  it('a status change is ours when a journaled hop made it (names in any case, done or unknown)', () => {
    const j = [hop('Open', 'Triaged'), hop('Triaged', 'In Progress', null)];
    expect(ourStatusChange({ from: 'Triaged', to: 'In Progress' }, j)).toBe(true);
    expect(ourStatusChange({ from: 'open', to: 'TRIAGED' }, j)).toBe(true);
    expect(ourStatusChange({ from: 'In Progress', to: 'In Review' }, j)).toBe(false);
    expect(ourStatusChange({ from: 'Open', to: 'In Progress' }, j)).toBe(false);
    expect(ourStatusChange(undefined, j)).toBe(false);
    expect(hasOpenHops(j)).toBe(true);
  });

  it('the initial status of an issue our journaled create made is ours until the changelog holds a status change', () => {
    const created = { ...entry({ op: 'create', values: { summary: 'A' } }, 'done'), target: '10001' };
    // Killed after the link was saved, before the walk: no status change in the changelog.
    expect(initialStatusOfOurCreate('10001', undefined, [created])).toBe(true);
    // The create still in flight (no outcome, no target yet) made the issue as far as anyone knows.
    expect(initialStatusOfOurCreate('10001', undefined, [entry({ op: 'create', values: {} })])).toBe(true);
    // A Jira user (or a hop of ours: ourStatusChange's case) moved it: not the initial status.
    expect(initialStatusOfOurCreate('10001', { from: 'Open', to: 'Triaged' }, [created])).toBe(false);
    expect(initialStatusOfOurCreate('10001', { from: 'Triaged', to: 'Open' }, [created])).toBe(false);
    // No create of ours journaled (a finished job pruned it; an issue made in Jira): not ours.
    expect(initialStatusOfOurCreate('10001', undefined, [])).toBe(false);
    expect(initialStatusOfOurCreate('10001', undefined, [hop('Open', 'Triaged')])).toBe(false);
    // A create Jira refused made nothing; a create of another issue is not this one's.
    expect(initialStatusOfOurCreate('10001', undefined, [entry({ op: 'create', values: {} }, 'failed')])).toBe(false);
    expect(initialStatusOfOurCreate('10002', undefined, [created])).toBe(false);
    // The create made the issue (its status never agreed) whatever the changelog says since.
    expect(madeByOurCreate('10001', [created])).toBe(true);
    expect(madeByOurCreate('10001', [])).toBe(false);
  });

  // A field synced by attempts that may die at any step: each attempt journals the host's value,
  // maybe writes it to Jira, maybe stores it as the base. Meanwhile the host edits, and (maybe) a
  // Jira user writes a value of their own. Jira's change is always the newest in time (the worst
  // case: our crashed write landed after the host's edit). Re-planning with the journal pushes the
  // host's latest value unless a Jira user changed the field, and never takes our own write for
  // a user's.
  it('property: after crashes at any step, our own writes never win over the host’s newer value', () => {
    const step = fc.record({
      hostEdits: fc.boolean(),
      crashAt: fc.constantFrom('before-jira', 'after-jira', 'none'),
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 8 }), fc.boolean(), (steps, userWrites) => {
        let host = 'h0';
        let jira = 'h0';
        let base: unknown = 'h0';
        const journal: JournalEntry[] = [];
        steps.forEach((s, i) => {
          if (s.hostEdits) host = `h${i + 1}`;
          journal.push(entry({ op: 'edit', values: { summary: host } }));
          if (s.crashAt === 'before-jira') return;
          jira = host;
          if (s.crashAt === 'after-jira') return;
          base = host;
          journal.length = 0; // a finished job prunes the rows
        });
        if (userWrites) jira = 'written by a person in Jira';
        if (steps.at(-1)!.hostEdits === false && !userWrites) host = `h-late`; // the host edits after the crash
        const b = ourBase(base, jira, journaledValues(journal, 'summary'));
        const d = decideField({ base: b, host, jira, direction: 'both', hostChangedAt: 1, jiraChangedAt: 2 });
        if (userWrites) {
          // A person's change is never taken for ours: it is a change of Jira's side.
          expect(b).not.toBe(jira);
          expect(d.action === 'to_host' || d.action === 'agree').toBe(true);
        } else if (host === jira) {
          expect(['none', 'agree']).toContain(d.action);
        } else {
          expect(d).toMatchObject({ action: 'to_jira', value: host });
        }
      }),
      { numRuns: 3000 },
    );
  });

  // A walk along a linear workflow journals each hop before sending it and dies after k hops
  // (the k-th maybe not answered); a person may move the issue afterwards. The last change is ours
  // exactly when no person moved it.
  it('property: the last hop of an interrupted walk is ours, a person’s move after it is not', () => {
    const statuses = ['Open', 'Triaged', 'In Progress', 'In Review', 'Resolved'];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 4 }),
        (k, lastAnswered, personMoves, to) => {
          const journal = statuses
            .slice(1, k + 1)
            .map((s, i) => hop(statuses[i]!, s, i === k - 1 && !lastAnswered ? null : 'done'));
          let last: StatusChange = { from: statuses[k - 1]!, to: statuses[k]!, by: ME };
          const personTo = statuses[to]!;
          const moved = personMoves && personTo !== last.to;
          if (moved) last = { from: last.to, to: personTo, by: ALICE };
          // A person's move is recognised as ours only if it repeats one of our own hops exactly
          // (then Jira is where our walk would have put it anyway).
          const repeatsOurs = journal.some(
            (e) => e.intent.op === 'transition' && e.intent.from === last.from && e.intent.to === last.to,
          );
          expect(ourStatusChange({ from: last.from, to: last.to }, journal)).toBe(!moved || repeatsOurs);
          // With the authors known, a person's move is never ours, repeated hop or not.
          expect(ourStatusChange(last, journal, ME)).toBe(!moved);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('a status change is ours only when jira-bridge’s own account made it (when the author is known)', () => {
    // Our hop Open → Triaged was cut off before Jira got it; a Jira user made the same move.
    const j = [hop('Open', 'Triaged', null)];
    expect(ourStatusChange({ from: 'Open', to: 'Triaged', by: ALICE }, j, ME)).toBe(false);
    expect(ourStatusChange({ from: 'Open', to: 'Triaged', by: ME }, j, ME)).toBe(true);
    // Unknown author (anonymous, or automation Jira names no one for) or own account unknown: the
    // names alone decide, as before.
    expect(ourStatusChange({ from: 'Open', to: 'Triaged', by: null }, j, ME)).toBe(true);
    expect(ourStatusChange({ from: 'Open', to: 'Triaged' }, j, ME)).toBe(true);
    expect(ourStatusChange({ from: 'Open', to: 'Triaged', by: ALICE }, j)).toBe(true);
    expect(ourStatusChange({ from: 'Open', to: 'Triaged', by: ALICE }, j, null)).toBe(true);
    // Our account never makes a change ours that no journaled hop made.
    expect(ourStatusChange({ from: 'Open', to: 'Done', by: ME }, j, ME)).toBe(false);
  });

  it('authors compare by Cloud accountId, else Data Center user key, else user name; else unknown', () => {
    expect(byAccount({ accountId: 'a' }, { accountId: 'a' })).toBe(true);
    expect(byAccount({ accountId: 'a' }, { accountId: 'b' })).toBe(false);
    expect(byAccount({ key: 'JIRAUSER10100', name: 'bridge' }, { key: 'JIRAUSER10100', name: 'bridge' })).toBe(true);
    // A renamed Data Center user keeps its key: the key decides before the name.
    expect(byAccount({ key: 'JIRAUSER10100', name: 'old' }, { key: 'JIRAUSER10100', name: 'bridge' })).toBe(true);
    expect(byAccount({ key: 'JIRAUSER10200', name: 'alice' }, { key: 'JIRAUSER10100', name: 'bridge' })).toBe(false);
    expect(byAccount({ name: 'alice' }, { name: 'bridge' })).toBe(false);
    expect(byAccount({ name: 'bridge' }, { key: 'JIRAUSER10100', name: 'bridge' })).toBe(true);
    // Nothing both carry, or either unknown: cannot be told.
    expect(byAccount({ accountId: 'a' }, { name: 'bridge' })).toBeNull();
    expect(byAccount({}, ME)).toBeNull();
    expect(byAccount(null, ME)).toBeNull();
    expect(byAccount(ALICE, undefined)).toBeNull();
  });

  it('A → B → A: the newest journaled hop decides; an older hop of the same names is no later move', () => {
    // Walk 1: Open → Triaged (Jira answered). The host went back: walk 2 Triaged → Open.
    const answered = [hop('Open', 'Triaged'), hop('Triaged', 'Open')];
    // Jira answered the way back, then someone moved Open → Triaged: not ours, even anonymous.
    expect(ourStatusChange({ from: 'Open', to: 'Triaged', by: null }, answered, ME)).toBe(false);
    expect(ourStatusChange({ from: 'Open', to: 'Triaged' }, answered)).toBe(false);
    // The way back itself is ours.
    expect(ourStatusChange({ from: 'Triaged', to: 'Open', by: ME }, answered, ME)).toBe(true);
    // The way back unanswered (it may or may not have reached Jira): walk 1's hop may be the last.
    const unanswered = [hop('Open', 'Triaged'), hop('Triaged', 'Open', null)];
    expect(ourStatusChange({ from: 'Open', to: 'Triaged', by: ME }, unanswered, ME)).toBe(true);
    expect(ourStatusChange({ from: 'Triaged', to: 'Open', by: ME }, unanswered, ME)).toBe(true);
    // … and then only the author tells a user's same move from walk 1's (anonymous: taken as ours).
    expect(ourStatusChange({ from: 'Open', to: 'Triaged', by: ALICE }, unanswered, ME)).toBe(false);
    expect(ourStatusChange({ from: 'Open', to: 'Triaged', by: null }, unanswered, ME)).toBe(true);
    // A refused hop is skipped: it moved nothing.
    const refused = [hop('Open', 'Triaged'), hop('Triaged', 'Open', 'failed')];
    expect(ourStatusChange({ from: 'Open', to: 'Triaged', by: null }, refused, ME)).toBe(true);
  });

  it('a move since our create is a Jira user’s when it is not ours; none, or our own hop, is not', () => {
    const created = { ...entry({ op: 'create', values: {} }, 'done'), target: '10001' };
    expect(movedSinceOurCreate('10001', { from: 'Open', to: 'Triaged', by: ALICE }, [created], ME)).toBe(true);
    expect(movedSinceOurCreate(null, { from: 'Open', to: 'Triaged', by: ALICE }, [created], ME)).toBe(true);
    // Our own hop (the walk after the create) is not; a user repeating it is.
    const walked = [created, hop('Open', 'Triaged', null)];
    expect(movedSinceOurCreate('10001', { from: 'Open', to: 'Triaged', by: ME }, walked, ME)).toBe(false);
    expect(movedSinceOurCreate('10001', { from: 'Open', to: 'Triaged', by: ALICE }, walked, ME)).toBe(true);
    // No change since the create (its initial status), another issue's create, no create.
    expect(movedSinceOurCreate('10001', undefined, [created], ME)).toBe(false);
    expect(movedSinceOurCreate('10002', { from: 'Open', to: 'Triaged', by: ALICE }, [created], ME)).toBe(false);
    expect(movedSinceOurCreate('10001', { from: 'Open', to: 'Triaged', by: ALICE }, [], ME)).toBe(false);
  });

  // Jira's real history against the journal: walks of ours (each hop journaled, then cut before
  // Jira got it, cut after, refused, or answered; a walk that ends prunes the journal) and moves of
  // Jira users (by another account, or anonymous) interleaved, the host changing its mind (A → B
  // → A) at will. The last change is ours exactly when we made it — but an anonymous user's move
  // the journal's names alone take for a hop of ours (it repeats a hop that no answered hop came
  // after: the one case the names cannot tell).
  it('property: the last status change is ours exactly when our walk made it (authors, A → B → A)', () => {
    const ST = ['Open', 'Triaged', 'In Progress', 'Done'];
    const fate = fc.constantFrom('cut-before', 'cut-after', 'refused', 'answered', 'answered', 'answered');
    const ev = fc.oneof(
      fc.record({
        k: fc.constant('walk' as const),
        to: fc.nat(3),
        fates: fc.array(fate, { minLength: 3, maxLength: 3 }),
      }),
      fc.record({ k: fc.constant('user' as const), to: fc.nat(3), anon: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(ev, { minLength: 1, maxLength: 12 }), fc.boolean(), (events, meKnown) => {
        let at = 0;
        let journal: JournalEntry[] = [];
        /** Jira's last status change; `ours`: a hop of a walk whose rows are still in the journal. */
        let last: (StatusChange & { ours: boolean }) | undefined;
        for (const e of events) {
          if (e.k === 'user') {
            if (e.to === at) continue;
            last = { from: ST[at]!, to: ST[e.to]!, by: e.anon ? null : ALICE, ours: false };
            at = e.to;
            continue;
          }
          // A walk along the linear order, one hop at a time, each journaled before it is sent.
          let finished = true;
          for (let i = 0; at !== e.to; i++) {
            const next = at + Math.sign(e.to - at);
            const f = e.fates[Math.min(i, 2)]!;
            const h = hop(ST[at]!, ST[next]!, null);
            journal.push(h);
            if (f === 'cut-before') {
              finished = false;
              break;
            }
            if (f === 'refused') {
              h.outcome = 'failed';
              finished = false;
              break;
            }
            last = { from: ST[at]!, to: ST[next]!, by: ME, ours: true };
            at = next;
            if (f === 'cut-after') {
              finished = false;
              break;
            }
            h.outcome = 'done';
          }
          if (finished) {
            journal = []; // the job finished: its rows go (its bases hold where it left the issue)
            if (last) last.ours = false;
          }
        }
        if (!last) return;
        const me = meKnown ? ME : undefined;
        const got = ourStatusChange(last, journal, me);
        if (last.ours) expect(got).toBe(true);
        else if (last.by === ME || (last.by === ALICE && meKnown)) expect(got).toBe(false);
        else {
          // Names alone: ours only when it repeats a hop with no answered hop after it.
          let byNames = false;
          for (let i = journal.length - 1; i >= 0; i--) {
            const x = journal[i]!;
            if (x.outcome === 'failed' || x.intent.op !== 'transition') continue;
            if (x.intent.from === last.from && x.intent.to === last.to) {
              byNames = true;
              break;
            }
            if (x.outcome === 'done') break;
          }
          expect(got).toBe(byNames);
        }
      }),
      { numRuns: 5000 },
    );
  });
});
