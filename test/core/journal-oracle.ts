/**
 * The journal's status rule as the property tests' models state it, independently of
 * src/core/journal.ts (test/core/plan-inbound.property.test.ts, plan-outbound.property.test.ts).
 */
import type { JournalEntry } from '../../src/core/journal.js';

/**
 * Whether the journal's names alone take a move for a hop of ours: it repeats a hop that may have
 * reached Jira with no hop Jira answered after it (newest first). The rule when the author is unknown.
 */
export function namesTakeForOurs(journal: readonly JournalEntry[], from: string, to: string): boolean {
  for (let i = journal.length - 1; i >= 0; i--) {
    const e = journal[i]!;
    if (e.outcome === 'failed' || e.intent.op !== 'transition') continue;
    if (e.intent.from === from && e.intent.to === to) return true;
    if (e.outcome === 'done') return false;
  }
  return false;
}
