import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startService, type RunningService } from '../../src/app/service.js';
import { createJiraClient, type JiraClient } from '../../src/jira/client.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';
import { spawnCli, waitForStatus, type Spawned } from '../cli/helpers.js';

interface SandboxConnectionOptions {
  id?: string;
  sweepSeconds?: number;
  /** The secret Jira signs its webhooks with. */
  webhookSecret?: string;
}

/** One entry of `connections:` in a jira-bridge.yaml, pointing at a sandbox as its admin. */
export function sandboxConnectionEntry(sb: RunningSandbox, opts: SandboxConnectionOptions = {}): string[] {
  return [
    `  - id: ${opts.id ?? 'sb'}`,
    `    site_url: ${sb.baseUrl}`,
    '    flavour: cloud',
    `    auth: { type: basic, email: ${sb.credentials.email}, api_token: ${sb.credentials.apiToken} }`,
    ...(opts.webhookSecret !== undefined ? [`    webhook: { secret: ${opts.webhookSecret} }`] : []),
    `    sweep: { interval_seconds: ${opts.sweepSeconds ?? 0} }`,
  ];
}

/** The `connections:` lines of a jira-bridge.yaml with one sandbox connection. */
export function sandboxConnectionYaml(sb: RunningSandbox, opts: SandboxConnectionOptions = {}): string[] {
  return ['connections:', ...sandboxConnectionEntry(sb, opts)];
}

/** A person working in the sandbox Jira (not the bridge's account), through the REST API. */
export function sandboxUserClient(sb: RunningSandbox, user: string): JiraClient {
  const u = sb.credentials.users[user];
  if (!u) throw new Error(`the sandbox has no user ${user}`);
  return createJiraClient({
    id: user,
    siteUrl: sb.baseUrl,
    flavour: sb.flavour,
    auth:
      sb.flavour === 'cloud'
        ? { type: 'basic', email: u.loginEmail, apiToken: u.apiToken }
        : { type: 'pat', token: u.pat },
  });
}

/** Writes `<dir>/jira-bridge.yaml` from lines. */
export function writeConfig(dir: string, lines: string[]): void {
  writeFileSync(join(dir, 'jira-bridge.yaml'), [...lines, ''].join('\n'));
}

/** Two mappings of the sandbox connection `sb`: scope web → OPS incidents, scope payroll → SEC vulnerabilities. */
export const WEB_AND_PAYROLL_MAPPINGS = [
  'mappings:',
  '  - { id: web, connection: sb, scope: web, project: OPS, kinds: { incident: { issue_type: Incident } } }',
  '  - { id: pay, connection: sb, scope: payroll, project: SEC, kinds: { vulnerability: { issue_type: Vulnerability } } }',
];

/** The real service on a loopback port, its data under `<dir>/data`, silent (or logging to `logger`). */
export function startTestService(
  dir: string,
  env: Record<string, string> = {},
  logger: Logger = createLogger({ level: 'silent' }),
): Promise<RunningService> {
  return startService({
    configPath: join(dir, 'jira-bridge.yaml'),
    env: { PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(dir, 'data'), ...env },
    logger,
  });
}

/** A `jira-bridge serve` child process on a fixed loopback port (restartable on the same port). */
export interface ServiceProcess {
  url: string;
  port: number;
  pid: number;
  proc: Spawned;
  /** SIGKILL: no drain, no lease released; resolves once the process is gone. */
  kill(): Promise<void>;
}

/**
 * Starts `jira-bridge serve --config <configPath>` as a real child process listening on
 * 127.0.0.1:`port` and resolves once /readyz answers 200. `env` is added to a clean environment
 * (DATABASE_URL, DATA_DIR, LOG_LEVEL, …).
 */
export async function spawnServiceProcess(opts: {
  configPath: string;
  port: number;
  env?: Record<string, string>;
  cwd?: string;
}): Promise<ServiceProcess> {
  const proc = spawnCli(['serve', '--config', opts.configPath], {
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    env: { PORT: String(opts.port), HOST: '127.0.0.1', ...opts.env },
  });
  const url = `http://127.0.0.1:${opts.port}`;
  try {
    await waitForStatus(`${url}/readyz`, 200, proc, 90_000);
  } catch (err) {
    proc.child.kill('SIGKILL');
    throw err;
  }
  return {
    url,
    port: opts.port,
    pid: proc.child.pid!,
    proc,
    async kill() {
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
      await proc.exited;
    },
  };
}
