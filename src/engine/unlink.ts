/**
 * Removing links: a record's, a mapping's records' or a connection's. The Jira issues stay as they
 * are (no call is made); for each record the link becomes `unlinked` (its issue key is kept for
 * the record's history, its issue id is let go so a delivery or a sweep of that issue finds no
 * record), the agreed bases go, and its queued jobs (outbound, and inbound of that issue) go.
 * The record stays, unlinked: later host upserts are stored and not sent (no issue is created
 * again) until `POST /api/v1/sync` re-syncs it, which creates a new issue. Each record's log says
 * `unlinked`, the change feed `record.unlinked` (`reason: removed`), and the audit log one row
 * per request.
 */
import type { Kysely } from 'kysely';
import { AppError } from '../core/errors.js';
import { appendChange } from '../host/feed.js';
import type { Logger } from '../log/logger.js';
import { appendAudit } from '../store/audit.js';
import { newId } from '../store/ids.js';
import { toJson } from '../store/json.js';
import type { Database } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { issueJobKey } from './inbound.js';
import { recordJobKey } from './record-data.js';
import type { MappingSource } from './types.js';

export interface UnlinkResult {
  /** Records whose link was removed. */
  unlinked: number;
  /** Their Jira issues (left as they are). */
  issue_keys: string[];
}

export type UnlinkTarget =
  | { kind: 'record'; scope: string; hostId: string }
  | { kind: 'mapping'; id: string }
  | { kind: 'connection'; id: string };

/** Links per transaction when a mapping or connection is unlinked. */
const BATCH = 200;

export function createUnlinker(deps: {
  store: Store;
  mappings: MappingSource;
  logger?: Logger | undefined;
  now?: () => number;
}) {
  const { store } = deps;
  const now = deps.now ?? Date.now;

  /** Record ids with a live link (linked or being created) the target covers, oldest first. */
  async function linkedRecords(db: Kysely<Database>, t: UnlinkTarget, limit: number): Promise<string[]> {
    let q = db
      .selectFrom('links as l')
      .innerJoin('records as r', 'r.id', 'l.record_id')
      .select('l.record_id')
      .where('l.state', '!=', 'unlinked');
    if (t.kind === 'record') q = q.where('r.scope', '=', t.scope).where('r.host_id', '=', t.hostId);
    else if (t.kind === 'connection') q = q.where('l.connection_id', '=', t.id);
    else {
      const m = deps.mappings.byId(t.id)!;
      q = q
        .where('l.connection_id', '=', m.connectionId)
        .where((eb) => eb.or([eb('l.mapping_id', '=', t.id), eb('r.scope', '=', m.scope)]));
    }
    const rows = await q.orderBy('l.record_id').limit(limit).execute();
    return rows.map((r) => r.record_id);
  }

  async function unlinkOne(trx: Kysely<Database>, recordId: string, actor: string): Promise<string | null> {
    const link = await trx.selectFrom('links').selectAll().where('record_id', '=', recordId).executeTakeFirst();
    if (!link || link.state === 'unlinked') return null;
    const t = now();
    await trx
      .updateTable('links')
      .set({ state: 'unlinked', issue_id: null, updated_at: t })
      .where('record_id', '=', recordId)
      .execute();
    await trx.deleteFrom('field_bases').where('record_id', '=', recordId).execute();
    // Its rework tasks stay in Jira as they are too, no longer followed.
    await trx.deleteFrom('rework_links').where('record_id', '=', recordId).execute();
    const keys = [recordJobKey(recordId), ...(link.issue_id ? [issueJobKey(link.connection_id, link.issue_id)] : [])];
    await trx.deleteFrom('jobs').where('key', 'in', keys).where('state', '=', 'queued').execute();
    await trx
      .updateTable('records')
      .set({ sync_state: 'synced', last_error: null })
      .where('id', '=', recordId)
      .execute();
    await trx
      .insertInto('sync_log')
      .values({
        id: newId(),
        record_id: recordId,
        direction: 'outbound',
        action: 'unlinked',
        fields: toJson({ issue_key: link.issue_key, reason: 'removed', by: actor }),
        jira_calls: 0,
        job_id: null,
        error: null,
        at: t,
      })
      .execute();
    await appendChange(trx, store.dialect, {
      recordId,
      event: 'record.unlinked',
      data: { origin: 'host', issue_key: link.issue_key, reason: 'removed' },
      at: t,
    });
    return link.issue_key ?? '';
  }

  /**
   * Unlinks what the target covers. A record without a live link is a 409; a mapping or
   * connection with none unlinks nothing (200, `unlinked: 0`). Audited once per call.
   */
  async function unlink(t: UnlinkTarget, actor: string): Promise<UnlinkResult> {
    let recordTarget = '';
    if (t.kind === 'record') {
      const r = await store.db
        .selectFrom('records')
        .select('id')
        .where('scope', '=', t.scope)
        .where('host_id', '=', t.hostId)
        .executeTakeFirst();
      if (!r) throw new AppError('NOT_FOUND', `No record "${t.hostId}" in scope "${t.scope}"`);
      recordTarget = `record:${t.scope}/${t.hostId}`;
    } else if (t.kind === 'mapping' ? !deps.mappings.byId(t.id) : !deps.mappings.connection(t.id)) {
      throw new AppError('NOT_FOUND', `No ${t.kind} "${t.id}"`);
    }
    const keys: string[] = [];
    for (;;) {
      const done = await store.transaction(async (trx) => {
        const ids = await linkedRecords(trx, t, BATCH);
        for (const id of ids) {
          const key = await unlinkOne(trx, id, actor);
          if (key !== null) keys.push(key);
        }
        return ids.length < BATCH;
      });
      if (done || t.kind === 'record') break;
    }
    if (t.kind === 'record' && keys.length === 0) {
      throw new AppError('CONFLICT', `Record "${t.hostId}" in scope "${t.scope}" is not linked to a Jira issue`);
    }
    await appendAudit(store.db, {
      actor,
      action: `${t.kind}.unlinked`,
      target: t.kind === 'record' ? recordTarget : `${t.kind}:${t.id}`,
      before: { issue_keys: keys.filter(Boolean) },
      after: { unlinked: keys.length },
      at: now(),
    });
    deps.logger?.info({ target: t, unlinked: keys.length, actor }, 'links removed; the Jira issues stay as they are');
    return { unlinked: keys.length, issue_keys: keys.filter(Boolean) };
  }

  return { unlink };
}

export type Unlinker = ReturnType<typeof createUnlinker>;
