import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJiraClient } from '../../src/jira/client.js';
import { Pacer } from '../../src/jira/pacer.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { connectionFor } from './helpers.js';
import { startTestService, writeConfig } from '../helpers/service.js';

/** A private CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI. */
function makePki(dir: string): { ca: string; key: string; cert: string } {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=jira-bridge test CA',
  ]);
  run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=localhost',
  ]);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n');
  run([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  ]);
  return {
    ca: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    key: readFileSync(join(dir, 'server.key'), 'utf8'),
    cert: readFileSync(join(dir, 'server.pem'), 'utf8'),
  };
}

describe('custom CA (self-hosted Jira with a private CA)', () => {
  let dir: string;
  let sb: RunningSandbox;
  let server: Server;
  let httpsUrl: string;
  let pki: { ca: string; key: string; cert: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'jb-tls-'));
    pki = makePki(dir);
    sb = await startSandbox({ flavour: 'datacenter', port: 0 });
    const target = new URL(sb.baseUrl);
    // TLS terminating proxy in front of the sandbox.
    server = createServer({ key: pki.key, cert: pki.cert }, (req, res) => {
      const up = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    httpsUrl = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await sb.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails verification without the CA: JIRA_TLS with the tls.ca_file hint', async () => {
    const c = createJiraClient({ ...connectionFor(sb), siteUrl: httpsUrl }, { pacer: new Pacer(), maxRetries: 0 });
    try {
      await expect(c.myself()).rejects.toMatchObject({ code: 'JIRA_TLS', retryable: false });
      const r = await c.checkConnection();
      expect(r).toMatchObject({ ok: false, code: 'tls' });
      if (!r.ok) expect(r.hint).toContain('tls.ca_file');
    } finally {
      await c.close();
    }
  });

  it('succeeds with the CA bundle', async () => {
    const c = createJiraClient(
      { ...connectionFor(sb), siteUrl: httpsUrl, tls: { verify: true, ca: pki.ca } },
      { pacer: new Pacer() },
    );
    try {
      const r = await c.checkConnection();
      expect(r).toMatchObject({ ok: true, user: { name: 'admin' }, warnings: [] });
    } finally {
      await c.close();
    }
  });

  it('through the admin API: an unsaved connection checks with its CA pasted as tls.ca_pem, and is saved with it', async () => {
    const svcDir = mkdtempSync(join(tmpdir(), 'jb-tls-svc-'));
    writeConfig(svcDir, ['connections: []']);
    const svc = await startTestService(svcDir);
    const post = async (path: string, body: unknown) =>
      (await fetch(`${svc.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })) as Response;
    try {
      const conn = {
        id: 'dc-private-ca',
        site_url: httpsUrl,
        flavour: 'datacenter',
        auth: { type: 'pat', token: sb.credentials.pat },
      };
      const without = (await (await post('/api/v1/connections/check', conn)).json()) as {
        ok: boolean;
        code: string;
        hint: string;
      };
      expect(without).toMatchObject({ ok: false, code: 'tls' });
      expect(without.hint).toContain('tls.ca_pem');
      const withCa = { ...conn, tls: { ca_pem: pki.ca } };
      const ok = (await (await post('/api/v1/connections/check', withCa)).json()) as {
        ok: boolean;
        user: { name: string };
      };
      expect(ok).toMatchObject({ ok: true, user: { name: 'admin' } });
      const saved = await post('/api/v1/connections', withCa);
      expect(saved.status).toBe(201);
      expect(((await saved.json()) as { tls: unknown }).tls).toEqual({ verify: true, custom_ca: true });
      const again = (await (await post('/api/v1/connections/dc-private-ca/check', {})).json()) as { ok: boolean };
      expect(again.ok).toBe(true);
    } finally {
      await svc.stop();
      rmSync(svcDir, { recursive: true, force: true });
    }
  });

  it('verify: false connects, and the check warns about it', async () => {
    const c = createJiraClient(
      { ...connectionFor(sb), siteUrl: httpsUrl, tls: { verify: false } },
      { pacer: new Pacer() },
    );
    try {
      const r = await c.checkConnection();
      expect(r.ok).toBe(true);
      if (r.ok) expect(r.warnings.join(' ')).toContain('TLS verification is disabled');
    } finally {
      await c.close();
    }
  });
});
