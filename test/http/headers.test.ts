/**
 * Security headers of the real service (issue 15, finding 7): the console is served with a strict
 * Content-Security-Policy (no inline script), `nosniff`, frame denial and a Referrer-Policy; API
 * responses (answers, errors, 401s, 404s) carry `nosniff`, frame denial and the Referrer-Policy
 * too; `/docs` keeps swagger-ui's own policy (it needs its inline script hashes) without framing.
 * Then both pages in Chromium: they render, and the browser reports no policy violation.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../../src/app/service.js';
import { createLogger } from '../../src/log/logger.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A Content-Security-Policy header as directive → sources (lower-case names). */
function parseCsp(header: string | null): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of (header ?? '').split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) out.set(name.toLowerCase(), sources);
  }
  return out;
}

/** The headers every response must carry: no MIME sniffing, no framing, no referrer to other sites. */
function expectBaseline(res: Response, what: string): void {
  expect(res.headers.get('x-content-type-options'), what).toBe('nosniff');
  expect(res.headers.get('x-frame-options'), what).toBe('DENY');
  expect(['no-referrer', 'same-origin'], what).toContain(res.headers.get('referrer-policy'));
  const csp = res.headers.get('content-security-policy');
  // One policy, not two concatenated by a second writer (fetch joins repeated headers with ", ").
  expect(csp, what).toBeTruthy();
  expect(csp, what).not.toContain(',');
  expect(parseCsp(csp).get('frame-ancestors'), what).toEqual(["'none'"]);
}

