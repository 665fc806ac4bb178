import { wireEngine } from '../../app/engine-wiring.js';
import { runtimeSettings } from '../../app/settings.js';
import { createLogger } from '../../log/logger.js';
import { createMetrics } from '../../metrics/metrics.js';
import { createQueue } from '../../queue/index.js';
import { openStore } from '../../store/index.js';
import { runBackfill } from '../backfill.js';
import { EXIT } from '../exit-codes.js';
import { loadCommandConfig } from './command-config.js';
import { describeError, line, type Out } from '../output.js';

export interface BackfillCommandOptions {
  configPath?: string;
  scope: string;
  env: NodeJS.ProcessEnv;
  out: Out;
}

/**
 * `jira-bridge backfill --scope <scope>`: creates the Jira issues of every unlinked record of the
 * scope's mapping in bulk (50 per call) in this process, with a progress bar, then prints the
 * totals. Safe to re-run: records already linked are skipped and interrupted batches adopt the
 * issues they had created.
 */
export async function backfillCommand(opts: BackfillCommandOptions): Promise<number> {
  const logger = createLogger({ level: opts.env.LOG_LEVEL ?? 'warn', destination: opts.out.stderr });
  const got = await loadCommandConfig('backfill', opts);
  if ('exit' in got) return got.exit;
  const { loaded } = got;
  if (!loaded.config.mappings.some((m) => m.scope === opts.scope)) {
    line(
      opts.out.stderr,
      `jira-bridge backfill: no mapping covers scope "${opts.scope}"; known scopes: ${loaded.config.mappings.map((m) => m.scope).join(', ') || '(none)'}`,
    );
    return EXIT.CONFIG_INVALID;
  }
  const settings = runtimeSettings(loaded.config, opts.env, { demo: false });
  const store = await openStore({
    ...(settings.databaseUrl ? { databaseUrl: settings.databaseUrl } : { dataDir: settings.dataDir }),
    logger,
  });
  try {
    await store.migrate();
    const queue = createQueue(store, { logger });
    const wired = await wireEngine({
      config: loaded.config,
      store,
      queue,
      metrics: createMetrics({ defaultMetrics: false }),
      logger,
      dataDir: settings.dataDir,
    });
    try {
      const p = await runBackfill({
        backfill: wired.engine.backfill,
        scope: opts.scope,
        inline: true,
        stream: opts.out.stderr,
      });
      line(
        opts.out.stdout,
        `backfill ${opts.scope}: ${p.done}/${p.total} created, ${p.failed} failed, ${p.bulk_calls} bulk call(s) — ${p.state}`,
      );
      return p.state === 'done' && p.failed === 0 ? EXIT.OK : EXIT.FAILURE;
    } finally {
      await wired.close();
    }
  } catch (err) {
    line(opts.out.stderr, `jira-bridge backfill: ${describeError(err)}`);
    return EXIT.FAILURE;
  } finally {
    await store.close();
  }
}
