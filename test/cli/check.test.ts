import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from './helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('jira-bridge check', () => {
  it('with no configuration file exits 2 and says how to start', async () => {
    const cwd = tempDir();
    dirs.push(cwd);
    const r = await runCli(['check'], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no configuration file found');
    expect(r.stderr).toContain('examples/jira-bridge.example.yaml');
  });

  // TODO(config, H2): once src/config/load.ts exists, add: an invalid jira-bridge.yaml exits 2
  // printing each issue as "path: message" (e.g. mappings[0].priority.out.Critical: "Hihgest" is
  // not a Jira priority; known: …), and a valid one against the sandbox prints ✓ per mapping.
});

describe('jira-bridge serve with an unreadable configuration', () => {
  it('exits 2 naming the file, without starting anything', async () => {
    const cwd = tempDir();
    dirs.push(cwd);
    const r = await runCli(['--config', 'missing.yaml', 'serve'], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('missing.yaml');
    expect(existsSync(join(cwd, 'data'))).toBe(false);
  });
});
