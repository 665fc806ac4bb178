import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATION_NAMES, SQLITE_FILE } from '../../src/store/index.js';
import { pgUnreachableReason, TEST_DATABASE_URL } from '../helpers/db.js';
import { runCli, tempDir } from './helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('jira-bridge migrate', () => {
  it('creates the SQLite database in DATA_DIR, applies every migration, then reports up to date', async () => {
    const cwd = tempDir();
    dirs.push(cwd);
    const dataDir = join(cwd, 'state');
    const first = await runCli(['migrate'], { cwd, env: { DATA_DIR: dataDir } });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`SQLite in ${dataDir}: applied ${MIGRATION_NAMES.length} migration(s):`);
    for (const name of MIGRATION_NAMES) expect(first.stdout).toContain(`✓ ${name}`);
    expect(existsSync(join(dataDir, SQLITE_FILE))).toBe(true);

    const second = await runCli(['migrate'], { cwd, env: { DATA_DIR: dataDir } });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('up to date, no migration to apply');
  });

  it('defaults to ./data in the working directory', async () => {
    const cwd = tempDir();
    dirs.push(cwd);
    const r = await runCli(['migrate'], { cwd });
    expect(r.code).toBe(0);
    expect(existsSync(join(cwd, 'data', SQLITE_FILE))).toBe(true);
  });

  it('uses PostgreSQL when DATABASE_URL is set, without printing credentials', async (ctx) => {
    const reason = await pgUnreachableReason();
    if (reason) {
      console.warn(`PostgreSQL unreachable (${reason}); skipping the PostgreSQL migrate test`);
      ctx.skip();
    }
    const schema = `cli_${process.pid}_${randomBytes(4).toString('hex')}`;
    const url = new URL(TEST_DATABASE_URL);
    url.password = 'not-printed-secret';
    url.searchParams.set('schema', schema);
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      const r = await runCli(['migrate'], { cwd: tempDir(), env: { DATABASE_URL: url.toString() } });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`PostgreSQL at .*\\(schema ${schema}\\): applied ${MIGRATION_NAMES.length}`));
      expect(r.stdout + r.stderr).not.toContain('not-printed-secret');
      const tables = await client.query(
        'select count(*)::int as n from information_schema.tables where table_schema = $1',
        [schema],
      );
      expect(tables.rows[0].n).toBeGreaterThan(1);
    } finally {
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    }
  });

  it('fails with exit 1 and the reason when the database is unreachable', async () => {
    const r = await runCli(['migrate'], {
      cwd: tempDir(),
      env: { DATABASE_URL: 'postgres://nobody:pw-secret@127.0.0.1:1/none' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/jira-bridge migrate: PostgreSQL at 127\.0\.0\.1:1\/none: /);
    expect(r.stderr).not.toContain('pw-secret');
  });
});
