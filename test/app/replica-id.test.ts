import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replicaIdentity } from '../../src/app/replica-id.js';

/** A pid that names no process any more (a child that has exited). */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '']).pid!;

describe('replica id (the lease owner name)', () => {
  const dirs: string[] = [];
  const dir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'jb-replica-id-'));
    dirs.push(d);
    return d;
  };
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('is the same after a restart: the data directory keeps it, a dead process’s pid file is taken over', () => {
    const d = dir();
    const first = replicaIdentity({ dataDir: d, pid: deadPid(), host: 'h1' });
    expect(first).toMatchObject({ stable: true });
    expect(first.id).toMatch(/^h1:[0-9a-f]{16}$/);
    // Killed: its pid file stays behind (the in-memory hold goes with the process).
    first.release();
    const again = replicaIdentity({ dataDir: d, host: 'h1' });
    expect(again).toMatchObject({ id: first.id, stable: true });
    again.release();
    // Another host sharing the directory (a shared volume) has an id of its own.
    const other = replicaIdentity({ dataDir: d, host: 'h2' });
    expect(other.id).not.toBe(first.id);
    other.release();
  });

  it('two live processes with one data directory (PostgreSQL replicas on a host) get distinct ids', () => {
    const d = dir();
    const a = replicaIdentity({ dataDir: d, host: 'h' }); // this process, alive
    const b = replicaIdentity({ dataDir: d, host: 'h', pid: deadPid() + 100_000 });
    expect(b.id).not.toBe(a.id);
    expect(b.stable).toBe(false);
    // A second service in the same process (tests) too.
    const c = replicaIdentity({ dataDir: d, host: 'h' });
    expect(c.id).not.toBe(a.id);
    // Once the first stops gracefully, a service started after it has the stable id again.
    a.release();
    expect(replicaIdentity({ dataDir: d, host: 'h' }).id).toBe(a.id);
  });

  it('a configured id is used as given', () => {
    expect(replicaIdentity({ configured: ' replica-a ', dataDir: dir() })).toMatchObject({
      id: 'replica-a',
      stable: true,
    });
  });
});
