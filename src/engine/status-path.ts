import { AppError, isAppError } from '../core/errors.js';
import { hopFields, type PlannedHop } from '../core/plan-outbound.js';
import { learnTransitions, screenTakes, shortestPath, type WorkflowGraph } from '../core/workflow.js';
import type { JiraPort, TransitionInfo } from './types.js';

const CATEGORY_RANK: Record<string, number> = { new: 0, indeterminate: 1, done: 2 };

export interface TransitionResult {
  /** Status names passed through, in order (excluding the start). */
  path: string[];
  /** Jira calls spent. */
  calls: number;
  /** The edit of `opts.carry` went with the last transition (else it was sent on its own). */
  carried: boolean;
}

/**
 * A field edit that may ride on the walk's last transition instead of costing a call of its own
 * (a transition takes `fields`/`update` for the fields on its screen). The walk sends it with the
 * last transition only when that transition's screen is known to take every field — from the
 * learnt workflow, or from the transition list read while exploring — and otherwise on its own
 * (`sendAlone`) before the next move, so the issue is edited in the status it was in, as it was
 * before any walk, unless a move already happened. When the walk fails the edit is still sent.
 */
export interface CarriedEdit {
  fields?: Record<string, unknown> | undefined;
  update?: Record<string, Array<Record<string, unknown>>> | undefined;
  /** Sends the edit as an edit of its own (records it as pushed when it succeeds). */
  sendAlone(): Promise<void>;
  /** The transition (named) that carried the edit succeeded: record it as pushed. */
  carried(transition: string): Promise<void>;
}

export interface WalkOptions {
  /** Resolution to fill when a transition requires one. */
  resolution?: string | undefined;
  /** Category of the target when known (guides the walk before the target is in sight). */
  targetCategory?: string | undefined;
  /** Hop limit (default 8): the walk never loops. */
  maxHops?: number;
  /**
   * What is known of this workflow (learnt from earlier walks). A known path is followed with one
   * call per hop; every transition list read teaches it more. Cleared when Jira refuses a
   * transition it knew (the workflow changed).
   */
  graph?: WorkflowGraph | undefined;
  /**
   * The hops the planner decided (planStatus in src/core/plan-outbound.ts: the shortest known path,
   * each hop with its screen fields), followed one call per hop before any exploring. Absent: the
   * shortest path over `graph` is taken (null or []: nothing known, explore).
   */
  planned?: readonly PlannedHop[] | null | undefined;
  /** A field edit to carry on the last transition when its screen takes it (see CarriedEdit). */
  carry?: CarriedEdit | undefined;
  /**
   * Told before each transition is sent (from where, which transition) and after Jira answered
   * (`ok`: it took it; false: it answered with an error). The engine journals each hop with it, so
   * a hop of an interrupted walk is known as its own afterwards.
   */
  hops?: HopJournal | undefined;
}

export interface HopJournal {
  before(from: string, t: TransitionInfo): Promise<void>;
  after(from: string, t: TransitionInfo, ok: boolean): Promise<void>;
}

function describe(ts: TransitionInfo[]): string {
  return ts.length ? ts.map((t) => `"${t.name}" → ${t.to.name}`).join(', ') : '(none)';
}

/** Fills the transition's required screen fields; resolution from the mapping or a sensible default (see hopFields). */
export function transitionFields(
  t: TransitionInfo,
  opts: WalkOptions,
): { fields: Record<string, unknown> | undefined; missing: string[] } {
  return hopScreen(t, hopFields(t, opts.resolution), opts.resolution);
}

/** A hop's screen fields as decided (hopFields), or the refusal of a resolution the screen does not allow. */
function hopScreen(
  t: Pick<TransitionInfo, 'name'>,
  r: Pick<PlannedHop, 'fields' | 'missing' | 'unfit'>,
  resolution: string | undefined,
): { fields: Record<string, unknown> | undefined; missing: string[] } {
  if (r.unfit) {
    throw new AppError(
      'JIRA_TRANSITION_UNAVAILABLE',
      `Transition "${t.name}" needs a resolution; the mapping's resolution "${resolution}" is not allowed there (allowed: ${r.unfit.allowed.join(', ')})`,
      { details: { transition: t.name, allowed: r.unfit.allowed } },
    );
  }
  return { fields: r.fields, missing: r.missing };
}

/**
 * Moves the issue to `target` through the workflow. With a known workflow graph (`opts.graph`) it
 * first follows the shortest known path, one call per hop. Otherwise — or when that fails — the
 * target must exist (checked first, before any hop). At each hop it reads the transitions available from the current status and takes one
 * reaching the target when there is one; otherwise it steps to an unvisited status that does not
 * move away from the target's status category (To Do → In Progress → Done), nearest first. It
 * fills a required resolution. It never revisits a status, so it never loops; when no step is
 * left it fails naming where it started, where it is, the target and the transitions available.
 * A field edit (`opts.carry`) rides on the last transition when its screen takes it, else it is
 * sent on its own before the next move (see CarriedEdit).
 */
