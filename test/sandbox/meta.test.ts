import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLAVOURS, sandboxClient, type Client } from './helpers.js';

describe.each(FLAVOURS)('sandbox metadata (%s)', (flavour) => {
  let c: Client;
  beforeAll(async () => {
    c = await sandboxClient({ flavour });
  });
  afterAll(async () => {
    await c.sb.app.close();
  });

  it('answers myself with the flavour user shape', async () => {
    const res = await c.call('GET', 'myself');
    expect(res.statusCode).toBe(200);
    const me = res.json();
    expect(me.displayName).toBe('Sandbox Admin');
    if (flavour === 'cloud') {
      expect(me.accountId).toBe(c.sb.credentials.users.admin?.accountId);
      expect(me).not.toHaveProperty('name');
    } else {
      expect(me.name).toBe('admin');
      expect(me.key).toBe('JIRAUSER10000');
      expect(me).not.toHaveProperty('accountId');
    }
  });

  it('rejects missing or wrong credentials with 401 in Jira error shape', async () => {
    const anon = await c.sb.app.inject({ method: 'GET', url: `${c.api}/myself` });
    expect(anon.statusCode).toBe(401);
    expect(anon.json()).toEqual({ errorMessages: [expect.any(String)], errors: {} });
    const wrong = await c.sb.app.inject({
      method: 'GET',
      url: `${c.api}/myself`,
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.statusCode).toBe(401);
  });

  it('serves serverInfo anonymously with the deployment type', async () => {
    const res = await c.sb.app.inject({ method: 'GET', url: `${c.api}/serverInfo` });
    expect(res.statusCode).toBe(200);
    expect(res.json().deploymentType).toBe(flavour === 'cloud' ? 'Cloud' : 'Server');
  });

  it('lists and pages projects, and gets one by key with its issue types', async () => {
    const list = (await c.call('GET', 'project')).json();
    expect(list.map((p: { key: string }) => p.key)).toEqual(['SEC', 'OPS', 'ITSD']);
    const page = (await c.call('GET', 'project/search?maxResults=2')).json();
    expect(page).toMatchObject({ startAt: 0, maxResults: 2, total: 3, isLast: false });
    expect(page.values).toHaveLength(2);
    const sec = (await c.call('GET', 'project/SEC')).json();
    expect(sec.issueTypes.map((t: { name: string }) => t.name).sort()).toEqual(['Finding', 'Task', 'Vulnerability']);
    expect(sec.issueTypes.find((t: { name: string }) => t.name === 'Finding').subtask).toBe(true);
    expect((await c.call('GET', 'project/NOPE')).statusCode).toBe(404);
  });

  it('serves the new createmeta endpoints with allowed values', async () => {
    const types = (await c.call('GET', 'issue/createmeta/SEC/issuetypes')).json();
    expect(types.total).toBe(3);
    const vuln = types.issueTypes.find((t: { name: string }) => t.name === 'Vulnerability');
    const meta = (await c.call('GET', `issue/createmeta/SEC/issuetypes/${vuln.id}`)).json();
    const asset = meta.fields.find((f: { fieldId: string }) => f.fieldId === 'customfield_10011');
    expect(asset.name).toBe('Asset');
    expect(asset.allowedValues.map((o: { value: string }) => o.value)).toContain('payments-api');
    expect(meta.fields.find((f: { fieldId: string }) => f.fieldId === 'summary').required).toBe(true);
  });

  it('lists priorities Highest..Lowest, statuses with categories, resolutions and fields', async () => {
    const prios = (await c.call('GET', 'priority')).json();
    expect(prios.map((p: { name: string }) => p.name)).toEqual(['Highest', 'High', 'Medium', 'Low', 'Lowest']);
    const statuses = (await c.call('GET', 'status')).json();
    const resolved = statuses.find((s: { name: string }) => s.name === 'Resolved');
    expect(resolved.statusCategory.key).toBe('done');
    expect(
      (await c.call('GET', 'statuses')).json().find((s: { name: string }) => s.name === 'Triaged').statusCategory,
    ).toBe('IN_PROGRESS');
    expect((await c.call('GET', 'resolution')).json().map((r: { name: string }) => r.name)).toContain('Fixed');
    const fields = (await c.call('GET', 'field')).json();
    const cvss = fields.find((f: { name: string }) => f.name === 'CVSS Score');
    expect(cvss).toMatchObject({ id: 'customfield_10010', custom: true, schema: { type: 'number' } });
    expect(fields.find((f: { name: string }) => f.name === 'Sync Token').id).toBe('customfield_10017');
  });

  it('searches users; Cloud hides emails by privacy setting', async () => {
    const res = await c.call('GET', 'user/search?query=bob');
    expect(res.statusCode).toBe(200);
    const [bob] = res.json();
    expect(bob.displayName).toBe('Bob Builder');
    if (flavour === 'cloud') expect(bob).not.toHaveProperty('emailAddress');
    else expect(bob.emailAddress).toBe('bob@sandbox.example');
    expect((await c.call('GET', 'user/search')).statusCode).toBe(400);
  });

  it('answers 405 for a known path with the wrong method and 404 for unknown paths', async () => {
    expect((await c.call('PATCH', 'myself')).statusCode).toBe(405);
    expect((await c.call('GET', 'no/such/thing')).statusCode).toBe(404);
  });
});

describe('flavour-specific surfaces', () => {
  it('Data Center does not serve /rest/api/3 and Cloud serves /rest/api/2 with string bodies', async () => {
    const dc = await sandboxClient({ flavour: 'datacenter' });
    expect((await dc.call('GET', '/rest/api/3/myself')).statusCode).toBe(404);
    await dc.sb.app.close();
    const cloud = await sandboxClient({ flavour: 'cloud' });
    const created = await cloud.call('POST', '/rest/api/2/issue', {
      fields: {
        project: { key: 'OPS' },
        issuetype: { name: 'Task' },
        summary: 'v2',
        description: 'h1. Title\n\n*bold* text',
      },
    });
    expect(created.statusCode).toBe(201);
    const v3 = (await cloud.call('GET', `/rest/api/3/issue/${created.json().key}?fields=description`)).json();
    expect(v3.fields.description.type).toBe('doc');
    expect(v3.fields.description.content[0]).toMatchObject({ type: 'heading', attrs: { level: 1 } });
    const v2 = (await cloud.call('GET', `/rest/api/2/issue/${created.json().key}?fields=description`)).json();
    expect(v2.fields.description).toBe('h1. Title\n\n*bold* text');
    await cloud.sb.app.close();
  });

  it('Cloud accepts OAuth bearer tokens; Data Center accepts username/password Basic', async () => {
    const cloud = await sandboxClient({ flavour: 'cloud' });
    const res = await cloud.sb.app.inject({
      method: 'GET',
      url: '/rest/api/3/myself',
      headers: { authorization: `Bearer ${cloud.sb.credentials.oauthToken}` },
    });
    expect(res.statusCode).toBe(200);
    await cloud.sb.app.close();
    const dc = await sandboxClient({ flavour: 'datacenter' });
    const basic = Buffer.from(`alice:${dc.sb.credentials.users.alice?.password}`).toString('base64');
    const res2 = await dc.sb.app.inject({
      method: 'GET',
      url: '/rest/api/2/myself',
      headers: { authorization: `Basic ${basic}` },
    });
    expect(res2.json().name).toBe('alice');
    await dc.sb.app.close();
  });

  it('Data Center takes the password (user name in any case) and refuses an API token; Cloud refuses a password with a 401', async () => {
    const basic = (login: string, secret: string) => `Basic ${Buffer.from(`${login}:${secret}`).toString('base64')}`;
    const dc = await sandboxClient({ flavour: 'datacenter' });
    const alice = dc.sb.credentials.users.alice!;
    const myself = (authorization: string) =>
      dc.sb.app.inject({ method: 'GET', url: '/rest/api/2/myself', headers: { authorization } });
    expect((await myself(basic('Alice', alice.password))).json().name).toBe('alice');
    const wrong = await myself(basic('alice', alice.apiToken));
    expect(wrong.statusCode).toBe(401);
    expect((await myself(basic('alice', `${alice.password}x`))).statusCode).toBe(401);
    await dc.sb.app.close();

    const cloud = await sandboxClient({ flavour: 'cloud' });
    const u = cloud.sb.credentials.users.alice!;
    for (const login of [u.loginEmail, u.name]) {
      const res = await cloud.sb.app.inject({
        method: 'GET',
        url: '/rest/api/3/myself',
        headers: { authorization: basic(login, u.password) },
      });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBeDefined();
    }
    await cloud.sb.app.close();
  });
});
