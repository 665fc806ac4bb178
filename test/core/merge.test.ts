import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  driftedFromBases,
  canonical,
  decideField,
  hostLabelsFrom,
  hostStatusFor,
  reopenAllowed,
  sameValue,
  severityFor,
  type Direction,
  type FieldInput,
} from '../../src/core/merge.js';

const f = (over: Partial<FieldInput>): FieldInput => ({
  base: 'a',
  host: 'a',
  jira: 'a',
  direction: 'both',
  hostChangedAt: 1,
  jiraChangedAt: 1,
  ...over,
});

describe('decideField: the three-way rule', () => {
  it.each([
    ['nothing changed (an echo looks like this)', f({}), { action: 'none' }],
    ['host changed only', f({ host: 'h' }), { action: 'to_jira', value: 'h' }],
    ['Jira changed only', f({ jira: 'j' }), { action: 'to_host', value: 'j' }],
    ['both changed to the same value', f({ host: 'x', jira: 'x' }), { action: 'agree', value: 'x' }],
    [
      'both changed, Jira newer',
      f({ host: 'h', jira: 'j', hostChangedAt: 1, jiraChangedAt: 2 }),
      { action: 'to_host', value: 'j', conflict: { winner: 'jira', rule: 'newest', lost: 'h' } },
    ],
    [
      'both changed, host newer',
      f({ host: 'h', jira: 'j', hostChangedAt: 3, jiraChangedAt: 2 }),
      { action: 'to_jira', value: 'h', conflict: { winner: 'host', rule: 'newest', lost: 'j' } },
    ],
    [
      'both changed at the same millisecond: Jira wins',
      f({ host: 'h', jira: 'j', hostChangedAt: 2, jiraChangedAt: 2 }),
      { action: 'to_host', value: 'j', conflict: { winner: 'jira', rule: 'newest', lost: 'h' } },
    ],
    [
      'locked to the host: the host wins even when older',
      f({ host: 'h', jira: 'j', lock: 'host', hostChangedAt: 1, jiraChangedAt: 9 }),
      { action: 'to_jira', value: 'h', conflict: { winner: 'host', rule: 'lock', lost: 'j' } },
    ],
    [
      'locked to Jira: Jira wins even when older',
      f({ host: 'h', jira: 'j', lock: 'jira', hostChangedAt: 9, jiraChangedAt: 1 }),
      { action: 'to_host', value: 'j', conflict: { winner: 'jira', rule: 'lock', lost: 'h' } },
    ],
    [
      'to_jira field, Jira changed: blocked',
      f({ jira: 'j', direction: 'to_jira' }),
      { action: 'blocked', side: 'jira' },
    ],
    [
      'from_jira field, host changed: blocked',
      f({ host: 'h', direction: 'from_jira' }),
      { action: 'blocked', side: 'host' },
    ],
    [
      'from_jira field, both changed: Jira (the writer) wins',
      f({ host: 'h', jira: 'j', direction: 'from_jira', hostChangedAt: 9 }),
      { action: 'to_host', value: 'j', conflict: { winner: 'jira', rule: 'lock', lost: 'h' } },
    ],
    [
      'to_jira field, both changed: the host (the writer) wins',
      f({ host: 'h', jira: 'j', direction: 'to_jira', jiraChangedAt: 9 }),
      { action: 'to_jira', value: 'h', conflict: { winner: 'host', rule: 'lock', lost: 'j' } },
    ],
    ['no base, equal values', f({ base: undefined, host: 'x', jira: 'x' }), { action: 'agree', value: 'x' }],
    [
      'no base, different: Jira flows in',
      f({ base: undefined, host: 'h', jira: 'j' }),
      { action: 'to_host', value: 'j' },
    ],
    [
      'no base, different, to_jira only: host flows out',
      f({ base: undefined, host: 'h', jira: 'j', direction: 'to_jira' }),
      { action: 'to_jira', value: 'h' },
    ],
  ])('%s', (_name, input, expected) => {
    expect(decideField(input)).toEqual(expected);
  });

  it('compares structured values by content, not key order', () => {
    expect(decideField(f({ base: { a: 1, b: [1, 2] }, host: { b: [1, 2], a: 1 }, jira: { a: 1, b: [1, 2] } }))).toEqual(
      { action: 'none' },
    );
    expect(sameValue(['x', 'y'], ['y', 'x'])).toBe(false);
    expect(canonical(undefined)).toBe(canonical(null));
  });

  const value = fc.constantFrom('a', 'b', 'c', null);
  const direction = fc.constantFrom<Direction>('both', 'to_jira', 'from_jira');
  const input = fc.record({
    base: value,
    host: value,
    jira: value,
    direction,
    lock: fc.constantFrom(undefined, 'host' as const, 'jira' as const),
    hostChangedAt: fc.integer({ min: 0, max: 5 }),
    jiraChangedAt: fc.integer({ min: 0, max: 5 }),
  });

  it('properties: idempotent after applying, never moves a value against its direction', () => {
    fc.assert(
      fc.property(input, (i) => {
        const d = decideField(i);
        // Applying the decision makes both sides and the base agree: a second decision is "none".
        if (d.action === 'to_host' || d.action === 'to_jira' || d.action === 'agree') {
          expect(decideField({ ...i, base: d.value, host: d.value, jira: d.value })).toEqual({ action: 'none' });
        }
        if (d.action === 'to_host') expect(i.direction).not.toBe('to_jira');
        if (d.action === 'to_jira') expect(i.direction).not.toBe('from_jira');
        // Unchanged sides never produce writes.
        if (sameValue(i.host, i.base) && sameValue(i.jira, i.base)) expect(d).toEqual({ action: 'none' });
        // The value that moves is always one of the sides' current values.
        if (d.action === 'to_host') expect(d.value).toBe(i.jira);
        if (d.action === 'to_jira') expect(d.value).toBe(i.host);
      }),
    );
  });

  it('property: the decision does not depend on the order events arrive (a pure function of values)', () => {
    fc.assert(
      fc.property(input, (i) => {
        expect(decideField({ ...i })).toEqual(decideField(JSON.parse(JSON.stringify(i)) as FieldInput));
      }),
    );
  });
});

