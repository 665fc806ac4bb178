import type { Kysely } from 'kysely';
import { AppError, isAppError } from '../core/errors.js';
import { appendChange } from '../host/feed.js';
import type { Logger } from '../log/logger.js';
import type { Queue } from '../queue/queue.js';
import type { JobHandler } from '../queue/types.js';
import { newId } from '../store/ids.js';
import { fromJson, toJson } from '../store/json.js';
import type { Database } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { acquireCreateLock, claimCreateLink, releaseCreateLock } from './create-lock.js';
import { ensureConfigRows } from './config-rows.js';
import { recordSyncFailure } from './failure-episode.js';
import { desiredFields, encodeField, type EncodeContext } from './desired.js';
import { BACKFILL_JOB } from './record-data.js';
import { disabledBy } from './pause.js';
import { enqueueOutbound } from './records.js';
import type { CreateBody, IssueRef, JiraPort, MappingSource, OutboundMapping, RecordData } from './types.js';

/** Rejected credentials (401) pause a connection's work until they are fixed: not the backfill's end. */
const PAUSING = new Set(['JIRA_UNAUTHORIZED']);
/** How long a backfill that met rejected credentials waits before trying again (as outbound jobs). */
const PAUSE_RETRY_MS = 30_000;

/** Jira's bulk create takes at most 50 issues per call. */
export const BULK_SIZE = 50;

export type BackfillState = 'queued' | 'running' | 'done' | 'failed';

export interface BackfillProgress {
  id: string;
  scope: string;
  mapping_id: string;
  state: BackfillState;
  total: number;
  done: number;
  failed: number;
  /** Bulk create calls spent so far. */
  bulk_calls: number;
  jira_calls: number;
  errors: Array<{ host_id: string; message: string }>;
  created_at: string;
  updated_at: string;
}

export interface BackfillDeps {
  store: Store;
  queue: Queue;
  mappings: MappingSource;
  jira(connectionId: string): JiraPort;
  logger?: Logger | undefined;
  now?: () => number;
}

interface RecordRowLike {
  id: string;
  scope: string;
  host_id: string;
  kind: string;
  data: string;
  version: number;
  link_state: string | null;
  create_token: string | null;
}

const settingKey = (id: string): string => `backfill:${id}`;
/** The ids of the records a backfill covers (unlinked when it started), written once at its start. */
const recordsKey = (id: string): string => `backfill:${id}:records`;

/**
 * Backfill: every unlinked record of a mapping is created in Jira with bulk create, 50 per call,
 * each carrying its creation token (a retry adopts what an interrupted call created). Progress
 * is kept in the settings table and readable through the API: `total` is the records of the scope
 * unlinked when the backfill started (their ids are kept), `done` those of them linked now —
 * whoever linked them: the bulk call, an adoption after a crash, or the record's own outbound job
 * running meanwhile — and `failed` those not linked whose sync failed. The status, comments and
 * attachments of each created record follow through its own outbound job, and so does the full
 * text of a description cut to fit Jira (the job attaches it once the cut text is agreed).
 */
