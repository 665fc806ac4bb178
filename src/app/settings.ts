import { resolve } from 'node:path';
import { AppError } from '../core/errors.js';

/** Where the service listens and keeps its data: environment first, then the config, then defaults. */
export interface RuntimeSettings {
  port: number;
  host: string;
  /** SQLite directory (absolute); used when no databaseUrl. */
  dataDir: string;
  /** postgres://… when PostgreSQL is selected. */
  databaseUrl: string | undefined;
  workerConcurrency: number;
  /** How long a claimed job stays a worker's before another (a replica) may take it over. */
  workerLeaseMs: number;
  /** The configured replica id (lease owner name), if any; see ./replica-id.ts. */
  replicaId: string | undefined;
}

/** Reads an optional nested value from the config without assuming its exact type. */
function pick(obj: unknown, ...path: string[]): unknown {
  let cur = obj;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function intFrom(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new AppError('CONFIG_INVALID', `${name}: "${raw}" is not a whole number between ${min} and ${max}`, {
      details: { issues: [{ path: name, message: `"${raw}" is not a whole number between ${min} and ${max}` }] },
    });
  }
  return n;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/**
 * Environment variables: PORT, HOST, DATABASE_URL, DATA_DIR, WORKER_CONCURRENCY, WORKER_LEASE_SECONDS,
 * JIRA_BRIDGE_REPLICA_ID. Config keys (when present): server.port, server.host, database.url,
 * database.data_dir, worker.concurrency, worker.lease_seconds, worker.replica_id. Demo mode listens on 127.0.0.1 unless HOST says otherwise.
 */
export function runtimeSettings(config: unknown, env: NodeJS.ProcessEnv, opts: { demo: boolean }): RuntimeSettings {
  return {
    port: intFrom('PORT', env.PORT, 0, 65535) ?? num(pick(config, 'server', 'port')) ?? 8080,
    host: str(env.HOST) ?? str(pick(config, 'server', 'host')) ?? (opts.demo ? '127.0.0.1' : '0.0.0.0'),
    dataDir: resolve(str(env.DATA_DIR) ?? str(pick(config, 'database', 'data_dir')) ?? './data'),
    databaseUrl: str(env.DATABASE_URL) ?? str(pick(config, 'database', 'url')),
    workerConcurrency:
      intFrom('WORKER_CONCURRENCY', env.WORKER_CONCURRENCY, 1, 256) ?? num(pick(config, 'worker', 'concurrency')) ?? 8,
    workerLeaseMs:
      (intFrom('WORKER_LEASE_SECONDS', env.WORKER_LEASE_SECONDS, 3, 3600) ??
        num(pick(config, 'worker', 'lease_seconds')) ??
        30) * 1000,
    replicaId: str(env.JIRA_BRIDGE_REPLICA_ID) ?? str(pick(config, 'worker', 'replica_id')),
  };
}

/** A database URL fit for printing: no password, no query. */
export function describeDatabase(s: RuntimeSettings): string {
  if (!s.databaseUrl) return `SQLite in ${s.dataDir}`;
  try {
    const u = new URL(s.databaseUrl);
    const schema = u.searchParams.get('schema');
    return `PostgreSQL at ${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}${schema ? ` (schema ${schema})` : ''}`;
  } catch {
    return 'PostgreSQL (DATABASE_URL)';
  }
}