export async function walkToStatus(
  jira: JiraPort,
  issue: string,
  current: { name: string; category?: string | undefined },
  target: string,
  opts: WalkOptions = {},
): Promise<TransitionResult> {
  const maxHops = opts.maxHops ?? 8;
  /** The edit still to send (cleared once it is carried or sent on its own). */
  let pending = opts.carry;
  const carryIds = pending ? [...Object.keys(pending.fields ?? {}), ...Object.keys(pending.update ?? {})] : [];
  let carried = false;
  /** The error of the edit sent on its own: it is reported as it is, never taken for a refused move. */
  let editError: unknown;
  const sendAlone = async (): Promise<void> => {
    if (!pending) return;
    const c = pending;
    pending = undefined;
    try {
      await c.sendAlone();
    } catch (err) {
      editError = err;
      throw err;
    }
  };
  try {
    const r = await walk();
    await sendAlone(); // (only when no move was needed after all)
    return { ...r, carried };
  } catch (err) {
    // The walk failed: the edit still goes, on its own (its failure, if any, is retried with the job).
    if (pending) await sendAlone().catch(() => undefined);
    throw err;
  }

  async function walk(): Promise<Omit<TransitionResult, 'carried'>> {
    const visited = new Set<string>([current.name.toLowerCase()]);
    const path: string[] = [];
    let calls = 0;
    let here = current;
    /**
     * Jira refused a transition: when the issue is no longer where the walk thought it was, someone
     * moved it meanwhile — a retryable race (the job runs again on a fresh read and the three-way
     * rule settles who wins); otherwise the refusal stands.
     */
    const refused = async (err: unknown, where: string): Promise<AppError | null> => {
      if (!isAppError(err) || err.code !== 'JIRA_BAD_REQUEST') return null;
      const now = (await jira.getIssue(issue)).status;
      calls++;
      if (now.name.toLowerCase() === where.toLowerCase()) return null;
      return new AppError(
        'JIRA_MOVED_CONCURRENTLY',
        `Jira refused a transition from "${where}": the issue is now in "${now.name}" (moved by someone else meanwhile); syncing again`,
        { retryable: true, retryAfterMs: 500, cause: err, details: { expected: where, actual: now.name, target } },
      );
    };
    /** Sends one transition between the journal's before and after (see WalkOptions.hops). */
    const journaled = async (t: TransitionInfo, send: () => Promise<void>): Promise<void> => {
      const from = here.name;
      await opts.hops?.before(from, t);
      try {
        await send();
      } catch (err) {
        if (isAppError(err) && !err.retryable) await opts.hops?.after(from, t, false);
        throw err;
      }
      await opts.hops?.after(from, t, true);
    };
    /**
     * Takes transition `t`, with the pending edit when `carry` is set. When Jira refuses the carried
     * fields while the issue stays where it was (a value it rejects, a screen that changed), the edit
     * goes on its own — failing as an edit would — and the move is tried again bare; a screen that
     * was known from the learnt workflow is learnt again next time.
     */
    const move = async (
      t: TransitionInfo,
      fields: Record<string, unknown> | undefined,
      carry: boolean,
      known: boolean,
    ) => {
      const c = carry ? pending : undefined;
      calls++;
      if (!c) return journaled(t, () => jira.transition(issue, t.id, fields));
      const all = { ...c.fields, ...fields };
      try {
        await journaled(t, () => jira.transition(issue, t.id, Object.keys(all).length ? all : undefined, c.update));
      } catch (err) {
        const moved = await refused(err, here.name);
        if (moved) throw moved;
        if (!isAppError(err) || err.code !== 'JIRA_BAD_REQUEST') throw err;
        if (known) opts.graph?.clear();
        await sendAlone();
        calls++;
        return journaled(t, () => jira.transition(issue, t.id, fields));
      }
      pending = undefined;
      carried = true;
      await c.carried(t.name);
    };
    const wanted = target.toLowerCase();
    if (here.name.toLowerCase() === wanted) return { path, calls };
    // 1. The planned hops (the shortest path over the known workflow): one call per hop.
    const planned =
      opts.planned !== undefined
        ? opts.planned
        : opts.graph
          ? shortestPath(opts.graph, here.name, target)?.map((e) => ({ edge: e, ...hopFields(e, opts.resolution) }))
          : null;
    if (planned && planned.length) {
      const last = planned[planned.length - 1]!.edge;
      // The edit rides on the last move only when its screen is known to take it; else it goes first.
      if (pending && !screenTakes(last, carryIds)) await sendAlone();
      for (const hop of planned) {
        const e = hop.edge;
        const { fields, missing } = hopScreen(e, hop, opts.resolution);
        if (missing.length) break;
        try {
          await move(e, fields, e === last, true);
        } catch (err) {
          if (err === editError) throw err;
          const moved = await refused(err, here.name);
          if (moved) throw moved;
          if (isAppError(err) && err.code === 'JIRA_BAD_REQUEST') {
            // The workflow is not what was learnt: learn it again.
            opts.graph?.clear();
            break;
          }
          throw err;
        }
        visited.add(e.to.name.toLowerCase());
        path.push(e.to.name);
        here = e.to;
      }
      if (here.name.toLowerCase() === wanted) return { path, calls };
    }
    // 2. Explore: read the transitions available here, step, repeat (learning as it goes).
    let targetCategory = opts.targetCategory;
    if (targetCategory === undefined) {
      const status = await jira.getStatus(target);
      calls++;
      if (!status) {
        throw new AppError(
          'JIRA_TRANSITION_UNAVAILABLE',
          `The mapping's target status "${target}" does not exist in Jira; fix the status table (issue is "${here.name}")`,
          { details: { current: here.name, target } },
        );
      }
      targetCategory = status.category;
    }
    const targetRank = targetCategory !== undefined ? CATEGORY_RANK[targetCategory] : undefined;
    const distance = (category: string | undefined): number => {
      const r = category !== undefined ? CATEGORY_RANK[category] : undefined;
      return r === undefined || targetRank === undefined ? 1 : Math.abs(targetRank - r);
    };
    for (let hop = 0; hop < maxHops; hop++) {
      const available = await jira.getTransitions(issue);
      calls++;
      if (opts.graph) learnTransitions(opts.graph, here.name, available);
      let pick = available.find((t) => t.to.name.toLowerCase() === wanted);
      // A path over what is known by now beats a guess.
      if (!pick && opts.graph) {
        const known = shortestPath(opts.graph, here.name, target);
        const first = known?.[0];
        if (first && !visited.has(first.to.name.toLowerCase())) pick = available.find((t) => t.id === first.id);
      }
      if (!pick) {
        const limit = distance(here.category);
        const hereRank = here.category !== undefined ? CATEGORY_RANK[here.category] : undefined;
        // Forward (To Do → Done) a workflow may need sideways steps within a category, and so
        // does a target in the category the issue is already in (Triaged → In Progress → In
        // Review); leaving Done (a reopen) may land on the initial status; otherwise backward only
        // steps that get closer are taken, so a status the workflow cannot go back to fails at once
        // instead of wandering through the workflow. Visited statuses are never taken again.
        const forward = targetRank !== undefined && hereRank !== undefined && targetRank > hereRank;
        const reopening = here.category === 'done' && targetRank !== undefined && targetRank < 2;
        pick = available
          .map((t, i) => ({ t, i }))
          .filter(({ t }) => {
            if (visited.has(t.to.name.toLowerCase())) return false;
            const d = distance(t.to.category);
            return d < limit || (d === limit && (forward || reopening || limit === 0));
          })
          .sort((a, b) => distance(a.t.to.category) - distance(b.t.to.category) || a.i - b.i)[0]?.t;
      }
      if (!pick) {
        const walked = path.length ? ` (walked ${[current.name, ...path].join(' → ')})` : '';
        throw new AppError(
          'JIRA_TRANSITION_UNAVAILABLE',
          `No transition path from "${current.name}" to "${target}"${walked}; transitions available from "${here.name}": ${describe(available)}`,
          {
            details: {
              from: current.name,
              current: here.name,
              target,
              walked: path,
              available: available.map((t) => ({ name: t.name, to: t.to.name })),
            },
          },
        );
      }
      const { fields, missing } = transitionFields(pick, opts);
      if (missing.length) {
        throw new AppError(
          'JIRA_TRANSITION_UNAVAILABLE',
          `Transition "${pick.name}" from "${here.name}" requires fields the mapping cannot fill: ${missing.join(', ')}`,
          { details: { current: here.name, target, transition: pick.name, missing } },
        );
      }
      // The edit rides on this move only when it reaches the target and its screen (just read)
      // takes every field; otherwise it goes now, before the issue moves on.
      const carry = pick.to.name.toLowerCase() === wanted && screenTakes(pick, carryIds);
      if (!carry) await sendAlone();
      try {
        await move(pick, fields, carry, false);
      } catch (err) {
        if (err === editError) throw err;
        throw (await refused(err, here.name)) ?? err;
      }
      visited.add(pick.to.name.toLowerCase());
      path.push(pick.to.name);
      here = pick.to;
      if (here.name.toLowerCase() === wanted) return { path, calls };
    }
    throw new AppError(
      'JIRA_TRANSITION_UNAVAILABLE',
      `No transition path from "${current.name}" to "${target}" within ${maxHops} hops (walked: ${path.join(' → ') || 'nothing'})`,
      { details: { current: here.name, target, walked: path } },
    );
  }
}

/**
 * The next move of a rework task towards closed (issue 19, pure): a transition to the mapping's
 * close status when the task's workflow has one from here, else one into a done status, else a
 * step forward into an unvisited in-progress status; null when none is left (the task stays, with
 * a warning). A task's workflow is often not its vulnerability's (Task: To Do → Done).
 */
export function closingStep(
  available: readonly TransitionInfo[],
  closeStatus: string,
  visited: ReadonlySet<string>,
): TransitionInfo | null {
  const eq = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
  return (
    available.find((t) => eq(t.to.name, closeStatus)) ??
    available.find((t) => t.to.category === 'done') ??
    available.find((t) => t.to.category === 'indeterminate' && !visited.has(t.to.name.toLowerCase())) ??
    null
  );
}
