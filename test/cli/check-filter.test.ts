/**
 * `jira-bridge check` and mapping ownership (issue 18, items 1 and 3): a JQL filter Jira refuses
 * is reported at mappings[i].filter with Jira's message; two mappings taking the same project's
 * issue types from Jira are reported naming both.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/index.js';
import { runCli, tempDir } from './helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('jira-bridge check: mapping filters and overlapping coverage', () => {
  it('names a filter Jira refuses with Jira’s message, and two mappings that would both own an issue', async () => {
    const sb = await startSandbox({ flavour: 'datacenter', port: 0 });
    const cwd = tempDir();
    dirs.push(cwd);
    try {
      writeFileSync(
        join(cwd, 'jira-bridge.yaml'),
        [
          'connections:',
          '  - id: sb',
          `    site_url: ${sb.baseUrl}`,
          '    flavour: datacenter',
          '    auth: { type: pat, token: "${TOKEN}" }',
          'mappings:',
          '  - id: stackflow',
          '    connection: sb',
          '    scope: stackflow',
          '    project: OPS',
          '    filter: labels = stackflow-sync AND nosuchfield = 1',
          '    kinds: { incident: { issue_type: Incident } }',
          '  - id: itoc',
          '    connection: sb',
          '    scope: itoc',
          '    project: OPS',
          '    kinds: { alert: { issue_type: Incident } }',
          '  - id: infra',
          '    connection: sb',
          '    scope: infra',
          '    project: INFRA',
          '    filter: labels = infra',
          '    kinds: { incident: { issue_type: Task } }',
          '',
        ].join('\n'),
      );
      const r = await runCli(['check'], { cwd, env: { TOKEN: sb.credentials.pat } });
      const out = r.stdout + r.stderr;
      expect(r.code).toBe(3);
      expect(out).toMatch(/mappings\[0\]\.filter: Jira refuses this JQL: .*nosuchfield/);
      expect(out).toContain(
        'mappings[1].kinds.alert.issue_type: mapping "itoc" and mapping "stackflow" (mappings[0]) both take issues of OPS (Incident)',
      );
      expect(out).not.toContain('mappings[2].filter');
    } finally {
      await sb.close();
    }
  });
});
