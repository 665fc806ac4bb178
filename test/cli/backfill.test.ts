import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { wireEngine } from '../../src/app/engine-wiring.js';
import { loadConfig } from '../../src/config/load.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { createQueue } from '../../src/queue/index.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { openStore } from '../../src/store/index.js';
import { runCli, tempDir } from './helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('jira-bridge backfill', () => {
  it('creates every unlinked record of a scope in bulk calls of 50 and prints the totals', async () => {
    const sb = await startSandbox({ flavour: 'cloud', port: 0 });
    const cwd = tempDir();
    dirs.push(cwd);
    try {
      writeFileSync(
        join(cwd, 'jira-bridge.yaml'),
        [
          'database: { data_dir: ./data }',
          'connections:',
          '  - id: sb',
          `    site_url: ${sb.baseUrl}`,
          '    flavour: cloud',
          `    auth: { type: basic, email: ${sb.credentials.email}, api_token: ${sb.credentials.apiToken} }`,
          'mappings:',
          '  - id: web',
          '    connection: sb',
          '    scope: web',
          '    project: SEC',
          '    kinds: { vulnerability: { issue_type: Vulnerability } }',
          '    priority: { out: { high: High }, out_default: Medium }',
          '',
        ].join('\n'),
      );
      // Records arrive through the record service while no worker runs (as after an import).
      const { config } = await loadConfig({ path: join(cwd, 'jira-bridge.yaml'), env: {} });
      const store = await openStore({ dataDir: join(cwd, 'data') });
      await store.migrate();
      const wired = await wireEngine({
        config,
        store,
        queue: createQueue(store),
        metrics: createMetrics({ defaultMetrics: false }),
        logger: (await import('../../src/log/logger.js')).createLogger({ level: 'silent' }),
        dataDir: join(cwd, 'data'),
      });
      for (let i = 0; i < 60; i++) {
        await wired.engine.records.upsertRecord({
          scope: 'web',
          hostId: `V-${i}`,
          kind: 'vulnerability',
          title: `Finding ${i}`,
          status: 'open',
          severity: i % 2 ? 'high' : 'low',
        });
      }
      await wired.close();
      await store.close();
      sb.calls.reset();

      const r = await runCli(['backfill', '--scope', 'web'], { cwd });
      expect(r.stderr).not.toContain(sb.credentials.apiToken);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('backfill web: 60/60 created, 0 failed, 2 bulk call(s) — done');
      expect(sb.calls.count({ method: 'POST', route: '/rest/api/3/issue/bulk' })).toBe(2);
      expect(sb.calls.count({ method: 'POST', route: '/rest/api/3/issue' })).toBe(0);
    } finally {
      await sb.close();
    }
  });
});
