/**
 * What Jira clients written by others do against Jira, and the sandbox must answer as Jira does
 * (issue 20, findings 1–5). Each test names the client behaviour it protects. Real HTTP on
 * loopback, both flavours; webhook deliveries reach a real receiver.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { FLAVOURS } from './helpers.js';
import { until } from '../helpers/wait.js';

interface Res {
  status: number;
  json: unknown;
}

/** A caller with the flavour's own credentials (Cloud Basic email + API token, DC PAT). */
function caller(sb: RunningSandbox, user = 'admin') {
  const u = sb.credentials.users[user]!;
  const authorization =
    sb.flavour === 'cloud'
      ? `Basic ${Buffer.from(`${u.loginEmail}:${u.apiToken}`).toString('base64')}`
      : `Bearer ${u.pat}`;
  return async (method: string, path: string, body?: unknown): Promise<Res> => {
    const res = await fetch(`${sb.baseUrl}${path}`, {
      method,
      headers: {
        authorization,
        accept: 'application/json',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
  };
}

interface Delivery {
  webhookEvent: string;
  issue_event_type_name?: string;
  issue?: { key: string };
  changelog?: { items: Array<{ field: string; from: string | null; to: string | null; toString: string | null }> };
}

for (const flavour of FLAVOURS) {
  describe(`Jira clients against the ${flavour} sandbox`, () => {
    let sb: RunningSandbox;
    let receiver: Server;
    const received: Delivery[] = [];
    let jira: ReturnType<typeof caller>;
    /** The newest REST version of the flavour; clients of either flavour also use /rest/api/2. */
    const v = flavour === 'cloud' ? '3' : '2';
    const userRef = (name: string): Record<string, string> =>
      flavour === 'cloud' ? { accountId: sb.credentials.users[name]!.accountId } : { name };
    const userId = (name: string): string =>
      flavour === 'cloud' ? sb.credentials.users[name]!.accountId : sb.credentials.users[name]!.name;

    const newIssue = async (summary: string): Promise<string> => {
      const res = await jira('POST', '/rest/api/2/issue', {
        fields: { project: { key: 'OPS' }, issuetype: { name: 'Task' }, summary },
      });
      expect(res.status).toBe(201);
      return (res.json as { key: string }).key;
    };

    beforeAll(async () => {
      sb = await startSandbox({ flavour, port: 0 });
      jira = caller(sb);
      receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString('utf8')));
        req.on('end', () => {
          received.push(JSON.parse(body) as Delivery);
          res.end();
        });
      });
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
      sb.webhooks.register({
        name: 'compat',
        url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
        events: ['jira:issue_updated'],
      });
    });
    afterAll(async () => {
      await sb?.close();
      await new Promise((r) => receiver?.close(r));
    });

    it('links issues with "comment": null, as clients send when there is no comment (finding 1)', async () => {
      const a = await newIssue('Link source');
      const b = await newIssue('Link target');
      for (const version of flavour === 'cloud' ? ['2', '3'] : ['2']) {
        const res = await jira('POST', `/rest/api/${version}/issueLink`, {
          type: { name: 'Relates' },
          inwardIssue: { key: b },
          outwardIssue: { key: a },
          comment: null,
        });
        expect(res.status, JSON.stringify(res.json)).toBe(201);
      }
      const linked = await jira('GET', `/rest/api/2/issue/${a}?fields=issuelinks,comment`);
      const fields = (linked.json as { fields: { issuelinks: unknown[]; comment: { total: number } } }).fields;
      expect(fields.issuelinks).toHaveLength(1);
      expect(fields.comment.total).toBe(0);
    });

    it(`serves /rest/api/latest as version ${v}, the base path clients default to (finding 2)`, async () => {
      const latest = await jira('GET', '/rest/api/latest/myself');
      expect(latest.status).toBe(200);
      expect(latest.json).toEqual((await jira('GET', `/rest/api/${v}/myself`)).json);
      const key = await newIssue('Through latest');
      const issue = await jira('GET', `/rest/api/latest/issue/${key}?fields=description,summary`);
      expect(issue.status).toBe(200);
      expect((issue.json as { key: string }).key).toBe(key);
      const edit = await jira('PUT', `/rest/api/latest/issue/${key}`, { fields: { summary: 'Edited through latest' } });
      expect(edit.status).toBe(204);
      const search = await jira('POST', `/rest/api/latest/${flavour === 'cloud' ? 'search/jql' : 'search'}`, {
        jql: `key = ${key}`,
        fields: ['summary'],
      });
      expect(search.status).toBe(200);
      expect((await jira('GET', '/rest/api/latest/serverInfo')).status).toBe(200);
      expect((await jira('GET', '/rest/api/latest/issue/NOPE-1')).status).toBe(404);
    });

    it('assigns through PUT /issue/{key}/assignee like an edit of the assignee (finding 3)', async () => {
      const key = await newIssue('Assign me');
      for (const version of flavour === 'cloud' ? ['2', '3'] : ['2']) {
        const res = await jira('PUT', `/rest/api/${version}/issue/${key}/assignee`, userRef('alice'));
        expect(res.status, JSON.stringify(res.json)).toBe(204);
        expect(res.json).toBeUndefined();
      }
      const got = await jira('GET', `/rest/api/2/issue/${key}?fields=assignee&expand=changelog`);
      const body = got.json as {
        fields: { assignee: Record<string, unknown> | null };
        changelog: { histories: Array<{ items: Array<{ field: string; to: string | null }> }> };
      };
      expect(body.fields.assignee).toMatchObject(userRef('alice'));
      const assigneeItems = body.changelog.histories.flatMap((h) => h.items).filter((i) => i.field === 'assignee');
      expect(assigneeItems).toHaveLength(1); // the second PUT changed nothing
      const delivery = await until('the issue_assigned webhook', () =>
        received.find((d) => d.issue?.key === key && d.issue_event_type_name === 'issue_assigned'),
      );
      expect(delivery.webhookEvent).toBe('jira:issue_updated');
      expect(delivery.changelog?.items).toEqual([
        expect.objectContaining({ field: 'assignee', from: null, toString: 'Alice Analyst' }),
      ]);

      // null unassigns; "-1" assigns the project's default assignee (OPS: its lead, alice).
      const unassign = flavour === 'cloud' ? { accountId: null } : { name: null };
      expect((await jira('PUT', `/rest/api/2/issue/${key}/assignee`, unassign)).status).toBe(204);
      const after = await jira('GET', `/rest/api/2/issue/${key}?fields=assignee`);
      expect((after.json as { fields: { assignee: unknown } }).fields.assignee).toBeNull();
      const auto = flavour === 'cloud' ? { accountId: '-1' } : { name: '-1' };
      expect((await jira('PUT', `/rest/api/2/issue/${key}/assignee`, auto)).status).toBe(204);
      const lead = await jira('GET', `/rest/api/2/issue/${key}?fields=assignee`);
      expect((lead.json as { fields: { assignee: unknown } }).fields.assignee).toMatchObject(userRef('alice'));

      // Errors as the OpenAPI documents them: 400 for an unknown user or no user field, 404 for no issue.
      const unknown = flavour === 'cloud' ? { accountId: 'no-such-account' } : { name: 'nobody' };
      expect((await jira('PUT', `/rest/api/2/issue/${key}/assignee`, unknown)).status).toBe(400);
      expect((await jira('PUT', `/rest/api/2/issue/${key}/assignee`, {})).status).toBe(400);
      expect((await jira('PUT', '/rest/api/2/issue/NOPE-1/assignee', userRef('alice'))).status).toBe(404);
    });

    it('watches, lists and unwatches through /issue/{key}/watchers (finding 4)', async () => {
      const key = await newIssue('Watch me');
      const list = async (as = jira) =>
        (await as('GET', `/rest/api/${v}/issue/${key}/watchers`)).json as {
          self: string;
          isWatching: boolean;
          watchCount: number;
          watchers: Array<Record<string, unknown>>;
        };
      // The creator watches what they create (Jira's autowatch).
      const initial = await list();
      expect(initial.self).toBe(`${sb.baseUrl}/rest/api/${v}/issue/${key}/watchers`);
      expect(initial).toMatchObject({ isWatching: true, watchCount: 1 });
      expect(initial.watchers).toEqual([expect.objectContaining(userRef('admin'))]);

      // POST body: a JSON string, the accountId (Cloud) or user name (DC).
      const add = await jira('POST', `/rest/api/${v}/issue/${key}/watchers`, userId('alice'));
      expect(add.status, JSON.stringify(add.json)).toBe(204);
      const twice = await jira('POST', `/rest/api/${v}/issue/${key}/watchers`, userId('alice'));
      expect(twice.status).toBe(204);
      const withAlice = await list(caller(sb, 'alice'));
      expect(withAlice).toMatchObject({ isWatching: true, watchCount: 2 });
      expect(withAlice.watchers.map((w) => w.displayName)).toEqual(['Sandbox Admin', 'Alice Analyst']);

      // With no body the caller watches.
      const bob = caller(sb, 'bob');
      expect((await bob('POST', `/rest/api/${v}/issue/${key}/watchers`)).status).toBe(204);
      expect((await list(bob)).watchCount).toBe(3);

      // DELETE ?accountId= (Cloud) / ?username= (DC).
      const param = flavour === 'cloud' ? 'accountId' : 'username';
      const del = await jira('DELETE', `/rest/api/${v}/issue/${key}/watchers?${param}=${userId('alice')}`);
      expect(del.status).toBe(204);
      const after = await list(caller(sb, 'alice'));
      expect(after).toMatchObject({ isWatching: false, watchCount: 2 });

      expect((await jira('DELETE', `/rest/api/${v}/issue/${key}/watchers`)).status).toBe(400);
      const nobody = flavour === 'cloud' ? 'no-such-account' : 'nobody';
      expect((await jira('POST', `/rest/api/${v}/issue/${key}/watchers`, nobody)).status).toBe(404);
      expect((await jira('GET', `/rest/api/${v}/issue/NOPE-1/watchers`)).status).toBe(404);
    });

    it('keeps issue keys, paths and part numbers in wiki text intact: marks only at word boundaries (finding 5)', async () => {
      const wiki = [
        'Device EB-L1500U at devices/dev-881 fails; see PROJ-12 and PROJ-13.',
        'Range 10-20 and a-b-c, snake_case_name, 2*3*4, a+b+c, x^2^y, H~2~O.',
        'But -struck- and *bold* and _em_ and +ins+ and ^sup^ and ~sub~ are marks.',
      ].join('\n');
      const res = await jira('POST', '/rest/api/2/issue', {
        fields: { project: { key: 'OPS' }, issuetype: { name: 'Task' }, summary: 'Wiki', description: wiki },
      });
      const key = (res.json as { key: string }).key;
      const v2 = await jira('GET', `/rest/api/2/issue/${key}?fields=description&expand=renderedFields`);
      const body = v2.json as { fields: { description: string }; renderedFields: { description: string } };
      expect(body.fields.description).toBe(wiki);
      const html = body.renderedFields.description;
      expect(html).toContain('Device EB-L1500U at devices/dev-881 fails; see PROJ-12 and PROJ-13.');
      expect(html).toContain('Range 10-20 and a-b-c, snake_case_name, 2*3*4, a+b+c, x^2^y, H~2~O.');
      expect(html).toContain('<del>struck</del>');
      expect(html).toContain('<b>bold</b>');
      expect(html).toContain('<em>em</em>');
      expect(html).toContain('<ins>ins</ins>');
      expect(html).toContain('<sup>sup</sup>');
      expect(html).toContain('<sub>sub</sub>');
      if (flavour === 'cloud') {
        const v3 = await jira('GET', `/rest/api/3/issue/${key}?fields=description`);
        const doc = (v3.json as { fields: { description: { content: Array<{ content: unknown[] }> } } }).fields
          .description;
        const nodes = doc.content[0]!.content as Array<{ type: string; text?: string; marks?: unknown[] }>;
        expect(nodes[0]).toEqual({
          type: 'text',
          text: 'Device EB-L1500U at devices/dev-881 fails; see PROJ-12 and PROJ-13.',
        });
        const marked = nodes.filter((n) => n.marks).map((n) => [n.text, n.marks]);
        expect(marked).toEqual([
          ['struck', [{ type: 'strike' }]],
          ['bold', [{ type: 'strong' }]],
          ['em', [{ type: 'em' }]],
          ['ins', [{ type: 'underline' }]],
          ['sup', [{ type: 'subsup', attrs: { type: 'sup' } }]],
          ['sub', [{ type: 'subsup', attrs: { type: 'sub' } }]],
        ]);
      }
    });
  });
}
