/**
 * `jira-bridge apply --mapping <id>` (issue 19 item 2): the mapping as the file has it now reaches
 * the records linked with its earlier version, in this process, with progress and the totals.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { wireEngine } from '../../src/app/engine-wiring.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { createQueue } from '../../src/queue/index.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { openStore } from '../../src/store/index.js';
import { sandboxUserClient } from '../helpers/service.js';
import { runCli, tempDir } from './helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('jira-bridge apply', () => {
  it('re-syncs every linked record of the mapping, writing only what differs, and prints the totals', async () => {
    const sb = await startSandbox({ flavour: 'cloud', port: 0 });
    const cwd = tempDir();
    dirs.push(cwd);
    const config = (high: string) =>
      writeFileSync(
        join(cwd, 'jira-bridge.yaml'),
        [
          'database: { data_dir: ./data }',
          'connections:',
          '  - id: sb',
          `    site_url: ${sb.baseUrl}`,
          '    flavour: cloud',
          `    auth: { type: basic, email: ${sb.credentials.email}, api_token: ${sb.credentials.apiToken} }`,
          '    sweep: { interval_seconds: 0 }',
          'mappings:',
          '  - id: web',
          '    connection: sb',
          '    scope: web',
          '    project: SEC',
          '    kinds: { vulnerability: { issue_type: Vulnerability } }',
          `    priority: { out: { high: ${high}, low: Low }, out_default: Medium }`,
          '',
        ].join('\n'),
      );
    try {
      config('High');
      // Six records linked with the first version of the mapping.
      const { config: loaded } = await loadConfig({ path: join(cwd, 'jira-bridge.yaml'), env: {} });
      const store = await openStore({ dataDir: join(cwd, 'data') });
      await store.migrate();
      const wired = await wireEngine({
        config: loaded,
        store,
        queue: createQueue(store),
        metrics: createMetrics({ defaultMetrics: false }),
        logger: createLogger({ level: 'silent' }),
        dataDir: join(cwd, 'data'),
      });
      const keys: string[] = [];
      for (let i = 0; i < 6; i++) {
        const r = await wired.engine.records.upsertRecord({
          scope: 'web',
          hostId: `V-${i}`,
          kind: 'vulnerability',
          title: `Finding ${i}`,
          status: 'open',
          severity: i < 2 ? 'high' : 'low',
        });
        await wired.engine.syncRecord(r.record.id);
        keys.push((await wired.engine.records.getRecord('web', `V-${i}`)).link!.issue_key!);
      }
      await wired.close();
      await store.close();
      const alice = sandboxUserClient(sb, 'alice');
      const priorities = async () =>
        Promise.all(
          keys.map(
            async (k) => ((await alice.getIssue(k, { fields: ['priority'] })).fields.priority as { name: string }).name,
          ),
        );
      expect((await priorities())[0]).toBe('High');

      // The file's mapping changes: high → Highest. Applying it writes the two high ones only.
      config('Highest');
      sb.calls.reset();
      const r = await runCli(['apply', '--mapping', 'web'], { cwd, timeoutMs: 60_000 });
      expect(r.stderr).not.toContain(sb.credentials.apiToken);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('apply web: 6/6 re-synced — 2 changed, 4 unchanged, 0 failed, 8 Jira call(s) — done');
      expect(r.stderr).toContain('apply web:'); // progress lines (not a TTY: a line per change)
      expect(sb.calls.count({ method: 'PUT' })).toBe(2);
      expect(sb.calls.count({ method: 'GET' })).toBe(6);
      expect(await priorities()).toEqual(['Highest', 'Highest', 'Low', 'Low', 'Low', 'Low']);
      await alice.close();

      const unknown = await runCli(['apply', '--mapping', 'nope'], { cwd });
      expect(unknown.code).not.toBe(0);
      expect(unknown.stderr).toContain('No mapping "nope"');
    } finally {
      await sb.close();
    }
  });
});
