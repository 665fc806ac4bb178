import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from './helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const dir = () => {
  const d = tempDir();
  dirs.push(d);
  return d;
};

// The one-shot commands that work from the configuration file say why they cannot start.
describe.each([
  ['backfill', ['--scope', 'web']],
  ['apply', ['--mapping', 'web']],
] as const)('jira-bridge %s without a usable configuration', (command, args) => {
  it('exits 2 naming --config when no file is found', async () => {
    const r = await runCli([command, ...args], { cwd: dir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `jira-bridge ${command}: no configuration file found; ${command} needs jira-bridge.yaml (--config <path>).`,
    );
  });
  it('exits 2 with each problem as "path: message" for an invalid file', async () => {
    const cwd = dir();
    writeFileSync(join(cwd, 'jira-bridge.yaml'), 'connections:\n  - id: sb\n    flavour: moon\nmappings: []\n');
    const r = await runCli([command, ...args], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/connections\[0\]\.flavour/);
  });
});
