import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { startSandbox } from '../../src/sandbox/index.js';
import { describeEachEngine, type TestDb } from '../helpers/db.js';
import { issuesOf, startHarness, type Harness } from './harness.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/outbound-worker.ts', import.meta.url));

function runChild(
  openOpts: object,
  baseUrl: string,
  mode: 'crash' | 'run',
): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, JSON.stringify(openOpts), baseUrl, mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_ENV: 'test' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), 45_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err });
    });
  });
}

describeEachEngine('no duplicate issue when the process dies between Jira create and link write', ({ fresh }) => {
  let db: TestDb;
  let h: Harness;
  let sandbox: Awaited<ReturnType<typeof startSandbox>>;

  beforeAll(async () => {
    db = await fresh();
    h = await startHarness(db);
    sandbox = h.sandbox;
  });
  afterAll(async () => {
    await h.close();
  });

  it('a killed child process is restarted and adopts the issue it created: one issue, linked', async () => {
    await h.engine.records.upsertRecord({
      scope: 'astra-web',
      hostId: 'v-killed',
      kind: 'vulnerability',
      title: 'Deserialization RCE (v-killed)',
      status: 'open',
      severity: 'critical',
    });
    const crashed = await runChild(db.openOpts, sandbox.baseUrl, 'crash');
    expect(crashed.signal, crashed.err).toBe('SIGKILL');
    const createdKey = /CREATED (\S+)/.exec(crashed.out)?.[1];
    expect(createdKey).toMatch(/^SEC-\d+$/);
    // Jira has the issue, our store does not know it yet.
    const before = await h.engine.records.getRecord('astra-web', 'v-killed');
    expect(before.link?.state).toBe('creating');
    expect(before.link?.issue_key).toBeNull();

    const restarted = await runChild(db.openOpts, sandbox.baseUrl, 'run');
    expect(restarted.code, restarted.err).toBe(0);
    expect(restarted.out).toContain('DRAINED');
    const after = await h.engine.records.getRecord('astra-web', 'v-killed');
    expect(after.link).toMatchObject({ state: 'linked', issue_key: createdKey });
    expect(after.sync.state).toBe('synced');
    expect(issuesOf(sandbox, 'SEC').filter((i) => i.summary === 'Deserialization RCE (v-killed)')).toHaveLength(1);
    const log = await h.engine.records.getLog('astra-web', 'v-killed');
    expect(log.map((e) => e.action)).toContain('adopted');
  }, 120_000);
});