describe('value tables', () => {
  const table = { '10001': 'triaged', 'in review': 'review', 'category:done': 'resolved' };
  it.each([
    [{ id: '10001', name: 'Whatever' }, 'triaged'],
    [{ id: '9', name: 'In Review' }, 'review'],
    [{ id: '9', name: 'Erledigt', category: 'done' }, 'resolved'],
    [{ id: '9', name: 'Open', category: 'new' }, 'fallback'],
  ])('hostStatusFor %o → %s (id, then name in any case, then category, then default)', (status, expected) => {
    expect(hostStatusFor(status, table, 'fallback')).toBe(expected);
  });
  it('hostStatusFor without a match and no default is null', () => {
    expect(hostStatusFor({ id: '1', name: 'X' }, {}, undefined)).toBeNull();
  });

  it('severityFor: inbound table first, then a unique inverse of the outbound table, then the default', () => {
    const out = { critical: 'Highest', high: 'High', urgent: 'Highest' };
    expect(severityFor('high', { High: 'major' }, out)).toBe('major');
    expect(severityFor('High', {}, out)).toBe('high');
    // Two severities share Highest: ambiguous without an inbound table.
    expect(severityFor('Highest', {}, out, 'medium')).toBe('medium');
    expect(severityFor('Lowest', {}, out)).toBeNull();
  });

  it('reopenAllowed: only a closed → open move is ever refused, and only when the policy says so', () => {
    const closed = ['resolved', 'closed'];
    expect(reopenAllowed('resolved', 'open', closed, false)).toBe(false);
    expect(reopenAllowed('resolved', 'open', closed, true)).toBe(true);
    expect(reopenAllowed('resolved', 'closed', closed, false)).toBe(true);
    expect(reopenAllowed('open', 'resolved', closed, false)).toBe(true);
  });

  it('hostLabelsFrom drops creation tokens and the mapping’s own labels, sorted and unique', () => {
    expect(hostLabelsFrom(['b', 'jb-123', 'astra', 'a', 'b'], ['astra'], 'jb-')).toEqual(['a', 'b']);
  });
});

describe('driftedFromBases: the sweep’s second look at an issue whose `updated` it has seen', () => {
  const bases = new Map<string, unknown>([
    ['summary', 'Disk full'],
    ['status', 'In Progress'],
    ['priority', 'High'],
  ]);
  it('nothing differs: no read', () => {
    expect(driftedFromBases({ summary: 'Disk full', status: 'in progress', priority: 'HIGH' }, bases)).toEqual([]);
  });
  it('names each field that differs from the agreed value (summary exactly, names case-insensitively)', () => {
    expect(driftedFromBases({ summary: 'disk full', status: 'Done', priority: null }, bases)).toEqual([
      'summary',
      'status',
      'priority',
    ]);
  });
  it('a field the page did not carry, or never agreed on, is not a drift', () => {
    expect(driftedFromBases({}, bases)).toEqual([]);
    expect(driftedFromBases({ status: 'Done' }, new Map())).toEqual([]);
    expect(driftedFromBases({ priority: null }, new Map([['priority', null]]))).toEqual([]);
  });
});
