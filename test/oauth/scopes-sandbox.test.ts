import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scopeTable } from '../../scripts/gen-oauth-scopes.js';
import { OPERATION_SCOPES } from '../../src/core/oauth-scopes.generated.js';
import { operationKey, requiredScopes, scopesForMappings } from '../../src/core/oauth-scopes.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { consent, postJson } from './helpers.js';

const fixture = (p: string) =>
  JSON.parse(readFileSync(new URL(`../${p}`, import.meta.url), 'utf8')) as {
    paths: Record<string, Record<string, unknown>>;
  };

describe('OAuth scopes per operation (Atlassian’s OpenAPI descriptions)', () => {
  it('the generated table is what the descriptions say, for every operation of the checked-in contract fixtures', () => {
    const fromFixtures = scopeTable([
      fixture('fixtures/openapi/jira-cloud-v3.pruned.json'),
      fixture('contract/fixtures/jsm-cloud.pruned.json'),
    ]);
    expect(Object.keys(fromFixtures).length).toBeGreaterThan(20);
    for (const [op, scopes] of Object.entries(fromFixtures)) expect([op, OPERATION_SCOPES[op]]).toEqual([op, scopes]);
  });

  it('names the documented classic scopes of the operations jira-bridge uses (v2 and latest read as v3)', () => {
    expect(requiredScopes('GET', '/rest/api/2/myself')).toEqual(['read:jira-user']);
    expect(requiredScopes('PUT', '/rest/api/3/issue/:issueIdOrKey')).toEqual(['write:jira-work']);
    expect(requiredScopes('GET', '/rest/api/latest/issue/{id}')).toEqual(['read:jira-work']);
    expect(requiredScopes('POST', '/rest/api/3/webhook')).toEqual(['manage:jira-webhook', 'read:jira-work']);
    expect(requiredScopes('POST', '/rest/api/3/project')).toEqual(['manage:jira-configuration']);
    expect(requiredScopes('POST', '/rest/servicedeskapi/request')).toEqual(['write:servicedesk-request']);
    expect(requiredScopes('GET', '/rest/servicedeskapi/servicedesk')).toEqual(['read:servicedesk-request']);
    expect(requiredScopes('POST', '/rest/servicedeskapi/customer')).toEqual(['manage:servicedesk-customer']);
    expect(operationKey('get', '/rest/api/2/issue/:issueIdOrKey/comment')).toBe('GET /rest/api/3/issue/{}/comment');
  });

  it('a connection asks for the Service Management scopes only when a mapping uses a service desk', () => {
    const platform = scopesForMappings([{ kinds: { incident: { issue_type: 'Incident' } } }]);
    expect(platform).toEqual([
      'manage:jira-webhook',
      'read:jira-user',
      'read:jira-work',
      'write:jira-work',
      'offline_access',
    ]);
    const desk = scopesForMappings([
      { kinds: { incident: { issue_type: 'Incident' } } },
      { kinds: { req: { service_desk: 'ITSD', request_type: 'Get IT help' } } },
    ]);
    expect(desk).toEqual(
      expect.arrayContaining([...platform, 'read:servicedesk-request', 'write:servicedesk-request']),
    );
  });
});

describe('the sandbox enforces OAuth scopes as api.atlassian.com does', () => {
  let sb: RunningSandbox;
  const redirect = 'http://127.0.0.1:9999/oauth/callback';

  const grant = async (scope: string) => {
    const u = new URL('/authorize', sb.baseUrl);
    for (const [k, v] of Object.entries({
      audience: 'api.atlassian.com',
      client_id: sb.credentials.oauthClient.clientId,
      scope,
      redirect_uri: redirect,
      state: 'st',
      response_type: 'code',
    }))
      u.searchParams.set(k, v);
    const code = (await consent(u.toString())).searchParams.get('code')!;
    const r = await postJson(`${sb.baseUrl}/oauth/token`, {
      grant_type: 'authorization_code',
      client_id: sb.credentials.oauthClient.clientId,
      client_secret: sb.credentials.oauthClient.clientSecret,
      code,
      redirect_uri: redirect,
    });
    expect(r.status).toBe(200);
    return r.body as { access_token: string; scope: string };
  };
  const api = async (token: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${sb.baseUrl}/ex/jira/${sb.oauth.cloudId}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as unknown };
  };

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
  });
  afterAll(async () => {
    await sb.close();
  });

  it('the consent grants what was asked, known scopes only; the token response carries them as scope', async () => {
    const t = await grant('read:jira-work made-up:scope offline_access');
    expect(t.scope.split(' ').sort()).toEqual(['offline_access', 'read:jira-work']);
    const res = await fetch(`${sb.baseUrl}/oauth/token/accessible-resources`, {
      headers: { authorization: `Bearer ${t.access_token}` },
    });
    expect(((await res.json()) as Array<{ scopes: string[] }>)[0]!.scopes).toEqual(['read:jira-work']);
  });

  it('an operation whose scope was not granted is a 401 "Unauthorized; scope does not match"; one granted is served', async () => {
    const t = await grant('read:jira-work write:jira-work offline_access');
    expect(await api(t.access_token, 'GET', '/rest/api/3/priority')).toMatchObject({ status: 200 });
    const denied = { status: 401, body: { code: 401, message: 'Unauthorized; scope does not match' } };
    expect(await api(t.access_token, 'GET', '/rest/api/3/myself')).toEqual(denied);
    expect(await api(t.access_token, 'GET', '/rest/servicedeskapi/servicedesk')).toEqual(denied);
    const request = { serviceDeskId: '1', requestTypeId: '3', requestFieldValues: { summary: 'Printer on fire' } };
    expect(await api(t.access_token, 'POST', '/rest/servicedeskapi/request', request)).toEqual(denied);
    expect([...sb.state.issues.values()].some((i) => i.summary === 'Printer on fire')).toBe(false);

    const sm = await grant(
      'read:jira-work write:jira-work read:jira-user read:servicedesk-request write:servicedesk-request',
    );
    expect(await api(sm.access_token, 'GET', '/rest/api/3/myself')).toMatchObject({ status: 200 });
    expect(await api(sm.access_token, 'GET', '/rest/servicedeskapi/servicedesk')).toMatchObject({ status: 200 });
    expect(await api(sm.access_token, 'POST', '/rest/servicedeskapi/request', request)).toMatchObject({ status: 201 });
  });

  it('API tokens (basic) are not scoped', async () => {
    const { email, apiToken } = sb.credentials;
    const res = await fetch(`${sb.baseUrl}/rest/servicedeskapi/servicedesk`, {
      headers: { authorization: `Basic ${Buffer.from(`${email}:${apiToken}`).toString('base64')}` },
    });
    expect(res.status).toBe(200);
  });
});
