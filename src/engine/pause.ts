/**
 * Pausing a connection or a mapping (`enabled: false` in its configuration, or
 * `POST …/pause` through the API) and resuming it.
 *
 * While a connection or mapping is disabled nothing flows either way for what it covers: host
 * upserts are stored and their outbound jobs run without calling Jira (the record stays
 * `pending`, its log says `paused`), Jira deliveries are acknowledged with the verdict
 * `ignored:disabled`, the sweep leaves it out, and inbound never applies a Jira edit to a record
 * linked through it (the live mapping's flag is checked, not the link's snapshot).
 *
 * The state is a `settings` row per disabled target (`pause:mapping:<id>`,
 * `pause:connection:<id>`): `since` (when it stopped flowing) and `paused` (true when the API
 * paused it; false when only its configuration says `enabled: false`). A target is disabled when
 * its configuration says so or the API paused it. `reconcile()` keeps the rows in step with the
 * configuration (run at start and after every change); the replica that deletes a row queues
 * one durable `sync.resume` job, which brings across what changed meanwhile: the host side by
 * queueing the outbound sync of the mapping's pending records, the Jira side by a search of the
 * mapping's project for issues updated since the pause (each one linked through the mapping, or
 * one the mapping would import, gets its inbound job).
 */
import type { Kysely } from 'kysely';
import { AppError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import type { Queue } from '../queue/queue.js';
import type { Job, JobHandler } from '../queue/types.js';
import { appendAudit } from '../store/audit.js';
import { newId } from '../store/ids.js';
import { fromJson, toJson } from '../store/json.js';
import type { Database } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { recordSyncFailure } from './failure-episode.js';
import { enqueueInbound } from './inbound.js';
import { inboundSettings } from './inbound-mapping.js';
import { enqueueOutbound } from './records.js';
import type { JiraPort, MappingSource } from './types.js';

export const RESUME_JOB = 'sync.resume';
/** The code on a record's last_error while its mapping or connection is disabled. */
export const DISABLED_CODE = 'SYNC_DISABLED';
/** Search lag and clock skew allowance of the resume search (as the sweep's). */
const OVERLAP_MS = 120_000;

export type PauseKind = 'connection' | 'mapping';
export interface PauseTarget {
  kind: PauseKind;
  id: string;
}

interface PauseRow {
  since: number;
  /** Paused through the API (else only the configuration's `enabled: false` holds it). */
  paused: boolean;
  actor: string | null;
}

export interface PauseState {
  /** Whether work flows: the configuration enables it and the API has not paused it. */
  enabled: boolean;
  /** What the configuration (file or API body) says. */
  configured: boolean;
  /** Paused through `POST …/pause`. */
  paused: boolean;
  /** When it stopped flowing (ISO), null while enabled. */
  since: string | null;
}

interface ResumePayload {
  kind: PauseKind;
  id: string;
  since: number;
}

const keyOf = (t: PauseTarget): string => `pause:${t.kind}:${t.id}`;
const targetName = (t: PauseTarget): string => `${t.kind}:${t.id}`;

/** Disabled by its configuration (`enabled: false`), as the live mapping source says. */
function configuredOff(mappings: MappingSource, t: PauseTarget): boolean {
  return t.kind === 'mapping' ? mappings.byId(t.id)?.enabled === false : mappings.connection(t.id)?.enabled === false;
}

/**
 * Which of these is disabled — the connection first, then the mappings — as `connection:<id>` or
 * `mapping:<id>`; null when all of them flow. The live mappings are asked (never a link's snapshot).
 */
export async function disabledBy(
  db: Kysely<Database>,
  mappings: MappingSource,
  connectionId: string,
  mappingIds: ReadonlyArray<string | null | undefined>,
): Promise<string | null> {
  const targets: PauseTarget[] = [
    { kind: 'connection', id: connectionId },
    ...[...new Set(mappingIds.filter((m): m is string => !!m))].map((id) => ({ kind: 'mapping' as const, id })),
  ];
  for (const t of targets) if (configuredOff(mappings, t)) return targetName(t);
  const rows = await db
    .selectFrom('settings')
    .select(['key', 'value'])
    .where('key', 'in', targets.map(keyOf))
    .execute();
  for (const t of targets) {
    const row = rows.find((r) => r.key === keyOf(t));
    if (row && fromJson<PauseRow>(row.value)?.paused) return targetName(t);
  }
  return null;
}

export interface PauseDeps {
  store: Store;
  queue: Queue;
  mappings: MappingSource;
  jira(connectionId: string): JiraPort;
  logger?: Logger | undefined;
  now?: () => number;
}

export function createPauses(deps: PauseDeps) {
  const { store, queue, mappings } = deps;
  const now = deps.now ?? Date.now;

  const exists = (t: PauseTarget): boolean =>
    t.kind === 'mapping' ? mappings.byId(t.id) !== undefined : mappings.connection(t.id) !== undefined;

  /** Every connection and mapping in force. */
  function targets(): PauseTarget[] {
    const out: PauseTarget[] = [];
    const conns = new Set([
      ...(mappings.connections?.() ?? []).map((c) => c.id),
      ...mappings.all().map((m) => m.connectionId),
    ]);
    for (const id of conns) if (mappings.connection(id)) out.push({ kind: 'connection', id });
    for (const m of mappings.all()) out.push({ kind: 'mapping', id: m.id });
    return out;
  }

  async function readRow(db: Kysely<Database>, t: PauseTarget): Promise<PauseRow | undefined> {
    const r = await db.selectFrom('settings').select('value').where('key', '=', keyOf(t)).executeTakeFirst();
    return r ? (fromJson<PauseRow>(r.value) ?? undefined) : undefined;
  }

  async function state(t: PauseTarget): Promise<PauseState> {
    const row = await readRow(store.db, t);
    const configured = !configuredOff(mappings, t);
    const paused = row?.paused === true;
    const enabled = configured && !paused;
    return { enabled, configured, paused, since: !enabled && row ? new Date(row.since).toISOString() : null };
  }

  function mustExist(t: PauseTarget): void {
    if (!exists(t)) throw new AppError('NOT_FOUND', `No ${t.kind} "${t.id}"`);
  }

  async function writeRow(db: Kysely<Database>, t: PauseTarget, row: PauseRow): Promise<void> {
    const value = toJson(row);
    const at = now();
    await db
      .insertInto('settings')
      .values({ key: keyOf(t), value, updated_at: at })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: at }))
      .execute();
  }

  /** Stops the flow of a connection or mapping (idempotent); audited as `<kind>.paused`. */
  async function pause(t: PauseTarget, actor: string): Promise<PauseState> {
    mustExist(t);
    const before = await state(t);
    await store.transaction(async (trx) => {
      const row = await readRow(trx, t);
      if (row?.paused) return;
      const at = now();
      await writeRow(trx, t, { since: row?.since ?? at, paused: true, actor });
      await appendAudit(trx, {
        actor,
        action: `${t.kind}.paused`,
        target: targetName(t),
        before: { enabled: before.enabled },
        after: { enabled: false },
        at,
      });
    });
    deps.logger?.info({ target: targetName(t), actor }, 'sync paused');
    return state(t);
  }

  /**
   * Lifts an API pause (idempotent) and, when the configuration enables the target, reconciles
   * what changed meanwhile. A target its configuration disables cannot be resumed here (409).
   */
  async function resume(t: PauseTarget, actor: string): Promise<PauseState> {
    mustExist(t);
    if (configuredOff(mappings, t)) {
      throw new AppError(
        'CONFLICT',
        `The ${t.kind} "${t.id}" is disabled by "enabled: false" in its configuration; set it to true there (the file, or PUT it)`,
      );
    }
    await store.transaction(async (trx) => {
      const row = await readRow(trx, t);
      if (!row?.paused) return;
      const at = now();
      await writeRow(trx, t, { ...row, paused: false });
      await appendAudit(trx, {
        actor,
        action: `${t.kind}.resumed`,
        target: targetName(t),
        before: { enabled: false, since: new Date(row.since).toISOString() },
        after: { enabled: true },
        at,
      });
    });
    await reconcile();
    deps.logger?.info({ target: targetName(t), actor }, 'sync resumed');
    return state(t);
  }

  /**
   * Brings the rows in step with the configuration: a target its configuration disables gets
   * its `since`; a row neither the configuration nor the API holds any more is removed and, when
   * its target still exists, its resume job is queued (once across replicas: by the deleter).
   */
  async function reconcile(): Promise<void> {
    const rows = await store.db
      .selectFrom('settings')
      .select(['key', 'value'])
      .where('key', 'like', 'pause:%')
      .execute();
    const held = new Map(rows.map((r) => [r.key, fromJson<PauseRow>(r.value)]));
    const all = targets();
    for (const key of held.keys()) {
      const [, kind, ...rest] = key.split(':');
      const id = rest.join(':');
      if ((kind === 'mapping' || kind === 'connection') && !all.some((t) => keyOf(t) === key)) all.push({ kind, id });
    }
    for (const t of all) {
      const row = held.get(keyOf(t));
      const off = configuredOff(mappings, t);
      if (off && !row) {
        await store.db
          .insertInto('settings')
          .values({ key: keyOf(t), value: toJson({ since: now(), paused: false, actor: null }), updated_at: now() })
          .onConflict((oc) => oc.column('key').doNothing())
          .execute();
        continue;
      }
      if (!row || off || row.paused) continue;
      await store.transaction(async (trx) => {
        const gone = await trx
          .deleteFrom('settings')
          .where('key', '=', keyOf(t))
          .where('value', '=', toJson(row))
          .executeTakeFirst();
        if (Number(gone.numDeletedRows) === 0 || !exists(t)) return;
        const payload: ResumePayload = { kind: t.kind, id: t.id, since: row.since };
        await queue.enqueue(trx, { kind: RESUME_JOB, key: `resume:${targetName(t)}`, payload, maxAttempts: 50 });
      });
    }
    queue.notify();
  }

  /**
   * The outbound job's check: when the record's mapping or connection is disabled, the record is
   * held `pending` (its last error says why, and whether a re-sync was asked for) and true is
   * returned: the job spends no call. Resuming queues its sync again.
   */
  async function holdOutbound(
    recordId: string,
    connectionId: string,
    mappingIds: ReadonlyArray<string | null | undefined>,
    resync: boolean,
    jobId: number | null,
  ): Promise<boolean> {
    const off = await disabledBy(store.db, mappings, connectionId, mappingIds);
    if (!off) return false;
    const error = {
      code: DISABLED_CODE,
      message: `The ${off.replace(':', ' "')}" is paused: nothing is sent to Jira until it is resumed`,
      details: { disabled: off, ...(resync ? { resync: true } : {}) },
    };
    await store.transaction(async (trx) => {
      const prev = await trx.selectFrom('records').select('last_error').where('id', '=', recordId).executeTakeFirst();
      // A re-sync asked for during the pause is remembered until the resume.
      const had = fromJson<{ code?: string; details?: { resync?: boolean } }>(prev?.last_error ?? null);
      if (had?.code === DISABLED_CODE && had.details?.resync) error.details = { ...error.details, resync: true };
      // Held: the host hears record.sync_failed once for the pause (./failure-episode.ts).
      await recordSyncFailure(trx, store.dialect, recordId, error, 'held', now(), 'pending');
      await trx
        .insertInto('sync_log')
        .values({
          id: newId(),
          record_id: recordId,
          direction: 'outbound',
          action: 'paused',
          fields: toJson({ disabled: off }),
          jira_calls: 0,
          job_id: jobId,
          error: null,
          at: now(),
        })
        .execute();
    });
    return true;
  }

  /** The durable resume: the pending records' outbound jobs, the inbound jobs of what Jira changed meanwhile. */
  const resumeHandler: JobHandler = async (job: Job) => {
    const p = job.payload as ResumePayload;
    const covered = mappings.all().filter((m) => (p.kind === 'mapping' ? m.id === p.id : m.connectionId === p.id));
    for (const m of covered) {
      // Paused again (or still by another switch): its own resume brings it later.
      if (await disabledBy(store.db, mappings, m.connectionId, [m.id])) continue;
      const pending = await store.db
        .selectFrom('records')
        .select(['id', 'last_error'])
        .where('scope', '=', m.scope)
        .where('deleted_at', 'is', null)
        .where('sync_state', '=', 'pending')
        .execute();
      for (const r of pending) {
        const e = fromJson<{ code?: string; details?: { resync?: boolean } }>(r.last_error);
        await store.transaction((trx) =>
          enqueueOutbound(queue, trx, r.id, { resync: e?.code === DISABLED_CODE && e.details?.resync === true }),
        );
      }
      if (m.direction === 'to_jira') continue;
      const creates = inboundSettings(m).onJiraCreate === 'create_record';
      let queued = 0;
      for await (const stamp of deps.jira(m.connectionId).updatedSince([m.projectKey], p.since - OVERLAP_MS)) {
        const link = await store.db
          .selectFrom('links as l')
          .innerJoin('records as r', 'r.id', 'l.record_id')
          .select(['l.state', 'l.mapping_id', 'r.scope'])
          .where('l.connection_id', '=', m.connectionId)
          .where('l.issue_id', '=', stamp.id)
          .executeTakeFirst();
        if (link ? link.state !== 'linked' || (link.mapping_id !== m.id && link.scope !== m.scope) : !creates) continue;
        await store.transaction((trx) =>
          enqueueInbound(queue, trx, { connectionId: m.connectionId, issueId: stamp.id, source: 'sweep' }),
        );
        queued++;
      }
      deps.logger?.info(
        { mappingId: m.id, records: pending.length, issues: queued },
        'resumed: queued what changed during the pause',
      );
    }
  };

  return {
    targets,
    state,
    pause,
    resume,
    reconcile,
    holdOutbound,
    resumeHandler,
    disabledBy: disabledBy.bind(null, store.db, mappings),
  };
}

export type Pauses = ReturnType<typeof createPauses>;
