import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIssue, sandboxClient, type Client } from './helpers.js';

describe('search on Cloud', () => {
  let c: Client;
  beforeAll(async () => {
    c = await sandboxClient({ flavour: 'cloud' });
    for (let i = 0; i < 7; i++)
      await createIssue(c, {
        project: { key: 'OPS' },
        issuetype: { name: 'Task' },
        summary: `task ${i}`,
        labels: i % 2 ? ['odd'] : ['even'],
      });
    await createIssue(c, {
      project: { key: 'SEC' },
      issuetype: { name: 'Vulnerability' },
      summary: 'xss in search',
      customfield_10017: 'tok-1',
    });
  });
  afterAll(async () => {
    await c.sb.app.close();
  });

  it('answers 410 Gone on the removed /search in both versions', async () => {
    for (const url of ['/rest/api/3/search?jql=project=OPS', '/rest/api/2/search?jql=project=OPS']) {
      const res = await c.call('GET', url);
      expect(res.statusCode).toBe(410);
      expect(res.json().errorMessages[0]).toContain('/rest/api/3/search/jql');
    }
    expect((await c.call('POST', 'search', { jql: 'project = OPS' })).statusCode).toBe(410);
  });

  it('pages /search/jql with nextPageToken until isLast', async () => {
    const keys: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const res = await c.call('POST', 'search/jql', {
        jql: 'project = OPS ORDER BY key ASC',
        maxResults: 3,
        fields: ['summary'],
        ...(token ? { nextPageToken: token } : {}),
      });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body).not.toHaveProperty('total');
      keys.push(...body.issues.map((i: { key: string }) => i.key));
      token = body.nextPageToken;
      pages += 1;
      expect(body.isLast).toBe(token === undefined);
    } while (token);
    expect(pages).toBe(3);
    expect(keys).toEqual(Array.from({ length: 7 }, (_, i) => `OPS-${i + 1}`));
  });

  it('returns only ids by default and filters by labels and custom text fields', async () => {
    const res = await c.call('GET', '/rest/api/3/search/jql?jql=' + encodeURIComponent('labels = odd'));
    const body = res.json();
    expect(body.issues).toHaveLength(3);
    expect(body.issues[0].fields).toEqual({});
    const tok = await c.call('POST', 'search/jql', { jql: '"Sync Token" ~ "tok-1"', fields: ['summary'] });
    expect(tok.json().issues.map((i: { fields: { summary: string } }) => i.fields.summary)).toEqual(['xss in search']);
  });

  it('rejects invalid JQL, unbounded queries and foreign page tokens with 400', async () => {
    const bad = await c.call('POST', 'search/jql', { jql: 'project = = OPS' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errorMessages).toHaveLength(1);
    expect((await c.call('POST', 'search/jql', { jql: 'ORDER BY created' })).statusCode).toBe(400);
    const first = (await c.call('POST', 'search/jql', { jql: 'project = OPS', maxResults: 1 })).json();
    const foreign = await c.call('POST', 'search/jql', { jql: 'project = SEC', nextPageToken: first.nextPageToken });
    expect(foreign.statusCode).toBe(400);
  });

  it('counts approximately', async () => {
    expect((await c.call('POST', 'search/approximate-count', { jql: 'project = OPS' })).json()).toEqual({ count: 7 });
  });
});

describe('search on Data Center', () => {
  let c: Client;
  beforeAll(async () => {
    c = await sandboxClient({ flavour: 'datacenter' });
    for (let i = 0; i < 4; i++)
      await createIssue(c, { project: { key: 'OPS' }, issuetype: { name: 'Task' }, summary: `task ${i}` });
  });
  afterAll(async () => {
    await c.sb.app.close();
  });

  it('serves /rest/api/2/search with startAt/maxResults/total', async () => {
    const res = await c.call(
      'GET',
      'search?jql=' + encodeURIComponent('project = OPS ORDER BY key DESC') + '&startAt=1&maxResults=2&fields=summary',
    );
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ startAt: 1, maxResults: 2, total: 4 });
    expect(body.issues.map((i: { key: string }) => i.key)).toEqual(['OPS-3', 'OPS-2']);
    expect((await c.call('POST', 'search', { jql: 'project = OPS' })).json().total).toBe(4);
  });

  it('does not serve the Cloud-only enhanced search', async () => {
    expect((await c.call('POST', 'search/jql', { jql: 'project = OPS' })).statusCode).toBe(404);
  });
});
