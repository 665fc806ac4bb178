import { describeDatabase, runtimeSettings } from '../../app/settings.js';
import { loadServiceConfig } from '../../app/config-port.js';
import { createLogger } from '../../log/logger.js';
import { openStore } from '../../store/index.js';
import { EXIT } from '../exit-codes.js';
import { describeError, line, printConfigError, type Out } from '../output.js';

export interface MigrateOptions {
  configPath?: string;
  env: NodeJS.ProcessEnv;
  out: Out;
}

/** Applies pending migrations to the configured store (DATABASE_URL, else SQLite) and lists them. */
export async function migrateCommand(opts: MigrateOptions): Promise<number> {
  const logger = createLogger({ level: opts.env.LOG_LEVEL ?? 'warn', destination: opts.out.stderr });
  let settings;
  try {
    const loaded = await loadServiceConfig({
      ...(opts.configPath !== undefined ? { path: opts.configPath } : {}),
      env: opts.env,
    });
    settings = runtimeSettings(loaded.config, opts.env, { demo: loaded.source === null });
  } catch (err) {
    if (printConfigError(err, opts.out)) return EXIT.CONFIG_INVALID;
    line(opts.out.stderr, `jira-bridge migrate: ${describeError(err)}`);
    return EXIT.FAILURE;
  }
  const where = describeDatabase(settings);
  let store;
  try {
    store = await openStore({
      ...(settings.databaseUrl ? { databaseUrl: settings.databaseUrl } : { dataDir: settings.dataDir }),
      logger,
    });
    const { applied } = await store.migrate();
    if (applied.length === 0) line(opts.out.stdout, `${where}: up to date, no migration to apply.`);
    else {
      line(opts.out.stdout, `${where}: applied ${applied.length} migration(s):`);
      for (const name of applied) line(opts.out.stdout, `  ✓ ${name}`);
    }
    return EXIT.OK;
  } catch (err) {
    line(opts.out.stderr, `jira-bridge migrate: ${where}: ${describeError(err)}`);
    return EXIT.FAILURE;
  } finally {
    await store?.close().catch(() => undefined);
  }
}
