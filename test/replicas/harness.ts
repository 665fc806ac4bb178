/** Shared pieces of the replica, crash and sweep tests (not a test file). */

/** The mapping the crash tests configure: severity ↔ priority, status in. */
export const PRIORITY: Record<string, string> = { P1: 'Highest', P2: 'High', P3: 'Medium', P4: 'Low' };
export const STATUS_IN: Record<string, string> = { 'To Do': 'new', 'In Progress': 'in_progress', Done: 'resolved' };

/** A small seeded PRNG (mulberry32): a run is repeatable for a seed. */
export { prng } from '../../src/sandbox/prng.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The mapping YAML of the crash tests (incident ↔ OPS Incident), under a `connections:` block. */
export function opsMappingYaml(scope: string): string[] {
  return [
    'mappings:',
    '  - id: ops',
    '    connection: sb',
    `    scope: ${scope}`,
    '    project: OPS',
    '    kinds: { incident: { issue_type: Incident } }',
    '    status: { out: { new: To Do, in_progress: In Progress }, closed: [resolved] }',
    '    priority: { out: { P1: Highest, P2: High, P3: Medium, P4: Low } }',
    '    close: { status: Done }',
  ];
}

/** An ADF document of one paragraph. */
export function adfText(text: string): never {
  return { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text }] }] } as never;
}

/** Intervals [start, end] that overlap another (sorted by start), as pairs. */
export function overlaps<T extends { start: number; end: number }>(spans: T[]): Array<[T, T]> {
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  const out: Array<[T, T]> = [];
  let last: T | undefined;
  for (const s of sorted) {
    if (last && s.start < last.end) out.push([last, s]);
    if (!last || s.end > last.end) last = s;
  }
  return out;
}
