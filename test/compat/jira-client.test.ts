/**
 * Compatibility with `jira-client` (npm, v8): a REST v2 client written by others and widely used
 * against Data Center, driven the way its own users drive it — basic auth with a username and
 * password (or a PAT as bearer), `apiVersion` 2 or `latest`, its methods and their request shapes
 * as they are — against the sandbox on a real port. On Cloud its users sign in with the account
 * email and an API token and set `apiVersion: '3'` (ADF bodies, accountIds). Each step asserts what
 * the client read back; where Jira answers a client with an error (the removed /search on Cloud, a
 * password on Cloud), the client must see that error.
 */
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import JiraApi from 'jira-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function clientFor(sb: RunningSandbox, opts: Record<string, unknown>): JiraApi {
  const url = new URL(sb.baseUrl);
  return new JiraApi({
    protocol: 'http',
    host: url.hostname,
    port: url.port,
    strictSSL: true,
    ...opts,
  } as JiraApi.JiraApiOptions);
}

const adf = (text: string) => ({
  type: 'doc',
  version: 1,
  content: [{ type: 'paragraph', content: [{ type: 'text', text }] }],
});

describe('jira-client (npm) against the Data Center sandbox', () => {
  let sb: RunningSandbox;
  let jira: JiraApi;
  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'datacenter', port: 0 });
    jira = clientFor(sb, { username: 'admin', password: sb.credentials.password, apiVersion: '2' });
  });
  afterAll(async () => {
    await sb?.close();
  });

  it('signs in with a username and password (and with a PAT as bearer); a wrong password is the 401 the client reports', async () => {
    expect(((await jira.getCurrentUser()) as Json).name).toBe('admin');
    expect(((await jira.getServerInfo()) as Json).deploymentType).toBe('Server');
    const bearer = clientFor(sb, { bearer: sb.credentials.users.alice!.pat });
    expect(((await bearer.getCurrentUser()) as Json).name).toBe('alice');
    const wrong = clientFor(sb, { username: 'admin', password: 'not-the-password' });
    await expect(wrong.getCurrentUser()).rejects.toThrow(/You are not authenticated/);
  });

  it('a realistic day: create, read, edit, transition, comment, search, assign, watch, link with comment: null', async () => {
    const created = (await jira.addNewIssue({
      fields: {
        project: { key: 'OPS' },
        issuetype: { name: 'Incident' },
        summary: 'EB-L1500U projector offline',
        description: 'Seen on devices/dev-881 after the *firmware* update; see OPS-1 too.',
        priority: { name: 'High' },
        labels: ['compat'],
      },
    })) as Json;
    expect(created.key).toMatch(/^OPS-\d+$/);
    expect(created.self).toBe(`${sb.baseUrl}/rest/api/2/issue/${created.id}`);
    const key = created.key as string;

    const read = (await jira.findIssue(key)) as Json;
    expect(read.fields.summary).toBe('EB-L1500U projector offline');
    // Wiki markup comes back as it was written: the hyphens inside words are not strikethrough.
    expect(read.fields.description).toBe('Seen on devices/dev-881 after the *firmware* update; see OPS-1 too.');
    expect(read.fields.status.name).toBe('To Do');
    expect(read.fields.priority.name).toBe('High');
    expect(read.fields.issuetype.name).toBe('Incident');

    expect(
      await jira.updateIssue(key, {
        fields: { summary: 'EB-L1500U projector offline (room 4)' },
        update: { labels: [{ add: 'projector' }] },
      }),
    ).toBeUndefined(); // 204 No Content
    const edited = (await jira.findIssue(key, '', 'summary,labels')) as Json;
    expect(edited.fields.summary).toBe('EB-L1500U projector offline (room 4)');
    expect([...edited.fields.labels].sort()).toEqual(['compat', 'projector']);

    const { transitions } = (await jira.listTransitions(key)) as Json;
    const start = (transitions as Json[]).find((t) => t.to.name === 'In Progress');
    expect(start).toBeDefined();
    await jira.transitionIssue(key, { transition: { id: start!.id } });
    expect(((await jira.findIssue(key, '', 'status')) as Json).fields.status.name).toBe('In Progress');

    const comment = (await jira.addComment(key, 'Replaced the lamp; EB-L1500U is back.')) as Json;
    expect(comment.body).toBe('Replaced the lamp; EB-L1500U is back.');
    expect(comment.author.name).toBe('admin');
    const comments = (await jira.getComments(key)) as Json;
    expect(comments.comments.map((c: Json) => c.body)).toEqual(['Replaced the lamp; EB-L1500U is back.']);

    const found = (await jira.searchJira('project = OPS AND labels = projector ORDER BY key', {
      fields: ['summary', 'status'],
      maxResults: 10,
    })) as Json;
    expect(found.total).toBe(1);
    expect(found.issues.map((i: Json) => [i.key, i.fields.summary, i.fields.status.name])).toEqual([
      [key, 'EB-L1500U projector offline (room 4)', 'In Progress'],
    ]);

    await jira.updateAssignee(key, 'alice');
    expect(((await jira.findIssue(key, '', 'assignee')) as Json).fields.assignee.name).toBe('alice');
    expect(((await jira.getUsersIssues('alice', false)) as Json).issues.map((i: Json) => i.key)).toContain(key);

    await jira.addWatcher(key, 'bob');
    const watchers = (await jira.getIssueWatchers(key)) as Json;
    expect(watchers.watchers.map((w: Json) => w.name)).toContain('bob');
    expect(watchers.isWatching).toBe(true); // the reporter watches what they create

    const other = (await jira.addNewIssue({
      fields: { project: { key: 'OPS' }, issuetype: { name: 'Task' }, summary: 'Order a spare lamp' },
    })) as Json;
    await jira.issueLink({
      type: { name: 'Relates' },
      inwardIssue: { key },
      outwardIssue: { key: other.key },
      comment: null,
    });
    const linked = (await jira.findIssue(key, '', 'issuelinks')) as Json;
    expect(linked.fields.issuelinks).toHaveLength(1);
    expect(linked.fields.issuelinks[0].type.name).toBe('Relates');
    // Seen from the issue named inwardIssue, the other one is on the link's other side.
    const seen = linked.fields.issuelinks[0];
    expect((seen.outwardIssue ?? seen.inwardIssue).key).toBe(other.key);
    const fromOther = ((await jira.findIssue(other.key, '', 'issuelinks')) as Json).fields.issuelinks[0];
    expect((fromOther.outwardIssue ?? fromOther.inwardIssue).key).toBe(key);
  });

  it("getUsersIssues(name, open) searches status in (Open, 'In Progress', Reopened): a site without Reopened refuses it with Jira's message, as a misspelt status is (the sandbox used to answer both with results)", async () => {
    await expect(jira.getUsersIssues('alice', true)).rejects.toThrow(
      /The value 'Reopened' does not exist for the field 'status'\./,
    );
    await expect(jira.searchJira('project = OPS AND status = "In Progres"')).rejects.toThrow(
      /The value 'In Progres' does not exist for the field 'status'\./,
    );
    await expect(jira.searchJira('assignee = nobody-here')).rejects.toThrow(
      /The value 'nobody-here' does not exist for the field 'assignee'\./,
    );
    await expect(jira.searchJira('project = NOPE')).rejects.toThrow(
      /The value 'NOPE' does not exist for the field 'project'\./,
    );
    // Known values in any case, by id or by name, and the user by name, key or email, are accepted.
    const ok = (await jira.searchJira(
      "project in (ops, 'Operations') AND status in ('to do', 'In Progress', Done) AND priority != lowest AND assignee in (alice, EMPTY) AND resolution = Unresolved",
    )) as Json;
    expect(ok.total).toBeGreaterThanOrEqual(0);
  });

  it('housekeeping: the lists a client builds its forms from, an attachment sent with X-Atlassian-Token: nocheck, a comment edited and deleted, a remote link, a deleted issue that is then not found', async () => {
    expect(((await jira.listPriorities()) as Json[]).map((p) => p.name)).toContain('High');
    expect(((await jira.listStatus()) as Json[]).map((p) => p.name)).toEqual(expect.arrayContaining(['To Do', 'Done']));
    expect(((await jira.listProjects()) as Json[]).map((p) => p.key)).toEqual(expect.arrayContaining(['OPS', 'SEC']));
    expect(((await jira.getProject('OPS')) as Json).issueTypes.map((t: Json) => t.name)).toContain('Incident');
    expect(((await jira.listFields()) as Json[]).map((f) => f.id)).toEqual(
      expect.arrayContaining(['summary', 'labels']),
    );
    expect(((await jira.listIssueLinkTypes()) as Json).issueLinkTypes.map((t: Json) => t.name)).toContain('Relates');

    const { key } = (await jira.addNewIssue({
      fields: { project: { key: 'OPS' }, issuetype: { name: 'Task' }, summary: 'Rotate the projector lamp' },
    })) as Json;
    const dir = mkdtempSync(join(tmpdir(), 'jb-compat-'));
    try {
      const file = join(dir, 'lamp-log.txt');
      writeFileSync(file, 'lamp hours: 4012\n');
      const [attachment] = (await jira.addAttachmentOnIssue(key, createReadStream(file))) as Json[];
      expect(attachment).toMatchObject({ filename: 'lamp-log.txt', size: 17 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(
      ((await jira.findIssue(key, '', 'attachment')) as Json).fields.attachment.map((a: Json) => a.filename),
    ).toEqual(['lamp-log.txt']);

    const comment = (await jira.addComment(key, 'Lamp ordered.')) as Json;
    expect(((await jira.updateComment(key, comment.id, 'Lamp ordered (PO 7781).')) as Json).body).toBe(
      'Lamp ordered (PO 7781).',
    );
    expect(((await jira.getComment(key, comment.id)) as Json).body).toBe('Lamp ordered (PO 7781).');
    await jira.deleteComment(key, comment.id);
    expect(((await jira.getComments(key)) as Json).comments).toEqual([]);

    await jira.createRemoteLink(key, { object: { url: 'https://vendor.example/rma/7781', title: 'RMA 7781' } });
    expect(((await jira.getRemoteLinks(key)) as Json[]).map((l) => l.object.url)).toEqual([
      'https://vendor.example/rma/7781',
    ]);

    await jira.deleteIssue(key);
    await expect(jira.findIssue(key)).rejects.toThrow(/Issue does not exist or you do not have permission to see it/);
  });

  it('apiVersion latest: the same issue through /rest/api/latest', async () => {
    const latest = clientFor(sb, { username: 'admin', password: sb.credentials.password, apiVersion: 'latest' });
    const created = (await latest.addNewIssue({
      fields: {
        project: { key: 'OPS' },
        issuetype: { name: 'Task' },
        summary: 'Through latest',
        description: 'h2. Plan',
      },
    })) as Json;
    const read = (await latest.findIssue(created.key)) as Json;
    expect(read.fields.summary).toBe('Through latest');
    expect(read.fields.description).toBe('h2. Plan');
    expect(((await latest.getCurrentUser()) as Json).name).toBe('admin');
  });
});

describe('jira-client (npm) against the Cloud sandbox', () => {
  let sb: RunningSandbox;
  let jira: JiraApi;
  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    jira = clientFor(sb, { username: sb.credentials.email, password: sb.credentials.apiToken, apiVersion: '3' });
  });
  afterAll(async () => {
    await sb?.close();
  });

  it('signs in with email and API token; a password instead of the token is a 401, as Atlassian answers it', async () => {
    const me = (await jira.getCurrentUser()) as Json;
    expect(me.accountId).toBe(sb.state.adminAccountId);
    expect(((await jira.getServerInfo()) as Json).deploymentType).toBe('Cloud');
    const password = clientFor(sb, {
      username: sb.credentials.email,
      password: sb.credentials.password,
      apiVersion: '3',
    });
    await expect(password.getCurrentUser()).rejects.toThrow(/You are not authenticated/);
  });

  it('create (ADF), read, edit, transition, comment, assign and watch by accountId, link with comment: null; its /search is the 410 Cloud answers', async () => {
    const alice = sb.credentials.users.alice!;
    const bob = sb.credentials.users.bob!;
    const created = (await jira.addNewIssue({
      fields: {
        project: { key: 'OPS' },
        issuetype: { name: 'Incident' },
        summary: 'EB-L1500U projector offline',
        description: adf('Seen on devices/dev-881.'),
      },
    })) as Json;
    const key = created.key as string;
    const read = (await jira.findIssue(key)) as Json;
    expect(read.fields.summary).toBe('EB-L1500U projector offline');
    expect(read.fields.description).toEqual(adf('Seen on devices/dev-881.'));

    await jira.updateIssue(key, { fields: { summary: 'EB-L1500U offline (room 4)' } });
    const { transitions } = (await jira.listTransitions(key)) as Json;
    const start = (transitions as Json[]).find((t) => t.to.name === 'In Progress')!;
    await jira.transitionIssue(key, { transition: { id: start.id } });
    const comment = (await jira.addCommentAdvanced(key, { body: adf('Lamp replaced.') })) as Json;
    expect(comment.body).toEqual(adf('Lamp replaced.'));

    await jira.updateAssigneeWithId(key, alice.accountId);
    await jira.addWatcher(key, bob.accountId);
    const watchers = (await jira.getIssueWatchers(key)) as Json;
    expect(watchers.watchers.map((w: Json) => w.accountId)).toContain(bob.accountId);

    const other = (await jira.addNewIssue({
      fields: { project: { key: 'OPS' }, issuetype: { name: 'Task' }, summary: 'Order a spare lamp' },
    })) as Json;
    await jira.issueLink({
      type: { name: 'Relates' },
      inwardIssue: { key },
      outwardIssue: { key: other.key },
      comment: null,
    });

    const after = (await jira.findIssue(key, '', 'summary,status,assignee,issuelinks')) as Json;
    expect(after.fields.summary).toBe('EB-L1500U offline (room 4)');
    expect(after.fields.status.name).toBe('In Progress');
    expect(after.fields.assignee.accountId).toBe(alice.accountId);
    const link = after.fields.issuelinks[0];
    expect((link.outwardIssue ?? link.inwardIssue).key).toBe(other.key);

    // jira-client's searchJira posts to /rest/api/3/search, which Cloud has removed.
    await expect(jira.searchJira('project = OPS')).rejects.toThrow(/has been removed/);
    const found = (await jira.genericGet(
      `search/jql?jql=${encodeURIComponent('project = OPS AND summary ~ "room 4"')}&fields=summary`,
    )) as Json;
    expect(found.issues.map((i: Json) => i.key)).toEqual([key]);
    // Cloud refuses a status the site has not, like Data Center.
    await expect(
      jira.genericGet(`search/jql?jql=${encodeURIComponent('project = OPS AND status = Reopened')}`),
    ).rejects.toThrow(/The value 'Reopened' does not exist for the field 'status'\./);
  });
});
