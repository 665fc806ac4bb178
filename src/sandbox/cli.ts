import { createLogger } from '../log/logger.js';
import type { SandboxFile } from './config-file.js';
import { startSandbox, type RunningSandbox } from './index.js';
import type { Flavour } from './model.js';

export interface SandboxCommandOptions {
  port?: number;
  flavour?: Flavour;
  host?: string;
  /** The sandbox file's settings; the options above win over it. */
  file?: SandboxFile;
  /** Where the banner goes (default process.stdout). */
  out?: NodeJS.WritableStream;
  /** Resolve once the sandbox runs instead of waiting for SIGINT/SIGTERM (for tests). */
  detach?: boolean;
}

/** The text `jira-bridge sandbox` prints: base URL and the seeded credentials. */
export function sandboxBanner(sb: Pick<RunningSandbox, 'baseUrl' | 'flavour' | 'credentials'>): string {
  const c = sb.credentials;
  const lines = [
    `Jira sandbox (${sb.flavour === 'cloud' ? 'Cloud' : 'Data Center'}) listening on ${sb.baseUrl}`,
    '',
    sb.flavour === 'cloud'
      ? `  Admin:  email ${c.email}  API token ${c.apiToken}  (Basic auth)  OAuth bearer ${c.oauthToken}`
      : `  Admin:  user ${Object.values(c.users).find((u) => u.pat === c.pat)?.name ?? 'admin'}  personal access token ${c.pat}  (Authorization: Bearer)  password ${c.password}  (Basic)`,
  ];
  for (const [name, u] of Object.entries(c.users)) {
    if (u.apiToken === c.apiToken) continue; // the admin, above
    lines.push(
      sb.flavour === 'cloud'
        ? `  ${name}:  email ${u.loginEmail}  API token ${u.apiToken}${u.email === null ? '  (email hidden by privacy settings)' : ''}`
        : `  ${name}:  user ${u.name}  PAT ${u.pat}  password ${u.password}`,
    );
  }
  lines.push(
    '',
    `  REST:     ${sb.baseUrl}/rest/api/${sb.flavour === 'cloud' ? '3' : '2'}/myself`,
    `  Control:  ${sb.baseUrl}/_sandbox/info  (knobs, calls, reset)`,
  );
  if (sb.flavour === 'cloud' && c.oauthClient) {
    lines.push(
      `  OAuth 2.0 (3LO): client id ${c.oauthClient.clientId}  secret ${c.oauthClient.clientSecret}`,
      `            authorize ${sb.baseUrl}/authorize, token ${sb.baseUrl}/oauth/token (set auth_url and api_url to ${sb.baseUrl})`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

/** `jira-bridge sandbox`: starts a standalone sandbox and runs until SIGINT/SIGTERM. */
export async function runSandboxCommand(opts: SandboxCommandOptions = {}): Promise<RunningSandbox> {
  const file = opts.file ?? {};
  const sb = await startSandbox({
    flavour: opts.flavour ?? file.flavour ?? 'cloud',
    host: opts.host ?? file.host ?? '127.0.0.1',
    port: opts.port ?? file.port ?? 8090,
    ...(file.seed ? { seed: file.seed } : {}),
    ...(file.site ? { site: file.site } : {}),
    ...(file.maxAttachmentBytes !== undefined ? { maxAttachmentBytes: file.maxAttachmentBytes } : {}),
    logger: createLogger({ name: 'jira-sandbox' }),
  });
  const registered: string[] = [];
  try {
    if (file.knobs) sb.knobs.set(file.knobs);
    if (file.webhookFaults) sb.webhooks.setFaults(file.webhookFaults);
    for (const w of file.webhooks ?? []) {
      const reg = sb.webhooks.register(w);
      registered.push(
        `  Webhook ${reg.id} "${reg.name}" → ${reg.url} (${reg.events.join(', ')})${reg.hasSecret ? ', signed' : ''}`,
      );
    }
  } catch (err) {
    await sb.close();
    throw err;
  }
  let banner = sandboxBanner(sb);
  if (registered.length > 0) banner += registered.join('\n') + '\n';
  if (file.knobs || file.webhookFaults) {
    banner += `  Knobs: ${JSON.stringify(sb.knobs.get())}${file.webhookFaults ? `  webhook faults: ${JSON.stringify(file.webhookFaults)}` : ''}\n`;
  }
  (opts.out ?? process.stdout).write(banner + '\n');
  if (opts.detach) return sb;
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await sb.close();
  return sb;
}