describe('security headers', () => {
  let svc: RunningService;
  const dir = mkdtempSync(join(tmpdir(), 'jb-headers-'));
  const get = (path: string, init: RequestInit = {}) => fetch(`${svc.url}${path}`, { redirect: 'manual', ...init });

  beforeAll(async () => {
    writeFileSync(join(dir, 'jira-bridge.yaml'), 'connections: []\nmappings: []\n');
    svc = await startService({
      configPath: join(dir, 'jira-bridge.yaml'),
      env: { PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(dir, 'data') },
      logger: createLogger({ level: 'silent' }),
      drainMs: 500,
    });
  });
  afterAll(async () => {
    await svc?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(['/console', '/console/', '/console/app.js', '/console/lib.js', '/console/style.css'])(
    'serves %s with a strict Content-Security-Policy',
    async (path) => {
      const res = await get(path);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      expectBaseline(res, path);
      const csp = parseCsp(res.headers.get('content-security-policy'));
      expect(csp.get('default-src')).toEqual(["'self'"]);
      expect(csp.get('script-src')).toEqual(["'self'"]);
      expect(csp.get('script-src-attr')).toEqual(["'none'"]);
      expect(csp.get('object-src')).toEqual(["'none'"]);
      expect(["'none'", "'self'"]).toContain(csp.get('base-uri')?.join(' '));
      expect(csp.get('form-action')).toEqual(["'self'"]);
      // Nothing anywhere in the policy lets inline or evaluated code run.
      const all = [...csp.values()].flat();
      for (const weak of ["'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'wasm-unsafe-eval'", '*', 'data:'])
        expect(
          [...csp].filter(([d, s]) => d !== 'img-src' && s.includes(weak)).map(([d]) => d),
          `${weak} in ${path}`,
        ).toEqual([]);
      expect(all).not.toContain('http:');
      expect(all).not.toContain('https:');
      // Plain http on a LAN address must keep loading its own scripts.
      expect(csp.has('upgrade-insecure-requests')).toBe(false);
    },
  );

  it('gives API answers, errors and the system routes nosniff, frame denial and a Referrer-Policy', async () => {
    const answers: Array<[string, number]> = [
      ['/api/v1/jobs/stats', 200],
      ['/api/v1/no-such-thing', 404],
      ['/healthz', 200],
      ['/openapi.json', 200],
    ];
    for (const [path, status] of answers) {
      const res = await get(path);
      expect(res.status, path).toBe(status);
      expect(res.headers.get('content-type'), path).toMatch(/^application\/json/);
      await res.arrayBuffer();
      expectBaseline(res, path);
    }
    const bad = await get('/api/v1/tokens', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name":',
    });
    expect(bad.status).toBe(400);
    await bad.arrayBuffer();
    expectBaseline(bad, 'a 400');
  });

  it('keeps /docs working under swagger-ui’s own policy, without framing', async () => {
    for (const path of ['/docs', '/docs/']) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toMatch(/^text\/html/);
      expect(await res.text(), path).toMatch(/swagger-ui-bundle\.js/);
      expectBaseline(res, path);
      const csp = parseCsp(res.headers.get('content-security-policy'));
      // swagger-ui's page loads its initialiser from a file too: no inline or evaluated script.
      expect(csp.get('script-src')?.[0]).toBe("'self'");
      expect(csp.get('script-src')).not.toContain("'unsafe-inline'");
      expect(csp.get('script-src')).not.toContain("'unsafe-eval'");
      expect(csp.get('object-src')).toEqual(["'none'"]);
      expect(csp.has('upgrade-insecure-requests')).toBe(false);
    }
    const js = await get('/docs/static/swagger-initializer.js');
    expect(js.status).toBe(200);
    await js.arrayBuffer();
    expectBaseline(js, 'swagger-initializer.js');
  });

  it('is enforced on 401s once tokens are required', async () => {
    const created = await get('/api/v1/tokens', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'headers admin', role: 'admin' }),
    });
    expect(created.status).toBe(201);
    await created.arrayBuffer();
    const res = await get('/api/v1/jobs/stats');
    expect(res.status).toBe(401);
    await res.arrayBuffer();
    expectBaseline(res, 'a 401');
    // The console page itself needs no token (it asks for one).
    const page = await get('/console/');
    expect(page.status).toBe(200);
    await page.arrayBuffer();
    expectBaseline(page, '/console/ with tokens required');
  });

  describe.skipIf(!existsSync(CHROMIUM))('in Chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    });
    afterAll(async () => {
      await browser?.close();
    });

    /** A page that records every policy violation and script error it sees. */
    const watched = async (): Promise<{ page: Page; problems: string[] }> => {
      const page = await browser.newPage();
      const problems: string[] = [];
      await page.exposeFunction('__cspViolation', (v: string) => problems.push(`violation: ${v}`));
      await page.addInitScript(`document.addEventListener('securitypolicyviolation', (e) =>
        void window.__cspViolation([e.violatedDirective, e.blockedURI, e.sourceFile + ':' + e.lineNumber].join(' ')))`);
      page.on('console', (m) => {
        if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(e.message));
      return { page, problems };
    };

    it('renders the console sign-in with no policy violation', async () => {
      const { page, problems } = await watched();
      await page.goto(`${svc.url}/console/`);
      await page.waitForSelector('#signin-form', { timeout: 15_000 });
      await page.waitForLoadState('networkidle');
      // The stylesheet applied (a refused style-src would leave the browser's default serif font).
      expect(await page.evaluate<string>('getComputedStyle(document.body).fontFamily')).not.toMatch(/^"?Times/);
      expect(problems).toEqual([]);
      await page.close();
    });

    it('refuses and reports an inline script injected into the console', async () => {
      const { page, problems } = await watched();
      await page.goto(`${svc.url}/console/`);
      await page.waitForSelector('#signin-form', { timeout: 15_000 });
      // What markup smuggled into an innerHTML would try: an inline script and a handler attribute.
      await page.evaluate(`{
        const s = document.createElement('script');
        s.textContent = 'window.__inlineRan = true';
        document.body.append(s);
        const div = document.createElement('div');
        div.innerHTML = '<img src="/console/none.png" onerror="window.__handlerRan = true">';
        document.body.append(div);
      }`);
      const deadline = Date.now() + 5_000;
      const seen = () => problems.filter((p) => p.startsWith('violation: script-src')).length;
      while (seen() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const refused = problems.filter((p) => p.startsWith('violation: ')).map((p) => p.split(' ')[1]);
      expect(refused.sort()).toEqual(['script-src-attr', 'script-src-elem']);
      expect(await page.evaluate('[window.__inlineRan ?? null, window.__handlerRan ?? null]')).toEqual([null, null]);
      await page.close();
    });

    it('renders /docs (swagger-ui) with no policy violation', async () => {
      const { page, problems } = await watched();
      await page.goto(`${svc.url}/docs`);
      await page.waitForSelector('.swagger-ui .info .title', { timeout: 15_000 });
      expect(await page.textContent('.swagger-ui .info .title')).toMatch(/jira-bridge API/);
      await page.waitForSelector('.opblock-tag', { timeout: 15_000 });
      await page.waitForLoadState('networkidle');
      // swagger-ui's bundle tries one inline <style> that its policy (no 'unsafe-inline' styles) refuses,
      // with no visible effect; everything else — any script refused, any script error — fails.
      const fromSwaggerStyle = (p: string) =>
        /^violation: style-src-elem inline \S+\/docs\/static\/swagger-ui-bundle\.js:/.test(p) ||
        /^Applying inline style violates the following Content Security Policy directive 'style-src /.test(p);
      expect(problems.filter((p) => !fromSwaggerStyle(p))).toEqual([]);
      await page.close();
    });
  });
});
