import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startService, type RunningService } from '../../src/app/service.js';
import { createLogger } from '../../src/log/logger.js';
import type { RunningSandbox } from '../../src/sandbox/index.js';

/** The `connections:` lines of a jira-bridge.yaml pointing at a sandbox as its admin. */
export function sandboxConnectionYaml(sb: RunningSandbox, opts: { id?: string; sweepSeconds?: number } = {}): string[] {
  return [
    'connections:',
    `  - id: ${opts.id ?? 'sb'}`,
    `    site_url: ${sb.baseUrl}`,
    '    flavour: cloud',
    `    auth: { type: basic, email: ${sb.credentials.email}, api_token: ${sb.credentials.apiToken} }`,
    `    sweep: { interval_seconds: ${opts.sweepSeconds ?? 0} }`,
  ];
}

/** Writes `<dir>/jira-bridge.yaml` from lines. */
export function writeConfig(dir: string, lines: string[]): void {
  writeFileSync(join(dir, 'jira-bridge.yaml'), [...lines, ''].join('\n'));
}

/** The real service on a loopback port, its data under `<dir>/data`, silent. */
export function startTestService(dir: string, env: Record<string, string> = {}): Promise<RunningService> {
  return startService({
    configPath: join(dir, 'jira-bridge.yaml'),
    env: { PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(dir, 'data'), ...env },
    logger: createLogger({ level: 'silent' }),
  });
}
