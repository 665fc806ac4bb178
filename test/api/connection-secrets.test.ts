/**
 * A stored Jira secret is bound to the site, the OAuth endpoints and the TLS trust it was given
 * for: a check or an update that changes any of them must bring the secret again, and no saved
 * secret ever reaches another host (a recording HTTP server on loopback plays the other host).
 * Webhook secrets are cleared by an explicit null (audited, masked); `auth` that is not an object
 * is a 400 naming it, never a 500.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { sandboxConnectionYaml, startTestService, writeConfig } from '../helpers/service.js';

interface Recorded {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

/** Another host: answers every request with a 401 and keeps what it was sent. */
async function startRecorder(): Promise<{ url: string; requests: Recorded[]; close(): Promise<void> }> {
  const requests: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body });
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"who are you?"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const basicOf = (email: string, token: string) => `Basic ${Buffer.from(`${email}:${token}`).toString('base64')}`;

describe('a stored secret is bound to the site, endpoints and TLS trust it was given for', () => {
  let sb: RunningSandbox;
  let svc: RunningService;
  let rec: Awaited<ReturnType<typeof startRecorder>>;
  let caPem = '';
  const dir = mkdtempSync(join(tmpdir(), 'jb-conn-secrets-'));
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${svc.url}${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
  const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;
  let alice: { email: string; apiToken: string };
  const body = (over: Record<string, unknown> = {}) => ({
    id: 'bound',
    name: 'Bound',
    site_url: sb.baseUrl,
    flavour: 'cloud',
    auth: { type: 'basic', email: alice.email, api_token: alice.apiToken },
    sweep: { interval_seconds: 0, link_check_seconds: 900 },
    ...over,
  });
  /** The same connection, its API token left out (the console's "edit without retyping"). */
  const noToken = (over: Record<string, unknown> = {}) =>
    body({ auth: { type: 'basic', email: alice.email }, ...over });
  /** Every Authorization header the other host received that carries a saved secret. */
  const leaked = () =>
    rec.requests.filter(
      (r) =>
        r.authorization === basicOf(alice.email, alice.apiToken) ||
        r.authorization === basicOf(sb.credentials.email, sb.credentials.apiToken) ||
        [alice.apiToken, sb.credentials.apiToken, sb.credentials.oauthClient.clientSecret].some(
          (s) => r.body.includes(s) || (r.authorization ?? '').includes(s),
        ),
    );

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    rec = await startRecorder();
    const a = sb.credentials.users.alice!;
    alice = { email: a.loginEmail, apiToken: a.apiToken };
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        'ca.key',
      ].concat(['-out', 'ca.pem', '-days', '2', '-subj', '/CN=jira-bridge secrets test CA']),
      { cwd: dir, stdio: 'pipe' },
    );
    caPem = readFileSync(join(dir, 'ca.pem'), 'utf8').trim();
    writeConfig(dir, [...sandboxConnectionYaml(sb)]);
    svc = await startTestService(dir);
    expect((await call('POST', '/api/v1/connections', body())).status).toBe(201);
  });
  afterAll(async () => {
    await svc?.stop();
    await rec?.close();
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the recorder sees what a check sends it: a token typed for it arrives (so its silence below means something)', async () => {
    const res = await call(
      'POST',
      '/api/v1/connections/check',
      body({ site_url: rec.url, auth: { type: 'basic', email: alice.email, api_token: 'typed-for-this-site' } }),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: false });
    expect(rec.requests.map((r) => r.authorization)).toContain(basicOf(alice.email, 'typed-for-this-site'));
    expect(leaked()).toEqual([]);
  });

  it('a check naming a saved connection with another site_url is refused and sends no saved secret there', async () => {
    const before = rec.requests.length;
    const api = await call('POST', '/api/v1/connections/check', noToken({ site_url: rec.url }));
    expect(api.status).toBe(400);
    const e = await errorOf(api);
    expect(e.code).toBe('VALIDATION_FAILED');
    expect(e.message).toBe(
      `body.auth.api_token: site_url changed from ${sb.baseUrl} to ${rec.url}; send the API token again for the new site`,
    );
    // The connection from the configuration file likewise.
    const file = await call('POST', '/api/v1/connections/check', {
      id: 'sb',
      site_url: `${rec.url}/jira`,
      flavour: 'cloud',
      auth: { type: 'basic', email: sb.credentials.email },
    });
    expect(file.status).toBe(400);
    expect((await errorOf(file)).message).toMatch(/^body\.auth\.api_token: site_url changed from .* to .*\/jira; send/);
    // Another host spelled as the same machine is another site too.
    const host = await call(
      'POST',
      '/api/v1/connections/check',
      noToken({ site_url: sb.baseUrl.replace('127.0.0.1', 'localhost') }),
    );
    expect(host.status).toBe(400);
    expect(rec.requests.length).toBe(before);
    expect(leaked()).toEqual([]);
  });

  it('a check that changes nothing binding borrows the saved secret (renamed, trailing slash, upper-case scheme)', async () => {
    for (const over of [
      { name: 'Renamed in the form' },
      { site_url: `${sb.baseUrl}/` },
      { site_url: sb.baseUrl.replace('http://', 'HTTP://') },
    ]) {
      const res = await call('POST', '/api/v1/connections/check', noToken(over));
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ ok: true });
    }
  });

  it('a check that changes the TLS trust must bring the secret again', async () => {
    const off = await call('POST', '/api/v1/connections/check', noToken({ tls: { verify: false } }));
    expect(off.status).toBe(400);
    expect((await errorOf(off)).message).toMatch(
      /^body\.auth\.api_token: tls\.verify changed from true to false; send the API token again/,
    );
    const ca = await call('POST', '/api/v1/connections/check', noToken({ tls: { verify: true, ca_pem: caPem } }));
    expect(ca.status).toBe(400);
    expect((await errorOf(ca)).message).toMatch(/^body\.auth\.api_token: tls\.ca_pem was added; send the API token/);
    const typed = await call(
      'POST',
      '/api/v1/connections/check',
      body({ tls: { verify: false }, auth: { type: 'basic', email: alice.email, api_token: alice.apiToken } }),
    );
    expect(typed.status).toBe(200);
  });

  it('an update that changes only site_url without the secret is refused and changes nothing; with it, it is saved', async () => {
    const moved = sb.baseUrl.replace('127.0.0.1', 'localhost');
    const res = await call('PUT', '/api/v1/connections/bound', noToken({ site_url: moved }));
    expect(res.status).toBe(400);
    const e = await errorOf(res);
    expect(e.code).toBe('VALIDATION_FAILED');
    expect(e.message).toBe(
      `body.auth.api_token: site_url changed from ${sb.baseUrl} to ${moved}; send the API token again for the new site`,
    );
    expect(((await (await call('GET', '/api/v1/connections/bound')).json()) as { site_url: string }).site_url).toBe(
      sb.baseUrl,
    );
    const toRecorder = await call('PUT', '/api/v1/connections/bound', noToken({ site_url: rec.url }));
    expect(toRecorder.status).toBe(400);
    expect(leaked()).toEqual([]);
    const ok = await call('PUT', '/api/v1/connections/bound', body({ site_url: moved }));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ site_url: moved, auth: { has_secret: true } });
    expect(((await (await call('POST', '/api/v1/connections/bound/check')).json()) as { ok: boolean }).ok).toBe(true);
    // Back where it was (with the secret), and a name-only change still keeps it.
    expect((await call('PUT', '/api/v1/connections/bound', body())).status).toBe(200);
    const renamed = await call('PUT', '/api/v1/connections/bound', noToken({ name: 'Bound again' }));
    expect(renamed.status).toBe(200);
    expect(await renamed.json()).toMatchObject({ name: 'Bound again', auth: { has_secret: true } });
  });

  it('an update that changes the TLS trust needs the secret; a saved CA left out is kept, cleared by null', async () => {
    const off = await call('PUT', '/api/v1/connections/bound', noToken({ tls: { verify: false } }));
    expect(off.status).toBe(400);
    expect((await errorOf(off)).message).toMatch(/^body\.auth\.api_token: tls\.verify changed from true to false;/);
    const ca = await call('PUT', '/api/v1/connections/bound', noToken({ tls: { verify: true, ca_pem: caPem } }));
    expect(ca.status).toBe(400);
    expect((await errorOf(ca)).message).toMatch(/^body\.auth\.api_token: tls\.ca_pem was added;/);
    const withCa = await call('PUT', '/api/v1/connections/bound', body({ tls: { verify: true, ca_pem: caPem } }));
    expect(withCa.status).toBe(200);
    expect(await withCa.json()).toMatchObject({ tls: { verify: true, custom_ca: true } });
    // The console leaves a saved CA blank: kept, so nothing binding changed and the token is kept too.
    const kept = await call('PUT', '/api/v1/connections/bound', noToken({ tls: { verify: true } }));
    expect(kept.status).toBe(200);
    expect(await kept.json()).toMatchObject({ tls: { custom_ca: true }, auth: { has_secret: true } });
    const clear = await call('PUT', '/api/v1/connections/bound', noToken({ tls: { verify: true, ca_pem: null } }));
    expect(clear.status).toBe(400);
    expect((await errorOf(clear)).message).toMatch(/^body\.auth\.api_token: tls\.ca_pem was removed;/);
    const cleared = await call('PUT', '/api/v1/connections/bound', body({ tls: { verify: true, ca_pem: null } }));
    expect(cleared.status).toBe(200);
    expect(await cleared.json()).toMatchObject({ tls: { verify: true, custom_ca: false } });
    // A file path is still refused through the API.
    const file = await call('PUT', '/api/v1/connections/bound', body({ tls: { ca_file: '/etc/ssl/x.pem' } }));
    expect(file.status).toBe(400);
    expect((await errorOf(file)).message).toMatch(/^body\.tls\.ca_file:/);
  });

  it('an OAuth connection: changing auth_url or api_url needs the client secret again (update and check)', async () => {
    const oauth = (auth: Record<string, unknown> = {}) => ({
      id: 'oa',
      site_url: sb.baseUrl,
      flavour: 'cloud',
      auth: {
        type: 'oauth',
        client_id: sb.credentials.oauthClient.clientId,
        auth_url: sb.baseUrl,
        api_url: sb.baseUrl,
        ...auth,
      },
      sweep: { interval_seconds: 0, link_check_seconds: 900 },
    });
    const secret = { client_secret: sb.credentials.oauthClient.clientSecret };
    expect((await call('POST', '/api/v1/connections', oauth(secret))).status).toBe(201);
    // Unchanged endpoints (left out: kept) keep the client secret.
    expect((await call('PUT', '/api/v1/connections/oa', { ...oauth(), name: 'OAuth' })).status).toBe(200);
    const authUrl = await call('PUT', '/api/v1/connections/oa', oauth({ auth_url: rec.url }));
    expect(authUrl.status).toBe(400);
    expect((await errorOf(authUrl)).message).toBe(
      `body.auth.client_secret: auth.auth_url changed from ${sb.baseUrl} to ${rec.url}; send the client secret again for the new endpoints`,
    );
    const apiUrl = await call('POST', '/api/v1/connections/check', oauth({ api_url: rec.url }));
    expect(apiUrl.status).toBe(400);
    expect((await errorOf(apiUrl)).message).toMatch(/^body\.auth\.client_secret: auth\.api_url changed from /);
    // Endpoints left out are kept (no change), so the secret is kept too.
    const leftOut = oauth();
    delete (leftOut.auth as Record<string, unknown>).auth_url;
    delete (leftOut.auth as Record<string, unknown>).api_url;
    const kept = await call('PUT', '/api/v1/connections/oa', leftOut);
    expect(kept.status).toBe(200);
    expect(await kept.json()).toMatchObject({ auth: { auth_url: sb.baseUrl, api_url: sb.baseUrl, has_secret: true } });
    const moved = await call('PUT', '/api/v1/connections/oa', { ...oauth(), site_url: rec.url });
    expect(moved.status).toBe(400);
    expect((await errorOf(moved)).message).toMatch(/^body\.auth\.client_secret: site_url changed/);
    const typed = await call('PUT', '/api/v1/connections/oa', oauth({ auth_url: rec.url, ...secret }));
    expect(typed.status).toBe(200);
    expect(await typed.json()).toMatchObject({ auth: { auth_url: rec.url, has_secret: true } });
    expect(leaked()).toEqual([]);
    expect((await call('DELETE', '/api/v1/connections/oa')).status).toBe(204);
  });

  it('webhook secrets: left out they are kept, an explicit null clears them (audited, masked, never returned)', async () => {
    const hook = {
      secret: 'webhook-secret-0123456789',
      previous_secret: 'previous-secret-0123',
      url_token: 'url-token-0123456789',
    };
    const all = Object.values(hook);
    const put = async (over: Record<string, unknown>) => {
      const res = await call('PUT', '/api/v1/connections/bound', noToken(over));
      const text = await res.text();
      for (const s of [...all, alice.apiToken]) expect(text).not.toContain(s);
      return res.status;
    };
    const mode = async () =>
      ((await (await call('GET', '/api/v1/connections/bound/webhook')).json()) as { authentication: string })
        .authentication;
    expect(await put({ webhook: hook })).toBe(200);
    expect(await mode()).toBe('signature_and_url_token');
    expect(await put({ name: 'Left out' })).toBe(200);
    expect(await mode()).toBe('signature_and_url_token');
    expect(await put({ webhook: { secret: null } })).toBe(200);
    // The previous secret still verifies signatures.
    expect(await mode()).toBe('signature_and_url_token');
    expect(await put({ webhook: { previous_secret: null } })).toBe(200);
    expect(await mode()).toBe('url_token');
    expect(await put({ webhook: { url_token: null } })).toBe(200);
    expect(await mode()).toBe('none');
    // The token itself cannot be "cleared" by null: it is required.
    const nullToken = await call(
      'PUT',
      '/api/v1/connections/bound',
      body({ auth: { type: 'basic', email: alice.email, api_token: null } }),
    );
    expect(nullToken.status).toBe(400);
    expect((await errorOf(nullToken)).message).toMatch(/^body\.auth\.api_token:/);
    expect(((await (await call('POST', '/api/v1/connections/bound/check')).json()) as { ok: boolean }).ok).toBe(true);

    const audit = await (await call('GET', '/api/v1/audit?target=connection:bound&limit=1000')).text();
    for (const s of [...all, alice.apiToken]) expect(audit).not.toContain(s);
    const entries = (
      JSON.parse(audit) as {
        entries: Array<{
          action: string;
          before: { webhook?: Record<string, string> };
          after: { webhook?: Record<string, string> };
        }>;
      }
    ).entries;
    const clearedSecret = entries.find(
      (e) => e.before?.webhook?.secret === '••••••' && e.after?.webhook?.secret === '(cleared)',
    );
    expect(clearedSecret).toMatchObject({
      action: 'connection.updated',
      after: { webhook: { previous_secret: '••••••', url_token: '••••••' } },
    });
    expect(entries.some((e) => e.after?.webhook?.url_token === '(cleared)')).toBe(true);
  });

  it('auth that is not an object is a 400 naming auth (create, update, check), never a 500', async () => {
    for (const auth of ['x', 5, null, true, [], [{ type: 'basic' }]]) {
      for (const [method, path, b] of [
        ['POST', '/api/v1/connections', body({ id: 'other', auth })],
        ['PUT', '/api/v1/connections/bound', body({ auth })],
        ['POST', '/api/v1/connections/check', body({ auth })],
        ['POST', '/api/v1/connections/check', body({ id: 'sb', auth })],
      ] as const) {
        const res = await call(method, path, b);
        expect(res.status, `${method} ${path} auth=${JSON.stringify(auth)}`).toBe(400);
        const e = await errorOf(res);
        expect(e.code).toBe('VALIDATION_FAILED');
        // Refused by the route's schema or by the connection parser: either way a 400 naming auth.
        expect(e.message).toMatch(/(^|: )body\.auth: (must be|expected) an object/);
      }
    }
    for (const k of ['tls', 'webhook', 'sweep']) {
      const res = await call('PUT', '/api/v1/connections/bound', body({ [k]: 'x' }));
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message).toMatch(new RegExp(`^body\\.${k}: must be an object`));
    }
    // Unknown fields stay refused, named.
    const unknown = await call('POST', '/api/v1/connections/check', body({ tls: { verify: true, pin: 'x' } }));
    expect(unknown.status).toBe(400);
    expect((await errorOf(unknown)).message).toMatch(/(^|: )body\.tls.*pin/);
    expect((await call('GET', '/api/v1/connections/other')).status).toBe(404);
  });
});
