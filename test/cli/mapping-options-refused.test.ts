/**
 * Issue 18's acceptance: `check`, start-up and the mappings API refuse each bad value of the new
 * mapping options with its path and the valid choices. The filter, the overlap and the resolution
 * table have their own tests (check-filter, check-closing, test/api/mapping-filter,
 * test/api/mappings); here the options checked without Jira: the unmatched-assignee rule, the
 * templates (an unknown placeholder, an unknown template name) and the labels.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/load.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { sandboxConnectionYaml, startTestService, writeConfig } from '../helpers/service.js';
import { runCli } from './helpers.js';

/** Each bad value: the mapping's YAML lines, the API body's part, the path and what the message must say. */
const BAD = [
  {
    what: 'an unmatched-assignee rule that is not one',
    yaml: ['    assignee: { unmatched: drop }'],
    body: { assignee: { unmatched: 'drop' } },
    path: 'assignee.unmatched',
    message: /"drop" is not allowed; expected one of "unassign", "keep"/,
  },
  {
    what: 'a template with an unknown placeholder',
    yaml: ["    templates: { description: 'Device {{ custom.device }} at {{ locaton }}' }"],
    body: { templates: { description: 'Device {{ custom.device }} at {{ locaton }}' } },
    path: 'templates.description',
    message: /unknown variable "locaton"; valid: title, description, status, severity, assignee_email, labels, custom/,
  },
  {
    what: 'a template that is not one of the three',
    yaml: ["    templates: { sumary: '{{ title }}' }"],
    body: { templates: { sumary: '{{ title }}' } },
    path: 'templates.sumary',
    message: /unknown key 'sumary'.*allowed: summary, description, comment_prefix/,
  },
  {
    what: 'a label with a space',
    yaml: ['    labels: [stackflow sync]'],
    body: { labels: ['stackflow sync'] },
    path: 'labels[0]',
    message: /must not contain spaces/,
  },
] as const;

describe('issue 18 options: check, start-up and the mappings API refuse each bad value with its path and the valid choices', () => {
  let sb: RunningSandbox;
  const dirs: string[] = [];
  const dir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'jb-options-'));
    dirs.push(d);
    return d;
  };
  const mapping = (extra: readonly string[]) => [
    'mappings:',
    '  - id: stackflow',
    '    connection: sb',
    '    scope: stackflow',
    '    project: OPS',
    '    kinds: { incident: { issue_type: Incident } }',
    ...extra,
  ];
  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
  });
  afterAll(async () => {
    await sb?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it.each(BAD)('`check` refuses $what', async ({ yaml, path, message }) => {
    const cwd = dir();
    writeFileSync(join(cwd, 'jira-bridge.yaml'), [...sandboxConnectionYaml(sb), ...mapping(yaml), ''].join('\n'));
    const r = await runCli(['check'], { cwd });
    expect(r.code).toBe(2);
    const line = (r.stdout + r.stderr).split('\n').find((l) => l.includes(`mappings[0].${path}:`));
    expect(line).toMatch(message);
  });

  it.each(BAD)('start-up refuses $what', async ({ yaml, path, message }) => {
    const d = dir();
    writeConfig(d, [...sandboxConnectionYaml(sb), ...mapping(yaml)]);
    const err = await startTestService(d).then(
      async (svc) => {
        await svc.stop();
        return null;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    const issue = (err as ConfigError).issues.find((i) => i.path === `mappings[0].${path}`);
    expect(issue?.message).toMatch(message);
  });

  it('the mappings API refuses each at body.<path>, in the same words, and saves nothing', async () => {
    const d = dir();
    writeConfig(d, [...sandboxConnectionYaml(sb)]);
    const svc = await startTestService(d);
    try {
      for (const bad of BAD) {
        const r = await fetch(`${svc.url}/api/v1/mappings/stackflow`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            connection: 'sb',
            scope: 'stackflow',
            project: 'OPS',
            kinds: { incident: { issue_type: 'Incident' } },
            ...bad.body,
          }),
        });
        expect(r.status, bad.what).toBe(400);
        const e = (await r.json()) as { error: { details: { issues: Array<{ path: string; message: string }> } } };
        const apiPath = `body.${bad.path.replace(/\[(\d+)\]/g, '.$1')}`;
        const issue = e.error.details.issues.find((i) => i.path === apiPath || i.path === `body.${bad.path}`);
        expect(issue, `${bad.what}: ${JSON.stringify(e.error.details.issues)}`).toBeDefined();
        expect(issue?.message, `${bad.what}: ${JSON.stringify(e.error.details.issues)}`).toMatch(bad.message);
      }
      expect((await fetch(`${svc.url}/api/v1/mappings/stackflow`)).status).toBe(404);
    } finally {
      await svc.stop();
    }
  });
});
