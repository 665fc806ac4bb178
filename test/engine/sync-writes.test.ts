import { expect, it } from 'vitest';
import { createSyncWrites } from '../../src/engine/sync-writes.js';
import { fromJson, newId, toJson, type Store } from '../../src/store/index.js';
import { describeEachEngine } from '../helpers/db.js';

/** A record with a link (field_bases rows hang off the link). */
async function insertRecord(db: Store['db']): Promise<string> {
  const id = newId();
  await db
    .insertInto('connections')
    .values({
      id: 'c1',
      name: 'c1',
      flavour: 'cloud',
      site_url: '',
      config: '{}',
      secrets_enc: null,
      created_at: 1,
      updated_at: 1,
    })
    .onConflict((oc) => oc.doNothing())
    .execute();
  await db
    .insertInto('records')
    .values({
      id,
      host_id: `h-${id}`,
      scope: 'vulns',
      kind: 'vulnerability',
      data: toJson({ title: 't' }),
      version: 1,
      sync_state: 'pending',
      last_error: null,
      deleted_at: null,
      created_at: 1,
      updated_at: 1,
    })
    .execute();
  await db
    .insertInto('links')
    .values({
      record_id: id,
      connection_id: 'c1',
      issue_id: `1${id.slice(-6)}`,
      issue_key: 'P-1',
      project_key: 'P',
      mapping_id: null,
      mapping_snapshot: null,
      create_token: null,
      state: 'linked',
      jira_updated: null,
      created_at: 1,
      updated_at: 1,
    })
    .execute();
  return id;
}

describeEachEngine('sync writes', ({ fresh }) => {
  it('writes bases (a map, or one field) with its side as origin, replaces them, and reads them back', async () => {
    const { store } = await fresh();
    const recordId = await insertRecord(store.db);
    let t = 100;
    const out = createSyncWrites({ dialect: store.dialect, direction: 'outbound', now: () => t });
    const inb = createSyncWrites({ dialect: store.dialect, direction: 'inbound', now: () => t });
    await out.writeBases(
      store.db,
      recordId,
      new Map<string, unknown>([
        ['summary', 'A'],
        ['labels', ['x', 'y']],
      ]),
    );
    t = 200;
    await inb.writeBase(store.db, recordId, 'summary', 'B');
    expect(await out.loadBases(store.db, recordId)).toEqual(
      new Map<string, unknown>([
        ['labels', ['x', 'y']],
        ['summary', 'B'],
      ]),
    );
    const rows = await store.db
      .selectFrom('field_bases')
      .select(['field', 'origin', 'updated_at'])
      .where('record_id', '=', recordId)
      .orderBy('field')
      .execute();
    expect(rows.map((r) => [r.field, r.origin, Number(r.updated_at)])).toEqual([
      ['labels', 'host', 100],
      ['summary', 'jira', 200],
    ]);
  });

  it('logs with its direction and feeds with its origin, inside the caller transaction', async () => {
    const { store } = await fresh();
    const recordId = await insertRecord(store.db);
    const out = createSyncWrites({ dialect: store.dialect, direction: 'outbound', now: () => 5 });
    const inb = createSyncWrites({ dialect: store.dialect, direction: 'inbound', now: () => 6 });
    await store.transaction(async (trx) => {
      await out.log(trx, recordId, 'updated', 2, null, { fields: { changed: ['summary'] } });
      await out.feed(trx, recordId, 'record.updated', { fields: ['summary'] });
      await inb.log(trx, null, 'ignored', 0, 7, { error: { code: 'X' } });
      await inb.feed(trx, recordId, 'record.updated', { fields: ['status'] });
    });
    const log = await store.db.selectFrom('sync_log').selectAll().orderBy('at').execute();
    expect(
      log.map((r) => [
        r.record_id,
        r.direction,
        r.action,
        r.jira_calls,
        r.job_id,
        fromJson(r.fields),
        fromJson(r.error),
      ]),
    ).toEqual([
      [recordId, 'outbound', 'updated', 2, null, { changed: ['summary'] }, null],
      [null, 'inbound', 'ignored', 0, 7, null, { code: 'X' }],
    ]);
    const feed = await store.db.selectFrom('change_feed').selectAll().orderBy('seq').execute();
    expect(feed.map((r) => [r.event, fromJson(r.data)])).toEqual([
      ['record.updated', { origin: 'host', fields: ['summary'] }],
      ['record.updated', { origin: 'jira', fields: ['status'] }],
    ]);
  });
});
