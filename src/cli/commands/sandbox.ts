import { runSandboxCommand } from '../../sandbox/cli.js';
import { EXIT } from '../exit-codes.js';
import { describeError, line, type Out } from '../output.js';

export interface SandboxCommandOptions {
  flavour: 'cloud' | 'datacenter';
  host: string;
  port?: number;
  out: Out;
}

/** `jira-bridge sandbox`: delegates to the sandbox module, which runs until SIGTERM/SIGINT. */
export async function sandboxCommand(opts: SandboxCommandOptions): Promise<number> {
  try {
    await runSandboxCommand({
      flavour: opts.flavour,
      host: opts.host,
      ...(opts.port !== undefined ? { port: opts.port } : {}),
    });
    return EXIT.OK;
  } catch (err) {
    line(opts.out.stderr, `jira-bridge sandbox: ${describeError(err)}`);
    return EXIT.FAILURE;
  }
}
