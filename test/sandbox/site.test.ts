/**
 * The site file: the sandbox modelled on the user's own Jira (the `site` section of the sandbox
 * file, `POST /_sandbox/site`). Loads examples/sandbox-site.example.yaml and drives it over real
 * HTTP the way jira-bridge and a Jira user would.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxCommand } from '../../src/cli/commands/sandbox.js';
import { runSandboxCommand } from '../../src/sandbox/cli.js';
import { loadSandboxFile, parseSandboxFile, SandboxFileError } from '../../src/sandbox/config-file.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';

const EXAMPLE = 'examples/sandbox-site.example.yaml';

function sink(): { stream: Writable; text: () => string } {
  let out = '';
  return {
    stream: new Writable({
      write(chunk: Buffer, _enc, cb) {
        out += chunk.toString('utf8');
        cb();
      },
    }),
    text: () => out,
  };
}

function client(sb: RunningSandbox, user = 'admin') {
  const u = sb.credentials.users[user]!;
  const authorization =
    sb.flavour === 'cloud'
      ? `Basic ${Buffer.from(`${u.loginEmail}:${u.apiToken}`).toString('base64')}`
      : `Bearer ${u.pat}`;
  // The tests read Jira's answers loosely, as a client's own JSON handling would.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> => {
    const res = await fetch(`${sb.baseUrl}${path}`, {
      method,
      headers: { authorization, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
  };
}

function problems(text: string): string[] {
  try {
    parseSandboxFile(text, {});
  } catch (e) {
    expect(e).toBeInstanceOf(SandboxFileError);
    return (e as SandboxFileError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected the file to be refused');
}

describe('a site declared in the sandbox file (examples/sandbox-site.example.yaml)', () => {
  let sb: RunningSandbox;
  let jira: ReturnType<typeof client>;
  const banner = sink();

  beforeAll(async () => {
    const file = loadSandboxFile(EXAMPLE, {});
    sb = await runSandboxCommand({ port: 0, host: '127.0.0.1', file, out: banner.stream, detach: true });
    jira = client(sb);
  });
  afterAll(async () => {
    await sb?.close();
  });

  const fieldId = async (name: string): Promise<string> => {
    const fields = (await jira('GET', '/rest/api/3/field')).json as Array<{ id: string; name: string }>;
    const f = fields.find((x) => x.name === name);
    if (!f) throw new Error(`no field ${name}`);
    return f.id;
  };
  const transitionTo = async (key: string, status: string): Promise<string> => {
    const ts = (await jira('GET', `/rest/api/3/issue/${key}/transitions`)).json as {
      transitions: Array<{ id: string; to: { name: string } }>;
    };
    const t = ts.transitions.find((x) => x.to.name === status);
    if (!t) throw new Error(`no transition of ${key} to ${status}`);
    return t.id;
  };

  it('replaces the seed: its users, projects, priorities and statuses, and no others', async () => {
    expect(banner.text()).toContain('admin@acme.example');
    expect(banner.text()).toContain('sandbox-api-token-admin');
    const projects = (await jira('GET', '/rest/api/3/project')).json as Array<{ key: string }>;
    expect(projects.map((p) => p.key).sort()).toEqual(['INFRA', 'ITSD', 'SEC']);
    const priorities = (await jira('GET', '/rest/api/3/priority')).json as Array<{ name: string }>;
    expect(priorities.map((p) => p.name)).toEqual(['Critical', 'High', 'Medium', 'Low']);
    const statuses = (await jira('GET', '/rest/api/3/status')).json as Array<{
      name: string;
      statusCategory: { key: string };
    }>;
    expect(statuses.find((s) => s.name === 'Done')?.statusCategory.key).toBe('indeterminate');
    expect(statuses.map((s) => s.name)).toEqual(expect.arrayContaining(['Blocked', 'On Hold']));
    // bob's profile hides his email on Cloud.
    const bob = await jira('GET', `/rest/api/3/user?accountId=${sb.credentials.users.bob!.accountId}`);
    expect(bob.json.displayName).toBe('Bob Builder');
    expect(bob.json.emailAddress).toBeUndefined();
    expect((await client(sb, 'bob')('GET', '/rest/api/3/myself')).status).toBe(200);
  });

  it('answers Jira 400 for a create without the field required on create, and creates with it', async () => {
    const severity = await fieldId('Severity');
    const without = await jira('POST', '/rest/api/3/issue', {
      fields: { project: { key: 'SEC' }, issuetype: { name: 'Vulnerability' }, summary: 'No severity' },
    });
    expect(without.status).toBe(400);
    expect(without.json).toEqual({ errorMessages: [], errors: { [severity]: 'Severity is required.' } });
    const meta = await jira('GET', '/rest/api/3/issue/createmeta/SEC/issuetypes');
    const vuln = (meta.json.issueTypes as Array<{ id: string; name: string }>).find((t) => t.name === 'Vulnerability')!;
    const fields = await jira('GET', `/rest/api/3/issue/createmeta/SEC/issuetypes/${vuln.id}`);
    expect(
      (fields.json.results as Array<{ fieldId: string; required: boolean }>).find((f) => f.fieldId === severity)
        ?.required,
    ).toBe(true);
    // A Task does not need it, and INFRA's screens do not carry it.
    const task = await jira('POST', '/rest/api/3/issue', {
      fields: { project: { key: 'SEC' }, issuetype: { name: 'Task' }, summary: 'A task' },
    });
    expect(task.status).toBe(201);
    const infra = await jira('POST', '/rest/api/3/issue', {
      fields: { project: { key: 'INFRA' }, issuetype: { name: 'Task' }, summary: 'x', [severity]: { value: 'High' } },
    });
    expect(infra.status).toBe(400);
    expect(Object.keys(infra.json.errors)).toEqual([severity]);
  });

  it('walks the declared workflow: Blocked needs its screen field, Done is not done, Critical is searchable', async () => {
    const severity = await fieldId('Severity');
    const created = await jira('POST', '/rest/api/3/issue', {
      fields: {
        project: { key: 'SEC' },
        issuetype: { name: 'Vulnerability' },
        summary: 'RCE in the upload handler',
        priority: { name: 'Critical' },
        [severity]: { value: 'Critical' },
      },
    });
    expect(created.status).toBe(201);
    const key = created.json.key as string;

    expect(
      (
        await jira('POST', `/rest/api/3/issue/${key}/transitions`, {
          transition: { id: await transitionTo(key, 'In Progress') },
        })
      ).status,
    ).toBe(204);
    const block = await transitionTo(key, 'Blocked');
    const reason = await fieldId('Blocked Reason');
    const refused = await jira('POST', `/rest/api/3/issue/${key}/transitions`, { transition: { id: block } });
    expect(refused.status).toBe(400);
    expect(refused.json.errors).toEqual({ [reason]: `Field '${reason}' is required` });
    const doc = {
      type: 'doc',
      version: 1,
      content: [{ type: 'paragraph', content: [{ type: 'text', text: 'Waiting on the platform team' }] }],
    };
    const blocked = await jira('POST', `/rest/api/3/issue/${key}/transitions`, {
      transition: { id: block },
      fields: { [reason]: doc },
    });
    expect(blocked.status).toBe(204);
    const issue = await jira('GET', `/rest/api/3/issue/${key}?fields=status,priority`);
    expect(issue.json.fields.status.name).toBe('Blocked');
    expect(issue.json.fields.priority.name).toBe('Critical');

    const search = async (jql: string): Promise<string[]> => {
      const res = await jira('POST', '/rest/api/3/search/jql', { jql, fields: ['summary'] });
      expect(res.status, JSON.stringify(res.json)).toBe(200);
      return (res.json.issues as Array<{ key: string }>).map((i) => i.key);
    };
    expect(await search('priority = Critical')).toEqual([key]);
    expect(await search('status = Blocked')).toEqual([key]);

    // Unblock, then "Done": named Done, category indeterminate, so the issue is not done yet.
    await jira('POST', `/rest/api/3/issue/${key}/transitions`, {
      transition: { id: await transitionTo(key, 'In Progress') },
    });
    await jira('POST', `/rest/api/3/issue/${key}/transitions`, { transition: { id: await transitionTo(key, 'Done') } });
    expect(await search('status = Done AND statusCategory != Done')).toEqual([key]);
    const done = await jira('GET', `/rest/api/3/issue/${key}?fields=status,resolution`);
    expect(done.json.fields.status.statusCategory.key).toBe('indeterminate');
    expect(done.json.fields.resolution).toBeNull();
    // Deploy sets the default resolution (a post function) and reaches the done category.
    await jira('POST', `/rest/api/3/issue/${key}/transitions`, {
      transition: { id: await transitionTo(key, 'Deployed') },
    });
    const deployed = await jira('GET', `/rest/api/3/issue/${key}?fields=status,resolution`);
    expect(deployed.json.fields.resolution.name).toBe('Fixed');
    expect(await search('statusCategory = Done')).toEqual([key]);
  });

  it("raises requests on the declared service desk, and the default assignee is the project's lead", async () => {
    const desks = await jira('GET', '/rest/servicedeskapi/servicedesk');
    expect(desks.status).toBe(200);
    const desk = (desks.json.values as Array<{ id: string; projectKey: string }>).find((d) => d.projectKey === 'ITSD')!;
    const types = await jira('GET', `/rest/servicedeskapi/servicedesk/${desk.id}/requesttype`);
    const incident = (types.json.values as Array<{ id: string; name: string }>).find(
      (t) => t.name === 'Report an incident',
    )!;
    const raised = await jira('POST', '/rest/servicedeskapi/request', {
      serviceDeskId: desk.id,
      requestTypeId: incident.id,
      requestFieldValues: { summary: 'VPN is down' },
    });
    expect(raised.status, JSON.stringify(raised.json)).toBe(201);
    expect(raised.json.currentStatus.status).toBe('Waiting for support');

    const task = await jira('POST', '/rest/api/3/issue', {
      fields: { project: { key: 'INFRA' }, issuetype: { name: 'Bug' }, summary: 'Disk full' },
    });
    expect((await jira('PUT', `/rest/api/3/issue/${task.json.key}/assignee`, { accountId: '-1' })).status).toBe(204);
    const got = await jira('GET', `/rest/api/3/issue/${task.json.key}?fields=assignee`);
    expect(got.json.fields.assignee.accountId).toBe(sb.credentials.users.alice!.accountId);
  });

  it('a reset returns to the declared site, not the seed', async () => {
    expect((await fetch(`${sb.baseUrl}/_sandbox/reset`, { method: 'POST' })).status).toBe(204);
    const projects = (await jira('GET', '/rest/api/3/project')).json as Array<{ key: string }>;
    expect(projects.map((p) => p.key).sort()).toEqual(['INFRA', 'ITSD', 'SEC']);
    const found = await jira('POST', '/rest/api/3/search/jql', { jql: 'project = SEC', fields: ['summary'] });
    expect(found.json.issues).toEqual([]);
  });
});

describe('site declaration errors', () => {
  it('names every wrong reference by its path', () => {
    const found = problems(
      [
        'seed: default',
        'site:',
        '  users: [{ name: alice, email: alice@x.example }]',
        '  statuses: [{ name: Open, category: new }, { name: Open, category: done }]',
        '  priorities: [{ name: High }]',
        '  issueTypes: [{ name: Task }]',
        '  customFields:',
        '    - { name: Severity, type: select, requiredFor: [Bug] }',
        '  workflows:',
        '    - name: W',
        '      statuses: [Open, Blocked]',
        '      transitions: [{ name: Go, from: [Open], to: Closed, screen: [Nope] }]',
        '  projects:',
        '    - { key: INFRA, name: Infra, issueTypes: [Task, Story], workflow: X }',
        '',
      ].join('\n'),
    );
    expect(found).toEqual(
      expect.arrayContaining([
        'seed: seed and site exclude each other: a declared site replaces the seed',
        'site.statuses[1]: status "Open" is declared twice (also statuses[0])',
        'site.users: declare at least one active user with admin: true (the sandbox prints its credentials)',
        'site.customFields[0].options: a select field needs options',
        'site.customFields[0].requiredFor[0]: no issue type "Bug" is declared',
        'site.workflows[0].statuses[1]: no status "Blocked" is declared under statuses',
        'site.workflows[0].transitions[0].to: no status "Closed" is declared under statuses',
        expect.stringMatching(/^site\.workflows\[0\]\.transitions\[0\]\.screen\[0\]: "Nope" is neither a custom field/),
        'site.projects[0].issueTypes[1]: no issue type "Story" is declared under issueTypes',
        'site.projects[0].workflow: no workflow "X" is declared under workflows',
      ]),
    );
    expect(problems('site:\n  users: []\n  nope: 1\n')).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^site\.users: /),
        expect.stringMatching(/^site\.statuses: /),
        expect.stringMatching(/^site: .*"nope"/),
      ]),
    );
  });

  it('`jira-bridge sandbox --config` exits 2 naming the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-site-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        'site:',
        '  users: [{ name: admin, email: admin@x.example, admin: true }]',
        '  statuses: [{ name: Open, category: nowhere }]',
        '  priorities: [{ name: High }]',
        '  issueTypes: [{ name: Task }]',
        '  workflows: [{ name: W, statuses: [Open] }]',
        '  projects: [{ key: OPS, name: Ops, issueTypes: [Task], workflow: W }]',
        '',
      ].join('\n'),
    );
    const out = sink();
    const err = sink();
    const code = await sandboxCommand({ configPath: file, env: {}, out: { stdout: out.stream, stderr: err.stream } });
    expect(code).toBe(2);
    expect(err.text()).toContain(file);
    expect(err.text()).toMatch(/site\.statuses\[0\]\.category: /);
  });
});

describe('POST /_sandbox/site (the control API)', () => {
  for (const flavour of ['cloud', 'datacenter'] as const) {
    it(`declares a site on a running ${flavour} sandbox, and refuses a wrong one with every path`, async () => {
      const sb = await startSandbox({ flavour, port: 0 });
      try {
        const site = {
          users: [
            { name: 'ops', email: 'ops@x.example', admin: true },
            { name: 'dev', email: 'dev@x.example' },
          ],
          statuses: [
            { name: 'New', category: 'new' },
            { name: 'Shipped', category: 'done' },
          ],
          priorities: [{ name: 'P1' }, { name: 'P2', default: true }],
          resolutions: [{ name: 'Done' }],
          issueTypes: [{ name: 'Story' }],
          workflows: [
            {
              name: 'Flow',
              statuses: ['New', 'Shipped'],
              transitions: [{ name: 'Ship', from: ['New'], to: 'Shipped', defaultResolution: 'Done' }],
            },
          ],
          projects: [{ key: 'APP', name: 'App', issueTypes: ['Story'], workflow: 'Flow', lead: 'dev' }],
        };
        const bad = await fetch(`${sb.baseUrl}/_sandbox/site`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...site, projects: [{ ...site.projects[0], workflow: 'Nope' }] }),
        });
        expect(bad.status).toBe(400);
        expect(((await bad.json()) as { errors: Record<string, string> }).errors).toEqual({
          'site.projects[0].workflow': 'no workflow "Nope" is declared under workflows',
        });

        const res = await fetch(`${sb.baseUrl}/_sandbox/site`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(site),
        });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { projects: string[]; users: Array<{ name: string; accountId: string }> };
        expect(body.projects).toEqual(['APP']);
        // The declared users sign in with their default tokens.
        const auth =
          flavour === 'cloud'
            ? `Basic ${Buffer.from('ops@x.example:sandbox-api-token-ops').toString('base64')}`
            : 'Bearer sandbox-pat-ops';
        const v = flavour === 'cloud' ? '3' : '2';
        const created = await fetch(`${sb.baseUrl}/rest/api/${v}/issue`, {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/json' },
          body: JSON.stringify({ fields: { project: { key: 'APP' }, issuetype: { name: 'Story' }, summary: 'One' } }),
        });
        expect(created.status).toBe(201);
        const { key } = (await created.json()) as { key: string };
        expect(key).toBe('APP-1');
        const issue = (await (
          await fetch(`${sb.baseUrl}/rest/api/${v}/issue/${key}?fields=priority,status`, {
            headers: { authorization: auth },
          })
        ).json()) as { fields: { priority: { name: string }; status: { name: string } } };
        expect(issue.fields.priority.name).toBe('P2');
        expect(issue.fields.status.name).toBe('New');
        const old = await fetch(`${sb.baseUrl}/rest/api/${v}/project/SEC`, { headers: { authorization: auth } });
        expect(old.status).toBe(404);
      } finally {
        await sb.close();
      }
    });
  }
});
