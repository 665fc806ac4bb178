import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { VERSION } from '../app/version.js';
import { EXIT, EXIT_CODES_HELP } from './exit-codes.js';
import { line, processOut, type Out } from './output.js';

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  out?: Out;
}

interface GlobalOpts {
  config?: string;
}

function portArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0–65535)');
  return n;
}

const ENV_HELP = `
Environment:
  PORT                HTTP port (default 8080, or server.port in the config)
  HOST                interface to listen on (default 0.0.0.0; 127.0.0.1 in demo mode)
  DATABASE_URL        postgres://… to use PostgreSQL; otherwise SQLite under DATA_DIR
  DATA_DIR            SQLite data directory (default ./data)
  WORKER_CONCURRENCY  jobs run at once by this process (default 4)
  WORKER_LEASE_SECONDS  how long a claimed job is this process's before a replica may take it over (default 30)
  LOG_LEVEL           trace|debug|info|warn|error|silent (default info)`;

/**
 * The `jira-bridge` command line. Commands load their modules lazily, so `--help` is instant and
 * does not need the service's dependencies. Returns the exit code (serve: once stopped).
 */
export function buildProgram(opts: RunOptions, setCode: (code: number) => void): Command {
  const env = opts.env ?? process.env;
  const out = opts.out ?? processOut;
  const program = new Command();
  program
    .name('jira-bridge')
    .description('Two-way sync between your platform’s records and Jira Cloud / Data Center / Service Management.')
    .version(VERSION, '-V, --version', 'print the version')
    .option('-c, --config <path>', 'configuration file (default: ./jira-bridge.yaml)')
    .configureOutput({
      writeOut: (s) => out.stdout.write(s),
      writeErr: (s) => out.stderr.write(s),
    })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .addHelpText('after', `${ENV_HELP}\n${EXIT_CODES_HELP}\n`);

  const globals = (cmd: Command): { configPath?: string } => {
    const g = cmd.optsWithGlobals<GlobalOpts>();
    return g.config !== undefined ? { configPath: g.config } : {};
  };

  program
    .command('serve', { isDefault: true })
    .description(
      'run the service: HTTP API, sync workers, migrations at start (default command). ' +
        'With no configuration file, runs in demo mode against the built-in Jira sandbox.',
    )
    .addHelpText('after', `${ENV_HELP}\n${EXIT_CODES_HELP}\n`)
    .action(async (_o, cmd: Command) => {
      const { serveCommand } = await import('./commands/serve.js');
      setCode(await serveCommand({ ...globals(cmd), env, out }));
    });

  program
    .command('migrate')
    .description('apply pending database migrations and print what was applied, then exit')
    .addHelpText('after', `${ENV_HELP}\n${EXIT_CODES_HELP}\n`)
    .action(async (_o, cmd: Command) => {
      const { migrateCommand } = await import('./commands/migrate.js');
      setCode(await migrateCommand({ ...globals(cmd), env, out }));
    });

  program
    .command('rotate-key')
    .description(
      're-seal every stored secret under JIRA_BRIDGE_MASTER_KEY, opening old values with ' +
        'JIRA_BRIDGE_PREVIOUS_MASTER_KEYS (comma-separated), then exit',
    )
    .addHelpText('after', `${ENV_HELP}\n${EXIT_CODES_HELP}\n`)
    .action(async (_o, cmd: Command) => {
      const { rotateKeyCommand } = await import('./commands/rotate-key.js');
      setCode(await rotateKeyCommand({ ...globals(cmd), env, out }));
    });

  program
    .command('check')
    .description(
      'validate the configuration, then connect to each Jira connection and check every mapping ' +
        'against Jira (statuses, priorities, fields, options); prints ✓/✗ per connection and mapping',
    )
    .option('--offline', 'validate the file only; do not contact Jira')
    .addHelpText('after', EXIT_CODES_HELP + '\n')
    .action(async (o: { offline?: boolean }, cmd: Command) => {
      const { checkCommand } = await import('./commands/check.js');
      setCode(await checkCommand({ ...globals(cmd), offline: o.offline === true, env, out }));
    });

  program
    .command('backfill')
    .description(
      'create the Jira issues of every unlinked record of a scope, 50 per bulk call, with a progress bar; ' +
        'safe to re-run (linked records are skipped, interrupted batches are adopted)',
    )
    .requiredOption('-s, --scope <scope>', 'the host scope whose mapping to backfill')
    .addHelpText('after', EXIT_CODES_HELP + '\n')
    .action(async (o: { scope: string }, cmd: Command) => {
      const { backfillCommand } = await import('./commands/backfill.js');
      setCode(await backfillCommand({ ...globals(cmd), scope: o.scope, env, out }));
    });

  program
    .command('apply')
    .description(
      'apply a mapping as it is now to the records already linked through it (each one re-synced, ' +
        'adopting the current mapping), with progress: changed, unchanged, failed, Jira calls',
    )
    .requiredOption('-m, --mapping <id>', 'the mapping to apply')
    .addHelpText('after', EXIT_CODES_HELP + '\n')
    .action(async (o: { mapping: string }, cmd: Command) => {
      const { applyCommand } = await import('./commands/apply.js');
      setCode(await applyCommand({ ...globals(cmd), mapping: o.mapping, env, out }));
    });

  program
    .command('sandbox')
    .description('run the built-in Jira sandbox alone (a fake Jira for trials and tests) until stopped')
    .addOption(
      new Option('--flavour <flavour>', 'which Jira to imitate').choices(['cloud', 'datacenter']).default('cloud'),
    )
    .option('-p, --port <port>', 'port to listen on (default 8090; 0 = any free port)', portArg)
    .option('--host <host>', 'interface to listen on (default 127.0.0.1)')
    .addHelpText(
      'after',
      '\nWith --config <file> (YAML or JSON) the sandbox starts as the file says: flavour, port, seed, knobs\n' +
        '(latencyMs, jitterMs, rateLimit, perIssueWriteLimit, errorRate, expiredAuth, …), webhookFaults and admin\n' +
        'webhooks registered at start; options given on the command line win. See the README.\n' +
        EXIT_CODES_HELP +
        '\n',
    )
    .action(async (o: { flavour: 'cloud' | 'datacenter'; port?: number; host?: string }, cmd: Command) => {
      const { sandboxCommand } = await import('./commands/sandbox.js');
      const explicit = (name: string): boolean => cmd.getOptionValueSource(name) === 'cli';
      const { configPath } = globals(cmd);
      setCode(
        await sandboxCommand({
          ...(explicit('flavour') || configPath === undefined ? { flavour: o.flavour } : {}),
          ...(o.host !== undefined ? { host: o.host } : {}),
          ...(o.port !== undefined ? { port: o.port } : {}),
          ...(configPath !== undefined ? { configPath } : {}),
          env,
          out,
        }),
      );
    });

  return program;
}

/** Parses `argv` (as process.argv: node, script, …args) and runs the command; returns the exit code. */
export async function run(argv: string[], opts: RunOptions = {}): Promise<number> {
  const out = opts.out ?? processOut;
  let code: number = EXIT.OK;
  const program = buildProgram(opts, (c) => (code = c));
  // `serve` is the default command, so a mistyped command would read as "too many arguments".
  const known = new Set(program.commands.flatMap((c) => [c.name(), ...c.aliases()]).concat('help'));
  const first = firstPositional(argv.slice(2));
  if (first !== undefined && !known.has(first)) {
    line(out.stderr, `error: unknown command '${first}'; commands: ${[...known].join(', ')}`);
    line(out.stderr, '(run with --help for usage)');
    return EXIT.CONFIG_INVALID;
  }
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version "exit" with 0; usage mistakes count as an invalid command line.
      return err.exitCode === 0 ? EXIT.OK : EXIT.CONFIG_INVALID;
    }
    line(out.stderr, `jira-bridge: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.FAILURE;
  }
}

/** The first argument that is not an option or a global option's value. */
function firstPositional(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-c' || a === '--config') {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    return a;
  }
  return undefined;
}
