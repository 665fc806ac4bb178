import { runSandboxCommand } from '../../sandbox/cli.js';
import { loadSandboxFile, SandboxFileError, type SandboxFile } from '../../sandbox/config-file.js';
import { EXIT } from '../exit-codes.js';
import { describeError, line, type Out } from '../output.js';

export interface SandboxCommandOptions {
  flavour?: 'cloud' | 'datacenter';
  host?: string;
  port?: number;
  /** The sandbox's own start-up file (flavour, port, knobs, webhook faults, admin webhooks). */
  configPath?: string;
  env?: NodeJS.ProcessEnv;
  out: Out;
}

/** `jira-bridge sandbox`: delegates to the sandbox module, which runs until SIGTERM/SIGINT. */
export async function sandboxCommand(opts: SandboxCommandOptions): Promise<number> {
  let file: SandboxFile = {};
  if (opts.configPath !== undefined) {
    try {
      file = loadSandboxFile(opts.configPath, opts.env ?? process.env);
    } catch (err) {
      if (!(err instanceof SandboxFileError)) throw err;
      line(opts.out.stderr, `jira-bridge sandbox: the sandbox file ${err.file} is invalid:`);
      for (const i of err.issues) line(opts.out.stderr, `  ${i.path || '(root)'}: ${i.message}`);
      return EXIT.CONFIG_INVALID;
    }
  }
  try {
    await runSandboxCommand({
      file,
      ...(opts.flavour !== undefined ? { flavour: opts.flavour } : {}),
      ...(opts.host !== undefined ? { host: opts.host } : {}),
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      out: opts.out.stdout,
    });
    return EXIT.OK;
  } catch (err) {
    line(opts.out.stderr, `jira-bridge sandbox: ${describeError(err)}`);
    return EXIT.FAILURE;
  }
}
