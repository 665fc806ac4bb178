/**
 * This process's replica id: the owner name of its leases (the jobs its worker runs, host-webhook
 * streams, sweeps), stable across restarts so that a restarted process takes its own leases back
 * at once instead of waiting for them to expire (issue 16); another replica's leases are still
 * taken only after expiry. Taking them back is safe only because no live process but this one
 * holds the id (`stable`): the jobs a process with this id was running are put back in the queue
 * at start (Queue.takeBackOwn), which a live holder would not survive.
 *
 * - Configured (`JIRA_BRIDGE_REPLICA_ID`, else `worker.replica_id`): used as given, unchecked —
 *   it must be unique per live process (each replica its own; a restart reuses it).
 * - Otherwise `<hostname>:<token>`, the token a random one kept in `<dataDir>/replica-id` (made on
 *   first start), so the same host and data directory give the same id after a restart.
 * - Two live processes on one host with the same data directory (possible on PostgreSQL, where the
 *   data directory holds only the master key) must not share an id: the first one writes its pid to
 *   `<dataDir>/replica-<hostname>.pid`; a process that finds that pid alive (and not its own) takes
 *   a one-off id of its own instead (`…:<pid>:<random>`), and its leases wait for expiry after a
 *   restart as before. A pid file naming a dead process is taken over.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';

export interface ReplicaIdentity {
  id: string;
  /** Whether the id stays the same after a restart (configured, or the data directory's). */
  stable: boolean;
  /** On a graceful stop: the id is free again (for a service started in this process, or a restart). */
  release(): void;
}

/** Ids held by services running in this process (tests start several with one pid). */
const held = new Set<string>();

/** Whether a process with this pid exists (a signal 0 probe; EPERM: it exists, not ours). */
function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const readText = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** Writes atomically (a temporary file renamed over): a reader never sees half a file. */
function writeText(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${text}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

export function replicaIdentity(opts: {
  configured?: string | undefined;
  dataDir: string;
  logger?: Logger | undefined;
  /** For tests: this process's pid and host name. */
  pid?: number;
  host?: string;
}): ReplicaIdentity {
  const configured = opts.configured?.trim();
  if (configured) return { id: configured, stable: true, release: () => undefined };
  const pid = opts.pid ?? process.pid;
  const host = (opts.host ?? hostname()) || 'localhost';
  const oneOff = (why: string): ReplicaIdentity => {
    const id = `${host}:${pid}:${randomBytes(4).toString('hex')}`;
    opts.logger?.warn(
      { replicaId: id },
      `${why}; this process takes a replica id of its own, so after a restart its leases wait for their expiry (set JIRA_BRIDGE_REPLICA_ID to keep one)`,
    );
    return { id, stable: false, release: () => undefined };
  };
  try {
    mkdirSync(opts.dataDir, { recursive: true });
    const tokenPath = join(opts.dataDir, 'replica-id');
    let token = readText(tokenPath);
    if (!token || !/^[0-9a-f]{8,64}$/.test(token)) {
      token = randomBytes(8).toString('hex');
      writeText(tokenPath, token);
      token = readText(tokenPath) ?? token; // another process starting at once may have won the rename
    }
    const id = `${host}:${token}`;
    if (held.has(id)) return oneOff('another service in this process uses this data directory');
    const pidPath = join(opts.dataDir, `replica-${host.replace(/[^A-Za-z0-9._-]/g, '_')}.pid`);
    const holder = Number(readText(pidPath));
    if (holder !== pid && alive(holder)) return oneOff(`another live process (pid ${holder}) uses this data directory`);
    writeText(pidPath, String(pid));
    // Two processes started at the same instant: the one whose pid the file kept has the id.
    if (Number(readText(pidPath)) !== pid) return oneOff('another process took this data directory’s replica id');
    held.add(id);
    let released = false;
    return {
      id,
      stable: true,
      release() {
        if (released) return;
        released = true;
        held.delete(id);
      },
    };
  } catch (err) {
    return oneOff(`the data directory could not keep a replica id (${(err as Error).message})`);
  }
}
