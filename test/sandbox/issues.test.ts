import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED } from '../../src/sandbox/index.js';
import { createIssue, FLAVOURS, sandboxClient, text, type Client } from './helpers.js';

describe.each(FLAVOURS)('issues (%s)', (flavour) => {
  let c: Client;
  beforeAll(async () => {
    c = await sandboxClient({ flavour });
  });
  afterAll(async () => {
    await c.sb.app.close();
  });

  it('creates an issue with custom fields and reads it back', async () => {
    const { id, key } = await createIssue(c, {
      project: { key: 'SEC' },
      issuetype: { name: 'Vulnerability' },
      summary: 'SQL injection in login',
      description: text(c, 'Found by scanner'),
      priority: { name: 'High' },
      labels: ['sqli', 'web'],
      customfield_10010: 9.8,
      customfield_10011: { value: 'web-portal' },
      customfield_10012: 'https://portal.example/login',
      customfield_10013: [{ value: 'Production' }, { value: 'Staging' }],
      customfield_10015: '2026-12-01',
      customfield_10017: 'token-abc',
      customfield_10014:
        flavour === 'cloud' ? { accountId: c.sb.credentials.users.alice?.accountId } : { name: 'alice' },
    });
    expect(key).toMatch(/^SEC-\d+$/);
    expect(id).toMatch(/^\d+$/);
    const issue = (await c.call('GET', `issue/${key}`)).json();
    expect(issue.id).toBe(id);
    const f = issue.fields;
    expect(f.summary).toBe('SQL injection in login');
    expect(f.status.name).toBe('Open');
    expect(f.status.statusCategory.key).toBe('new');
    expect(f.priority.name).toBe('High');
    expect(f.labels).toEqual(['sqli', 'web']);
    expect(f.customfield_10010).toBe(9.8);
    expect(f.customfield_10011).toMatchObject({ value: 'web-portal', id: '10100' });
    expect(f.customfield_10013.map((o: { value: string }) => o.value)).toEqual(['Production', 'Staging']);
    expect(f.customfield_10015).toBe('2026-12-01');
    expect(f.customfield_10017).toBe('token-abc');
    expect(f.customfield_10014.displayName).toBe('Alice Analyst');
    expect(f.reporter.displayName).toBe('Sandbox Admin');
    expect(f.resolution).toBeNull();
    expect(typeof f.created).toBe('string');
  });

  it('rejects invalid fields with per-field errors in Jira shape', async () => {
    const res = await c.call('POST', 'issue', {
      fields: {
        project: { key: 'SEC' },
        issuetype: { name: 'Vulnerability' },
        customfield_10010: 'high',
        customfield_10011: { value: 'nope' },
        labels: ['has space'],
      },
    });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.errorMessages).toEqual([]);
    expect(body.errors).toMatchObject({
      summary: 'You must specify a summary of the issue.',
      customfield_10010: expect.stringContaining('number'),
      customfield_10011: "Option value 'nope' is not valid",
      labels: expect.stringContaining('spaces'),
    });
    const noProject = await c.call('POST', 'issue', { fields: { summary: 'x' } });
    expect(noProject.statusCode).toBe(400);
    expect(noProject.json().errors).toHaveProperty('project');
  });

  it('rejects text over 32,767 characters', async () => {
    const res = await c.call('POST', 'issue', {
      fields: {
        project: { key: 'OPS' },
        issuetype: { name: 'Task' },
        summary: 'long',
        description: text(c, 'x'.repeat(32_768)),
      },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors.description).toContain('32,767');
  });

  it('requires a parent for sub-tasks and lists sub-tasks on the parent', async () => {
    const parent = await createIssue(c, { project: { key: 'SEC' }, issuetype: { name: 'Vulnerability' } });
    const orphan = await c.call('POST', 'issue', {
      fields: { project: { key: 'SEC' }, issuetype: { name: 'Finding' }, summary: 'f' },
    });
    expect(orphan.statusCode).toBe(400);
    expect(orphan.json().errors).toHaveProperty('parent');
    const child = await createIssue(c, {
      project: { key: 'SEC' },
      issuetype: { name: 'Finding' },
      parent: { key: parent.key },
    });
    const p = (await c.call('GET', `issue/${parent.key}?fields=subtasks`)).json();
    expect(p.fields.subtasks.map((s: { key: string }) => s.key)).toEqual([child.key]);
    const blocked = await c.call('DELETE', `issue/${parent.key}`);
    expect(blocked.statusCode).toBe(400);
    expect((await c.call('DELETE', `issue/${parent.key}?deleteSubtasks=true`)).statusCode).toBe(204);
    expect((await c.call('GET', `issue/${child.key}`)).statusCode).toBe(404);
  });

  it('edits with fields and update operations, records a changelog and bumps updated', async () => {
    const { key } = await createIssue(c, { project: { key: 'OPS' }, issuetype: { name: 'Bug' }, labels: ['a'] });
    const before = (await c.call('GET', `issue/${key}`)).json().fields.updated;
    const res = await c.call('PUT', `issue/${key}`, {
      fields: { summary: 'Renamed', customfield_10010: 5 },
      update: { labels: [{ add: 'b' }, { remove: 'a' }], customfield_10013: [{ add: { value: 'Development' } }] },
    });
    expect(res.statusCode).toBe(204);
    const issue = (await c.call('GET', `issue/${key}?expand=changelog`)).json();
    expect(issue.fields.summary).toBe('Renamed');
    expect(issue.fields.labels).toEqual(['b']);
    expect(issue.fields.customfield_10013.map((o: { value: string }) => o.value)).toEqual(['Development']);
    expect(issue.fields.updated > before).toBe(true);
    const [history] = issue.changelog.histories;
    const byField = Object.fromEntries(history.items.map((i: { field: string }) => [i.field, i]));
    expect(byField.summary).toMatchObject({ fieldtype: 'jira', fromString: 'An issue', toString: 'Renamed' });
    expect(byField.labels).toMatchObject({ fromString: 'a', toString: 'b' });
    expect(byField['CVSS Score']).toMatchObject({ fieldtype: 'custom', fromString: null, toString: '5' });
    if (flavour === 'cloud') expect(byField['CVSS Score'].fieldId).toBe('customfield_10010');
    expect(history.author.displayName).toBe('Sandbox Admin');
  });

  it('rejects status edits and a field given in both fields and update', async () => {
    const { key } = await createIssue(c, { project: { key: 'OPS' }, issuetype: { name: 'Task' } });
    const both = await c.call('PUT', `issue/${key}`, { fields: { summary: 'a' }, update: { summary: [{ set: 'b' }] } });
    expect(both.statusCode).toBe(400);
    expect(both.json().errors).toHaveProperty('summary');
    const status = await c.call('PUT', `issue/${key}`, { fields: { status: { name: 'Done' } } });
    expect(status.statusCode).toBe(400);
  });

  it('lets only admins suppress notifications (notifyUsers=false)', async () => {
    const { key } = await createIssue(c, { project: { key: 'OPS' }, issuetype: { name: 'Task' } });
    const alice = await c.as('alice').call('PUT', `issue/${key}?notifyUsers=false`, { fields: { summary: 'quiet' } });
    expect(alice.statusCode).toBe(403);
    expect((await c.call('PUT', `issue/${key}?notifyUsers=false`, { fields: { summary: 'quiet' } })).statusCode).toBe(
      204,
    );
  });

  it('bulk-creates with per-item errors and enforces the limit of 50', async () => {
    const ok = { fields: { project: { key: 'OPS' }, issuetype: { name: 'Task' }, summary: 'bulk ok' } };
    const bad = { fields: { project: { key: 'OPS' }, issuetype: { name: 'Task' } } };
    const res = await c.call('POST', 'issue/bulk', { issueUpdates: [ok, bad, ok] });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.issues).toHaveLength(2);
    expect(body.errors).toEqual([
      {
        status: 400,
        failedElementNumber: 1,
        elementErrors: { errorMessages: [], errors: { summary: 'You must specify a summary of the issue.' } },
      },
    ]);
    const allBad = await c.call('POST', 'issue/bulk', { issueUpdates: [bad] });
    expect(allBad.statusCode).toBe(400);
    const tooMany = await c.call('POST', 'issue/bulk', { issueUpdates: Array.from({ length: 51 }, () => ok) });
    expect(tooMany.statusCode).toBe(400);
  });

  it('moving an issue changes its key, never its id; the old key still resolves', async () => {
    const { id, key } = await createIssue(c, { project: { key: 'OPS' }, issuetype: { name: 'Task' } });
    const moved = await c.sb.app.inject({
      method: 'POST',
      url: `/_sandbox/issues/${key}/move`,
      payload: { project: 'SEC', as: 'alice' },
    });
    expect(moved.statusCode).toBe(200);
    const newKey = moved.json().key;
    expect(newKey).toMatch(/^SEC-\d+$/);
    expect(moved.json().id).toBe(id);
    const viaOld = (await c.call('GET', `issue/${key}?expand=changelog`)).json();
    expect(viaOld.id).toBe(id);
    expect(viaOld.key).toBe(newKey);
    expect(viaOld.fields.project.key).toBe('SEC');
    const items = viaOld.changelog.histories.at(-1).items.map((i: { field: string }) => i.field);
    expect(items).toEqual(expect.arrayContaining(['project', 'Key']));
  });

  it('returns 404 in Jira shape for unknown issues', async () => {
    const res = await c.call('GET', 'issue/NOPE-1');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({
      errorMessages: ['Issue does not exist or you do not have permission to see it.'],
      errors: {},
    });
  });

  it('supports expand=renderedFields,names and fields selection', async () => {
    const { key } = await createIssue(c, {
      project: { key: 'SEC' },
      issuetype: { name: 'Vulnerability' },
      description: text(c, 'hello <world>'),
    });
    const issue = (
      await c.call('GET', `issue/${key}?fields=summary,description,customfield_10010&expand=renderedFields,names`)
    ).json();
    expect(Object.keys(issue.fields).sort()).toEqual(['customfield_10010', 'description', 'summary']);
    expect(issue.names.customfield_10010).toBe('CVSS Score');
    expect(issue.renderedFields.description).toContain('hello &lt;world&gt;');
  });

  it('sets entity properties at creation', async () => {
    const res = await c.call('POST', 'issue', {
      fields: { project: { key: 'OPS' }, issuetype: { name: 'Task' }, summary: 'with props' },
      properties: [{ key: 'bridge', value: { recordId: 'r-1' } }],
    });
    const prop = await c.call('GET', `issue/${res.json().key}/properties/bridge`);
    expect(prop.json()).toEqual({ key: 'bridge', value: { recordId: 'r-1' } });
  });

  it('uses the seeded ids documented in SEED', () => {
    expect(c.sb.state.customFields.get(SEED.field.syncToken)?.name).toBe('Sync Token');
  });
});
