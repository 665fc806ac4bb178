import { userInfo } from 'node:os';
import { wireEngine } from '../../app/engine-wiring.js';
import { runtimeSettings } from '../../app/settings.js';
import { createLogger } from '../../log/logger.js';
import { createMetrics } from '../../metrics/metrics.js';
import { createQueue, startWorker } from '../../queue/index.js';
import { openStore } from '../../store/index.js';
import { applyLine, runApply } from '../apply.js';
import { EXIT } from '../exit-codes.js';
import { loadCommandConfig } from './command-config.js';
import { describeError, line, type Out } from '../output.js';

export interface ApplyCommandOptions {
  configPath?: string;
  mapping: string;
  env: NodeJS.ProcessEnv;
  out: Out;
}

/**
 * `jira-bridge apply --mapping <id>`: applies the mapping as it is now to every record linked
 * through it — each one's ordinary re-sync job (src/engine/apply.ts) — showing the progress, then
 * prints the totals. This process works the queue as one more worker while the run lasts (a
 * running service's workers share the work); the run is in the store, so if this process stops,
 * the service carries it on.
 */
export async function applyCommand(opts: ApplyCommandOptions): Promise<number> {
  const logger = createLogger({ level: opts.env.LOG_LEVEL ?? 'warn', destination: opts.out.stderr });
  const got = await loadCommandConfig('apply', opts);
  if ('exit' in got) return got.exit;
  const { loaded } = got;
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
    const worker = startWorker({
      store,
      queue,
      handlers: wired.engine.handlers,
      concurrency: settings.workerConcurrency,
      leaseMs: settings.workerLeaseMs,
      logger,
    });
    try {
      const p = await runApply({
        apply: wired.engine.apply,
        mappingId: opts.mapping,
        actor: `cli:${safeUser()}`,
        stream: opts.out.stderr,
      });
      line(opts.out.stdout, applyLine(p));
      if (p.error) line(opts.out.stderr, `jira-bridge apply: ${p.error}`);
      return p.state === 'done' && p.failed === 0 ? EXIT.OK : EXIT.FAILURE;
    } finally {
      await worker.stop({ graceful: true });
      await wired.close();
    }
  } catch (err) {
    line(opts.out.stderr, `jira-bridge apply: ${describeError(err)}`);
    return EXIT.FAILURE;
  } finally {
    await store.close();
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
