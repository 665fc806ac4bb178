import { startService, type RunningService } from '../../app/service.js';
import { createLogger } from '../../log/logger.js';
import { EXIT } from '../exit-codes.js';
import { describeError, line, printConfigError, type Out } from '../output.js';

export interface ServeOptions {
  configPath?: string;
  env: NodeJS.ProcessEnv;
  out: Out;
}

/**
 * Starts the service and runs until SIGTERM or SIGINT, then stops gracefully and resolves 0.
 * A second signal while stopping exits at once with 1.
 */
export async function serveCommand(opts: ServeOptions): Promise<number> {
  const logger = createLogger();
  let service: RunningService;
  try {
    service = await startService({
      ...(opts.configPath !== undefined ? { configPath: opts.configPath } : {}),
      env: opts.env,
      logger,
      stderr: opts.out.stderr,
    });
  } catch (err) {
    if (printConfigError(err, opts.out)) return EXIT.CONFIG_INVALID;
    logger.error({ err }, 'start-up failed');
    line(opts.out.stderr, `jira-bridge: could not start: ${describeError(err)}`);
    return EXIT.FAILURE;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        line(opts.out.stderr, `jira-bridge: ${signal} again while stopping; exiting now`);
        process.exit(EXIT.FAILURE);
      }
      stopping = true;
      logger.info({ signal }, 'signal received; stopping');
      service.stop().then(
        () => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          resolve(EXIT.OK);
        },
        (err: unknown) => {
          logger.error({ err }, 'stop failed');
          resolve(EXIT.FAILURE);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
