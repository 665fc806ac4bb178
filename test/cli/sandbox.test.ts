import { afterAll, describe, expect, it } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, runCli, spawnCli, tempDir, type Spawned } from './helpers.js';

const procs: Spawned[] = [];
afterAll(() => {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
});

async function waitFor(cond: () => boolean, proc: Spawned, what: string): Promise<void> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    if (cond()) return;
    if (proc.child.exitCode !== null) throw new Error(`exited before ${what}\nstderr: ${proc.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}\nstdout: ${proc.stdout()}\nstderr: ${proc.stderr()}`);
}

describe('jira-bridge sandbox', () => {
  it.each(['cloud', 'datacenter'] as const)(
    'runs the %s sandbox on the given port and stops with exit 0 on SIGTERM',
    async (flavour) => {
      const port = await freePort();
      const proc = spawnCli(['sandbox', '--flavour', flavour, '--port', String(port)]);
      procs.push(proc);
      await waitFor(() => proc.stdout().includes(`listening on http://127.0.0.1:${port}`), proc, 'the banner');
      const apiVersion = flavour === 'cloud' ? '3' : '2';
      const res = await fetch(`http://127.0.0.1:${port}/rest/api/${apiVersion}/serverInfo`);
      expect(res.status).toBe(200);
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toEqual({ code: 0, signal: null });
    },
  );

  it('refuses an invalid sandbox file with exit 2, naming each path', async () => {
    const dir = tempDir('jb-sandbox-');
    const file = join(dir, 'sandbox.yaml');
    writeFileSync(file, 'port: 99999\nknobs: { errorStatus: 418 }\n');
    try {
      const r = await runCli(['sandbox', '--config', file]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`the sandbox file ${file} is invalid`);
      expect(r.stderr).toMatch(/port: .*<=65535/);
      expect(r.stderr).toMatch(/knobs\.errorStatus: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