export function createBackfill(deps: BackfillDeps) {
  const { store, queue, mappings } = deps;
  const now = deps.now ?? Date.now;

  async function save(db: Kysely<Database>, p: BackfillProgress): Promise<void> {
    const t = now();
    p.updated_at = new Date(t).toISOString();
    await db
      .insertInto('settings')
      .values({ key: settingKey(p.id), value: toJson(p), updated_at: t })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: toJson(p), updated_at: t }))
      .execute();
  }

  async function stored(id: string): Promise<BackfillProgress | undefined> {
    const row = await store.db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', settingKey(id))
      .executeTakeFirst();
    return row ? (fromJson<BackfillProgress>(row.value) ?? undefined) : undefined;
  }

  /** The records the backfill covers, or undefined for one started before their ids were kept. */
  async function coveredIds(db: Kysely<Database>, id: string): Promise<string[] | undefined> {
    const row = await db.selectFrom('settings').select('value').where('key', '=', recordsKey(id)).executeTakeFirst();
    return row ? (fromJson<string[]>(row.value) ?? undefined) : undefined;
  }

  /** Of `ids`: how many are linked now, and how many are not and failed. */
  async function tally(db: Kysely<Database>, ids: string[]): Promise<{ done: number; failed: number }> {
    let done = 0;
    let failed = 0;
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await db
        .selectFrom('records')
        .leftJoin('links', 'links.record_id', 'records.id')
        .select(['records.sync_state', 'links.state as link_state'])
        .where('records.id', 'in', ids.slice(i, i + 500))
        .execute();
      for (const r of rows) {
        if (r.link_state === 'linked') done++;
        else if (r.sync_state === 'failed') failed++;
      }
    }
    return { done, failed };
  }

  /** Progress as stored, its counts taken from the records now (see above). */
  async function get(id: string): Promise<BackfillProgress | undefined> {
    const p = await stored(id);
    if (!p) return undefined;
    const ids = await coveredIds(store.db, id);
    return ids ? { ...p, ...(await tally(store.db, ids)) } : p;
  }

  /** Unlinked records of the scope: parents (no parent_host_id) first so sub-tasks find them. */
  async function unlinked(scope: string): Promise<RecordRowLike[]> {
    const rows = await store.db
      .selectFrom('records')
      .leftJoin('links', 'links.record_id', 'records.id')
      .select([
        'records.id',
        'records.scope',
        'records.host_id',
        'records.kind',
        'records.data',
        'records.version',
        'links.state as link_state',
        'links.create_token',
      ])
      .where('records.scope', '=', scope)
      .where('records.deleted_at', 'is', null)
      .where((eb) => eb.or([eb('links.record_id', 'is', null), eb('links.state', '=', 'creating')]))
      .orderBy('records.id')
      .execute();
    return rows;
  }

  async function runBatch(
    p: BackfillProgress,
    mapping: OutboundMapping,
    jira: JiraPort,
    batch: RecordRowLike[],
    counter: { calls: number },
  ): Promise<void> {
    // The backfill's own retry takes its locks over at once (same owner name).
    const owner = `backfill:${p.id}`;
    const mine: RecordRowLike[] = [];
    for (const r of batch) if (await acquireCreateLock(store.db, r.id, owner)) mine.push(r);
    try {
      // Claim with a token each (committed before any Jira call).
      const t = now();
      await store.transaction(async (trx) => {
        await ensureConfigRows(trx, mappings, mapping, t);
        for (const r of mine) {
          await claimCreateLink(trx, r.id, mapping, t);
        }
      });
      const links = mine.length
        ? await store.db
            .selectFrom('links')
            .selectAll()
            .where(
              'record_id',
              'in',
              mine.map((r) => r.id),
            )
            .execute()
        : [];
      const linkOf = new Map(links.map((l) => [l.record_id, l]));
      const todo = mine.filter((r) => linkOf.get(r.id)?.state === 'creating');
      // Tokens from an interrupted earlier attempt: adopt what Jira already has.
      const retried = todo.filter((r) => r.link_state === 'creating');
      const adopted = retried.length
        ? await jira.findByTokens(
            mapping.projectKey,
            retried.map((r) => linkOf.get(r.id)!.create_token!),
            // No issue carries a token from before its link was made.
            Math.min(...retried.map((r) => Number(linkOf.get(r.id)!.created_at))),
          )
        : new Map<string, IssueRef>();
      if (retried.length) counter.calls++;
      const bodies: Array<{
        record: RecordRowLike;
        body: CreateBody;
        values: Map<string, unknown>;
        warnings: string[];
      }> = [];
      const results: Array<{
        record: RecordRowLike;
        ref: IssueRef | null;
        error: string | null;
        values: Map<string, unknown>;
        warnings: string[];
      }> = [];
      for (const r of todo) {
        const token = linkOf.get(r.id)!.create_token!;
        const data = fromJson<RecordData>(r.data)!;
        const desired = desiredFields(data, mapping, r);
        const values = new Map<string, unknown>([...desired].map(([k, f]) => [k, f.value]));
        const hit = adopted.get(token);
        if (hit) {
          results.push({ record: r, ref: hit, error: null, values, warnings: [] });
          continue;
        }
        const target = mapping.kinds[r.kind];
        if (!target || target.serviceDesk) {
          // Requests have no bulk API: their own outbound job creates them.
          continue;
        }
        const ctx: EncodeContext = { jira, users: new Map(), warnings: [] };
        const fields: Record<string, unknown> = {
          project: { key: mapping.projectKey },
          issuetype: { name: target.issueType },
        };
        try {
          for (const [key, f] of desired) {
            const v = await encodeField(key, f, ctx);
            if (v === null && (f.type === 'assignee' || f.type === 'description')) continue;
            fields[f.jiraField] = v;
          }
          if (target.subtask) {
            const parent = await store.db
              .selectFrom('records')
              .innerJoin('links', 'links.record_id', 'records.id')
              .select('links.issue_key')
              .where('records.scope', '=', r.scope)
              .where('records.host_id', '=', data.parent_host_id ?? '')
              .where('links.state', '=', 'linked')
              .executeTakeFirst();
            if (!parent?.issue_key) continue; // its own job creates it once the parent is linked
            fields.parent = { key: parent.issue_key };
          }
        } finally {
          counter.calls += ctx.users.size;
        }
        bodies.push({
          record: r,
          body: {
            fields,
            properties: [{ key: 'jira-bridge', value: { token, record: { scope: r.scope, host_id: r.host_id } } }],
          },
          values,
          warnings: ctx.warnings,
        });
      }
      if (bodies.length) {
        const out = await jira.bulkCreate(
          bodies.map((b) => ({ ...b.body, token: linkOf.get(b.record.id)!.create_token! })),
        );
        counter.calls++;
        p.bulk_calls++;
        bodies.forEach((b, i) => {
          const res = out[i] ?? { ref: null, error: 'no result for this element' };
          results.push({ record: b.record, ref: res.ref, error: res.error, values: b.values, warnings: b.warnings });
        });
      }
      await store.transaction(async (trx) => {
        const t2 = now();
        for (const r of results) {
          if (r.ref) {
            await trx
              .updateTable('links')
              .set({ issue_id: r.ref.id, issue_key: r.ref.key, state: 'linked', updated_at: t2 })
              .where('record_id', '=', r.record.id)
              .execute();
            for (const [field, value] of r.values) {
              await trx
                .insertInto('field_bases')
                .values({ record_id: r.record.id, field, value: toJson(value), origin: 'host', updated_at: t2 })
                .onConflict((oc) =>
                  oc.columns(['record_id', 'field']).doUpdateSet({ value: toJson(value), updated_at: t2 }),
                )
                .execute();
            }
            await trx
              .insertInto('sync_log')
              .values({
                id: newId(),
                record_id: r.record.id,
                direction: 'outbound',
                action: 'backfilled',
                fields: toJson({ issue_key: r.ref.key, issue_id: r.ref.id, backfill: p.id, warnings: r.warnings }),
                jira_calls: 0,
                job_id: null,
                error: null,
                at: t2,
              })
              .execute();
            await appendChange(trx, store.dialect, {
              recordId: r.record.id,
              event: 'record.linked',
              data: { origin: 'host', issue_id: r.ref.id, issue_key: r.ref.key },
              at: t2,
            });
            // Status, comments and attachments follow through the record's own job.
            await enqueueOutbound(queue, trx, r.record.id);
          } else {
            const error = { code: 'JIRA_BAD_REQUEST', message: r.error ?? 'Jira rejected this issue' };
            // Failed for good: the host hears record.sync_failed once for it (./failure-episode.ts).
            await recordSyncFailure(trx, store.dialect, r.record.id, error, 'failed', t2, 'failed');
            await trx
              .insertInto('sync_log')
              .values({
                id: newId(),
                record_id: r.record.id,
                direction: 'outbound',
                action: 'failed',
                fields: toJson({ backfill: p.id }),
                jira_calls: 0,
                job_id: null,
                error: toJson(error),
                at: t2,
              })
              .execute();
            if (p.errors.length < 100) p.errors.push({ host_id: r.record.host_id, message: error.message });
          }
        }
        p.jira_calls = counter.calls;
        await recount(trx, p, results);
        await save(trx, p);
      });
    } finally {
      for (const r of mine) await releaseCreateLock(store.db, r.id, owner).catch(() => undefined);
    }
  }

  /**
   * The counts of `p` from the records it covers; for a backfill started before their ids were
   * kept, what this batch did is added.
   */
  async function recount(
    db: Kysely<Database>,
    p: BackfillProgress,
    results: ReadonlyArray<{ ref: IssueRef | null }> = [],
  ): Promise<void> {
    const ids = await coveredIds(db, p.id);
    if (ids) Object.assign(p, await tally(db, ids));
    else
      for (const r of results) {
        if (r.ref) p.done++;
        else p.failed++;
      }
  }

  async function run(id: string): Promise<void> {
    const p = await stored(id);
    if (!p || p.state === 'done') return;
    const mapping = mappings.byId(p.mapping_id) ?? mappings.forScope(p.scope);
    if (!mapping) throw new AppError('MAPPING_NOT_FOUND', `No mapping ${p.mapping_id} for scope "${p.scope}"`);
    const off = await disabledBy(store.db, mappings, mapping.connectionId, [mapping.id]);
    if (off) {
      p.state = 'failed';
      p.errors.push({
        host_id: '*',
        message: `the ${off.replace(':', ' ')} was paused; start the backfill again after resuming it`,
      });
      await save(store.db, p);
      return;
    }
    const jira = deps.jira(mapping.connectionId);
    const counter = { calls: p.jira_calls };
    p.state = 'running';
    await save(store.db, p);
    try {
      // The records it covers that are still unlinked (a retry after a crash: those left).
      const ids = await coveredIds(store.db, id);
      const covered = ids ? new Set(ids) : undefined;
      const rows = (await unlinked(p.scope)).filter((r) => !covered || covered.has(r.id));
      const parentsFirst = [
        ...rows.filter((r) => !mapping.kinds[r.kind]?.subtask),
        ...rows.filter((r) => mapping.kinds[r.kind]?.subtask),
      ];
      for (let i = 0; i < parentsFirst.length; i += BULK_SIZE) {
        await runBatch(p, mapping, jira, parentsFirst.slice(i, i + BULK_SIZE), counter);
      }
      p.state = 'done';
      await recount(store.db, p);
      await save(store.db, p);
    } catch (err) {
      if (isAppError(err) && err.retryable) throw err; // the job retries; progress is kept
      // Rejected credentials pause a connection's work rather than end it (as outbound jobs do):
      // the backfill waits for them to be fixed, its progress kept.
      if (isAppError(err) && PAUSING.has(err.code))
        throw new AppError(err.code, err.message, { retryable: true, retryAfterMs: PAUSE_RETRY_MS, cause: err });
      p.state = 'failed';
      p.errors.push({ host_id: '*', message: err instanceof Error ? err.message : String(err) });
      await save(store.db, p);
      deps.logger?.error({ backfill: id, err }, 'backfill failed');
    }
  }

  const handler: JobHandler = async (job) => {
    await run((job.payload as { backfillId: string }).backfillId);
  };

  return {
    handler,
    run,
    get,
    /** Starts a backfill of every unlinked record of the mapping covering `scope`. */
    async start(input: { scope: string }): Promise<BackfillProgress> {
      const mapping = mappings.forScope(input.scope);
      if (!mapping) {
        throw new AppError(
          'MAPPING_NOT_FOUND',
          `No mapping covers scope "${input.scope}"; configured scopes: ${
            mappings
              .all()
              .map((m) => m.scope)
              .join(', ') || '(none)'
          }`,
        );
      }
      // A paused mapping or connection sends nothing: not a backfill either.
      const off = await disabledBy(store.db, mappings, mapping.connectionId, [mapping.id]);
      if (off) throw new AppError('CONFLICT', `The ${off.replace(':', ' ')} is paused; resume it before a backfill`);
      const covered = (await unlinked(input.scope)).map((r) => r.id);
      const total = covered.length;
      const t = new Date(now()).toISOString();
      const p: BackfillProgress = {
        id: newId(),
        scope: input.scope,
        mapping_id: mapping.id,
        state: 'queued',
        total,
        done: 0,
        failed: 0,
        bulk_calls: 0,
        jira_calls: 0,
        errors: [],
        created_at: t,
        updated_at: t,
      };
      await store.transaction(async (trx) => {
        await save(trx, p);
        await trx
          .insertInto('settings')
          .values({ key: recordsKey(p.id), value: toJson(covered), updated_at: now() })
          .execute();
        await queue.enqueue(trx, {
          kind: BACKFILL_JOB,
          key: `backfill:${p.id}`,
          payload: { backfillId: p.id },
          maxAttempts: 50,
        });
      });
      return p;
    },
  };
}

export type Backfill = ReturnType<typeof createBackfill>;
