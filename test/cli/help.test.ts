import { describe, expect, it } from 'vitest';
import { runCli } from './helpers.js';

describe('jira-bridge --help', () => {
  it('lists every command, the global options, the environment and the exit codes', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const cmd of ['serve', 'migrate', 'check', 'sandbox'])
      expect(r.stdout).toMatch(new RegExp(`^  ${cmd}\\b`, 'm'));
    expect(r.stdout).toContain('--config <path>');
    expect(r.stdout).toContain('--version');
    expect(r.stdout).toMatch(/Exit codes:\n {2}0 .*\n {2}1 .*\n {2}2 .*invalid configuration.*\n {2}3 .*check/);
    expect(r.stdout).toContain('DATABASE_URL');
  });

  it.each([
    ['serve', /run the service/],
    ['migrate', /apply pending database migrations/],
    ['check', /--offline/],
    ['sandbox', /--flavour <flavour>[\s\S]*"cloud", "datacenter"[\s\S]*--port <port>[\s\S]*--host <host>/],
  ])('%s --help describes the command and the exit codes', async (cmd, pattern) => {
    const r = await runCli([cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: jira-bridge ${cmd}`);
    expect(r.stdout).toMatch(pattern);
    expect(r.stdout).toContain('Exit codes:');
  });

  it('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('an unknown command exits 2 naming it', async () => {
    const r = await runCli(['serv']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'serv'");
  });

  it('a bad option value exits 2 with the allowed values', async () => {
    const r = await runCli(['sandbox', '--flavour', 'server']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Allowed choices are cloud, datacenter/);
  });
});
