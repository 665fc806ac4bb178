/**
 * Compatibility with the Python `jira` library as Debian ships it (python3-jira, installed by
 * `scripts/install-jira-clients.sh`, part of .ci/run): `python-jira-scenario.py` runs a day of
 * work through the library against the sandbox on a real port — on Data Center with a username and
 * password over REST v2 and with a PAT over /rest/api/latest, on Cloud with email + API token —
 * and prints what it read back. The library assigns through PUT /issue/{key}/assignee, links with
 * "comment": null and calls /rest/api/latest for some operations, as its users' Jira sees it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';

const run = promisify(execFile);
/** Debian's interpreter: python3-jira lives in its dist-packages, not in another Python on PATH. */
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'python-jira-scenario.py');

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function scenario(sb: RunningSandbox, args: string[]): Promise<Json> {
  const { stdout } = await run(PYTHON, [SCRIPT, sb.baseUrl, sb.flavour, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return JSON.parse(stdout) as Json;
}

const DESCRIPTION = 'Seen on devices/dev-881 after the *firmware* update; see OPS-1 too.';

describe('python3-jira (Debian) against the sandbox', () => {
  beforeAll(async () => {
    const ok =
      existsSync(PYTHON) &&
      (await run(PYTHON, ['-c', 'import jira'], { encoding: 'utf8' }).then(
        () => true,
        () => false,
      ));
    if (!ok)
      throw new Error(
        `${PYTHON} cannot import jira: run scripts/install-jira-clients.sh (apt-get install python3-jira), as .ci/run does`,
      );
  });

  describe('Data Center', () => {
    let sb: RunningSandbox;
    beforeAll(async () => {
      sb = await startSandbox({ flavour: 'datacenter', port: 0 });
    });
    afterAll(async () => {
      await sb?.close();
    });

    it('username + password, REST v2: create, read, edit, transition, comment, search, assign, watch, link with comment: null', async () => {
      const out = await scenario(sb, ['admin', sb.credentials.password, 'basic', '2']);
      expect(out).toEqual({
        myself: 'admin',
        deploymentType: 'Server',
        key: 'OPS-1',
        summary: 'EB-L1500U projector offline',
        description: DESCRIPTION,
        status: 'To Do',
        edited: 'EB-L1500U projector offline (room 4)',
        transitioned: 'In Progress',
        comments: ['Replaced the lamp; EB-L1500U is back.'],
        search: ['OPS-1'],
        assignee: 'alice',
        watchers: { count: 2, watchers: ['admin', 'bob'] },
        links: [{ type: 'Relates', other: 'OPS-2' }, { expected: 'OPS-2' }],
        calls: expect.arrayContaining(['GET /rest/api/2/myself', 'PUT /rest/api/latest/issue/OPS-1/assignee']),
      });
      expect(sb.calls.count({ status: 401 })).toBe(0);
    });

    it('a PAT (token_auth) with rest_api_version latest: the same day through /rest/api/latest', async () => {
      const out = await scenario(sb, ['', sb.credentials.users.alice!.pat, 'token', 'latest']);
      expect(out).toMatchObject({
        myself: 'alice',
        summary: 'EB-L1500U projector offline',
        description: DESCRIPTION,
        edited: 'EB-L1500U projector offline (room 4)',
        transitioned: 'In Progress',
        comments: ['Replaced the lamp; EB-L1500U is back.'],
        assignee: 'alice',
        links: [{ type: 'Relates' }, {}],
      });
      expect(out.search).toContain(out.key);
      expect(out.watchers.watchers).toEqual(expect.arrayContaining(['alice', 'bob']));
      const calls = out.calls as string[];
      expect(calls).toEqual(
        expect.arrayContaining([
          'POST /rest/api/latest/issue',
          'PUT /rest/api/latest/issue/OPS-3/assignee',
          'POST /rest/api/latest/issueLink',
        ]),
      );
      // Only Issue.update() leaves latest: it follows the issue's `self`, which names version 2.
      expect(calls.filter((c) => !c.includes('/rest/api/latest/'))).toEqual([
        expect.stringMatching(/^PUT \/rest\/api\/2\/issue\/\d+$/),
        expect.stringMatching(/^GET \/rest\/api\/2\/issue\/\d+$/),
      ]);
    });
  });

  describe('Cloud', () => {
    let sb: RunningSandbox;
    beforeAll(async () => {
      sb = await startSandbox({ flavour: 'cloud', port: 0 });
    });
    afterAll(async () => {
      await sb?.close();
    });

    it('email + API token: the same day by accountId; its GET /rest/api/2/search is the 410 Cloud answers', async () => {
      const out = await scenario(sb, [sb.credentials.email, sb.credentials.apiToken, 'basic', '2']);
      const alice = sb.credentials.users.alice!;
      const bob = sb.credentials.users.bob!;
      expect(out).toMatchObject({
        myself: sb.state.adminAccountId,
        deploymentType: 'Cloud',
        summary: 'EB-L1500U projector offline',
        description: DESCRIPTION,
        status: 'To Do',
        edited: 'EB-L1500U projector offline (room 4)',
        transitioned: 'In Progress',
        comments: ['Replaced the lamp; EB-L1500U is back.'],
        assignee: alice.accountId,
        watchers: { count: 2, watchers: [sb.state.adminAccountId, bob.accountId] },
        links: [{ type: 'Relates', other: 'OPS-2' }, { expected: 'OPS-2' }],
      });
      expect(out.search.error).toMatch(/^410 The requested API has been removed/);
    });

    it('a password instead of the API token is refused with a 401, as Atlassian refuses it', async () => {
      await expect(scenario(sb, [sb.credentials.email, sb.credentials.password, 'basic', '2'])).rejects.toThrow(/401/);
    });
  });
});
