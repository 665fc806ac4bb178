/**
 * Workflow planning: the transitions jira-bridge has seen available from each status of a workflow
 * form a graph; the shortest path to a target status is a breadth-first search over it. Jira only
 * tells a client the transitions available from an issue's current status, so the graph is learnt
 * as issues move (and forgotten when a transition it knew is refused: the workflow changed).
 * Pure: no I/O.
 */

export interface WorkflowEdge {
  /** Transition id (stable within a workflow). */
  id: string;
  name: string;
  to: { id: string; name: string; category?: string | undefined };
  fields?: Record<string, { required: boolean; allowedValues?: string[] | undefined }> | undefined;
}

/** Status name (lower case) → transitions seen available from it. */
export type WorkflowGraph = Map<string, WorkflowEdge[]>;

export const statusKey = (name: string): string => name.trim().toLowerCase();

/** Records the transitions available from a status (replacing what was known for it). */
export function learnTransitions(graph: WorkflowGraph, from: string, edges: readonly WorkflowEdge[]): void {
  graph.set(statusKey(from), [...edges]);
}

/**
 * The fewest transitions from `from` to `to` over what is known, in order; [] when already there;
 * null when the known graph has no path (explore, or fail).
 */
export function shortestPath(graph: WorkflowGraph, from: string, to: string): WorkflowEdge[] | null {
  const start = statusKey(from);
  const goal = statusKey(to);
  if (start === goal) return [];
  const prev = new Map<string, { from: string; edge: WorkflowEdge }>();
  const seen = new Set([start]);
  let frontier = [start];
  while (frontier.length) {
    const next: string[] = [];
    for (const s of frontier) {
      for (const e of graph.get(s) ?? []) {
        const k = statusKey(e.to.name);
        if (seen.has(k)) continue;
        seen.add(k);
        prev.set(k, { from: s, edge: e });
        if (k === goal) {
          const path: WorkflowEdge[] = [];
          for (let at = k; at !== start;) {
            const p = prev.get(at)!;
            path.unshift(p.edge);
            at = p.from;
          }
          return path;
        }
        next.push(k);
      }
    }
    frontier = next;
  }
  return null;
}

/**
 * Whether a transition's screen takes every one of these fields, so that an edit of them can ride
 * on the transition (Jira refuses fields that are not on the transition's screen). False for no
 * fields, and for a transition whose screen is not known.
 */
export function screenTakes(edge: Pick<WorkflowEdge, 'fields'>, fieldIds: readonly string[]): boolean {
  const screen = edge.fields;
  return fieldIds.length > 0 && screen !== undefined && fieldIds.every((id) => Object.hasOwn(screen, id));
}
