/**
 * "Apply to linked records" (issue 19 item 2): a mapping's edits reach the records already linked.
 *
 * Linked records follow the mapping they were linked with (the link's snapshot) until a re-sync
 * adopts the mapping as it is now. A run re-syncs every linked record of one mapping in bulk
 * through that same per-record path: one outbound job per record with `resync` (the job
 * `POST /api/v1/sync` queues; see ./records.ts enqueueOutbound and ./outbound.ts syncRecord), which
 * adopts the current mapping, reads the issue once and pushes what differs, the host's mapped
 * values winning every field. No second sync path: this module only lists, queues and counts.
 *
 * The run is a row of `apply_runs`; a driver job (`mapping.apply`, one per run, re-queued by
 * itself every tick) lists the mapping's linked records a page at a time in id order (never all at
 * once), queues their jobs while at most `window` of them are unfinished, and settles the finished
 * ones from the queue and the sync log: `changed` when the job wrote to Jira (its log says
 * updated), `unchanged` when it found the issue matching (noop: only its read was spent), `failed`
 * when it failed or was held (paused); `jira_calls` is what the jobs' log entries spent. The run
 * is in the store and the jobs are the queue's, so after a restart the driver's next tick carries
 * on where the last committed one left it.
 */
import type { Kysely } from 'kysely';
import { AppError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import type { Queue } from '../queue/queue.js';
import type { JobHandler } from '../queue/types.js';
import { appendAudit } from '../store/audit.js';
import { newId } from '../store/ids.js';
import type { ApplyRunsTable, Database } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { disabledBy } from './pause.js';
import { enqueueOutbound } from './records.js';
import type { MappingSource } from './types.js';

export const APPLY_JOB = 'mapping.apply';

export type ApplyState = 'running' | 'done' | 'cancelled' | 'failed';

export interface ApplyRun {
  id: string;
  mapping_id: string;
  state: ApplyState;
  /** Linked records of the mapping (counted at the start; grows if more were linked meanwhile). */
  total: number;
  /** Records whose re-sync job has been queued so far. */
  queued: number;
  /** Records whose re-sync is over (changed + unchanged + failed). */
  done: number;
  /** Records whose issue was written to (the re-sync changed something in Jira). */
  changed: number;
  /** Records whose issue already matched (only the read was spent). */
  unchanged: number;
  /** Records whose re-sync failed or was held by a pause (see their log). */
  failed: number;
  /** Jira calls the re-syncs spent so far. */
  jira_calls: number;
  error: string | null;
  requested_by: string;
  started_at: string;
  finished_at: string | null;
  updated_at: string;
}

export interface ApplyDeps {
  store: Store;
  queue: Queue;
  mappings: MappingSource;
  logger?: Logger | undefined;
  now?: () => number;
  /** Records listed and queued per page (default 200). */
  pageSize?: number;
  /** Most re-sync jobs of one run unfinished at once (default 2 pages). */
  window?: number;
  /** Driver tick interval, ms (default 250). */
  tickMs?: number;
}

const toView = (r: ApplyRunsTable): ApplyRun => ({
  id: r.id,
  mapping_id: r.mapping_id,
  state: r.state as ApplyState,
  total: Number(r.total),
  queued: Number(r.enqueued),
  done: Number(r.done),
  changed: Number(r.changed),
  unchanged: Number(r.unchanged),
  failed: Number(r.failed),
  jira_calls: Number(r.jira_calls),
  error: r.error,
  requested_by: r.requested_by,
  started_at: new Date(Number(r.started_at)).toISOString(),
  finished_at: r.finished_at === null ? null : new Date(Number(r.finished_at)).toISOString(),
  updated_at: new Date(Number(r.updated_at)).toISOString(),
});

/** Outbound log actions that wrote to Jira. */
const WROTE = new Set(['updated', 'created', 'adopted']);

export function createApply(deps: ApplyDeps) {
  const { store, queue, mappings } = deps;
  const now = deps.now ?? Date.now;
  const pageSize = deps.pageSize ?? 200;
  const window = deps.window ?? pageSize * 2;
  const tickMs = deps.tickMs ?? 250;

  /** The mapping's linked records: those of its scope whose link is `linked` (one mapping per scope). */
  function linkedQuery(db: Kysely<Database>, scope: string) {
    return db
      .selectFrom('records')
      .innerJoin('links', 'links.record_id', 'records.id')
      .where('records.scope', '=', scope)
      .where('records.deleted_at', 'is', null)
      .where('links.state', '=', 'linked')
      .where('links.issue_id', 'is not', null);
  }

  async function row(db: Kysely<Database>, id: string): Promise<ApplyRunsTable | undefined> {
    return db.selectFrom('apply_runs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  const scheduleTick = (db: Kysely<Database>, runId: string, delayMs: number) =>
    queue.enqueue(db, {
      kind: APPLY_JOB,
      key: `apply:${runId}`,
      payload: { runId },
      coalesceKey: 'tick',
      runAt: now() + delayMs,
      maxAttempts: 50,
    });

  /** Outcomes of the run's records whose job is over; the run's counts from its records. */
  async function settle(runId: string): Promise<void> {
    const open = await store.db
      .selectFrom('apply_run_records as a')
      .leftJoin('jobs as j', 'j.id', 'a.job_id')
      .select(['a.record_id', 'a.job_id', 'j.state as job_state'])
      .where('a.run_id', '=', runId)
      .where('a.outcome', 'is', null)
      .execute();
    const over = open.filter((o) => o.job_state === null || o.job_state === 'done' || o.job_state === 'dead');
    for (let i = 0; i < over.length; i += 500) {
      const slice = over.slice(i, i + 500);
      const logs = await store.db
        .selectFrom('sync_log')
        .select(['job_id', 'record_id', 'action', 'jira_calls', 'at', 'id'])
        .where('direction', '=', 'outbound')
        .where(
          'job_id',
          'in',
          slice.map((o) => Number(o.job_id)),
        )
        .orderBy('at')
        .orderBy('id')
        .execute();
      const byJob = new Map<string, { calls: number; last: string | null }>();
      for (const l of logs) {
        const k = `${Number(l.job_id)}:${l.record_id}`;
        const e = byJob.get(k) ?? { calls: 0, last: null };
        e.calls += Number(l.jira_calls);
        e.last = l.action;
        byJob.set(k, e);
      }
      await store.transaction(async (trx) => {
        for (const o of slice) {
          const e = byJob.get(`${Number(o.job_id)}:${o.record_id}`) ?? { calls: 0, last: null };
          const outcome =
            o.job_state === 'dead' || e.last === null || !(WROTE.has(e.last) || e.last === 'noop')
              ? 'failed'
              : WROTE.has(e.last)
                ? 'changed'
                : 'unchanged';
          await trx
            .updateTable('apply_run_records')
            .set({ outcome, jira_calls: e.calls })
            .where('run_id', '=', runId)
            .where('record_id', '=', o.record_id)
            .execute();
        }
      });
    }
    const counts = await store.db
      .selectFrom('apply_run_records')
      .select((eb) => [
        'outcome',
        eb.fn.countAll<number>().as('n'),
        eb.fn.coalesce(eb.fn.sum<number>('jira_calls'), eb.lit(0)).as('calls'),
      ])
      .where('run_id', '=', runId)
      .groupBy('outcome')
      .execute();
    const by = (o: string | null) => Number(counts.find((c) => c.outcome === o)?.n ?? 0);
    const calls = counts.reduce((s, c) => s + Number(c.calls), 0);
    await store.db
      .updateTable('apply_runs')
      .set({
        changed: by('changed'),
        unchanged: by('unchanged'),
        failed: by('failed'),
        done: by('changed') + by('unchanged') + by('failed'),
        jira_calls: calls,
        updated_at: now(),
      })
      .where('id', '=', runId)
      .execute();
  }

  /** Queues the next page of the mapping's linked records while the window has room. */
  async function fill(run: ApplyRunsTable, scope: string): Promise<void> {
    let r = run;
    while (!r.listed && Number(r.enqueued) - Number(r.done) < window) {
      const room = Math.min(pageSize, window - (Number(r.enqueued) - Number(r.done)));
      let q = linkedQuery(store.db, scope).select('records.id').orderBy('records.id').limit(room);
      if (r.listed_after !== null) q = q.where('records.id', '>', r.listed_after);
      const page = (await q.execute()).map((x) => x.id);
      const t = now();
      await store.transaction(async (trx) => {
        // The listing moved on only with the jobs queued (one transaction): exactly once per record.
        const cur = await row(trx, r.id);
        if (!cur || cur.state !== 'running' || cur.listed_after !== r.listed_after) return;
        for (const id of page) {
          await trx.updateTable('records').set({ sync_state: 'pending', updated_at: t }).where('id', '=', id).execute();
          const job = await enqueueOutbound(queue, trx, id, { resync: true });
          await trx
            .insertInto('apply_run_records')
            .values({ run_id: r.id, record_id: id, job_id: job.id, outcome: null, jira_calls: 0 })
            .onConflict((oc) => oc.columns(['run_id', 'record_id']).doNothing())
            .execute();
        }
        const enqueued = Number(cur.enqueued) + page.length;
        const listed = page.length < room ? 1 : 0;
        await trx
          .updateTable('apply_runs')
          .set({
            enqueued,
            listed,
            listed_after: page.length ? page[page.length - 1]! : cur.listed_after,
            // More linked meanwhile than counted at the start: the total follows.
            total: listed ? enqueued : Math.max(Number(cur.total), enqueued),
            updated_at: t,
          })
          .where('id', '=', r.id)
          .execute();
      });
      const next = await row(store.db, r.id);
      if (!next || next.listed_after === r.listed_after) return;
      r = next;
    }
  }

  /** One tick of a run's driver: settle, queue more, finish or come back. */
  async function tick(runId: string): Promise<void> {
    const run = await row(store.db, runId);
    if (!run || run.state !== 'running') return;
    const mapping = mappings.byId(run.mapping_id);
    if (!mapping) {
      await finish(runId, 'failed', `the mapping "${run.mapping_id}" was deleted during the run`);
      return;
    }
    await settle(runId);
    const off = await disabledBy(store.db, mappings, mapping.connectionId, [mapping.id]);
    if (!off) await fill((await row(store.db, runId))!, mapping.scope);
    const r = (await row(store.db, runId))!;
    if (r.state !== 'running') return;
    if (r.listed && Number(r.done) >= Number(r.enqueued)) {
      await finish(runId, 'done', null);
      return;
    }
    if (off && Number(r.done) >= Number(r.enqueued)) {
      await finish(
        runId,
        'failed',
        `the ${off.replace(':', ' ')} was paused; ${Number(r.total) - Number(r.done)} record(s) not re-synced — apply again after resuming it`,
      );
      return;
    }
    await store.transaction((trx) => scheduleTick(trx, runId, tickMs));
  }

  async function finish(runId: string, state: ApplyState, error: string | null): Promise<void> {
    const t = now();
    await store.db
      .updateTable('apply_runs')
      .set({ state, error, finished_at: t, updated_at: t })
      .where('id', '=', runId)
      .where('state', '=', 'running')
      .execute();
  }

  const handler: JobHandler = async (job) => {
    await tick((job.payload as { runId: string }).runId);
  };

  function known(mappingId: string) {
    const mapping = mappings.byId(mappingId);
    if (!mapping) throw new AppError('NOT_FOUND', `No mapping "${mappingId}"`, { details: { mapping: mappingId } });
    return mapping;
  }

  async function get(mappingId: string, runId: string): Promise<ApplyRun> {
    const r = await row(store.db, runId);
    if (!r || r.mapping_id !== mappingId)
      throw new AppError('NOT_FOUND', `No apply run "${runId}" of mapping "${mappingId}"`, {
        details: { mapping: mappingId, run: runId },
      });
    return toView(r);
  }

  return {
    handler,
    tick,
    get,
    /** The mapping's runs, newest first (at most `limit`). */
    async list(mappingId: string, limit = 20): Promise<ApplyRun[]> {
      known(mappingId);
      const rows = await store.db
        .selectFrom('apply_runs')
        .selectAll()
        .where('mapping_id', '=', mappingId)
        .orderBy('started_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
      return rows.map(toView);
    },
    /**
     * Starts a run re-syncing every linked record of the mapping (404 unknown mapping, 409 paused
     * or a run of it already running). Audited as `mapping.applied`.
     */
    async start(input: { mappingId: string; actor: string }): Promise<ApplyRun> {
      const mapping = known(input.mappingId);
      const off = await disabledBy(store.db, mappings, mapping.connectionId, [mapping.id]);
      if (off)
        throw new AppError('CONFLICT', `The ${off.replace(':', ' ')} is paused; resume it before applying it`, {
          details: { mapping: mapping.id, disabled: off },
        });
      const t = now();
      const id = newId(t);
      await store.transaction(async (trx) => {
        const running = await trx
          .selectFrom('apply_runs')
          .select('id')
          .where('mapping_id', '=', mapping.id)
          .where('state', '=', 'running')
          .executeTakeFirst();
        if (running)
          throw new AppError('CONFLICT', `Mapping "${mapping.id}" is already being applied (run ${running.id})`, {
            details: { mapping: mapping.id, run: running.id },
          });
        const total = await linkedQuery(trx, mapping.scope)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        await trx
          .insertInto('apply_runs')
          .values({
            id,
            mapping_id: mapping.id,
            state: 'running',
            total: Number(total.n),
            enqueued: 0,
            done: 0,
            changed: 0,
            unchanged: 0,
            failed: 0,
            jira_calls: 0,
            listed_after: null,
            listed: 0,
            error: null,
            requested_by: input.actor,
            started_at: t,
            finished_at: null,
            updated_at: t,
          })
          .execute();
        await appendAudit(trx, {
          actor: input.actor,
          action: 'mapping.applied',
          target: `mapping:${mapping.id}`,
          after: { run: id, linked_records: Number(total.n) },
          at: t,
        });
        await scheduleTick(trx, id, 0);
      });
      return get(mapping.id, id);
    },
    /** Stops queueing more records (those queued still run); their counts stay. */
    async cancel(mappingId: string, runId: string, actor: string): Promise<ApplyRun> {
      const r = await get(mappingId, runId);
      if (r.state !== 'running') return r;
      const t = now();
      await store.transaction(async (trx) => {
        await trx
          .updateTable('apply_runs')
          .set({ state: 'cancelled', finished_at: t, updated_at: t })
          .where('id', '=', runId)
          .where('state', '=', 'running')
          .execute();
        await appendAudit(trx, {
          actor,
          action: 'mapping.apply_cancelled',
          target: `mapping:${mappingId}`,
          after: { run: runId },
          at: t,
        });
      });
      return get(mappingId, runId);
    },
  };
}

export type Apply = ReturnType<typeof createApply>;
