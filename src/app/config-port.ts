import { demoConfig } from '../config/demo.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';

export type { Config } from '../config/schema.js';
export type { LoadedConfig } from '../config/load.js';

/** The composition root's one seam to the configuration module. */
export function loadServiceConfig(opts: { path?: string; env: NodeJS.ProcessEnv }): Promise<LoadedConfig> {
  return loadConfig({ ...(opts.path !== undefined ? { path: opts.path } : {}), env: opts.env });
}

export async function makeDemoConfig(sandboxUrl: string, creds: { email: string; apiToken: string }): Promise<Config> {
  return demoConfig(sandboxUrl, creds);
}
