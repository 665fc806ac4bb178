/**
 * How records close (issue 18 item 2) is checked against the site by `jira-bridge check` and at
 * start-up: a resolution of the table the site has not, a table key that is not a closed host
 * status, and a closed host status whose Jira status no workflow of the mapping has, each at its
 * path with the valid choices.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { sandboxConnectionYaml, startTestService, writeConfig } from '../helpers/service.js';
import { runCli, tempDir } from './helpers.js';

const dirs: string[] = [];
let sb: RunningSandbox;
beforeAll(async () => {
  sb = await startSandbox({ flavour: 'cloud', port: 0 });
});
afterAll(async () => {
  await sb?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const mapping = (resolution: string, statusOut = '{ open: Open, risk_accepted: Closed }') => [
  '  - id: conviso',
  '    connection: sb',
  '    scope: conviso',
  '    project: SEC',
  '    kinds: { vulnerability: { issue_type: Vulnerability } }',
  `    status: { out: ${statusOut}, closed: [fixed, risk_accepted] }`,
  '    close: { status: Resolved }',
  `    resolution: ${resolution}`,
];

describe('how records close, against the site', () => {
  it('`check` names a resolution the site has not and a closed status no workflow has, with the choices', async () => {
    const cwd = tempDir();
    dirs.push(cwd);
    writeFileSync(
      join(cwd, 'jira-bridge.yaml'),
      [
        ...sandboxConnectionYaml(sb),
        'mappings:',
        ...mapping(`{ risk_accepted: "Won't Fix", default: Fixed }`, '{ open: Open, risk_accepted: Done }'),
        '',
      ].join('\n'),
    );
    const r = await runCli(['check'], { cwd });
    const out = r.stdout + r.stderr;
    expect(r.code).toBe(3);
    expect(out).toContain(
      `mappings[0].resolution.risk_accepted: "Won't Fix" is not a Jira resolution; known: Done, Won't Do, Duplicate, Cannot Reproduce, Fixed, False Positive, Risk Accepted`,
    );
    expect(out).toMatch(
      /mappings\[0\]\.status\.out\.risk_accepted: "Done" is in no workflow of the mapping's issue types in SEC/,
    );
    expect(out).not.toContain('mappings[0].resolution.default');
  });

  const startWith = async (lines: string[]): Promise<unknown> => {
    const dir = mkdtempSync(join(tmpdir(), 'jb-closing-start-'));
    dirs.push(dir);
    writeConfig(dir, [...sandboxConnectionYaml(sb), 'mappings:', ...lines]);
    try {
      const svc = await startTestService(dir);
      await svc.stop();
      return null;
    } catch (err) {
      return err;
    }
  };

  it('start-up refuses a resolution the site has not, and a table key that is not a closed host status', async () => {
    const bad = await startWith(mapping(`{ risk_accepted: Risk Acepted, default: Fixed }`));
    expect(bad).toBeInstanceOf(ConfigError);
    expect((bad as ConfigError).issues).toEqual([
      {
        path: 'mappings[0].resolution.risk_accepted',
        message: `"Risk Acepted" is not a Jira resolution; known: Done, Won't Do, Duplicate, Cannot Reproduce, Fixed, False Positive, Risk Accepted`,
      },
    ]);
    const key = await startWith(mapping(`{ risk_acepted: Risk Accepted }`));
    expect(key).toBeInstanceOf(ConfigError);
    expect((key as ConfigError).issues).toEqual([
      {
        path: 'mappings[0].resolution.risk_acepted',
        message: '"risk_acepted" is not a closed host status (status.closed); known: fixed, risk_accepted, default',
      },
    ]);
    // Written right, the same mapping starts.
    expect(await startWith(mapping(`{ risk_accepted: Risk Accepted, default: Fixed }`))).toBeNull();
  });
});
