/**
 * The machine a benchmark ran on, printed by every bench so a figure in BENCHMARKS.md always
 * comes with its hardware: CPU model (from /proc/cpuinfo), cores, RAM, OS, Node, PostgreSQL.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';
import pg from 'pg';

/** The PostgreSQL the benches use; override with BENCH_DATABASE_URL. */
export const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface Machine {
  date: string;
  cpu: string;
  cores: number;
  ramGiB: number;
  os: string;
  node: string;
  /** The server's version, or why it could not be read. */
  postgres: string;
  /** 1-minute load average when the bench started (another process's work shows here). */
  load1: number;
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) return m[1].trim();
  } catch {
    /* not Linux */
  }
  return cpus()[0]?.model ?? 'unknown';
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m?.[1]) return `${m[1]} (${osType()} ${release()})`;
  } catch {
    /* no os-release */
  }
  return `${osType()} ${release()}`;
}

async function postgresVersion(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    const r = await c.query<{ server_version: string }>('show server_version');
    return `PostgreSQL ${r.rows[0]?.server_version ?? '?'}`;
  } catch (err) {
    return `unreachable (${err instanceof Error ? err.message : String(err)})`;
  } finally {
    await c.end().catch(() => undefined);
  }
}

let cached: Promise<Machine> | undefined;

export function describeMachine(databaseUrl = BENCH_DATABASE_URL): Promise<Machine> {
  cached ??= (async () => ({
    date: new Date().toISOString(),
    cpu: cpuModel(),
    cores: cpus().length,
    ramGiB: +(totalmem() / 2 ** 30).toFixed(1),
    os: osName(),
    node: process.version,
    postgres: await postgresVersion(databaseUrl),
    load1: +(loadavg()[0] ?? 0).toFixed(2),
  }))();
  return cached;
}

/** One line for text output. */
export function machineLine(m: Machine): string {
  return `${m.date} · ${m.cpu} · ${m.cores} cores · ${m.ramGiB} GiB RAM · ${m.os} · Node ${m.node} · ${m.postgres} · load ${m.load1}`;
}

/** Prints the machine line to stderr (stdout stays the bench's JSON) and returns the description. */
export async function printMachine(): Promise<Machine> {
  const m = await describeMachine();
  process.stderr.write(`machine: ${machineLine(m)}\n`);
  return m;
}
