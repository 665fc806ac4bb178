import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import {
  MIGRATION_NAMES,
  SQLITE_FILE,
  fromJson,
  newId,
  openStore,
  releaseLock,
  toJson,
  tryAcquireLock,
  type Store,
} from '../../src/store/index.js';
import { parseDatabaseUrl } from '../../src/store/postgres.js';
import { describeEachEngine } from '../helpers/db.js';

async function addRecord(db: Store['db'], hostId: string, data: object = { title: hostId }): Promise<string> {
  const id = newId();
  const now = Date.now();
  await db
    .insertInto('records')
    .values({
      id,
      host_id: hostId,
      scope: 'vulns',
      kind: 'vulnerability',
      data: toJson(data),
      version: 1,
      sync_state: 'pending',
      last_error: null,
      deleted_at: null,
      created_at: now,
      updated_at: now,
    })
    .execute();
  return id;
}

async function addConnection(db: Store['db']): Promise<string> {
  const id = newId();
  await db
    .insertInto('connections')
    .values({
      id,
      name: `c-${id}`,
      flavour: 'cloud',
      site_url: 'https://example.atlassian.net',
      config: '{}',
      secrets_enc: null,
      created_at: 1,
      updated_at: 1,
    })
    .execute();
  return id;
}

describeEachEngine('store', ({ engine, fresh }) => {
  it('migrates once; a second run and a second store apply nothing', async () => {
    const t = await fresh({ migrate: false });
    expect(t.store.dialect).toBe(engine);
    expect(await t.store.migrationsPending()).toBe(true);
    expect(await t.store.migrate()).toEqual({ applied: MIGRATION_NAMES });
    expect(await t.store.migrate()).toEqual({ applied: [] });
    expect(await t.store.migrationsPending()).toBe(false);
    const again = await openStore(t.openOpts);
    try {
      expect(await again.migrationsPending()).toBe(false);
      expect(await again.migrate()).toEqual({ applied: [] });
      await again.ping();
    } finally {
      await again.close();
    }
  });

  it('rolls back every write of a failed transaction and commits a successful one', async () => {
    const { store } = await fresh();
    await expect(
      store.transaction(async (trx) => {
        await addRecord(trx, 'H-1');
        await trx.insertInto('settings').values({ key: 'k', value: '1', updated_at: 1 }).execute();
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await store.db.selectFrom('records').selectAll().execute()).toEqual([]);
    expect(await store.db.selectFrom('settings').selectAll().execute()).toEqual([]);
    const id = await store.transaction((trx) => addRecord(trx, 'H-1'));
    expect((await store.db.selectFrom('records').select('id').execute()).map((r) => r.id)).toEqual([id]);
  });

  it('keeps numbers as numbers and JSON round-trips', async () => {
    const { store } = await fresh();
    const data = { title: 'T', labels: ['a', 'b'], custom: { cvss: 9.8 }, parent_host_id: null };
    const id = await addRecord(store.db, 'H-2', data);
    const row = await store.db.selectFrom('records').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(typeof row.created_at).toBe('number');
    expect(row.created_at).toBeGreaterThan(1.7e12);
    expect(fromJson(row.data)).toEqual(data);
    await store.db
      .insertInto('change_feed')
      .values({ record_id: id, event: 'updated', data: null, at: 2 ** 50 })
      .execute();
    const feed = await store.db.selectFrom('change_feed').selectAll().execute();
    expect(feed).toEqual([{ seq: 1, record_id: id, event: 'updated', data: null, at: 2 ** 50 }]);
  });

  it('enforces the uniqueness rules links and records depend on', async () => {
    const { store } = await fresh();
    await addRecord(store.db, 'H-3');
    await expect(addRecord(store.db, 'H-3')).rejects.toThrow(/unique/i);
    const conn = await addConnection(store.db);
    const r1 = await addRecord(store.db, 'H-4');
    const r2 = await addRecord(store.db, 'H-5');
    const link = (record_id: string, issue_id: string | null, create_token: string | null) =>
      store.db
        .insertInto('links')
        .values({
          record_id,
          connection_id: conn,
          issue_id,
          issue_key: null,
          project_key: 'SEC',
          mapping_id: null,
          mapping_snapshot: null,
          create_token,
          state: issue_id ? 'linked' : 'creating',
          created_at: 1,
          updated_at: 1,
        })
        .execute();
    await link(r1, '10001', 'tok-1');
    await expect(link(r2, '10001', 'tok-2')).rejects.toThrow(/unique/i); // one issue, one record
    await expect(link(r2, null, 'tok-1')).rejects.toThrow(/unique/i); // one create token
    await link(r2, null, 'tok-2'); // creating: no issue id yet
  });

  it('cascades record deletion to its link and field bases', async () => {
    const { store } = await fresh();
    const conn = await addConnection(store.db);
    const rid = await addRecord(store.db, 'H-6');
    await store.db
      .insertInto('links')
      .values({
        record_id: rid,
        connection_id: conn,
        issue_id: '1',
        issue_key: 'SEC-1',
        project_key: 'SEC',
        mapping_id: null,
        mapping_snapshot: null,
        create_token: null,
        state: 'linked',
        created_at: 1,
        updated_at: 1,
      })
      .execute();
    await store.db
      .insertInto('field_bases')
      .values({ record_id: rid, field: 'summary', value: toJson('x'), origin: 'host', updated_at: 1 })
      .execute();
    await expect(
      store.db
        .insertInto('field_bases')
        .values({ record_id: 'no-such', field: 'summary', value: '1', origin: 'host', updated_at: 1 })
        .execute(),
    ).rejects.toThrow(/foreign key/i);
    await store.db.deleteFrom('records').where('id', '=', rid).execute();
    expect(await store.db.selectFrom('links').selectAll().execute()).toEqual([]);
    expect(await store.db.selectFrom('field_bases').selectAll().execute()).toEqual([]);
  });

  it('grants a named lock to one owner until it expires or is released', async () => {
    const { store } = await fresh();
    expect(await tryAcquireLock(store.db, 'sweep:c1', 'A', 1000, 10_000)).toBe(true);
    expect(await tryAcquireLock(store.db, 'sweep:c1', 'B', 1000, 10_500)).toBe(false);
    expect(await tryAcquireLock(store.db, 'sweep:c1', 'A', 1000, 10_600)).toBe(true); // renew
    expect(await tryAcquireLock(store.db, 'sweep:c1', 'B', 1000, 11_500)).toBe(false);
    expect(await tryAcquireLock(store.db, 'sweep:c1', 'B', 1000, 11_601)).toBe(true); // expired
    await releaseLock(store.db, 'sweep:c1', 'A'); // not A's any more: no effect
    expect(await tryAcquireLock(store.db, 'sweep:c1', 'A', 1000, 11_700)).toBe(false);
    await releaseLock(store.db, 'sweep:c1', 'B');
    expect(await tryAcquireLock(store.db, 'sweep:c1', 'A', 1000, 11_800)).toBe(true);
  });
});

describe('store: SQLite specifics', () => {
  it('creates the data directory and file on first start, in WAL mode, durable, with foreign keys', async () => {
    const root = mkdtempSync(join(tmpdir(), 'jb-sqlite-'));
    const dataDir = join(root, 'nested', 'data');
    try {
      const store = await openStore({ dataDir });
      expect(existsSync(join(dataDir, SQLITE_FILE))).toBe(true);
      const pragma = async (name: string) =>
        Object.values((await sql.raw(`pragma ${name}`).execute(store.db)).rows[0] as object)[0];
      expect(await pragma('journal_mode')).toBe('wal');
      expect(await pragma('synchronous')).toBe(2); // FULL
      expect(await pragma('foreign_keys')).toBe(1);
      expect(await pragma('busy_timeout')).toBeGreaterThan(0);
      await store.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('serialises concurrent read-modify-write transactions in one process', async () => {
    const root = mkdtempSync(join(tmpdir(), 'jb-sqlite-'));
    const store = await openStore({ dataDir: root });
    try {
      await store.migrate();
      await store.db.insertInto('settings').values({ key: 'counter', value: '0', updated_at: 0 }).execute();
      await Promise.all(
        Array.from({ length: 25 }, () =>
          store.transaction(async (trx) => {
            const r = await trx
              .selectFrom('settings')
              .select('value')
              .where('key', '=', 'counter')
              .executeTakeFirstOrThrow();
            await new Promise((res) => setImmediate(res));
            await trx
              .updateTable('settings')
              .set({ value: String(Number(r.value) + 1) })
              .where('key', '=', 'counter')
              .execute();
          }),
        ),
      );
      const row = await store.db
        .selectFrom('settings')
        .select('value')
        .where('key', '=', 'counter')
        .executeTakeFirstOrThrow();
      expect(row.value).toBe('25');
    } finally {
      await store.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('two processes writing the same file neither fail with SQLITE_BUSY nor lose updates (BEGIN IMMEDIATE)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'jb-sqlite-'));
    const store = await openStore({ dataDir: root });
    try {
      await store.migrate();
      await store.db.insertInto('settings').values({ key: 'counter', value: '0', updated_at: 0 }).execute();
      const fixture = fileURLToPath(new URL('./fixtures/increment.ts', import.meta.url));
      const run = () =>
        new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
          const c = spawn(process.execPath, ['--import', 'tsx', fixture, root, '40'], {
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '';
          let err = '';
          c.stdout.on('data', (d: Buffer) => (out += d.toString()));
          c.stderr.on('data', (d: Buffer) => (err += d.toString()));
          c.on('exit', (code) => resolve({ code, out, err }));
        });
      const results = await Promise.all([run(), run()]);
      for (const r of results) expect(r, r.err).toMatchObject({ code: 0, out: 'OK\n' });
      const row = await store.db
        .selectFrom('settings')
        .select('value')
        .where('key', '=', 'counter')
        .executeTakeFirstOrThrow();
      expect(row.value).toBe('80');
    } finally {
      await store.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('store: PostgreSQL URL handling', () => {
  it('takes the schema from ?schema= or the option, and rejects unsafe names', () => {
    expect(parseDatabaseUrl('postgres://u:p@h:5432/db?schema=tenant_1')).toEqual({
      connectionString: 'postgres://u:p@h:5432/db',
      schema: 'tenant_1',
    });
    expect(parseDatabaseUrl('postgres://h/db?schema=a&sslmode=require', 'b')).toEqual({
      connectionString: 'postgres://h/db?sslmode=require',
      schema: 'b',
    });
    expect(() => parseDatabaseUrl('postgres://h/db?schema=x;drop')).toThrow(
      /schema: "x;drop" is not a plain identifier/,
    );
    expect(() => parseDatabaseUrl('mysql://h/db')).toThrow(/unsupported protocol "mysql:"/);
    expect(() => parseDatabaseUrl('not a url')).toThrow(/databaseUrl is not a valid URL/);
  });

  it('reports an unreachable PostgreSQL as STORE_UNAVAILABLE from ping', async () => {
    const store = await openStore({ databaseUrl: 'postgres://postgres@127.0.0.1:1/none' });
    try {
      await expect(store.ping()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    } finally {
      await store.close();
    }
  });
});
