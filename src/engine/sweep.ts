/**
 * Reconciliation: a periodic sweep per connection that finds, with one paged JQL search
 * (`updated >= cursor`), the issues changed since the last sweep and queues the inbound job of
 * each one the webhooks did not already apply (its Jira `updated` is newer than the link's
 * `jira_updated`). Without webhooks it is the only way Jira's changes come back.
 *
 * The sweep and the webhooks never double-apply: both queue the same coalesced job per issue,
 * and the job compares current values against the bases (a second run finds nothing to do).
 * One sweeper per connection across replicas (a lease in the `locks` table); the cursor lives in
 * the `sweeps` table, so a restart continues where the last sweep ended.
 *
 * Deletions leave nothing for `updated >=` to find. So at most once per `link_check_seconds`
 * (default an hour) a sweep also checks that the linked issues still exist: one `id in (…)`
 * search per 100 links (fields=id). An issue the search does not return is only a candidate
 * (search lags behind writes; permissions can hide issues): its inbound job reads it, and only a
 * 404 there applies the mapping's `on_jira_delete`.
 */
import { isAppError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import type { Queue } from '../queue/queue.js';
import { driftedFromBases } from '../core/merge.js';
import { fromJson, toJson } from '../store/json.js';
import { releaseLock, tryAcquireLock } from '../store/locks.js';
import type { Store } from '../store/store.js';
import { enqueueInbound, kindForIssueType } from './inbound.js';
import { disabledBy } from './pause.js';
import { inboundSettings } from './inbound-mapping.js';
import type { IssueStamp, JiraPort, MappingSource, OutboundMapping } from './types.js';

export interface SweepDeps {
  store: Store;
  queue: Queue;
  mappings: MappingSource;
  jira(connectionId: string): JiraPort;
  logger?: Logger | undefined;
  now?: () => number;
  /** Identifies this process as lease owner. */
  owner: string;
  /** Search lag and clock skew allowance: the window starts this long before the cursor (default 2 min). */
  overlapMs?: number;
  /** The first sweep of a connection looks back this far (default 10 min). */
  firstLookbackMs?: number;
}

/** Default of `sweep.link_check_seconds`. */
export const LINK_CHECK_SECONDS = 3600;

export interface LinkCheckResult {
  /** Linked issues checked. */
  checked: number;
  /** Not found by the search: their inbound jobs were queued (a 404 there confirms the deletion). */
  missing: number;
  /** Searches spent (one per 100 links). */
  searches: number;
}

export interface SweepResult {
  connectionId: string;
  /** Issues the search returned. */
  seen: number;
  /** Inbound jobs queued for them. */
  queued: number;
  /** The new cursor (Jira `updated`, epoch ms). */
  cursor: number;
  skipped?: 'locked' | 'no_mappings' | 'disabled';
  /** Present when this sweep also checked that linked issues still exist. */
  links?: LinkCheckResult;
}

/** FNV-1a, 32 bits: a stable number from a connection id. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * How long until a connection's next sweep (pure). Each connection sweeps at its own phase of the
 * interval — the times t with t ≡ hash(id) (mod interval), on the wall clock — so many
 * connections' sweeps (and the link checks and searches they carry) are spread over the interval
 * instead of all firing together, a restart or another replica keeps the same phase, and nothing
 * sweeps at start-up unless its slot happens to come then. Never 0: a slot just passed waits for
 * the next one.
 */
export function sweepDelay(connectionId: string, intervalMs: number, now: number): number {
  const phase = hash32(connectionId) % intervalMs;
  const at = (((phase - now) % intervalMs) + intervalMs) % intervalMs;
  return at === 0 ? intervalMs : at;
}

export function createSweeper(deps: SweepDeps) {
  const now = deps.now ?? Date.now;
  const overlap = deps.overlapMs ?? 120_000;
  const lookback = deps.firstLookbackMs ?? 600_000;

  /**
   * Runs one sweep of a connection. `checkLinks`: true checks the links now, false never; by
   * default when the connection's link check interval has passed.
   */
  async function runOnce(connectionId: string, opts: { checkLinks?: boolean } = {}): Promise<SweepResult> {
    const name = `sweep:${connectionId}`;
    const mappings = deps.mappings.all().filter((m) => m.connectionId === connectionId && m.direction !== 'to_jira');
    // Disabled (./pause.ts): a disabled connection is not swept (its cursor waits for the resume);
    // a disabled mapping is left out (its resume searches what changed meanwhile).
    if (await disabledBy(deps.store.db, deps.mappings, connectionId, []))
      return { connectionId, seen: 0, queued: 0, cursor: 0, skipped: 'disabled' };
    const paused = new Set<string>();
    for (const m of deps.mappings.all().filter((x) => x.connectionId === connectionId))
      if (await disabledBy(deps.store.db, deps.mappings, connectionId, [m.id])) paused.add(m.id);
    for (const m of mappings.filter((x) => paused.has(x.id))) mappings.splice(mappings.indexOf(m), 1);
    // Each mapping's project, narrowed by its JQL filter: issues no mapping owns are not searched.
    const scopes = mappings.map((m) => ({ projectKey: m.projectKey, filter: m.filter }));
    if (!scopes.length) return { connectionId, seen: 0, queued: 0, cursor: 0, skipped: 'no_mappings' };
    if (!(await tryAcquireLock(deps.store.db, name, deps.owner, 10 * 60_000, now()))) {
      return { connectionId, seen: 0, queued: 0, cursor: 0, skipped: 'locked' };
    }
    const startedAt = now();
    try {
      const row = await deps.store.db.selectFrom('sweeps').selectAll().where('name', '=', name).executeTakeFirst();
      const prev = fromJson<{ updated: number }>(row?.cursor ?? null)?.updated;
      const cursor = prev ?? startedAt - lookback;
      // Issues nobody linked yet matter where a mapping creates records from this project and type.
      const creating = mappings.filter((m) => inboundSettings(m).onJiraCreate === 'create_record');
      const wanted = (stamp: IssueStamp): boolean =>
        creating.some(
          (m) =>
            m.projectKey === stamp.projectKey &&
            (stamp.seen?.issueType === undefined || kindForIssueType(m, stamp.seen.issueType) !== undefined),
        );
      let seen = 0;
      let queued = 0;
      let max = cursor;
      for await (const stamp of deps.jira(connectionId).updatedSince(scopes, cursor - overlap)) {
        seen++;
        if (stamp.updated > max) max = stamp.updated;
        const link = await deps.store.db
          .selectFrom('links')
          .select(['record_id', 'state', 'jira_updated', 'mapping_id'])
          .where('connection_id', '=', connectionId)
          .where('issue_id', '=', stamp.id)
          .executeTakeFirst();
        if (link) {
          if (link.state !== 'linked' || (link.mapping_id !== null && paused.has(link.mapping_id))) continue;
          if (link.jira_updated !== null && link.jira_updated >= stamp.updated) {
            // Seen at this `updated` already: unless the page shows a value nobody agreed on.
            const rows = await deps.store.db
              .selectFrom('field_bases')
              .select(['field', 'value'])
              .where('record_id', '=', link.record_id)
              .where('field', 'in', ['summary', 'status', 'priority'])
              .execute();
            const bases = new Map(rows.map((r) => [r.field, fromJson<unknown>(r.value)]));
            if (!driftedFromBases(stamp.seen ?? {}, bases).length) continue;
          }
        } else if (
          !wanted(stamp) &&
          // A record's rework task: its comments come back (issue 19).
          !(await deps.store.db
            .selectFrom('rework_links')
            .select('token')
            .where('connection_id', '=', connectionId)
            .where('issue_id', '=', stamp.id)
            .where('state', '!=', 'deleted')
            .executeTakeFirst())
        )
          continue;
        await deps.store.transaction((trx) =>
          enqueueInbound(deps.queue, trx, { connectionId, issueId: stamp.id, source: 'sweep' }),
        );
        queued++;
      }
      await upsertSweep(name, {
        cursor: toJson({ updated: max }),
        last_started_at: startedAt,
        last_finished_at: now(),
        last_error: null,
      });
      if (queued) deps.logger?.info({ connectionId, seen, queued }, 'sweep queued missed Jira changes');
      const links = await maybeCheckLinks(connectionId, mappings, opts.checkLinks);
      return { connectionId, seen, queued, cursor: max, ...(links ? { links } : {}) };
    } catch (err) {
      const e = isAppError(err) ? { code: err.code, message: err.message } : { code: 'INTERNAL', message: String(err) };
      await upsertSweep(name, { last_started_at: startedAt, last_error: toJson(e) }).catch(() => undefined);
      throw err;
    } finally {
      await releaseLock(deps.store.db, name, deps.owner).catch(() => undefined);
    }
  }

  /** The link check, when due (or forced); its own row in `sweeps` keeps when it last ran. */
  async function maybeCheckLinks(
    connectionId: string,
    mappings: OutboundMapping[],
    force: boolean | undefined,
  ): Promise<LinkCheckResult | undefined> {
    if (force === false) return undefined;
    const name = `links:${connectionId}`;
    const everyMs = (deps.mappings.connection(connectionId)?.linkCheckSeconds ?? LINK_CHECK_SECONDS) * 1000;
    if (force !== true) {
      if (!(everyMs > 0)) return undefined;
      const row = await deps.store.db
        .selectFrom('sweeps')
        .select('last_finished_at')
        .where('name', '=', name)
        .executeTakeFirst();
      if (row?.last_finished_at != null && now() - Number(row.last_finished_at) < everyMs) return undefined;
    }
    const startedAt = now();
    try {
      const result = await checkLinks(connectionId, mappings);
      await upsertSweep(name, { last_started_at: startedAt, last_finished_at: now(), last_error: null });
      if (result.missing) deps.logger?.info({ connectionId, ...result }, 'link check: linked issues not found');
      return result;
    } catch (err) {
      // The search part of the sweep is done; the link check tries again at the next sweep.
      const e = isAppError(err) ? { code: err.code, message: err.message } : { code: 'INTERNAL', message: String(err) };
      await upsertSweep(name, { last_started_at: startedAt, last_error: toJson(e) }).catch(() => undefined);
      deps.logger?.warn({ connectionId, ...e }, 'link check failed; it runs again at the next sweep');
      return undefined;
    }
  }

  async function checkLinks(connectionId: string, mappings: OutboundMapping[]): Promise<LinkCheckResult> {
    const rows = await deps.store.db
      .selectFrom('links')
      .select(['issue_id', 'mapping_id'])
      .where('connection_id', '=', connectionId)
      .where('state', '=', 'linked')
      .where('issue_id', 'is not', null)
      .orderBy('issue_id')
      .execute();
    // Links of mappings that send nothing back (to_jira) are left alone. A mapping's JQL filter
    // narrows its search: an issue that left the filter is a candidate too (its job reads it and
    // finds it outside the mapping, unless it is gone).
    const inbound = new Map(mappings.map((m) => [m.id, m]));
    const byFilter = new Map<string, string[]>();
    for (const r of rows) {
      if (r.mapping_id !== null && !inbound.has(r.mapping_id) && deps.mappings.byId(r.mapping_id)) continue;
      const filter = (r.mapping_id !== null ? inbound.get(r.mapping_id)?.filter : undefined) ?? '';
      const list = byFilter.get(filter) ?? [];
      list.push(r.issue_id!);
      byFilter.set(filter, list);
    }
    let checked = 0;
    let searches = 0;
    const missing: string[] = [];
    for (const [filter, ids] of byFilter) {
      missing.push(...(await deps.jira(connectionId).missingIssues(ids, filter || undefined)));
      checked += ids.length;
      searches += Math.ceil(ids.length / 100);
    }
    if (!checked) return { checked: 0, missing: 0, searches: 0 };
    for (const issueId of missing) {
      await deps.store.transaction((trx) =>
        enqueueInbound(deps.queue, trx, { connectionId, issueId, source: 'sweep' }),
      );
    }
    return { checked, missing: missing.length, searches };
  }

  async function upsertSweep(
    name: string,
    set: { cursor?: string; last_started_at?: number; last_finished_at?: number; last_error?: string | null },
  ): Promise<void> {
    await deps.store.db
      .insertInto('sweeps')
      .values({
        name,
        cursor: set.cursor ?? null,
        last_started_at: set.last_started_at ?? null,
        last_finished_at: set.last_finished_at ?? null,
        last_error: set.last_error ?? null,
      })
      .onConflict((oc) => oc.column('name').doUpdateSet(set))
      .execute();
  }

  /**
   * Runs every connection's sweep on its interval, at its own phase (sweepDelay), until stopped (0
   * or less disables one). One timer per connection: each sweep's re-arm replaces the one that
   * fired (a list of every timer ever armed grew by one per sweep — 288,000 a day at 1,000
   * connections and 300 s), and stop clears them all; `armed()` says how many are held.
   */
  function start(intervals: Record<string, number>): { stop(): Promise<void>; armed(): number } {
    const timers = new Map<string, NodeJS.Timeout>();
    const running = new Set<Promise<unknown>>();
    let stopped = false;
    for (const [connectionId, ms] of Object.entries(intervals)) {
      if (!(ms > 0)) continue;
      const arm = (delay: number): void => {
        clearTimeout(timers.get(connectionId));
        timers.set(connectionId, setTimeout(tick, delay).unref());
      };
      const tick = (): void => {
        if (stopped) return;
        const p = runOnce(connectionId)
          .catch((err: unknown) =>
            deps.logger?.warn(
              { connectionId, err: err instanceof Error ? err.message : String(err) },
              'sweep failed; it runs again at the next interval',
            ),
          )
          .finally(() => {
            running.delete(p);
            if (stopped) return;
            // The next slot, at least half an interval after this sweep (a clock step never doubles one).
            const next = sweepDelay(connectionId, ms, now());
            arm(next < ms / 2 ? next + ms : next);
          });
        running.add(p);
      };
      arm(sweepDelay(connectionId, ms, now()));
    }
    return {
      async stop() {
        stopped = true;
        for (const t of timers.values()) clearTimeout(t);
        timers.clear();
        await Promise.allSettled([...running]);
      },
      armed: () => timers.size,
    };
  }

  return { runOnce, start };
}
