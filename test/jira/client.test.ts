import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED } from '../../src/sandbox/index.js';
import { createJiraClient } from '../../src/jira/client.js';
import { Pacer } from '../../src/jira/pacer.js';
import { connectionFor, env, FLAVOURS, text, type Env } from './helpers.js';

describe.each(FLAVOURS)('JiraClient on %s', (flavour) => {
  let e: Env;
  const calls: Array<{ route: string; status: number }> = [];
  beforeAll(async () => {
    e = await env(flavour, { onCall: (c) => calls.push(c) });
  });
  afterAll(async () => {
    await e.close();
  });

  it('talks to the flavour API version and reports route templates, never concrete ids', async () => {
    const me = await e.jira.myself();
    expect(me.displayName).toBe('Sandbox Admin');
    if (flavour === 'cloud') expect(me.accountId).toBe(SEED.users.admin);
    else expect(me.name).toBe('admin');
    expect(e.jira.apiPath).toBe(flavour === 'cloud' ? '/rest/api/3' : '/rest/api/2');
    const info = await e.jira.serverInfo();
    expect(info.deploymentType).toBe(flavour === 'cloud' ? 'Cloud' : 'Server');
    await e.jira.getProject('SEC');
    const last = calls.at(-1)!;
    expect(last.route).toBe(`${e.jira.apiPath}/project/{idOrKey}`);
    expect(last.status).toBe(200);
  });

  it('reads the site metadata', async () => {
    const projects = await e.jira.listProjects();
    expect(projects.map((p) => p.key).sort()).toEqual(['ITSD', 'OPS', 'SEC']);
    const types = await e.jira.issueTypesForProject('SEC');
    expect(types.map((t) => t.id).sort()).toEqual(
      [SEED.issueType.task, SEED.issueType.vulnerability, SEED.issueType.finding].sort(),
    );
    const meta = await e.jira.createmeta('SEC', SEED.issueType.vulnerability);
    const asset = meta.find((f) => f.fieldId === SEED.field.asset);
    expect(asset?.allowedValues?.map((v) => v.value)).toContain('payments-api');
    expect(meta.find((f) => f.fieldId === 'summary')?.required).toBe(true);
    expect((await e.jira.priorities()).length).toBeGreaterThan(2);
    const statuses = await e.jira.statuses('SEC');
    expect(statuses.find((s) => s.id === SEED.status.resolved)?.statusCategory?.key).toBe('done');
    expect((await e.jira.resolutions()).map((r) => r.id)).toContain(SEED.resolution.fixed);
    const fields = await e.jira.fields();
    expect(fields.find((f) => f.id === SEED.field.syncToken)?.name).toBe('Sync Token');
  });

  it('finds users by email, and not when the email is hidden on Cloud', async () => {
    expect((await e.jira.findUserByEmail('alice@sandbox.example'))?.displayName).toBe('Alice Analyst');
    const bob = await e.jira.findUserByEmail('bob@sandbox.example');
    if (flavour === 'cloud') expect(bob).toBeNull();
    else expect(bob?.name).toBe('bob');
    expect(await e.jira.findUserByEmail('nobody@sandbox.example')).toBeNull();
    expect((await e.jira.searchUsers('ali')).map((u) => u.displayName)).toContain('Alice Analyst');
  });

  it('creates, reads, edits, transitions and deletes an issue', async () => {
    const created = await e.jira.createIssue({
      fields: {
        project: { key: 'SEC' },
        issuetype: { id: SEED.issueType.vulnerability },
        summary: 'SQL injection in login',
        description: text(flavour, 'Found by the scanner'),
        labels: ['scanner'],
        [SEED.field.asset]: { value: 'payments-api' },
      },
    });
    expect(created.key).toMatch(/^SEC-\d+$/);
    const got = await e.jira.getIssue(created.id, { fields: ['summary', 'labels', SEED.field.asset, 'status'] });
    expect(got.fields.summary).toBe('SQL injection in login');
    expect((got.fields[SEED.field.asset] as { value: string }).value).toBe('payments-api');
    expect(got.fields.description).toBeUndefined();

    await e.jira.editIssue(
      created.key,
      { fields: { summary: 'SQLi in login' }, update: { labels: [{ add: 'edited' }] } },
      { notifyUsers: false },
    );
    const edited = await e.jira.getIssue(created.key, { fields: ['summary', 'labels'] });
    expect(edited.fields.summary).toBe('SQLi in login');
    expect(edited.fields.labels).toEqual(expect.arrayContaining(['scanner', 'edited']));

    const transitions = await e.jira.getTransitions(created.id, { expandFields: true });
    const triage = transitions.find((t) => t.id === SEED.secTransition.triage);
    expect(triage?.to.name).toBeTruthy();
    await e.jira.transition(created.id, SEED.secTransition.triage);
    const after = await e.jira.getIssue(created.id, { fields: ['status'] });
    expect((after.fields.status as { id: string }).id).toBe(triage!.to.id);

    await e.jira.deleteIssue(created.id);
    await expect(e.jira.getIssue(created.id)).rejects.toMatchObject({ code: 'JIRA_NOT_FOUND' });
  });

  it('bulk-creates with per-item results and errors, and refuses more than 50', async () => {
    const ok = (s: string) => ({
      fields: { project: { key: 'OPS' }, issuetype: { id: SEED.issueType.task }, summary: s },
    });
    const res = await e.jira.bulkCreate([
      ok('one'),
      { fields: { project: { key: 'OPS' }, issuetype: { id: SEED.issueType.task } } },
      ok('three'),
    ]);
    expect(res.map((r) => Boolean(r.issue))).toEqual([true, false, true]);
    expect(res[1]!.error?.errors.summary).toBeTruthy();
    expect(res[0]!.issue!.id).not.toBe(res[2]!.issue!.id);
    const allBad = await e.jira.bulkCreate([
      { fields: { project: { key: 'OPS' }, issuetype: { id: SEED.issueType.task } } },
    ]);
    expect(allBad[0]!.issue).toBeNull();
    await expect(e.jira.bulkCreate(Array.from({ length: 51 }, (_, i) => ok(`x${i}`)))).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });

  it('pages comments and adds, updates and deletes them', async () => {
    const issue = await e.jira.createIssue({
      fields: { project: { key: 'OPS' }, issuetype: { id: SEED.issueType.task }, summary: 'comments' },
    });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await e.jira.addComment(issue.id, text(flavour, `c${i}`))).id);
    const page = await e.jira.listComments(issue.id, { maxResults: 2 });
    expect(page.values).toHaveLength(2);
    expect(page.isLast).toBe(false);
    const all = [];
    for await (const c of e.jira.allComments(issue.id)) all.push(c.id);
    expect(all).toEqual(ids);
    const upd = await e.jira.updateComment(issue.id, ids[0]!, text(flavour, 'changed'));
    expect(JSON.stringify(upd.body)).toContain('changed');
    await e.jira.deleteComment(issue.id, ids[1]!);
    expect((await e.jira.listComments(issue.id)).values.map((c) => c.id)).toEqual([ids[0], ids[2]]);
  });

  it('uploads attachments, sets properties and upserts remote links by globalId', async () => {
    const issue = await e.jira.createIssue({
      fields: { project: { key: 'OPS' }, issuetype: { id: SEED.issueType.task }, summary: 'files' },
    });
    const att = await e.jira.addAttachment(issue.id, 'report.txt', new TextEncoder().encode('hello'), 'text/plain');
    expect(att[0]).toMatchObject({ filename: 'report.txt', size: 5 });

    expect(await e.jira.getIssueProperty(issue.id, 'jira-bridge')).toBeUndefined();
    await e.jira.setIssueProperty(issue.id, 'jira-bridge', { token: 'abc' });
    expect(await e.jira.getIssueProperty(issue.id, 'jira-bridge')).toEqual({ token: 'abc' });
    await expect(e.jira.getIssueProperty('OPS-99999', 'jira-bridge')).rejects.toMatchObject({ code: 'JIRA_NOT_FOUND' });

    const link = { globalId: 'host:rec-1', object: { url: 'https://host.example/rec/1', title: 'Record 1' } };
    const a = await e.jira.upsertRemoteLink(issue.id, link);
    const b = await e.jira.upsertRemoteLink(issue.id, {
      ...link,
      object: { ...link.object, title: 'Record 1 (renamed)' },
    });
    expect(b.id).toBe(a.id);
  });

  it('searches with the flavour paging and iterates every page', async () => {
    for (let i = 0; i < 5; i++)
      await e.jira.createIssue({
        fields: {
          project: { key: 'OPS' },
          issuetype: { id: SEED.issueType.task },
          summary: `search ${i}`,
          labels: ['paging'],
        },
      });
    const first = await e.jira.searchJql('project = OPS AND labels = paging ORDER BY created ASC', {
      maxResults: 2,
      fields: ['summary'],
    });
    expect(first.issues).toHaveLength(2);
    expect(first.isLast).toBe(false);
    if (flavour === 'cloud') expect(first.nextPageToken).toBeTruthy();
    else expect(first.total).toBe(5);
    const all: string[] = [];
    for await (const i of e.jira.searchAll('project = OPS AND labels = paging ORDER BY created ASC', {
      maxResults: 2,
      fields: ['summary'],
    }))
      all.push(String(i.fields.summary));
    expect(all).toEqual(['search 0', 'search 1', 'search 2', 'search 3', 'search 4']);
    const searches = calls.filter((c) => c.route.includes('/search'));
    expect(searches.at(-1)!.route).toBe(flavour === 'cloud' ? '/rest/api/3/search/jql' : '/rest/api/2/search');
  });

  it('lists service desks and request types and creates a request, with public and internal comments', async () => {
    const desks = await e.jira.serviceDesks();
    expect(desks[0]).toMatchObject({ id: SEED.serviceDesk.itsd, projectKey: 'ITSD' });
    const types = await e.jira.requestTypes(desks[0]!.id);
    expect(types.map((t) => t.name)).toContain('Get IT help');
    const req = await e.jira.createRequest(
      desks[0]!.id,
      '3',
      { summary: 'VPN broken', description: 'since today' },
      flavour === 'cloud' ? SEED.users.alice : 'alice',
    );
    expect(req.issueKey).toMatch(/^ITSD-/);
    const pub = await e.jira.addComment(req.issueId, 'we are on it', { public: true });
    const internal = await e.jira.addComment(req.issueId, 'internal note', { public: false });
    expect(pub.jsdPublic).toBe(true);
    expect(internal.jsdPublic).toBe(false);
  });

  it('manages dynamic webhooks on Cloud (OAuth) and refuses them on Data Center', async () => {
    if (flavour === 'datacenter') {
      await expect(e.jira.listWebhooks()).rejects.toMatchObject({ code: 'JIRA_BAD_REQUEST' });
      return;
    }
    const oauth = createJiraClient(connectionFor(e.sb, 'admin', 'oauth'), { pacer: new Pacer() });
    try {
      const reg = await oauth.registerWebhooks('https://bridge.example/hooks/jira', [
        { events: ['jira:issue_created'], jqlFilter: 'project = SEC' },
      ]);
      const id = reg[0]!.createdWebhookId!;
      expect(id).toBeTypeOf('number');
      expect((await oauth.listWebhooks()).map((w) => w.id)).toContain(id);
      const refreshed = await oauth.refreshWebhooks([id]);
      expect(refreshed.expirationDate).toBeTruthy();
      await oauth.deleteWebhooks([id]);
      expect((await oauth.listWebhooks()).map((w) => w.id)).not.toContain(id);
      // Basic (API token) callers are not apps: Jira says 403.
      await expect(e.jira.listWebhooks()).rejects.toMatchObject({ code: 'JIRA_FORBIDDEN' });
    } finally {
      await oauth.close();
    }
  });

  it('checks the connection', async () => {
    const r = await e.jira.checkConnection();
    expect(r).toMatchObject({
      ok: true,
      user: { displayName: 'Sandbox Admin' },
      server: { deploymentType: flavour === 'cloud' ? 'Cloud' : 'Server' },
    });
  });
});

describe('OAuth 2.0 base URL', () => {
  it('goes through api.atlassian.com/ex/jira/{cloudId} and asks for a token per call', async () => {
    let asked = 0;
    const c = createJiraClient(
      {
        id: 'oauth-1',
        siteUrl: 'https://acme.atlassian.net',
        flavour: 'cloud',
        auth: {
          type: 'oauth',
          cloudId: 'abc-123',
          getAccessToken: async () => {
            asked++;
            return 'tok';
          },
        },
      },
      { pacer: new Pacer() },
    );
    expect(c.baseUrl).toBe('https://api.atlassian.com/ex/jira/abc-123');
    expect(c.browseUrl('SEC-1')).toBe('https://acme.atlassian.net/browse/SEC-1');
    expect(asked).toBe(0);
    await c.close();
  });
});
