import pg from 'pg';
import {
  DEFAULT_MIGRATION_LOCK_TABLE,
  DEFAULT_MIGRATION_TABLE,
  PostgresDialect,
  sql,
  type DatabaseIntrospector,
  type Kysely,
  type TableMetadata,
} from 'kysely';

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * Epoch-ms timestamps and auto-increment ids are BIGINT; pg returns those as strings by default.
 * They fit a JS number (< 2^53), so parse them as numbers to keep rows identical to SQLite's.
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as pg.CustomTypesConfig;

const SCHEMA_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export interface PostgresOpen {
  dialect: PostgresDialect;
  pool: pg.Pool;
  schema: string | undefined;
  /** The URL without our own `schema` parameter (never logged: it may carry a password). */
  connectionString: string;
}

/** Splits `?schema=` off a database URL; the explicit option wins. */
export function parseDatabaseUrl(
  databaseUrl: string,
  schemaOpt?: string,
): { connectionString: string; schema?: string } {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new Error('databaseUrl is not a valid URL; expected postgres://user:pass@host:5432/db[?schema=name]');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`databaseUrl: unsupported protocol "${url.protocol}"; expected postgres:// or postgresql://`);
  }
  const fromUrl = url.searchParams.get('schema') ?? undefined;
  url.searchParams.delete('schema');
  const schema = schemaOpt ?? fromUrl;
  if (schema !== undefined && !SCHEMA_RE.test(schema)) {
    throw new Error(`schema: "${schema}" is not a plain identifier; use letters, digits and _ (max 63)`);
  }
  return schema === undefined ? { connectionString: url.toString() } : { connectionString: url.toString(), schema };
}

/**
 * Introspection of our own schema only (the migrator asks it whether its tables exist). Kysely's
 * own walks every schema of the database and resolves each table by name, so a schema another
 * application (or test) drops meanwhile fails it with 3F000 "schema … does not exist".
 */
export class SchemaScopedIntrospector implements DatabaseIntrospector {
  constructor(
    private readonly db: Kysely<unknown>,
    private readonly schema: string,
  ) {}
  async getSchemas(): Promise<Array<{ name: string }>> {
    return [{ name: this.schema }];
  }
  async getTables(options: { withInternalKyselyTables?: boolean } = {}): Promise<TableMetadata[]> {
    const rows = await sql<{ name: string; is_view: boolean }>`
      select c.relname as name, c.relkind = 'v' as is_view
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ${this.schema} and c.relkind in ('r', 'v', 'p')
      order by c.relname`.execute(this.db);
    return rows.rows
      .filter(
        (r) =>
          options.withInternalKyselyTables ||
          (r.name !== DEFAULT_MIGRATION_TABLE && r.name !== DEFAULT_MIGRATION_LOCK_TABLE),
      )
      .map((r) => ({ name: r.name, schema: this.schema, isView: r.is_view, columns: [] }));
  }
  async getMetadata(options?: { withInternalKyselyTables?: boolean }): Promise<{ tables: TableMetadata[] }> {
    return { tables: await this.getTables(options) };
  }
}

class ScopedPostgresDialect extends PostgresDialect {
  constructor(
    config: ConstructorParameters<typeof PostgresDialect>[0],
    private readonly schema: string,
  ) {
    super(config);
  }
  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SchemaScopedIntrospector(db, this.schema);
  }
}

export function openPostgres(opts: { databaseUrl: string; schema?: string; poolMax?: number }): PostgresOpen {
  const { connectionString, schema } = parseDatabaseUrl(opts.databaseUrl, opts.schema);
  const pool = new pg.Pool({
    connectionString,
    max: opts.poolMax ?? 10,
    types,
    // search_path set at connection start: every pooled connection sees the same schema.
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return { dialect: new ScopedPostgresDialect({ pool }, schema ?? 'public'), pool, schema, connectionString };
}

/** Channel names are per schema, so isolated test schemas do not wake each other. */
export function channelName(topic: string, schema: string | undefined): string {
  return `jb_${topic}_${schema ?? 'public'}`.slice(0, 63);
}

/**
 * LISTENs on a dedicated connection (a pooled connection cannot hold a LISTEN). When the
 * connection drops it reconnects every second; meanwhile workers fall back to polling.
 * Returns the unsubscribe function.
 */
export async function listenPostgres(
  open: Pick<PostgresOpen, 'connectionString' | 'schema'>,
  topic: string,
  fn: () => void,
  onError?: (err: unknown) => void,
): Promise<() => Promise<void>> {
  const channel = channelName(topic, open.schema);
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const reconnectLater = (): void => {
    if (closed) return;
    retry = setTimeout(() => {
      connect().catch((err: unknown) => {
        onError?.(err);
        reconnectLater();
      });
    }, 1000);
    retry.unref();
  };

  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: open.connectionString });
    c.on('notification', (msg) => {
      if (msg.channel === channel) fn();
    });
    c.on('error', (err) => {
      onError?.(err);
      if (client !== c) return;
      client = undefined;
      c.end().catch(() => undefined);
      reconnectLater();
    });
    try {
      await c.connect();
      await c.query(`LISTEN "${channel}"`);
    } catch (err) {
      await c.end().catch(() => undefined);
      throw err;
    }
    if (closed) {
      await c.end().catch(() => undefined);
      return;
    }
    client = c;
    fn(); // whatever was enqueued while nobody listened
  };

  await connect();
  return async () => {
    closed = true;
    if (retry) clearTimeout(retry);
    const c = client;
    client = undefined;
    await c?.end().catch(() => undefined);
  };
}
