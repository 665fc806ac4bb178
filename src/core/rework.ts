/**
 * Rework tasks (issue 19 item 5), pure: when a record that comes back from a fixed status gets a
 * new rework task. A rework task is made once per reopen — when the host's status goes from a
 * closing status back to an open one while the issue is done — never for an edit of an open
 * record, and never twice for the same record version. The task then follows its record: its
 * comments come back, and it closes when the record is fixed again.
 */
export interface ReworkInput {
  /** The mapping's reopen policy. */
  mode: 'reopen' | 'never' | 'rework';
  /** The primary issue is in a done status. */
  issueDone: boolean;
  /** The record's status now closes (maps to the close status). */
  closing: boolean;
  /** Whether the host status last pushed was a closing one (undefined: never pushed). */
  wasClosing: boolean | undefined;
  /** Rework tasks of the record still open. */
  openTasks: number;
  /** A task was already made for this record version. */
  madeForVersion: boolean;
}

/**
 * 'create': make a rework task; 'leave': the issue stays done and nothing is made (a rework
 * mapping never reopens the issue itself); 'none': not a rework matter (the status work goes on).
 */
export function reworkDecision(i: ReworkInput): 'create' | 'leave' | 'none' {
  if (i.mode !== 'rework' || !i.issueDone || i.closing) return 'none';
  if (i.madeForVersion) return 'leave';
  // A reopen: from a fixed status (or, with no status pushed yet, while no task is open).
  const reopened = i.wasClosing === true || (i.wasClosing === undefined && i.openTasks === 0);
  return reopened ? 'create' : 'leave';
}
