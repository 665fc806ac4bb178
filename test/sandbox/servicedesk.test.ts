import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLAVOURS, sandboxClient, type Client } from './helpers.js';

describe.each(FLAVOURS)('Service Management API (%s)', (flavour) => {
  let c: Client;
  beforeAll(async () => {
    c = await sandboxClient({ flavour });
  });
  afterAll(async () => {
    await c.sb.app.close();
  });

  it('lists service desks and request types', async () => {
    const desks = (await c.call('GET', '/rest/servicedeskapi/servicedesk')).json();
    expect(desks.values).toEqual([expect.objectContaining({ id: '1', projectKey: 'ITSD' })]);
    const types = (await c.call('GET', '/rest/servicedeskapi/servicedesk/1/requesttype')).json();
    expect(types.values.map((t: { name: string }) => t.name)).toEqual([
      'Report an incident',
      'Request a change',
      'Get IT help',
    ]);
  });

  it('creates a request with requestFieldValues and adds public and internal comments', async () => {
    const res = await c.call('POST', '/rest/servicedeskapi/request', {
      serviceDeskId: '1',
      requestTypeId: '1',
      requestFieldValues: { summary: 'VPN down', description: 'Cannot connect since *9:00*' },
      raiseOnBehalfOf: flavour === 'cloud' ? c.sb.credentials.users.alice?.accountId : 'alice',
    });
    expect(res.statusCode).toBe(201);
    const req = res.json();
    expect(req.issueKey).toMatch(/^ITSD-\d+$/);
    expect(req.currentStatus.status).toBe('Waiting for support');
    expect(req.reporter.displayName).toBe('Alice Analyst');
    const issue = (await c.call('GET', `issue/${req.issueKey}`)).json();
    expect(issue.fields.issuetype.name).toBe('Incident');
    const pub = await c.call('POST', `/rest/servicedeskapi/request/${req.issueKey}/comment`, {
      body: 'We are on it',
      public: true,
    });
    const internal = await c.call('POST', `/rest/servicedeskapi/request/${req.issueKey}/comment`, {
      body: 'Router 3 again',
      public: false,
    });
    expect(pub.json().public).toBe(true);
    expect(internal.json().public).toBe(false);
    const publicOnly = (
      await c.call('GET', `/rest/servicedeskapi/request/${req.issueKey}/comment?internal=false`)
    ).json();
    expect(publicOnly.values.map((v: { body: string }) => v.body)).toEqual(['We are on it']);
    const platform = (await c.call('GET', `issue/${req.issueKey}/comment`)).json();
    expect(platform.comments.map((x: { jsdPublic: boolean }) => x.jsdPublic)).toEqual([true, false]);
  });

  it('rejects unknown request types', async () => {
    const res = await c.call('POST', '/rest/servicedeskapi/request', {
      serviceDeskId: '1',
      requestTypeId: '99',
      requestFieldValues: { summary: 'x' },
    });
    expect(res.statusCode).toBe(400);
  });
});
