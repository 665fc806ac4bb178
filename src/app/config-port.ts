import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { AppError } from '../core/errors.js';

/**
 * The composition root's one seam to the configuration module (src/config, built in parallel).
 *
 * TODO(config, H2): src/config/load.ts and src/config/demo.ts did not exist when this was written
 * (04:05 UTC). Once they land, replace the dynamic imports below with
 *   import { loadConfig } from '../config/load.js';
 *   import { demoConfig } from '../config/demo.js';
 * and `Config` with the real type. Until then: with no configuration file, the service runs in
 * demo mode with a minimal config; with a file, it refuses to start (exit 2) and says why.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Config = any;

export interface LoadedConfig {
  config: Config;
  /** The file read, or null when none was found (demo mode). */
  source: string | null;
}

interface ConfigModule {
  loadConfig(opts: { path?: string; env?: NodeJS.ProcessEnv }): Promise<LoadedConfig>;
}
interface DemoModule {
  demoConfig(sandboxUrl: string, creds: unknown): Config;
}

async function optionalModule<T>(specifier: string): Promise<T | undefined> {
  try {
    return (await import(specifier)) as T;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes('config')) return undefined;
    throw err;
  }
}

const LOAD = '../config/load.js';
const DEMO = '../config/demo.js';

export async function loadServiceConfig(opts: { path?: string; env: NodeJS.ProcessEnv }): Promise<LoadedConfig> {
  const mod = await optionalModule<ConfigModule>(LOAD);
  if (mod) return mod.loadConfig({ ...(opts.path !== undefined ? { path: opts.path } : {}), env: opts.env });
  const file = resolve(opts.path ?? 'jira-bridge.yaml');
  if (opts.path !== undefined || existsSync(file)) {
    throw new AppError('CONFIG_INVALID', `Cannot read ${file}: this build has no configuration loader yet`, {
      details: {
        issues: [{ path: '(file)', message: 'the configuration loader (src/config) is not available in this build' }],
      },
    });
  }
  return { config: {}, source: null };
}

export async function makeDemoConfig(sandboxUrl: string, creds: { email: string; apiToken: string }): Promise<Config> {
  const mod = await optionalModule<DemoModule>(DEMO);
  if (mod) return mod.demoConfig(sandboxUrl, creds);
  return {
    connections: [
      {
        id: 'sandbox',
        flavour: 'cloud',
        site_url: sandboxUrl,
        auth: { email: creds.email, api_token: creds.apiToken },
      },
    ],
    mappings: [],
  };
}
