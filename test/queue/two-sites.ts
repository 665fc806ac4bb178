import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoOpsMapping } from '../../src/engine/demo-mappings.js';
import { jiraPortFromClient } from '../../src/engine/jira-port.js';
import { staticMappingSource } from '../../src/engine/mapping-source.js';
import type { JiraPort } from '../../src/engine/types.js';
import { createJiraClient } from '../../src/jira/client.js';
import { dropPacer } from '../../src/jira/pacer.js';
import { startSandbox } from '../../src/sandbox/index.js';

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

/**
 * Two customers, each a connection on its own sandbox site (Cloud) with one OPS mapping
 * (`m-<name>`, scope `<name>-incidents`): the sites, the connection ids (`<name>-<tag>`), a
 * connection's client settings, the engine's Jira ports and mapping source, an attachment folder;
 * close() drops both pacers, stops both sites and removes the folder.
 */
export async function twoSites<N extends string>(names: readonly [N, N], tag: string, dirPrefix: string) {
  const site = {} as Record<N, Sandbox>;
  const ids = {} as Record<N, string>;
  for (const n of names) {
    site[n] = await startSandbox({ flavour: 'cloud', port: 0 });
    ids[n] = `${n}-${tag}`;
  }
  const dataDir = mkdtempSync(join(tmpdir(), dirPrefix));
  const conn = (n: N) => ({
    id: ids[n],
    siteUrl: site[n].baseUrl,
    flavour: 'cloud' as const,
    auth: { type: 'basic' as const, email: site[n].credentials.email, apiToken: site[n].credentials.apiToken },
  });
  const ports: Record<string, JiraPort> = Object.fromEntries(
    names.map((n) => [ids[n], jiraPortFromClient(createJiraClient(conn(n)), { searchLagMs: 0 })]),
  );
  const mappings = staticMappingSource(
    names.map((n) => demoOpsMapping(ids[n], { id: `m-${n}`, scope: `${n}-incidents` })),
    names.map((n) => ({ id: ids[n], name: n, flavour: 'cloud' as const, siteUrl: site[n].baseUrl })),
  );
  return {
    site,
    ids,
    conn,
    jira: (id: string): JiraPort => ports[id]!,
    mappings,
    dataDir,
    async close(): Promise<void> {
      for (const n of names) dropPacer(ids[n]);
      for (const n of names) await site[n].close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
