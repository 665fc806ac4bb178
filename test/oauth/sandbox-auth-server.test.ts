import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { consent, postJson } from './helpers.js';

/** The sandbox playing auth.atlassian.com / api.atlassian.com, over real loopback HTTP. */
describe('sandbox OAuth 2.0 (3LO) authorization server', () => {
  let sb: RunningSandbox;
  let redirect: string;
  const scope = 'read:jira-work write:jira-work read:jira-user offline_access';

  const authorizeUrl = (over: Record<string, string | null> = {}): string => {
    const u = new URL('/authorize', sb.baseUrl);
    const params: Record<string, string | null> = {
      audience: 'api.atlassian.com',
      client_id: sb.credentials.oauthClient.clientId,
      scope,
      redirect_uri: redirect,
      state: 'st-123',
      response_type: 'code',
      prompt: 'consent',
      ...over,
    };
    for (const [k, v] of Object.entries(params)) if (v !== null) u.searchParams.set(k, v);
    return u.toString();
  };
  const token = (body: Record<string, unknown>) =>
    postJson(`${sb.baseUrl}/oauth/token`, {
      client_id: sb.credentials.oauthClient.clientId,
      client_secret: sb.credentials.oauthClient.clientSecret,
      ...body,
    });
  const codeFor = async (over: Record<string, string | null> = {}): Promise<string> => {
    const back = await consent(authorizeUrl(over));
    return back.searchParams.get('code')!;
  };
  const tokens = async () => {
    const code = await codeFor();
    const r = await token({ grant_type: 'authorization_code', code, redirect_uri: redirect });
    expect(r.status).toBe(200);
    return r.body as { access_token: string; refresh_token: string; expires_in: number };
  };

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    redirect = 'http://127.0.0.1:9999/oauth/callback';
  });
  afterAll(async () => {
    await sb.close();
  });
  beforeEach(() => {
    sb.oauth.reset();
  });

  it('exposes the seeded app in the credentials', () => {
    expect(sb.credentials.oauthClient.clientId).toBe('sandbox-oauth-client');
    expect(sb.credentials.oauthClient.clientSecret.length).toBeGreaterThan(10);
  });

  it('consent page → Accept redirects to redirect_uri with code and state; Deny with access_denied', async () => {
    const back = await consent(authorizeUrl());
    expect(`${back.origin}${back.pathname}`).toBe(redirect);
    expect(back.searchParams.get('state')).toBe('st-123');
    expect(back.searchParams.get('code')).toMatch(/^code-/);

    const denied = await consent(authorizeUrl({ state: 'st-deny' }), { decision: 'deny' });
    expect(denied.searchParams.get('error')).toBe('access_denied');
    expect(denied.searchParams.get('state')).toBe('st-deny');
    expect(denied.searchParams.get('code')).toBeNull();
  });

  it('never redirects to an unregistered redirect_uri; bad client, audience, response_type, scope or state → 400 page', async () => {
    const cases: Array<[Record<string, string | null>, RegExp]> = [
      [{ redirect_uri: 'https://evil.example/cb' }, /redirect_uri .* is not registered/],
      [{ redirect_uri: null }, /redirect_uri/],
      [{ client_id: 'nope' }, /Unknown client_id/],
      [{ audience: 'example.com' }, /audience must be api\.atlassian\.com/],
      [{ response_type: 'token' }, /response_type must be code/],
      [{ scope: null }, /scope is required/],
      [{ state: null }, /state is required/],
    ];
    for (const [over, message] of cases) {
      const res = await fetch(authorizeUrl(over), { redirect: 'manual' });
      expect(res.status, JSON.stringify(over)).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(res.headers.get('content-type')).toContain('text/html');
      expect(await res.text()).toMatch(message);
    }
    // The consent POST is validated again (a forged form cannot pick another redirect).
    const forged = await fetch(`${sb.baseUrl}/authorize`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: sb.credentials.oauthClient.clientId,
        redirect_uri: 'https://evil.example/cb',
        scope,
        state: 's',
        decision: 'accept',
      }).toString(),
      redirect: 'manual',
    });
    expect(forged.status).toBe(400);
    expect(forged.headers.get('location')).toBeNull();
  });

  it('a registered app accepts only its exact redirect URIs', async () => {
    const app = sb.oauth.registerApp({ redirectUris: ['https://bridge.example/oauth/callback'] });
    const ok = new URL('/authorize', sb.baseUrl);
    for (const [k, v] of Object.entries({
      audience: 'api.atlassian.com',
      client_id: app.clientId,
      scope,
      redirect_uri: 'https://bridge.example/oauth/callback',
      state: 's',
      response_type: 'code',
    }))
      ok.searchParams.set(k, v);
    expect((await fetch(ok, { redirect: 'manual' })).status).toBe(200);
    ok.searchParams.set('redirect_uri', 'https://bridge.example/oauth/callback/extra');
    expect((await fetch(ok, { redirect: 'manual' })).status).toBe(400);
    ok.searchParams.set('redirect_uri', 'http://127.0.0.1:1234/cb'); // loopback is only for the seeded app
    expect((await fetch(ok, { redirect: 'manual' })).status).toBe(400);
  });

  it('authorization_code grant: token response shape; codes are single-use and bound to redirect_uri', async () => {
    const code = await codeFor();
    const r = await token({ grant_type: 'authorization_code', code, redirect_uri: redirect });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      access_token: expect.stringMatching(/^at-/),
      refresh_token: expect.stringMatching(/^rt-/),
      expires_in: 3600,
      token_type: 'Bearer',
      scope,
    });
    const again = await token({ grant_type: 'authorization_code', code, redirect_uri: redirect });
    expect(again.status).toBe(403);
    expect(again.body).toEqual({ error: 'invalid_grant', error_description: expect.any(String) });

    const code2 = await codeFor();
    const wrong = await token({ grant_type: 'authorization_code', code: code2, redirect_uri: `${redirect}x` });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error).toBe('invalid_grant');
    // ... and the code is spent by the failed attempt.
    const after = await token({ grant_type: 'authorization_code', code: code2, redirect_uri: redirect });
    expect(after.body.error).toBe('invalid_grant');
  });

  it('accepts a form-encoded token request; refuses wrong client credentials and unknown grant types', async () => {
    const code = await codeFor();
    const res = await fetch(`${sb.baseUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: sb.credentials.oauthClient.clientId,
        client_secret: sb.credentials.oauthClient.clientSecret,
        code,
        redirect_uri: redirect,
      }).toString(),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { token_type: string }).token_type).toBe('Bearer');

    const bad = await token({ grant_type: 'refresh_token', refresh_token: 'x', client_secret: 'wrong' });
    expect(bad.status).toBe(401);
    expect(bad.body).toEqual({ error: 'access_denied', error_description: 'Unauthorized' });
    const grant = await token({ grant_type: 'password' });
    expect(grant.status).toBe(400);
    expect(grant.body.error).toBe('unsupported_grant_type');
  });

  it('refresh_token grant rotates: a new refresh token each time, the old one answers 403 invalid_grant', async () => {
    const t0 = await tokens();
    const r1 = await token({ grant_type: 'refresh_token', refresh_token: t0.refresh_token });
    expect(r1.status).toBe(200);
    expect(r1.body.refresh_token).not.toBe(t0.refresh_token);
    expect(r1.body.access_token).not.toBe(t0.access_token);
    const reuse = await token({ grant_type: 'refresh_token', refresh_token: t0.refresh_token });
    expect(reuse.status).toBe(403);
    expect(reuse.body).toEqual({ error: 'invalid_grant', error_description: 'Unknown or invalid refresh token.' });
    const r2 = await token({ grant_type: 'refresh_token', refresh_token: r1.body.refresh_token });
    expect(r2.status).toBe(200);
    expect(sb.oauth.counters).toMatchObject({ codeGrants: 1, refreshGrants: 2, refreshRejected: 1 });
    expect(sb.oauth.liveRefreshTokens()).toBe(1);
    const control = (await (await fetch(`${sb.baseUrl}/_sandbox/oauth`)).json()) as {
      counters: { refreshGrants: number };
    };
    expect(control.counters.refreshGrants).toBe(2);
  });

  it('no offline_access → no refresh token', async () => {
    const code = await codeFor({ scope: 'read:jira-work' });
    const r = await token({ grant_type: 'authorization_code', code, redirect_uri: redirect });
    expect(r.status).toBe(200);
    expect(r.body.refresh_token).toBeUndefined();
  });

  it('accessible-resources lists the site by cloud id for a live access token', async () => {
    const t = await tokens();
    const res = await fetch(`${sb.baseUrl}/oauth/token/accessible-resources`, {
      headers: { authorization: `Bearer ${t.access_token}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([
      {
        id: sb.oauth.cloudId,
        url: sb.baseUrl,
        name: '127.0.0.1',
        scopes: ['read:jira-work', 'write:jira-work', 'read:jira-user'],
        avatarUrl: expect.any(String),
      },
    ]);
    const anon = await fetch(`${sb.baseUrl}/oauth/token/accessible-resources`);
    expect(anon.status).toBe(401);
  });

  it('the API through /ex/jira/{cloudId} takes issued tokens only; expired or unknown → 401, other cloud id → 404', async () => {
    const t = await tokens();
    const ex = `${sb.baseUrl}/ex/jira/${sb.oauth.cloudId}/rest/api/3`;
    const me = await fetch(`${ex}/myself`, { headers: { authorization: `Bearer ${t.access_token}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { accountId: string }).accountId).toBe(sb.credentials.users.admin!.accountId);
    // A write through the gateway reaches the same handlers.
    const created = await fetch(`${ex}/issue`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ fields: { project: { key: 'OPS' }, issuetype: { name: 'Task' }, summary: 'via 3LO' } }),
    });
    expect(created.status).toBe(201);

    expect((await fetch(`${ex}/myself`)).status).toBe(401);
    const fixed = await fetch(`${ex}/myself`, { headers: { authorization: `Bearer ${sb.credentials.oauthToken}` } });
    expect(fixed.status).toBe(401);
    const other = await fetch(`${sb.baseUrl}/ex/jira/not-this-site/rest/api/3/myself`, {
      headers: { authorization: `Bearer ${t.access_token}` },
    });
    expect(other.status).toBe(404);
    // Issued tokens are for the gateway, not the site URL.
    const direct = await fetch(`${sb.baseUrl}/rest/api/3/myself`, {
      headers: { authorization: `Bearer ${t.access_token}` },
    });
    expect(direct.status).toBe(401);

    sb.oauth.expireAccessTokens();
    const expired = await fetch(`${ex}/myself`, { headers: { authorization: `Bearer ${t.access_token}` } });
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { errorMessages: string[] }).errorMessages[0]).toMatch(/not authenticated/);
  });

  it('expires_in follows the knob (control API)', async () => {
    const set = await postJson(`${sb.baseUrl}/_sandbox/oauth/settings`, { accessTokenTtlSec: 120 });
    expect(set.status).toBe(200);
    const t = await tokens();
    expect(t.expires_in).toBe(120);
    const bad = await postJson(`${sb.baseUrl}/_sandbox/oauth/settings`, { accessTokenTtlSec: 0 });
    expect(bad.status).toBe(400);
  });

  it('revoking the app kills its refresh tokens', async () => {
    const t = await tokens();
    const r = await postJson(`${sb.baseUrl}/_sandbox/oauth/revoke`, {});
    expect(r.body.revoked).toBe(1);
    const refresh = await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token });
    expect(refresh.status).toBe(403);
    expect(refresh.body.error).toBe('invalid_grant');
  });

  it('POST /_sandbox/reset forgets issued tokens and restarts the counters', async () => {
    const t = await tokens();
    expect(sb.oauth.counters.codeGrants).toBe(1);
    const reset = await fetch(`${sb.baseUrl}/_sandbox/reset`, { method: 'POST' });
    expect(reset.status).toBe(204);
    expect(sb.oauth.counters.codeGrants).toBe(0);
    const refresh = await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token });
    expect(refresh.status).toBe(403);
  });
});
