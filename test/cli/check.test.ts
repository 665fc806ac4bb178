import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/index.js';
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

  it('with an invalid file exits 2 and prints each problem as "path: message"', async () => {
    const cwd = tempDir();
    dirs.push(cwd);
    writeFileSync(
      join(cwd, 'jira-bridge.yaml'),
      'connections:\n  - id: acme\n    site_url: acme.example\n    flavour: cloud\n    auth: { type: pat, token: t }\n    tls: { verfy: false }\n',
    );
    const r = await runCli(['check'], { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/connections\[0\]\.site_url: must be an absolute http\(s\) URL/);
    expect(r.stderr).toMatch(/connections\[0\]\.tls\.verfy: unknown key 'verfy' — did you mean 'verify'\?/);
  });

  it('checks every mapping against a running sandbox and names a wrong priority', async () => {
    const sb = await startSandbox({ flavour: 'cloud', port: 0 });
    const cwd = tempDir();
    dirs.push(cwd);
    try {
      writeFileSync(
        join(cwd, 'jira-bridge.yaml'),
        [
          'connections:',
          '  - id: sb',
          `    site_url: ${sb.baseUrl}`,
          '    flavour: cloud',
          `    auth: { type: basic, email: ${sb.credentials.email}, api_token: "\${TOKEN}" }`,
          'mappings:',
          '  - id: web',
          '    connection: sb',
          '    scope: web',
          '    project: SEC',
          '    kinds: { vulnerability: { issue_type: Vulnerability } }',
          '    priority: { out: { Critical: Hihgest } }',
          '',
        ].join('\n'),
      );
      const r = await runCli(['check'], { cwd, env: { TOKEN: sb.credentials.apiToken } });
      expect(r.code).toBe(3);
      expect(r.stdout + r.stderr).toContain(
        'mappings[0].priority.out.Critical: "Hihgest" is not a Jira priority; known: Highest, High, Medium, Low, Lowest',
      );
      expect(r.stdout + r.stderr).not.toContain(sb.credentials.apiToken);
    } finally {
      await sb.close();
    }
  });
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
