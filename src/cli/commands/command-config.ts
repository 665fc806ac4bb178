import { loadServiceConfig } from '../../app/config-port.js';
import { EXIT } from '../exit-codes.js';
import { describeError, line, printConfigError, type Out } from '../output.js';

export type LoadedConfig = Awaited<ReturnType<typeof loadServiceConfig>>;

/**
 * The configuration file a one-shot command (`backfill`, `apply`) works from: loaded, or the exit
 * code after saying why on stderr — each problem as "path: message" (exit 2), no file found (exit
 * 2, naming `--config`), anything else (exit 1).
 */
export async function loadCommandConfig(
  command: string,
  opts: { configPath?: string; env: NodeJS.ProcessEnv; out: Out },
): Promise<{ loaded: LoadedConfig } | { exit: number }> {
  let loaded: LoadedConfig;
  try {
    loaded = await loadServiceConfig({
      ...(opts.configPath !== undefined ? { path: opts.configPath } : {}),
      env: opts.env,
    });
  } catch (err) {
    if (printConfigError(err, opts.out)) return { exit: EXIT.CONFIG_INVALID };
    line(opts.out.stderr, `jira-bridge ${command}: ${describeError(err)}`);
    return { exit: EXIT.FAILURE };
  }
  if (loaded.source === null) {
    line(
      opts.out.stderr,
      `jira-bridge ${command}: no configuration file found; ${command} needs jira-bridge.yaml (--config <path>).`,
    );
    return { exit: EXIT.CONFIG_INVALID };
  }
  return { loaded };
}
