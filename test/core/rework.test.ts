/**
 * Rework tasks (issue 19, item 5), the pure parts: when a reopen makes a task, which journaled
 * rework is still pending after a crash, and the step that closes a task in its own workflow.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { journaledValues, pendingRework, type JournalEntry } from '../../src/core/journal.js';
import { reworkDecision, type ReworkInput } from '../../src/core/rework.js';
import { closingStep } from '../../src/engine/status-path.js';
import type { TransitionInfo } from '../../src/engine/types.js';

const base: ReworkInput = {
  mode: 'rework',
  issueDone: true,
  closing: false,
  wasClosing: true,
  openTasks: 0,
  madeForVersion: false,
};

describe('reworkDecision', () => {
  it('a reopen from a fixed status makes a task; an edit of an open record, or the same version again, does not', () => {
    expect(reworkDecision(base)).toBe('create');
    expect(reworkDecision({ ...base, openTasks: 2 })).toBe('create'); // each reopen: one more
    expect(reworkDecision({ ...base, wasClosing: false })).toBe('leave');
    expect(reworkDecision({ ...base, madeForVersion: true })).toBe('leave');
    expect(reworkDecision({ ...base, wasClosing: undefined })).toBe('create');
    expect(reworkDecision({ ...base, wasClosing: undefined, openTasks: 1 })).toBe('leave');
    expect(reworkDecision({ ...base, mode: 'reopen' })).toBe('none');
    expect(reworkDecision({ ...base, issueDone: false })).toBe('none');
    expect(reworkDecision({ ...base, closing: true })).toBe('none');
  });

  it('never creates outside rework mode, for an open issue, when closing, or twice for a version', () => {
    fc.assert(
      fc.property(
        fc.record({
          mode: fc.constantFrom<ReworkInput['mode']>('reopen', 'never', 'rework'),
          issueDone: fc.boolean(),
          closing: fc.boolean(),
          wasClosing: fc.option(fc.boolean(), { nil: undefined }),
          openTasks: fc.nat(5),
          madeForVersion: fc.boolean(),
        }),
        (i) =>
          reworkDecision(i) !== 'create' ||
          (i.mode === 'rework' && i.issueDone && !i.closing && !i.madeForVersion && i.wasClosing !== false),
      ),
    );
  });
});

describe('pendingRework', () => {
  const rework = (id: string, outcome: JournalEntry['outcome']): JournalEntry => ({
    id,
    target: 'SEC-1',
    intent: { op: 'rework', token: `rework-r-${id}`, of: 'SEC-1', at: 5 },
    outcome,
  });
  it('is the rework intent without an outcome; rework intents carry no field values', () => {
    expect(pendingRework([rework('1', 'done'), rework('2', null)])).toEqual({
      id: '2',
      token: 'rework-r-2',
      of: 'SEC-1',
      at: 5,
    });
    expect(pendingRework([rework('1', 'done'), rework('3', 'failed')])).toBeNull();
    expect(journaledValues([rework('2', null)], 'summary')).toEqual([]);
  });
});

describe('closingStep', () => {
  const t = (id: string, name: string, category: string): TransitionInfo => ({ id, name, to: { id, name, category } });
  it('prefers the close status, then a done one, then a step forward; null when none is left', () => {
    const todo = [t('1', 'In Progress', 'indeterminate'), t('2', 'Done', 'done'), t('3', 'Resolved', 'done')];
    expect(closingStep(todo, 'Resolved', new Set())?.id).toBe('3');
    expect(closingStep(todo, 'Closed', new Set())?.id).toBe('2');
    expect(closingStep([todo[0]!], 'Closed', new Set())?.id).toBe('1');
    expect(closingStep([todo[0]!], 'Closed', new Set(['in progress']))).toBeNull();
    expect(closingStep([], 'Closed', new Set())).toBeNull();
  });
});
