import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  adoptionBases,
  hasOpenHops,
  initialStatusOfOurCreate,
  journaledValues,
  madeByOurCreate,
  ourBase,
  ourStatusChange,
  type JournalEntry,
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
          let last = { from: statuses[k - 1]!, to: statuses[k]! };
          const personTo = statuses[to]!;
          const moved = personMoves && personTo !== last.to;
          if (moved) last = { from: last.to, to: personTo };
          // A person's move is recognised as ours only if it repeats one of our own hops exactly
          // (then Jira is where our walk would have put it anyway).
          const repeatsOurs = journal.some(
            (e) => e.intent.op === 'transition' && e.intent.from === last.from && e.intent.to === last.to,
          );
          expect(ourStatusChange(last, journal)).toBe(!moved || repeatsOurs);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
