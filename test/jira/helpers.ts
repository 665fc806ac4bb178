import { createJiraClient, type JiraClient, type JiraClientOptions } from '../../src/jira/client.js';
import { Pacer } from '../../src/jira/pacer.js';
import type { JiraConnection } from '../../src/jira/transport.js';
import { startSandbox, type RunningSandbox, type SandboxOptions } from '../../src/sandbox/index.js';

export type Flavour = 'cloud' | 'datacenter';
export const FLAVOURS: Flavour[] = ['cloud', 'datacenter'];

let n = 0;

/** A connection to the sandbox as a seeded user, authenticating the way the flavour does. */
export function connectionFor(
  sb: RunningSandbox,
  user = 'admin',
  how: 'default' | 'oauth' = 'default',
): JiraConnection {
  const u = sb.credentials.users[user];
  if (!u) throw new Error(`no sandbox user ${user}`);
  const id = `conn-${sb.flavour}-${user}-${++n}`;
  if (how === 'oauth') {
    return {
      id,
      siteUrl: sb.baseUrl,
      flavour: sb.flavour,
      auth: { type: 'oauth', getAccessToken: async () => u.oauthToken, apiBase: sb.baseUrl },
    };
  }
  return sb.flavour === 'cloud'
    ? { id, siteUrl: sb.baseUrl, flavour: 'cloud', auth: { type: 'basic', email: u.loginEmail, apiToken: u.apiToken } }
    : { id, siteUrl: sb.baseUrl, flavour: 'datacenter', auth: { type: 'pat', token: u.pat } };
}

export interface Env {
  sb: RunningSandbox;
  jira: JiraClient;
  close(): Promise<void>;
}

export async function env(flavour: Flavour, opts: JiraClientOptions = {}, sbOpts: SandboxOptions = {}): Promise<Env> {
  const sb = await startSandbox({ flavour, port: 0, ...sbOpts });
  const jira = createJiraClient(connectionFor(sb), { pacer: new Pacer(), backoffMs: 1, ...opts });
  return {
    sb,
    jira,
    async close() {
      await jira.close();
      await sb.close();
    },
  };
}

/** A text body in the flavour's format: ADF on Cloud, wiki markup on Data Center. */
export function text(flavour: Flavour, s: string): string | { type: 'doc'; version: 1; content: unknown[] } {
  return flavour === 'cloud'
    ? { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: s }] }] }
    : s;
}
