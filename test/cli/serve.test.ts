import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SQLITE_FILE } from '../../src/store/index.js';
import { freePort, runCli, spawnCli, tempDir, waitForStatus, type Spawned } from './helpers.js';

const dirs: string[] = [];
const procs: Spawned[] = [];
afterAll(() => {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('jira-bridge serve with no configuration (demo mode)', () => {
  it('comes up against the built-in sandbox, answers ready, renders /docs, and stops cleanly on SIGTERM', async () => {
    const cwd = tempDir('jb-serve-');
    dirs.push(cwd);
    const port = await freePort();
    const proc = spawnCli([], { cwd, env: { PORT: String(port) } });
    procs.push(proc);
    const base = `http://127.0.0.1:${port}`;

    const ready = await waitForStatus(`${base}/readyz`, 200, proc);
    const body = (await ready.json()) as { ready: boolean; checks: Record<string, { ok: boolean }> };
    expect(body.ready).toBe(true);
    expect(body.checks.store?.ok).toBe(true);
    expect(body.checks.migrations?.ok).toBe(true);

    // The loud banner, naming the sandbox URL, the data directory and what to do next.
    const banner = proc.stderr();
    expect(banner).toContain('DEMO MODE: no jira-bridge.yaml found');
    expect(banner).toMatch(/Jira sandbox : http:\/\/127\.0\.0\.1:\d+/);
    expect(banner).toContain(join(cwd, 'data'));
    expect(banner).toContain('examples/jira-bridge.example.yaml');
    expect(existsSync(join(cwd, 'data', SQLITE_FILE))).toBe(true);

    const docs = await fetch(`${base}/docs`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toMatch(/text\/html/);
    expect(await docs.text()).toMatch(/swagger-ui/i);

    const spec = (await (await fetch(`${base}/openapi.json`)).json()) as { openapi: string; paths: object };
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toContain('/api/v1/jobs');

    const jobs = await fetch(`${base}/api/v1/jobs`, { headers: { 'x-request-id': 'e2e-1' } });
    expect(jobs.status).toBe(200);
    expect(jobs.headers.get('x-request-id')).toBe('e2e-1');

    // Both directions on the first run: a record becomes an issue; a person's edit in the
    // sandbox comes back through its signed webhook.
    const sandboxUrl = /Jira sandbox : (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)![1]!;
    const put = await fetch(`${base}/api/v1/records/stackflow-incidents/demo-1`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'incident', title: 'Checkout is slow', status: 'new', severity: 'P2' }),
    });
    expect(put.status).toBeLessThan(300);
    let key: string | null = null;
    for (let i = 0; i < 400 && !key; i++) {
      const r = (await (await fetch(`${base}/api/v1/records/stackflow-incidents/demo-1`)).json()) as {
        link: { issue_key: string | null } | null;
      };
      key = r.link?.issue_key ?? null;
      if (!key) await new Promise((res) => setTimeout(res, 25));
    }
    expect(key).toMatch(/^OPS-/);
    const edit = await fetch(`${sandboxUrl}/_sandbox/issues/${key}/edit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ as: 'alice', fields: { summary: 'Checkout is slow (root cause: cache)' } }),
    });
    expect(edit.status).toBe(204);
    let title = '';
    for (let i = 0; i < 400 && title !== 'Checkout is slow (root cause: cache)'; i++) {
      title = ((await (await fetch(`${base}/api/v1/records/stackflow-incidents/demo-1`)).json()) as { title: string })
        .title;
      if (title !== 'Checkout is slow (root cause: cache)') await new Promise((res) => setTimeout(res, 25));
    }
    expect(title).toBe('Checkout is slow (root cause: cache)');

    proc.child.kill('SIGTERM');
    const exit = await proc.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });

  it('refuses a port that is not a number, exit 2, without starting anything', async () => {
    const cwd = tempDir('jb-serve-');
    dirs.push(cwd);
    const proc = spawnCli(['serve'], { cwd, env: { PORT: 'eighty' } });
    procs.push(proc);
    const exit = await proc.exited;
    expect(exit.code).toBe(2);
    expect(proc.stderr()).toContain('PORT: "eighty" is not a whole number between 0 and 65535');
    expect(existsSync(join(cwd, 'data'))).toBe(false);
  });

  it('refuses a file whose parts do not fit together (a connection twice, a mapping naming none), exit 2, nothing served', async () => {
    const cwd = tempDir('jb-serve-');
    dirs.push(cwd);
    const conn = (id: string): string[] => [
      `  - id: ${id}`,
      '    site_url: https://acme.atlassian.net',
      '    flavour: cloud',
      '    auth: { type: basic, email: a@acme.example, api_token: t }',
    ];
    writeFileSync(
      join(cwd, 'jira-bridge.yaml'),
      [
        'connections:',
        ...conn('acme'),
        ...conn('acme'),
        'mappings:',
        '  - id: web',
        '    connection: acne',
        '    scope: web',
        '    project: SEC',
        '    kinds: { vulnerability: { issue_type: Bug } }',
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const r = await runCli(['serve'], { cwd, env: { PORT: String(port) } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('connections[1].id: duplicate connection id "acme"');
    expect(r.stderr).toContain('mappings[0].connection: "acne" is not a connection; known: acme');
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});
