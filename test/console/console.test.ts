/**
 * The web console in a real browser (playwright-core driving Debian's Chromium; install it with
 * `scripts/install-browser.sh`). Walks an operator's path against the real service and the
 * sandbox: sign in with a token, see records linked to Jira, watch a Jira user's transition and
 * comment arrive, retry a failed job, generate the webhook secret and see deliveries, see the
 * banner a rejected Jira credential raises, and a bad token sent back to sign-in. Screenshots of
 * every screen go to test-results/console/.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../../src/app/service.js';
import { createLogger } from '../../src/log/logger.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const noBrowser = !existsSync(CHROMIUM);
if (noBrowser) console.warn(`test/console skipped: no browser at ${CHROMIUM}; run scripts/install-browser.sh`);
const SHOTS = join(process.cwd(), 'test-results', 'console');
const SECRET = 'console-webhook-secret-0123456789';

describe.skipIf(noBrowser)('web console in Chromium', () => {
  let sb: RunningSandbox;
  let svc: RunningService;
  let browser: Browser;
  let page: Page;
  let token = '';
  const errors: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'jb-console-'));
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${svc.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
    });
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    writeFileSync(
      join(dir, 'jira-bridge.yaml'),
      [
        'connections:',
        '  - id: sb',
        '    name: Acme Jira (sandbox)',
        `    site_url: ${sb.baseUrl}`,
        '    flavour: cloud',
        `    auth: { type: basic, email: ${sb.credentials.email}, api_token: ${sb.credentials.apiToken} }`,
        `    webhook: { secret: ${SECRET} }`,
        '    sweep: { interval_seconds: 0 }',
        'mappings:',
        '  - id: incidents',
        '    connection: sb',
        '    scope: stackflow',
        '    project: OPS',
        '    kinds: { incident: { issue_type: Incident } }',
        '    status: { out: { new: To Do, in_progress: In Progress }, closed: [resolved] }',
        '    priority: { out: { P1: Highest, P2: High, P3: Medium, P4: Low } }',
        '    close: { status: Done }',
        '',
      ].join('\n'),
    );
    svc = await startService({
      configPath: join(dir, 'jira-bridge.yaml'),
      env: { PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(dir, 'data') },
      logger: createLogger({ level: 'silent' }),
      drainMs: 1000,
    });
    sb.webhooks.register({
      url: `${svc.url}/webhooks/jira/sb`,
      events: ['jira:issue_created', 'jira:issue_updated', 'comment_created', 'comment_updated', 'comment_deleted'],
      secret: SECRET,
    });
    const created = await fetch(`${svc.url}/api/v1/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'console admin', role: 'admin' }),
    });
    token = ((await created.json()) as { token: string }).token;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
  });
  afterAll(async () => {
    await browser?.close();
    await svc?.stop();
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const waitFor = async (cond: () => Promise<boolean>, ms = 20_000): Promise<void> => {
    const t0 = Date.now();
    while (!(await cond())) {
      if (Date.now() - t0 > ms) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('signs in, shows records linked to Jira, and what a Jira user did to them', async () => {
    await page.goto(`${svc.url}/console/`);
    await page.waitForSelector('#signin-form');
    await shot('01-sign-in');
    await page.fill('#token', token);
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('h1:text("Records")');

    for (const [id, title] of [
      ['inc-100', 'Checkout latency over 2 s'],
      ['inc-101', 'Payment webhook retries piling up'],
    ] as const) {
      const r = await api(`/api/v1/records/stackflow/${id}`, {
        method: 'PUT',
        body: JSON.stringify({
          kind: 'incident',
          title,
          description: 'From **StackFlow**',
          status: 'new',
          severity: 'P2',
        }),
      });
      expect(r.status).toBeLessThan(300);
    }
    await waitFor(async () => {
      const r = (await (await api('/api/v1/records/stackflow/inc-100')).json()) as { sync: { state: string } };
      return r.sync.state === 'synced';
    });
    await page.reload();
    await page.waitForSelector('a.issue-link');
    const keys = await page.$$eval('a.issue-link', (as) => as.map((a) => a.textContent));
    expect(keys.every((k) => /^OPS-\d+$/.test(k ?? ''))).toBe(true);
    await shot('02-records');

    // A Jira user transitions the issue and comments; the console shows it.
    const rec = (await (await api('/api/v1/records/stackflow/inc-100')).json()) as { link: { issue_key: string } };
    const key = rec.link.issue_key;
    for (const [path, body] of [
      [`/_sandbox/issues/${key}/transition`, { as: 'alice', to: 'In Progress' }],
      [`/_sandbox/issues/${key}/comment`, { as: 'alice', body: 'Cache warmed, watching p99.' }],
    ] as const) {
      const res = await fetch(`${sb.baseUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBeLessThan(300);
    }
    await waitFor(async () => {
      const r = (await (await api('/api/v1/records/stackflow/inc-100')).json()) as { status: string };
      return r.status === 'in_progress';
    });
    await page.click('tr[data-host="inc-100"] td:nth-child(2)');
    await page.waitForSelector('#record-status');
    await waitFor(
      async () =>
        (await page.textContent('#comments'))?.includes('Cache warmed') === true || (await page.reload(), false),
    );
    expect(await page.textContent('#record-status')).toBe('in_progress');
    await shot('03-record-timeline');
  });

  it('retries a failed job from the screen', async () => {
    await svc.store.transaction((trx) =>
      svc.queue.enqueue(trx, { kind: 'import.legacy', key: 'legacy:1', payload: {}, maxAttempts: 1 }),
    );
    await waitFor(
      async () => ((await (await api('/api/v1/jobs?state=dead')).json()) as { jobs: unknown[] }).jobs.length > 0,
    );
    await page.goto(`${svc.url}/console/#/jobs`);
    await page.waitForSelector('button.retry');
    await shot('04-failures');
    type J = { jobs: Array<{ id: number; finished_at: string; last_error: { at: string } | null }> };
    const before = ((await (await api('/api/v1/jobs?state=dead')).json()) as J).jobs[0]!;
    await page.click('button.retry');
    await page.waitForSelector('#retry-msg:text("queued again")');
    // It ran again (and, its kind having no handler, failed again): a newer attempt is recorded.
    await waitFor(async () => {
      const { jobs } = (await (await api('/api/v1/jobs?state=dead')).json()) as J;
      const j = jobs.find((x) => x.id === before.id);
      return !!j && j.last_error?.at !== before.last_error?.at;
    });
  });

  it('webhook setup shows the URL, generates a secret once, and turns green on deliveries', async () => {
    await page.goto(`${svc.url}/console/#/setup`);
    await page.waitForSelector('code.hook-url');
    expect(await page.textContent('code.hook-url')).toContain('/webhooks/jira/sb');
    await page.click('button.gen');
    await page.waitForSelector('code.secret:not([hidden])');
    expect((await page.textContent('code.secret'))?.length).toBeGreaterThanOrEqual(40);
    await page.waitForSelector('.first-delivery.ok');
    await shot('05-webhook-setup');
    await page.goto(`${svc.url}/console/#/deliveries`);
    await page.waitForSelector('td .badge');
    await shot('06-deliveries');
    await page.goto(`${svc.url}/console/#/mappings`);
    await page.waitForSelector('td.mono');
    await shot('07-mappings');
  });

  it('a rejected Jira credential shows a banner saying what to do', async () => {
    sb.knobs.set({ expiredAuth: true });
    await api('/api/v1/records/stackflow/inc-102', {
      method: 'PUT',
      body: JSON.stringify({ kind: 'incident', title: 'Disk full on db-3', status: 'new', severity: 'P1' }),
    });
    await waitFor(async () => {
      const { connections } = (await (await api('/api/v1/connections')).json()) as {
        connections: Array<{ health: { healthy: boolean } }>;
      };
      return connections.some((c) => !c.health.healthy);
    });
    await page.goto(`${svc.url}/console/#/records`);
    await page.waitForSelector('#banner:not([hidden])');
    expect(await page.textContent('#banner')).toMatch(/paused.*Regenerate its API token/);
    await shot('08-connection-paused');
    sb.knobs.set({ expiredAuth: false });
  });

  it('no console errors on the way; a bad token is sent back to sign in with the reason', async () => {
    expect(errors).toEqual([]);
    await page.click('#signout');
    await page.waitForSelector('#signin-form');
    await page.fill('#token', 'jb_not-a-real-token');
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('#signin-form');
    await waitFor(async () => ((await page.textContent('#signin-error')) ?? '') !== '');
    expect(await page.textContent('#signin-error')).toMatch(/Sign in/);
  });
});
