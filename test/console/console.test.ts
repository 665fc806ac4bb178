/**
 * The web console in a real browser (playwright-core driving Debian's Chromium; install it with
 * `scripts/install-browser.sh`). Walks a new user's path against the real service and the
 * sandbox, through the screens only: sign in, create a connection to the sandbox (a wrong token
 * first: the check names the failure and what to regenerate), build a mapping from the lists
 * fetched from Jira (the API's validation errors shown next to their fields), preview its JQL,
 * copy the webhook settings into Jira, see a record created through the API linked, see a Jira
 * user's transition and comment arrive, read the dashboard, connect an OAuth connection through
 * Atlassian's consent page (the sandbox's), subscribe the platform to signed host webhooks (the
 * secret shown once; deliveries to a receiver in the test verify with it, and after a rotation
 * with the new one only; viewers read without secrets or buttons); failure paths: a failed job retried
 * from the screen, a rejected Jira credential raising the banner that says what to do, a bad API
 * token sent back to sign-in with the reason. Screenshots of every screen go to
 * test-results/console/ (desktop, plus a phone-sized pass). No console errors allowed, and no
 * Content-Security-Policy violation (the page reports each one).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../../src/app/service.js';
import { createLogger } from '../../src/log/logger.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { sign } from '../../src/webhooks/verify.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const noBrowser = !existsSync(CHROMIUM);
if (noBrowser) console.warn(`test/console skipped: no browser at ${CHROMIUM}; run scripts/install-browser.sh`);
const SHOTS = join(process.cwd(), 'test-results', 'console');

describe.skipIf(noBrowser)('web console in Chromium: a new user’s path', () => {
  let sb: RunningSandbox;
  let svc: RunningService;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let token = '';
  const errors: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'jb-console-'));
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${svc.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
    });
  const json = async <T>(path: string): Promise<T> => (await (await api(path)).json()) as T;
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const sandboxAs = async (path: string, body: unknown) => {
    const res = await fetch(`${sb.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBeLessThan(300);
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    // A fresh install: a configuration file with nothing in it yet; everything else is done on screen.
    writeFileSync(join(dir, 'jira-bridge.yaml'), 'connections: []\nmappings: []\n');
    svc = await startService({
      configPath: join(dir, 'jira-bridge.yaml'),
      env: { PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(dir, 'data') },
      logger: createLogger({ level: 'silent' }),
      drainMs: 1000,
    });
    const created = await fetch(`${svc.url}/api/v1/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'console admin', role: 'admin' }),
    });
    token = ((await created.json()) as { token: string }).token;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: svc.url });
    // Whatever the Content-Security-Policy refuses (an inline script or handler, an inline style, a
    // foreign image or fetch) is an error too: reported by the page itself, not only in Chromium's log.
    await context.exposeBinding('__cspViolation', (_source, v: string) => void errors.push(`CSP violation: ${v}`));
    await context.addInitScript(`document.addEventListener('securitypolicyviolation', (e) =>
      void window.__cspViolation(e.effectiveDirective + ' refused ' + e.blockedURI + ' (' + e.sourceFile + ':' + e.lineNumber + ')'))`);
    page = await context.newPage();
    page.on('console', (m) => {
      // A 4xx/5xx the screens handle (a validation error, the bad sign-in) is logged by Chromium as a
      // failed resource load: that is not a script error.
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
  const text = async (sel: string) => ((await page.textContent(sel)) ?? '').trim();
  /**
   * Waits until a page expression is true. (Not `page.waitForFunction`: Playwright compiles its
   * predicate with `new Function` inside the page, which the console's CSP rightly refuses.)
   */
  const until = (expr: string, ms = 20_000) =>
    waitFor(async () => Boolean(await page.evaluate<unknown>(expr).catch(() => false)), ms);
  /** Visible form controls without an accessible name (a <label>, aria-label or aria-labelledby). */
  const unlabelled = () =>
    page.evaluate<string[]>(`[...document.querySelectorAll('input, select, textarea')]
      .filter((c) => c.type !== 'hidden' && c.offsetParent !== null)
      .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute('aria-label') && !c.getAttribute('aria-labelledby'))
      .map((c) => c.outerHTML.slice(0, 80))`);

  it('signs in and lands on the dashboard with the set-up checklist', async () => {
    await page.goto(`${svc.url}/console/`);
    await page.waitForSelector('#signin-form');
    await shot('01-sign-in');
    expect(await unlabelled()).toEqual([]);
    await page.fill('#token', token);
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('h1:text("Dashboard")');
    expect(await page.$$eval('.steps li:not(.done)', (l) => l.length)).toBe(3);
    await shot('02-dashboard-first-run');
  });

  it('creates a connection to the sandbox: inline validation, a failed check with its fix, then a good one', async () => {
    await page.click('nav a[data-nav=connections]');
    await page.waitForSelector('h1:text("Jira connections")');
    await shot('03-connections-empty');
    await page.click('#new-connection');
    await page.waitForSelector('#conn-form');

    // The API's validation, shown next to the field.
    await page.fill('#f-id', 'acme');
    await page.fill('#f-name', 'Acme Jira');
    await page.fill('#f-site', 'not a url');
    await page.fill('#f-email', sb.credentials.email);
    await page.fill('#f-token', 'wrong-token');
    await page.click('#save-btn');
    await page.waitForSelector('.field[data-path="site_url"] .field-error:not([hidden])');
    expect(await text('.field[data-path="site_url"] .field-error')).toMatch(/absolute http\(s\) URL/);
    expect(await page.getAttribute('#f-site', 'aria-invalid')).toBe('true');

    // OAuth: client id and secret, then "Connect with Atlassian" once the connection is saved.
    await page.check('input[name=auth][value=oauth]');
    expect(await page.isVisible('#f-cid')).toBe(true);
    expect(await page.isVisible('#f-email')).toBe(false);
    expect(await page.isDisabled('#oauth-connect')).toBe(true);
    expect(await text('#oauth-note')).not.toBe('');

    // Username + password (Data Center's basic auth): on Cloud the API refuses it at auth.username, saying what to use.
    await page.check('input[name=auth][value=password]');
    expect(await page.isVisible('#f-username')).toBe(true);
    expect(await page.isVisible('#f-email')).toBe(false);
    await page.fill('#f-site', sb.baseUrl);
    await page.fill('#f-username', 'admin');
    await page.fill('#f-password', sb.credentials.password);
    await page.click('#save-btn');
    await page.waitForSelector('.field[data-path="auth.username"] .field-error:not([hidden])');
    expect(await text('.field[data-path="auth.username"] .field-error')).toMatch(
      /Jira Cloud refuses a username and password over its API: use email and api_token/,
    );
    await page.fill('#f-site', 'not a url');
    await page.check('input[name=auth][value=basic]');

    // TLS verification off: a warning.
    await page.uncheck('#f-verify');
    expect(await page.isVisible('#tls-warning')).toBe(true);
    await page.check('#f-verify');
    expect(await page.isVisible('#tls-warning')).toBe(false);

    // A wrong API token: the check says 401 and what to regenerate.
    await page.fill('#f-site', sb.baseUrl);
    await page.click('#check-btn');
    await page.waitForSelector('#check-out .err-box');
    expect(await text('.check-code')).toBe('unauthorized');
    expect(await text('.check-hint')).toMatch(/regenerate the API token at https:\/\/id\.atlassian\.com/);
    await shot('04-connection-check-failed');

    // The right one: the Jira user and server reached.
    await page.fill('#f-token', sb.credentials.apiToken);
    await page.click('#check-btn');
    await page.waitForSelector('#check-out .ok-box');
    expect(await text('.check-user')).not.toBe('');
    expect(await text('.check-server')).toContain(new URL(sb.baseUrl).host);
    await page.click('#save-btn');
    await page.waitForSelector('#save-msg .ok');
    await shot('05-connection-saved');
    expect(await unlabelled()).toEqual([]);

    await page.click('nav a[data-nav=connections]');
    await page.waitForSelector('.card.conn[data-conn="acme"]');
    await page.click('.card.conn[data-conn="acme"] button.check');
    await page.waitForSelector('.card.conn[data-conn="acme"] .ok-box');
    await shot('06-connections');
  });

  it('builds a mapping from the lists fetched from Jira, shows errors by their fields, previews its JQL', async () => {
    await page.click('.card.conn[data-conn="acme"] a:text("Map a project")');
    await page.waitForSelector('#mapping-form');
    const opts = (sel: string) =>
      page.$$eval(`${sel} option`, (os) => os.map((o) => (o as unknown as { value: string }).value));
    expect(await opts('select[data-bind="project"]')).toEqual(expect.arrayContaining(['OPS', 'SEC', 'ITSD']));

    // Reload fetches the lists from Jira again (GET …/catalog?reload=true).
    const reloaded = page.waitForRequest((r) => r.url().includes('/catalog?reload=true'));
    await page.click('#reload');
    await reloaded;
    await page.waitForSelector('#catalog-info.flash');
    await page.fill('#m-id', 'stackflow-ops');
    await page.selectOption('select[data-bind="project"]', 'OPS');
    // Issue types of the chosen project, statuses and priorities of the site.
    await page.waitForSelector('select[data-bind="kinds.0.issue_type"] option[value="Incident"]', {
      state: 'attached',
    });
    expect(await opts('select[data-bind="kinds.0.issue_type"]')).toEqual(['', 'Task', 'Bug', 'Incident']);
    expect(await opts('select[data-bind="statusOut.0.b"]')).toEqual(
      expect.arrayContaining(['To Do', 'In Progress', 'Done']),
    );
    expect(await opts('select[data-bind="prioOut.0.b"]')).toEqual(['', 'Highest', 'High', 'Medium', 'Low', 'Lowest']);

    // Saved half-done: each of the API's errors next to its field.
    await page.click('#save-btn');
    await page.waitForSelector('#form-errors:not([hidden])');
    expect(await text('[data-path="scope"] .field-error')).toMatch(/must not be empty/);
    expect(await text('[data-path="kinds.incident.issue_type"] .field-error')).toMatch(/must not be empty/);
    expect(await text('[data-path="status.out.new"] .field-error')).toMatch(/must not be empty/);
    await shot('07-mapping-errors');

    await page.fill('#m-scope', 'stackflow');
    await page.selectOption('select[data-bind="kinds.0.issue_type"]', 'Incident');
    for (const [i, s] of ['To Do', 'In Progress', 'Done'].entries())
      await page.selectOption(`select[data-bind="statusOut.${i}.b"]`, s);
    for (const [i, [jira, host]] of [
      ['To Do', 'new'],
      ['In Progress', 'in_progress'],
      ['Done', 'resolved'],
    ].entries()) {
      await page.click('button.add-row[data-list="statusIn"]');
      await page.selectOption(`select[data-bind="statusIn.${i}.a"]`, jira!);
      await page.fill(`input[data-bind="statusIn.${i}.b"]`, host!);
    }
    // critical/high/medium/low → Highest/High/Medium/Low; P-levels as the host sends them.
    for (const [i, [sev, prio]] of [
      ['P1', 'Highest'],
      ['P2', 'High'],
      ['P3', 'Medium'],
      ['P4', 'Low'],
    ].entries()) {
      await page.fill(`input[data-bind="prioOut.${i}.a"]`, sev!);
      await page.selectOption(`select[data-bind="prioOut.${i}.b"]`, prio!);
    }
    await page.selectOption('#m-prio-default', 'Medium');
    await page.click('button.add-row[data-list="fields"]');
    await page.fill('input[data-bind="fields.0.host"]', 'runbook');
    const notes = await page.$eval(
      'select[data-bind="fields.0.jira"]',
      (sel) =>
        [...(sel as unknown as { options: Iterable<{ label: string; value: string }> }).options].find((o) =>
          o.label.startsWith('Notes'),
        )?.value,
    );
    expect(notes).toMatch(/^customfield_/);
    await page.selectOption('select[data-bind="fields.0.jira"]', notes!);
    await page.selectOption('select[data-bind="fields.0.lock"]', 'host');
    await page.fill('#m-labels', 'from-stackflow');
    await page.check('input[data-bind="closeMode"][value="status"]');
    await page.selectOption('#m-close-status', 'Done');
    await page.fill('#m-attachments-max', '5');

    await page.click('#preview-btn');
    await page.waitForSelector('#preview-out code.jql');
    expect(await text('#preview-out code.jql')).toBe(
      'project = "OPS" AND issuetype in ("Incident") ORDER BY updated DESC',
    );
    expect(Number(await text('#preview-total'))).toBeGreaterThanOrEqual(0);

    // Issue 18: a JQL filter previewed through Jira (a query Jira refuses shows its words), a
    // resolution by closed host status beside the default one, and the unmatched-assignee rule.
    await page.fill('#m-filter', 'labels = = from-stackflow');
    await page.click('#filter-preview');
    await page.waitForSelector('#preview-out .error');
    expect(await text('#preview-out .error')).toMatch(/JQL/);
    await page.fill('#m-filter', 'labels = from-stackflow');
    await page.click('#filter-preview');
    await until(`document.querySelector('#preview-out code.jql')?.textContent.includes('(labels = from-stackflow)')`);
    expect(await text('#preview-out code.jql')).toBe(
      'project = "OPS" AND issuetype in ("Incident") AND (labels = from-stackflow) ORDER BY updated DESC',
    );
    await page.selectOption('#m-resolution', 'Done');
    await page.click('button.add-row[data-list="resolutionBy"]');
    await page.fill('input[data-bind="resolutionBy.0.a"]', 'resolved');
    expect(await opts('select[data-bind="resolutionBy.0.b"]')).toEqual(expect.arrayContaining(["Won't Do", 'Done']));
    await page.selectOption('select[data-bind="resolutionBy.0.b"]', "Won't Do");
    expect(await opts('#m-assignee-unmatched')).toEqual(['unassign', 'keep']);
    await page.selectOption('#m-assignee-unmatched', 'keep');

    await page.click('#save-btn');
    await page.waitForSelector('#save-msg .ok');
    expect(await page.isHidden('#form-errors')).toBe(true);
    const saved = await json<{ mapping: Record<string, unknown> }>('/api/v1/mappings/stackflow-ops');
    expect(saved.mapping).toMatchObject({
      connection: 'acme',
      scope: 'stackflow',
      project: 'OPS',
      kinds: { incident: { issue_type: 'Incident' } },
      status: {
        out: { new: 'To Do', in_progress: 'In Progress', resolved: 'Done' },
        in: { 'In Progress': 'in_progress' },
      },
      priority: { out: { P1: 'Highest' }, out_default: 'Medium' },
      close: { status: 'Done' },
      labels: ['from-stackflow'],
      attachments: { from_jira: true, max_bytes: 5 * 1048576 },
      filter: 'labels = from-stackflow',
      resolution: { resolved: "Won't Do", default: 'Done' },
      assignee: { unmatched: 'keep' },
    });
    await shot('08-mapping-editor');
    expect(await unlabelled()).toEqual([]);
    await page.click('nav a[data-nav=mappings]');
    await page.waitForSelector('tr[data-id="stackflow-ops"]');
    await shot('09-mappings');
  });

  it('copies the webhook URL and a generated secret into Jira; the indicator turns green on the first delivery', async () => {
    await page.click('nav a[data-nav=setup]');
    await page.waitForSelector('code.hook-url');
    const url = await text('code.hook-url');
    expect(url.startsWith(`${svc.url}/webhooks/jira/acme`)).toBe(true);
    await page.click('button.copy');
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(url);
    await page.click('button.gen');
    await page.waitForSelector('code.secret:not([hidden])');
    const secret = await text('code.secret');
    expect(secret.length).toBeGreaterThanOrEqual(40);
    await page.click('button.copy-secret');
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(secret);
    expect(await text('.first-delivery')).toMatch(/Waiting/);
    await shot('10-webhook-waiting');
    // The Jira admin pastes both into Jira.
    sb.webhooks.register({
      url,
      secret,
      events: ['jira:issue_created', 'jira:issue_updated', 'comment_created', 'comment_updated', 'comment_deleted'],
    });

    // A record through the API: created in Jira, linked, and Jira's webhook comes back.
    for (const [id, title, sev] of [
      ['inc-100', 'Checkout latency over 2 s', 'P2'],
      ['inc-101', 'Payment webhook retries piling up', 'P1'],
    ] as const) {
      const r = await api(`/api/v1/records/stackflow/${id}`, {
        method: 'PUT',
        body: JSON.stringify({
          kind: 'incident',
          title,
          description: 'From **StackFlow**',
          status: 'new',
          severity: sev,
          custom: { runbook: 'Restart the checkout pods.' },
        }),
      });
      expect(r.status).toBeLessThan(300);
    }
    await page.waitForSelector('.first-delivery.ok', { timeout: 20_000 });
    await shot('11-webhook-receiving');
  });

  it('shows the record linked, then what a Jira user did to it', async () => {
    await waitFor(
      async () =>
        (await json<{ sync: { state: string } }>('/api/v1/records/stackflow/inc-100')).sync.state === 'synced',
    );
    await page.click('nav a[data-nav=records]');
    await page.waitForSelector('tr[data-host="inc-100"] a.issue-link');
    const rec = await json<{ link: { issue_key: string } }>('/api/v1/records/stackflow/inc-100');
    const key = rec.link.issue_key;
    expect(key).toMatch(/^OPS-\d+$/);
    expect(await text('tr[data-host="inc-100"] a.issue-link')).toBe(key);
    expect(await page.getAttribute('tr[data-host="inc-100"] a.issue-link', 'href')).toBe(`${sb.baseUrl}/browse/${key}`);
    await shot('12-records');
    expect(await unlabelled()).toEqual([]);

    // The record open in the console; Alice, in Jira, moves the issue and comments: the page follows.
    await page.click('tr[data-host="inc-100"] td:nth-child(2)');
    await page.waitForSelector('#record-status');
    expect(await text('#record-status')).toBe('new');
    await sandboxAs(`/_sandbox/issues/${key}/transition`, { as: 'alice', to: 'In Progress' });
    await sandboxAs(`/_sandbox/issues/${key}/comment`, { as: 'alice', body: 'Cache warmed, watching p99.' });
    await until(
      `document.querySelector('#record-status')?.textContent === 'in_progress' &&
       document.querySelector('#comments')?.textContent.includes('Cache warmed')`,
    );
    expect((await json<{ status: string }>('/api/v1/records/stackflow/inc-100')).status).toBe('in_progress');
    expect(await text('#timeline')).toMatch(/from Jira/);
    // Who did it in Jira (issue 19): her name and the email Jira shows for her.
    await until(
      `[...document.querySelectorAll('#timeline .jira-user')].some((e) => e.textContent.includes('Alice Analyst'))`,
    );
    expect(await text('#timeline .jira-user')).toBe('By Alice Analyst <alice@sandbox.example> in Jira');
    await shot('13-record-timeline');

    // The search filter.
    await page.goto(`${svc.url}/console/#/records?q=payment`);
    await page.waitForSelector('tr[data-host="inc-101"]');
    expect(await page.$$eval('tbody tr', (r) => r.length)).toBe(1);
  });

  it('edits the issue templates with a live preview of one of the mapping’s records; an unknown placeholder is named; saves them', async () => {
    await page.goto(`${svc.url}/console/#/mapping/stackflow-ops`);
    await page.waitForSelector('#tpl-record option[value="inc-100"]', { state: 'attached' });
    await page.selectOption('#tpl-record', 'inc-100');
    // The sample is the real record (editable JSON) of the mapping's scope.
    expect(JSON.parse(await page.inputValue('#tpl-sample'))).toMatchObject({
      host_id: 'inc-100',
      title: 'Checkout latency over 2 s',
      severity: 'P2',
      custom: { runbook: 'Restart the checkout pods.' },
    });
    // Typed, not filled: the preview follows the keystrokes (debounced), with the record's values.
    const previews: string[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/api/v1/mappings/preview')) previews.push(r.postData() ?? '');
    });
    await page.click('#m-tpl-summary');
    await page.keyboard.type('[{{ severity }}] {{ title }}');
    await until(`document.querySelector('#tpl-summary')?.textContent === '[P2] Checkout latency over 2 s'`);
    expect(previews.length).toBeGreaterThan(0);
    expect(previews.length).toBeLessThan('[{{ severity }}] {{ title }}'.length);
    expect(previews.every((b) => (JSON.parse(b) as { search: boolean }).search === false)).toBe(true);
    await page.click('#m-tpl-description');
    await page.keyboard.type('**Runbook:** {{ custom.runbook }}');
    await until(`document.querySelector('#tpl-description strong')?.textContent === 'Runbook:'`);
    expect(await text('#tpl-description')).toBe('Runbook: Restart the checkout pods.');
    expect(await text('#tpl-jira-body')).toMatch(/Jira Cloud is sent ADF/);
    // An unknown placeholder: the service's 400, naming it and the valid ones.
    await page.keyboard.type(' ({{ runbok }})');
    await until(`document.querySelector('#tpl-error')?.textContent.includes('runbok')`);
    expect(await text('#tpl-error')).toMatch(
      /templates\.description: unknown variable "runbok"; valid: title, description, status, severity/,
    );
    await shot('13b-mapping-template-error');
    for (let i = 0; i < ' ({{ runbok }})'.length; i++) await page.keyboard.press('Backspace');
    await until(`document.querySelector('#tpl-description')?.textContent === 'Runbook: Restart the checkout pods.'`);
    // Another record's values, picked from the list.
    await page.selectOption('#tpl-record', 'inc-101');
    await until(`document.querySelector('#tpl-summary')?.textContent === '[P1] Payment webhook retries piling up'`);
    await shot('13c-mapping-templates');
    expect(await unlabelled()).toEqual([]);

    await page.click('#save-btn');
    await page.waitForSelector('#save-msg .ok');
    const saved = await json<{ mapping: { templates?: Record<string, string> } }>('/api/v1/mappings/stackflow-ops');
    expect(saved.mapping.templates).toEqual({
      summary: '[{{ severity }}] {{ title }}',
      description: '**Runbook:** {{ custom.runbook }}',
    });
    // The editor opens on the saved templates.
    await page.reload();
    await page.waitForSelector('#tpl-preview #tpl-summary');
    expect(await page.inputValue('#m-tpl-summary')).toBe('[{{ severity }}] {{ title }}');
  });

  it('applies the saved templates to the records already linked: a confirmation, then the run’s progress until done', async () => {
    // inc-100 and inc-101 were linked before the templates: their issues keep the plain titles.
    const keyOf = async (host: string) =>
      (await json<{ link: { issue_key: string } }>(`/api/v1/records/stackflow/${host}`)).link.issue_key;
    const summaryOf = async (key: string) =>
      (
        (await (
          await fetch(`${sb.baseUrl}/rest/api/3/issue/${key}?fields=summary`, {
            headers: {
              authorization: `Basic ${Buffer.from(`${sb.credentials.email}:${sb.credentials.apiToken}`).toString('base64')}`,
            },
          })
        ).json()) as { fields: { summary: string } }
      ).fields.summary;
    const k100 = await keyOf('inc-100');
    expect(await summaryOf(k100)).toBe('Checkout latency over 2 s');
    await page.goto(`${svc.url}/console/#/mapping/stackflow-ops`);
    await page.waitForSelector('#apply-linked');
    // Dismissed: nothing starts.
    page.once('dialog', (d) => void d.dismiss());
    await page.click('#apply-linked');
    expect((await json<{ runs: unknown[] }>('/api/v1/mappings/stackflow-ops/apply')).runs).toEqual([]);
    // Confirmed: the run's progress shows until it is done.
    page.once('dialog', (d) => {
      expect(d.message()).toMatch(/every record already linked/);
      void d.accept();
    });
    await page.click('#apply-linked');
    await page.waitForSelector('.apply-run');
    await until(`document.querySelector('#apply-state')?.textContent === 'done'`);
    const counts = await text('#apply-counts');
    expect(counts).toMatch(
      /^(\d+)\/\1 linked records re-synced — \d+ changed in Jira, \d+ already matching, 0 failed; \d+ Jira calls/,
    );
    const runs = (
      await json<{ runs: Array<{ state: string; total: number; changed: number; done: number }> }>(
        '/api/v1/mappings/stackflow-ops/apply',
      )
    ).runs;
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ state: 'done' });
    expect(runs[0]!.done).toBe(runs[0]!.total);
    expect(runs[0]!.changed).toBeGreaterThanOrEqual(2);
    expect(await page.getAttribute('#apply-progress', 'value')).toBe(String(runs[0]!.total));
    // The issues follow the mapping as it is now.
    expect(await summaryOf(k100)).toBe('[P2] Checkout latency over 2 s');
    expect(await summaryOf(await keyOf('inc-101'))).toBe('[P1] Payment webhook retries piling up');
    await shot('13d-mapping-applied');
    expect(await unlabelled()).toEqual([]);
  });

  it('the dashboard draws sync volume, latency, Jira calls, failures and queue depth', async () => {
    await page.click('nav a[data-nav=dashboard]');
    await page.waitForSelector('.charts svg');
    expect(
      await page.$$eval('.charts figure', (f) => f.map((x) => x.querySelector('figcaption')?.textContent)),
    ).toEqual(['Sync volume', 'Job latency', 'Jira calls', 'Failures', 'Queue depth']);
    expect(Number(await text('#stat-to-jira'))).toBeGreaterThanOrEqual(2);
    expect(Number(await text('#stat-from-jira'))).toBeGreaterThanOrEqual(1);
    expect(await page.$$eval('.charts svg rect', (r) => r.length)).toBeGreaterThan(0);
    expect(await page.isHidden('.onboarding')).toBe(true);
    await shot('14-dashboard');
  });

  it('a delivery signed with the wrong secret is in the delivery log as rejected, with the fix', async () => {
    // Jira (or someone) posts with a secret that is not this connection's.
    const raw = JSON.stringify({ webhookEvent: 'jira:issue_updated', issue: { id: '1', key: 'OPS-1' } });
    const res = await fetch(`${svc.url}/webhooks/jira/acme`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-hub-signature': sign('the-old-secret-still-in-jira-000', raw),
        'x-atlassian-webhook-identifier': 'jira-delivery-4711',
      },
      body: raw,
    });
    expect(res.status).toBe(403);
    await page.click('nav a[data-nav=deliveries]');
    await page.waitForSelector('tr.rejected');
    expect(await text('tr.rejected .badge')).toBe('rejected: signature');
    expect(await text('tr.rejected .fix')).toMatch(/the secret in Jira does not match.*generate a new secret/);
    expect(await text('tr.rejected td:last-child')).toContain('jira-delivery-4711');
    expect(await text('.rejected-alert')).toMatch(/Jira’s deliveries to “acme” are being rejected.*wrong signature/);
    await page.selectOption('#verdict-filter', 'rejected');
    await until(`location.hash === '#/deliveries?verdict=rejected'`);
    await until(
      `document.querySelectorAll('tbody tr.rejected').length === 1 && !document.querySelector('tbody tr:not(.rejected)')`,
    );
    await shot('15-deliveries-rejected');
    // The webhook step says the same instead of "receiving".
    await page.click('nav a[data-nav=setup]');
    await page.waitForSelector('.first-delivery.bad');
    expect(await text('.first-delivery.bad')).toMatch(/rejected.*the secret in Jira does not match/);
    await shot('15b-webhook-rejected');
  });

  it('a record Jira refuses: its error on the records screen, the cause fixed in Jira, Retry from the screen, synced', async () => {
    // A Jira admin takes the Notes field (mapped from the host's runbook) off project OPS's screens.
    const ops = sb.state.project('OPS')!;
    const screen = [...ops.customFieldIds];
    const notes = [...sb.state.customFields.values()].find((f) => f.name === 'Notes')!.id;
    ops.customFieldIds = screen.filter((id) => id !== notes);
    type R = { sync: { state: string; error: { message: string } | null }; link: { issue_key: string } | null };
    for (const [id, title] of [
      ['inc-103', 'Queue consumer lag on payments'],
      ['inc-104', 'TLS certificate expires in 7 days'],
    ] as const) {
      const r = await api(`/api/v1/records/stackflow/${id}`, {
        method: 'PUT',
        body: JSON.stringify({
          kind: 'incident',
          title,
          status: 'new',
          severity: 'P2',
          custom: { runbook: 'Scale the consumers.' },
        }),
      });
      expect(r.status).toBe(201);
    }
    await waitFor(async () =>
      (
        await Promise.all(
          ['inc-103', 'inc-104'].map(async (id) => (await json<R>(`/api/v1/records/stackflow/${id}`)).sync.state),
        )
      ).every((st) => st === 'failed'),
    );
    // The records screen shows each one's last error: what Jira said, with Retry.
    await page.goto(`${svc.url}/console/#/records?state=failed`);
    await page.waitForSelector('tr[data-host="inc-103"] .error');
    expect(await text('tr[data-host="inc-103"] .error')).toMatch(/cannot be set\. It is not on the appropriate screen/);
    expect(await text('tr[data-host="inc-103"] .badge')).toBe('failed');
    // The counts above the list are of every record, not of the two the filter shows.
    const counts = await json<{ total: number; by_state: Record<string, number> }>('/api/v1/records/counts');
    expect(counts.by_state).toMatchObject({ failed: 2 });
    expect(counts.by_state.synced).toBe(2);
    expect(await page.$$eval('table.records tbody tr', (r) => r.length)).toBe(2);
    expect(Number(await text('#count-total b'))).toBe(counts.total);
    expect(Number(await text('#count-synced b'))).toBe(counts.by_state.synced);
    expect(Number(await text('#count-failed b'))).toBe(2);
    await shot('16-records-failed');
    // A retry before the cause is fixed fails again, with the same reason.
    const failedAt = async (id: string) =>
      (await json<{ entries: Array<{ action: string }> }>(`/api/v1/records/stackflow/${id}/log`)).entries.filter(
        (e) => e.action === 'failed',
      ).length;
    const before = await failedAt('inc-103');
    await page.click('tr[data-host="inc-103"] button.resync');
    await page.waitForSelector('tr[data-host="inc-103"] button.resync:text("Queued")');
    await waitFor(async () => (await failedAt('inc-103')) > before);
    expect((await json<R>('/api/v1/records/stackflow/inc-103')).sync.state).toBe('failed');
    // The failures screen lists both records with what Jira said.
    await page.click('nav a[data-nav=jobs]');
    await page.waitForSelector('table.failed-records tr[data-host="inc-104"] button.resync');
    expect(await text('table.failed-records tr[data-host="inc-103"] .error')).toMatch(/not on the appropriate screen/);
    await shot('16b-failures');

    // The Jira admin puts the field back; the operator retries one from the records screen, then the rest.
    ops.customFieldIds = screen;
    await page.goto(`${svc.url}/console/#/records?state=failed`);
    await page.waitForSelector('tr[data-host="inc-103"] button.resync');
    await page.click('tr[data-host="inc-103"] button.resync');
    await waitFor(async () => (await json<R>('/api/v1/records/stackflow/inc-103')).sync.state === 'synced');
    await page.click('nav a[data-nav=jobs]');
    await page.waitForSelector('table.failed-records tr[data-host="inc-104"]');
    expect(await page.$('table.failed-records tr[data-host="inc-103"]')).toBeNull();
    await page.click('#retry-records');
    await page.waitForSelector('#retry-msg:text("1 record(s) queued again")');
    await waitFor(async () => (await json<R>('/api/v1/records/stackflow/inc-104')).sync.state === 'synced');
    const fixed = await json<R>('/api/v1/records/stackflow/inc-103');
    expect(fixed.sync.error).toBeNull();
    expect(fixed.link?.issue_key).toMatch(/^OPS-\d+$/);
    // The issue in Jira has the runbook in Notes.
    const got = await fetch(`${sb.baseUrl}/rest/api/3/issue/${fixed.link!.issue_key}?fields=${notes}`, {
      headers: {
        authorization: `Basic ${Buffer.from(`${sb.credentials.email}:${sb.credentials.apiToken}`).toString('base64')}`,
      },
    });
    expect(JSON.stringify(await got.json())).toContain('Scale the consumers');
    await page.goto(`${svc.url}/console/#/records?q=inc-10`);
    await page.waitForSelector('tr[data-host="inc-103"] .badge.synced');
    expect(await page.$('tr[data-host="inc-103"] .error')).toBeNull();
    expect(await text('tr[data-host="inc-104"] .badge')).toBe('synced');
    await shot('16c-records-fixed');
    await page.click('nav a[data-nav=deliveries]');
    await page.waitForSelector('td .badge');
    await shot('16d-deliveries');
  });

  it('a rejected Jira credential raises a banner saying what to regenerate, with a way to fix it', async () => {
    sb.knobs.set({ expiredAuth: true });
    await api('/api/v1/records/stackflow/inc-102', {
      method: 'PUT',
      body: JSON.stringify({ kind: 'incident', title: 'Disk full on db-3', status: 'new', severity: 'P1' }),
    });
    await waitFor(async () =>
      (await json<{ connections: Array<{ health: { healthy: boolean } }> }>('/api/v1/connections')).connections.some(
        (c) => !c.health.healthy,
      ),
    );
    await page.click('nav a[data-nav=records]');
    await page.waitForSelector('#banner:not([hidden])');
    expect(await text('#banner')).toMatch(/“Acme Jira” is paused.*regenerate the API token/s);
    await shot('17-connection-paused');
    await page.click('nav a[data-nav=connections]');
    await page.waitForSelector('.card.conn[data-conn="acme"] .conn-problem');
    expect(await text('.card.conn[data-conn="acme"] .badge')).toBe('Paused');
    await shot('18-connections-paused');
    await page.click('#banner a:text("Update credentials")');
    await page.waitForSelector('#conn-form');
    expect(await page.inputValue('#f-id')).toBe('acme');
    sb.knobs.set({ expiredAuth: false });
    // Edited without re-typing the token: the saved one is kept, and the check passes with it.
    expect(await page.getAttribute('#f-token', 'placeholder')).toMatch(/saved/);
    await page.fill('#f-name', 'Acme Jira Cloud');
    await page.click('#check-btn');
    await page.waitForSelector('#check-out .ok-box');
    await page.click('#save-btn');
    await page.waitForSelector('#save-msg .ok');
    const { connections } = await json<{ connections: Array<{ name: string; auth: { has_secret: boolean } }> }>(
      '/api/v1/connections',
    );
    expect(connections).toMatchObject([{ name: 'Acme Jira Cloud', auth: { has_secret: true } }]);
  });

  it('connects an OAuth connection with Atlassian (the sandbox plays Atlassian), checks it, deletes it', async () => {
    // The OAuth app, as registered in the Atlassian developer console, calling back to this service.
    const app = sb.oauth.registerApp({
      name: 'jira-bridge (console test)',
      redirectUris: [`${svc.url}/oauth/callback`],
    });
    await page.click('nav a[data-nav=connections]');
    await page.click('#new-connection');
    await page.waitForSelector('#conn-form');
    await page.fill('#f-id', 'acme-oauth');
    await page.fill('#f-name', 'Acme (OAuth)');
    await page.fill('#f-site', sb.baseUrl);
    await page.check('input[name=auth][value=oauth]');
    await page.fill('#f-cid', app.clientId);
    await page.fill('#f-csecret', app.clientSecret);
    await page.click('.advanced summary');
    await page.fill('#f-auth-url', sb.baseUrl);
    await page.fill('#f-api-url', sb.baseUrl);
    expect(await page.isDisabled('#oauth-connect')).toBe(true); // not saved yet
    await page.click('#save-btn');
    await page.waitForSelector('#save-msg .ok');
    expect(await page.isDisabled('#oauth-connect')).toBe(false);
    await shot('19-oauth-connection');
    await page.click('#oauth-connect');
    // Atlassian's consent page (the sandbox's), then back to the console.
    await page.waitForSelector('button[value=accept]');
    await page.click('button[value=accept]');
    await page.waitForSelector('#oauth-connected');
    expect(await text('#oauth-connected')).toContain('Acme (OAuth) is connected with Atlassian');
    expect(await text('.card.conn[data-conn="acme-oauth"] .facts')).toContain('OAuth 2.0 (3LO) · connected');
    await page.click('.card.conn[data-conn="acme-oauth"] button.check');
    await page.waitForSelector('.card.conn[data-conn="acme-oauth"] .ok-box');
    expect(await text('.card.conn[data-conn="acme-oauth"] .check-user')).not.toBe('');
    await shot('20-oauth-connected');

    page.once('dialog', (d) => void d.accept());
    await page.click('.card.conn[data-conn="acme-oauth"] button.delete');
    await until(`!document.querySelector('.card.conn[data-conn="acme-oauth"]')`);
    const { connections } = await json<{ connections: Array<{ id: string }> }>('/api/v1/connections');
    expect(connections.map((c) => c.id)).toEqual(['acme']);
  });

  it('pauses and resumes a mapping from the mappings screen; unlinks a record after a confirmation, its issue left as it is', async () => {
    await page.goto(`${svc.url}/console/#/mappings`);
    const row = 'tr[data-id="stackflow-ops"]';
    await page.waitForSelector(`${row} button.pause-toggle`);
    expect(await text(`${row} button.pause-toggle`)).toBe('Pause');
    await page.click(`${row} button.pause-toggle`);
    await until(`document.querySelector('${row} button.pause-toggle')?.textContent === 'Resume'`);
    expect(await text(`${row} .pause-state`)).toBe('paused');
    const paused = await json<{ pauses: Array<{ kind: string; id: string; enabled: boolean }> }>('/api/v1/pauses');
    expect(paused.pauses.find((p) => p.kind === 'mapping' && p.id === 'stackflow-ops')?.enabled).toBe(false);
    await shot('19b-mapping-paused');
    await page.click(`${row} button.pause-toggle`);
    await until(`document.querySelector('${row} button.pause-toggle')?.textContent === 'Pause'`);
    expect(await page.$(`${row} .pause-state`)).toBeNull();

    // A record of its own, linked; unlinking it asks first (dismissed: nothing changes).
    await api('/api/v1/records/stackflow/inc-190', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'incident', title: 'Unlink me', status: 'new', severity: 'P3' }),
    });
    await waitFor(
      async () =>
        (await json<{ link: { state: string } | null }>('/api/v1/records/stackflow/inc-190')).link?.state === 'linked',
    );
    const key = (await json<{ link: { issue_key: string } }>('/api/v1/records/stackflow/inc-190')).link.issue_key;
    await page.goto(`${svc.url}/console/#/record/stackflow/inc-190`);
    await page.waitForSelector('button.unlink-record');
    page.once('dialog', (d) => void d.dismiss());
    await page.click('button.unlink-record');
    expect((await json<{ link: { state: string } }>('/api/v1/records/stackflow/inc-190')).link.state).toBe('linked');
    page.once('dialog', (d) => void d.accept());
    await page.click('button.unlink-record');
    await page.waitForSelector('.record-unlinked');
    expect(await page.$('button.unlink-record')).toBeNull();
    expect((await json<{ link: { state: string } }>('/api/v1/records/stackflow/inc-190')).link.state).toBe('unlinked');
    const issue = (await (
      await fetch(`${sb.baseUrl}/rest/api/3/issue/${key}?fields=summary`, {
        headers: {
          authorization: `Basic ${Buffer.from(`${sb.credentials.email}:${sb.credentials.apiToken}`).toString('base64')}`,
        },
      })
    ).json()) as { fields: { summary: string } };
    // Left as it is (its summary by the mapping's template saved in the editor above).
    expect(issue.fields.summary).toBe('[P3] Unlink me');
    await shot('19c-record-unlinked');
  });

  it('the record page shows what the next sync would do and why, and checks it against Jira', async () => {
    // A change the sync has not sent yet: the mapping paused, the record's title edited.
    expect((await api('/api/v1/mappings/stackflow-ops/pause', { method: 'POST' })).status).toBeLessThan(300);
    const before = await json<{ version: number }>('/api/v1/records/stackflow/inc-101');
    const put = await api('/api/v1/records/stackflow/inc-101', {
      method: 'PUT',
      body: JSON.stringify({
        kind: 'incident',
        title: 'Payment webhook retries drained',
        description: 'From **StackFlow**',
        status: 'new',
        severity: 'P1',
        custom: { runbook: 'Restart the checkout pods.' },
      }),
    });
    expect(put.status).toBeLessThan(300);
    await waitFor(
      async () => (await json<{ version: number }>('/api/v1/records/stackflow/inc-101')).version > before.version,
    );
    await page.goto(`${svc.url}/console/#/record/stackflow/inc-101`);
    await page.waitForSelector('#plan-summary');
    // One line, then the steps with the rule behind each (the summary as the link's mapping renders it).
    expect(await text('#plan-summary')).toMatch(
      /^next sync: set summary (\[P1\] )?Payment webhook retries drained — 2 Jira calls$/,
    );
    expect(await text('#plan-source')).toMatch(/as last agreed/);
    expect(await page.$$eval('#plan-steps li', (l) => l.map((x) => x.getAttribute('data-op')))).toEqual([
      'read',
      'edit',
    ]);
    expect(await text('#plan-steps li[data-op="edit"] .plan-rule')).toBe('the host changed it');
    // Checked against Jira: one read of the issue, the same plan.
    await page.click('#plan-check');
    await until(`document.querySelector('#plan-source')?.textContent.includes('Checked against Jira')`);
    expect(await text('#plan-summary')).toMatch(/^next sync: set summary/);
    await shot('19d-record-plan');
    expect((await api('/api/v1/mappings/stackflow-ops/resume', { method: 'POST' })).status).toBeLessThan(300);
    await waitFor(
      async () =>
        (await json<{ sync: { state: string } }>('/api/v1/records/stackflow/inc-101')).sync.state === 'synced',
    );
  });

  it('the audit log (admins) shows who changed what, each change as before/after, secrets masked', async () => {
    expect(await text('#whoami')).toBe('console admin · admin');
    await page.click('nav a[data-nav=audit]');
    await page.waitForSelector('h1:text("Audit log")');
    // The connection renamed on the "paused" path above: the field before and after.
    const renamed = 'tr[data-action="connection.updated"][data-target="connection:acme"]';
    await page.waitForSelector(renamed);
    expect(await text(`${renamed} td:nth-child(2)`)).toBe('admin:console admin');
    expect(await text(`${renamed} tr[data-path="name"] td.before`)).toBe('Acme Jira');
    expect(await text(`${renamed} tr[data-path="name"] td.after`)).toBe('Acme Jira Cloud');
    // Its creation lists every field set, the API token masked.
    const created = 'tr[data-action="connection.created"][data-target="connection:acme"]';
    await page.click(`${created} details summary`);
    expect(await text(`${created} tr[data-path="auth.api_token"] td.after`)).toMatch(/^••••••/);
    expect(await text(`${created} tr[data-path="auth.email"] td.after`)).toBe(sb.credentials.email);
    expect(await page.content()).not.toContain(sb.credentials.apiToken);
    expect(await page.$(`tr[data-action="mapping.created"][data-target="mapping:stackflow-ops"]`)).not.toBeNull();
    await shot('25-audit');
    // Filtered to one kind of change.
    await page.selectOption('#audit-action', 'mapping.');
    await until(`location.hash === '#/audit?action=mapping.'`);
    // The filtered list replaces the full one (which has mapping.created too): wait for it.
    await until(
      `(() => { const a = [...document.querySelectorAll('table.audit > tbody > tr')].map((x) => x.getAttribute('data-action'));
        return a.includes('mapping.created') && a.every((x) => x.startsWith('mapping.')); })()`,
    );
    expect(await page.$$eval('table.audit > tbody > tr', (r) => r.map((x) => x.getAttribute('data-action')))).toEqual(
      expect.arrayContaining(['mapping.created']),
    );
    expect(
      (await page.$$eval('table.audit > tbody > tr', (r) => r.map((x) => x.getAttribute('data-action')))).every((a) =>
        a!.startsWith('mapping.'),
      ),
    ).toBe(true);
  });

  it('API tokens (admins): create with a role and scopes, shown once with a copy button; list; revoke', async () => {
    await page.click('nav a[data-nav=tokens]');
    await page.waitForSelector('h1:text("API tokens")');
    expect(await text('tr[data-name="console admin"] td:first-child')).toBe('console admin you');
    // A name is required: the API's error next to the field.
    await page.click('#create-token');
    await page.waitForSelector('[data-error-for="name"]:not([hidden])');
    expect(await text('[data-error-for="name"]')).not.toBe('');
    // The platform's integration: a host token limited to one scope.
    await page.fill('#t-name', 'StackFlow integration');
    await page.selectOption('#t-role', 'host');
    expect(await page.isVisible('#t-scopes')).toBe(true);
    expect(await text('#t-role-hint')).toMatch(/record API and the change feed/);
    await page.fill('#t-scopes', 'stackflow');
    await page.click('#create-token');
    await page.waitForSelector('code.new-token');
    const hostToken = await text('code.new-token');
    expect(hostToken).toMatch(/^jb_/);
    expect(await text('#new-token')).toMatch(/not shown again/);
    await page.click('button.copy-token');
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(hostToken);
    expect(await text('tr[data-name="StackFlow integration"] td:nth-child(3)')).toBe('stackflow');
    await shot('26-token-created');
    // It works, within its scope only.
    const asHost = (path: string) => fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${hostToken}` } });
    expect((await asHost('/api/v1/changes?scope=stackflow')).status).toBe(200);
    expect((await asHost('/api/v1/changes?scope=other')).status).toBe(403);
    // Shown once: not in the list, not after a reload.
    await page.reload();
    await page.waitForSelector('tr[data-name="StackFlow integration"]');
    expect(await page.content()).not.toContain(hostToken);

    // A viewer token: signed in with it, the console has no admin screens.
    await page.fill('#t-name', 'night shift');
    await page.selectOption('#t-role', 'viewer');
    await page.click('#create-token');
    await page.waitForSelector('code.new-token');
    const viewerToken = await text('code.new-token');
    await page.click('#signout');
    await page.waitForSelector('#signin-form');
    await page.fill('#token', viewerToken);
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('h1:text("Dashboard")');
    await until(`document.querySelector('#whoami')?.textContent === 'night shift · viewer'`);
    expect(await page.isVisible('nav a[data-nav=tokens]')).toBe(false);
    expect(await page.isVisible('nav a[data-nav=audit]')).toBe(false);
    await page.click('#signout');
    await page.waitForSelector('#signin-form');
    await page.fill('#token', token);
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('h1:text("Dashboard")');
    await page.waitForSelector('nav a[data-nav=tokens]:visible');

    // Revoke the viewer token: refused at once.
    await page.click('nav a[data-nav=tokens]');
    await page.waitForSelector('tr[data-name="night shift"] button.revoke');
    page.once('dialog', (d) => void d.accept());
    await page.click('tr[data-name="night shift"] button.revoke');
    await page.waitForSelector('#token-msg');
    expect(await text('tr[data-name="night shift"] .state')).toBe('revoked');
    expect(await page.$('tr[data-name="night shift"] button.revoke')).toBeNull();
    const refused = await fetch(`${svc.url}/api/v1/jobs/stats`, {
      headers: { authorization: `Bearer ${viewerToken}` },
    });
    expect(refused.status).toBe(401);
    await shot('27-tokens');
    expect(await unlabelled()).toEqual([]);
  });

  it('host webhooks (admins): subscribe the platform, secret shown once; deliveries verify with it; rotate; viewers read only; delete', async () => {
    // The platform's receiver: down (503) at first, then up.
    const got: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
    let up = false;
    const rx = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        got.push({ headers: req.headers, body });
        res.writeHead(up ? 204 : 503).end();
      });
    });
    await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
    const rxUrl = `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hooks/jira-bridge`;
    const verify = (secret: string, m: { headers: IncomingHttpHeaders; body: string }) =>
      new Webhook(secret).verify(m.body, {
        'webhook-id': String(m.headers['webhook-id']),
        'webhook-timestamp': String(m.headers['webhook-timestamp']),
        'webhook-signature': String(m.headers['webhook-signature']),
      }) as { type: string; data: { record: { host_id: string } } };
    type Sub = { id: string; url: string; description: string | null; events: string[] };
    // inc-102, held back while the connection was paused (the test before), is linked once it is
    // back: wait for that first, so the subscription made below hears only what this test causes
    // (its stream is ordered, so an earlier record's 503 would hold inc-105's delivery behind it).
    await waitFor(async () => {
      const r = await json<{ link: { issue_key: string } | null; sync: { state: string } }>(
        '/api/v1/records/stackflow/inc-102',
      );
      const jobs = await json<{ by_state: Record<string, number> }>('/api/v1/jobs/stats');
      return r.link !== null && r.sync.state === 'synced' && !jobs.by_state.queued && !jobs.by_state.running;
    }, 60_000);
    try {
      await page.click('nav a[data-nav=host-webhooks]');
      await page.waitForSelector('h1:text("Host webhooks")');
      expect(await unlabelled()).toEqual([]);
      // The API's errors next to their fields: not a URL, a pasted secret too short.
      await page.fill('#hw-url', 'not a url');
      await page.check('input[name=hw-secret-mode][value=own]');
      await page.fill('#hw-secret', 'too-short');
      await page.click('#hw-create');
      await page.waitForSelector('[data-error-for="url"]:not([hidden])');
      expect(await text('[data-error-for="url"]')).toMatch(/absolute http\(s\) URL/);
      expect(await text('[data-error-for="secret"]')).toMatch(/at least 16 characters/);
      expect(await page.getAttribute('#hw-url', 'aria-invalid')).toBe('true');
      await shot('29-host-webhook-errors');
      // No change type chosen: said next to the events.
      await page.uncheck('#hw-all');
      await page.click('#hw-create');
      await page.waitForSelector('[data-error-for="events"]:not([hidden])');
      expect(await text('[data-error-for="events"]')).toMatch(/at least one change type/);
      // The change types are the feed's.
      expect(await page.$$eval('input.ev', (l) => l.map((c) => (c as unknown as { value: string }).value))).toEqual([
        'record.created',
        'record.linked',
        'record.updated',
        'record.comments',
        'record.attachments',
        'record.moved',
        'record.unlinked',
        'record.sync_failed',
        'record.sync_recovered',
      ]);
      await page.check('input.ev[value="record.linked"]');
      await page.check('input.ev[value="record.updated"]');
      await page.check('input[name=hw-secret-mode][value=generate]');
      await page.fill('#hw-url', rxUrl);
      await page.fill('#hw-desc', 'StackFlow production');
      await page.click('#hw-create');
      await page.waitForSelector('code.new-secret');
      const secret = await text('code.new-secret');
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(await text('#hw-secret-out')).toMatch(/not shown again/);
      expect(await text('.verify-help')).toMatch(/webhook-id.*webhook-timestamp.*webhook-signature/s);
      await page.click('button.copy-secret');
      expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(secret);
      const row = `tr[data-url="${rxUrl}"]`;
      expect(await text(`${row} .hw-events`)).toBe('record.linked record.updated');
      expect(await text(`${row} .hw-last`)).toBe('none yet');
      await shot('30-host-webhook-created');
      // Shown once: not in the list, not after a reload, not from the API.
      await page.reload();
      await page.waitForSelector(row);
      expect(await page.content()).not.toContain(secret);
      expect(JSON.stringify(await json('/api/v1/host-webhooks'))).not.toContain(secret);
      const sub = (await json<{ subscriptions: Sub[] }>('/api/v1/host-webhooks')).subscriptions.find(
        (x) => x.url === rxUrl,
      )!;
      expect(sub).toMatchObject({ events: ['record.linked', 'record.updated'], description: 'StackFlow production' });

      // A record change: its Jira issue made, record.linked is POSTed; the platform answers 503 first.
      await api('/api/v1/records/stackflow/inc-105', {
        method: 'PUT',
        body: JSON.stringify({ kind: 'incident', title: 'Search index stale', status: 'new', severity: 'P3' }),
      });
      await page.click(`${row} a.hw-link`);
      // Its delivery is known by the webhook-id the receiver saw.
      await waitFor(async () => got.some((m) => m.body.includes('"host_id":"inc-105"')));
      const linkedId = String(got.find((m) => m.body.includes('"host_id":"inc-105"'))!.headers['webhook-id']);
      const linkedRow = `#hw-deliveries tr[data-delivery="${linkedId}"]`;
      await page.waitForSelector(`${linkedRow}[data-status="pending"] .d-error .error`, { timeout: 30_000 });
      expect(await text(`${linkedRow} .d-error`)).toBe('the host answered 503');
      expect(await text(`${linkedRow} .d-answer`)).toBe('503');
      await shot('31-host-webhook-retrying');
      up = true;
      await page.waitForSelector(`${linkedRow}[data-status="delivered"]`, { timeout: 30_000 });
      const rows = await page.$$eval('#hw-deliveries tbody tr', (rs) =>
        rs.map((r) => ({
          id: r.getAttribute('data-delivery'),
          status: r.getAttribute('data-status'),
          event: r.querySelector('td')?.textContent,
          attempts: Number(r.querySelector('.d-attempts')?.textContent),
          answer: r.querySelector('.d-answer')?.textContent,
          error: r.querySelector('.d-error')?.textContent,
        })),
      );
      const linked = rows.find((r) => r.id === linkedId)!;
      expect(linked.event).toBe('record.linked');
      expect(linked).toMatchObject({ status: 'delivered', answer: '204', error: '' });
      expect(linked.attempts).toBeGreaterThanOrEqual(2);
      // Every attempt verifies with the secret shown once; the retries carry the same webhook-id.
      const ofLinked = got.filter((m) => m.headers['webhook-id'] === linked.id);
      expect(ofLinked).toHaveLength(linked.attempts);
      for (const m of ofLinked) {
        const event = verify(secret, m);
        expect(event.type).toBe('record.linked');
        expect(event.data.record.host_id).toBe('inc-105');
      }
      for (const m of got) expect(() => verify(secret, m)).not.toThrow();
      expect(() =>
        verify(secret, { ...ofLinked[0]!, body: ofLinked[0]!.body.replace('inc-105', 'inc-999') }),
      ).toThrow();

      // Edit: description and events, live at once.
      await page.fill('#hw-e-desc', 'StackFlow production (EU)');
      await page.check('input.ev[value="record.comments"]');
      await page.click('#hw-save');
      await page.waitForSelector('#hw-msg:text("Saved")');
      expect(await json<Sub>(`/api/v1/host-webhooks/${sub.id}`)).toMatchObject({
        description: 'StackFlow production (EU)',
        events: ['record.linked', 'record.updated', 'record.comments'],
      });
      expect(await unlabelled()).toEqual([]);

      // Rotate: a new secret, shown once; what follows verifies with it, not with the old one.
      page.once('dialog', (d) => void d.accept());
      await page.click('#hw-rotate');
      await page.waitForSelector('code.new-secret');
      const rotated = await text('code.new-secret');
      expect(rotated).toMatch(/^whsec_/);
      expect(rotated).not.toBe(secret);
      const sent = got.length;
      const key = (await json<{ link: { issue_key: string } }>('/api/v1/records/stackflow/inc-105')).link.issue_key;
      await sandboxAs(`/_sandbox/issues/${key}/transition`, { as: 'alice', to: 'In Progress' });
      await waitFor(async () => got.slice(sent).some((m) => m.body.includes('"type":"record.updated"')));
      const after = got.slice(sent);
      expect(after.map((m) => verify(rotated, m).type)).toContain('record.updated');
      for (const m of after) expect(() => verify(secret, m)).toThrow();
      await page.waitForSelector('#hw-deliveries tr[data-status="delivered"] td:text("record.updated")');
      await shot('32-host-webhook-rotated');

      // A second subscription, paused (through the API): the list shows both.
      const paused = await api('/api/v1/host-webhooks', {
        method: 'POST',
        body: JSON.stringify({ url: 'http://127.0.0.1:9/audit-sink', events: ['record.sync_failed'], active: false }),
      });
      expect(paused.status).toBe(201);
      const { secret: pausedSecret, subscription: pausedSub } = (await paused.json()) as {
        secret: string;
        subscription: Sub;
      };
      // The delivery log by subscription (what the screens read).
      // It holds what this test caused: inc-105's record.linked (retried, then delivered) and the
      // record.updated the transition caused, each by the webhook-id the receiver saw. (Other
      // records' changes may or may not be there, so no count is asserted.)
      type D = { deliveries: Array<{ id: string; subscription: string; event: string }> };
      const of = (id: string) => json<D>(`/api/v1/host-webhooks/deliveries?subscription=${id}`);
      const logged = (await json<D>('/api/v1/host-webhooks/deliveries')).deliveries;
      expect(logged.find((d) => d.id === linked.id)).toMatchObject({ event: 'record.linked', subscription: sub.id });
      const updatedIds = after
        .filter((m) => m.body.includes('"type":"record.updated"'))
        .map((m) => String(m.headers['webhook-id']));
      expect(updatedIds.length).toBeGreaterThan(0);
      for (const id of updatedIds)
        expect(logged.find((d) => d.id === id)).toMatchObject({ event: 'record.updated', subscription: sub.id });
      expect((await of(pausedSub.id)).deliveries).toEqual([]);
      expect((await of(sub.id)).deliveries.map((d) => d.subscription)).toEqual(
        (await json<D>('/api/v1/host-webhooks/deliveries')).deliveries.map(() => sub.id),
      );

      // A viewer: the list and the deliveries, no secret, no form, no buttons.
      const viewer = await api('/api/v1/tokens', {
        method: 'POST',
        body: JSON.stringify({ name: 'auditor', role: 'viewer' }),
      });
      const viewerToken = ((await viewer.json()) as { token: string }).token;
      await page.click('#signout');
      await page.waitForSelector('#signin-form');
      await page.fill('#token', viewerToken);
      await page.click('#signin-form button[type=submit]');
      await page.waitForSelector('h1:text("Dashboard")');
      await page.click('nav a[data-nav=host-webhooks]');
      await page.waitForSelector(row);
      expect(await text('tr[data-url="http://127.0.0.1:9/audit-sink"] .hw-state')).toBe('paused');
      expect(await text(`${row} .hw-last`)).toMatch(/^delivered record\.\w+ · \d+ s ago$/);
      expect(await page.$('#hw-form')).toBeNull();
      expect(await page.$$('main button')).toEqual([]);
      await shot('33-host-webhooks-viewer');
      await page.click(`${row} a.hw-link`);
      await page.waitForSelector('#hw-deliveries tr[data-status="delivered"]');
      expect(await page.$('#hw-edit')).toBeNull();
      expect(await page.$$('main button')).toEqual([]);
      const seen = await page.content();
      for (const s of [secret, rotated, pausedSecret]) expect(seen).not.toContain(s);
      expect(seen).not.toContain('whsec_');

      // Back as the admin: delete, confirmed (a dismissed confirmation deletes nothing).
      await page.click('#signout');
      await page.waitForSelector('#signin-form');
      await page.fill('#token', token);
      await page.click('#signin-form button[type=submit]');
      await page.waitForSelector('h1:text("Dashboard")');
      await page.goto(`${svc.url}/console/#/host-webhook/${sub.id}`);
      await page.waitForSelector('#hw-delete');
      page.once('dialog', (d) => void d.dismiss());
      await page.click('#hw-delete');
      expect((await api(`/api/v1/host-webhooks/${sub.id}`)).status).toBe(200);
      let asked = '';
      page.once('dialog', (d) => {
        asked = d.message();
        void d.accept();
      });
      await page.click('#hw-delete');
      await page.waitForSelector('#hw-msg:text("deleted")');
      expect(asked).toContain(rxUrl);
      expect(await page.evaluate<string>('location.hash')).toBe('#/host-webhooks');
      expect(await page.$(row)).toBeNull();
      expect((await api(`/api/v1/host-webhooks/${sub.id}`)).status).toBe(404);
      await shot('34-host-webhooks');
    } finally {
      rx.closeAllConnections();
      await new Promise((r) => rx.close(r));
    }
  });

  it('pauses and resumes a connection; unlinks a mapping’s records; syncs a Jira issue now (import, then both ways); deletes a connection that still links records after a second confirmation, its issues left as they are', async () => {
    const auth = { type: 'basic', email: sb.credentials.email, api_token: sb.credentials.apiToken };
    const made = await api('/api/v1/connections', {
      method: 'POST',
      body: JSON.stringify({ id: 'leaving', site_url: sb.baseUrl, flavour: 'cloud', auth }),
    });
    expect(made.status).toBeLessThan(300);
    const mapped = await api('/api/v1/mappings/leaving-ops', {
      method: 'PUT',
      body: JSON.stringify({
        connection: 'leaving',
        scope: 'leaving',
        project: 'OPS',
        kinds: { incident: { issue_type: 'Task' } },
        status: { out: { new: 'To Do' } },
      }),
    });
    expect(mapped.status).toBeLessThan(300);
    const put = (id: string) =>
      api(`/api/v1/records/leaving/${id}`, {
        method: 'PUT',
        body: JSON.stringify({ kind: 'incident', title: `Leaving ${id}`, status: 'new' }),
      });
    const linkOf = async (id: string) =>
      (await json<{ link: { state: string; issue_key: string } | null }>(`/api/v1/records/leaving/${id}`)).link;
    for (const id of ['lv-1', 'lv-2']) expect((await put(id)).status).toBeLessThan(300);
    await waitFor(async () => (await linkOf('lv-1'))?.state === 'linked' && (await linkOf('lv-2'))?.state === 'linked');
    const keys = [(await linkOf('lv-1'))!.issue_key, (await linkOf('lv-2'))!.issue_key];

    // Pause and resume the connection from its card.
    await page.goto(`${svc.url}/console/#/connections`);
    const card = 'article[data-conn="leaving"]';
    await page.waitForSelector(`${card} button.pause-toggle`);
    expect(await text(`${card} button.pause-toggle`)).toBe('Pause');
    await page.click(`${card} button.pause-toggle`);
    await until(`document.querySelector('${card} button.pause-toggle')?.textContent === 'Resume'`);
    expect(await text(`${card} .pause-state`)).toBe('paused');
    const paused = await json<{ pauses: Array<{ kind: string; id: string; enabled: boolean }> }>('/api/v1/pauses');
    expect(paused.pauses.find((p) => p.kind === 'connection' && p.id === 'leaving')?.enabled).toBe(false);
    await page.click(`${card} button.pause-toggle`);
    await until(`document.querySelector('${card} button.pause-toggle')?.textContent === 'Pause'`);
    const resumed = await json<{ pauses: Array<{ kind: string; id: string; enabled: boolean }> }>('/api/v1/pauses');
    expect(resumed.pauses.find((p) => p.kind === 'connection' && p.id === 'leaving')?.enabled ?? true).toBe(true);

    // Unlink every record of the mapping: asked first (dismissed: nothing changes), then done.
    await page.goto(`${svc.url}/console/#/mappings`);
    const row = 'tr[data-id="leaving-ops"]';
    await page.waitForSelector(`${row} button.unlink-all`);
    page.once('dialog', (d) => void d.dismiss());
    await page.click(`${row} button.unlink-all`);
    expect((await linkOf('lv-1'))!.state).toBe('linked');
    page.once('dialog', (d) => void d.accept());
    await page.click(`${row} button.unlink-all`);
    await page.waitForSelector('.unlink-result');
    expect(await text('.unlink-result')).toMatch(/^2 records unlinked/);
    expect([(await linkOf('lv-1'))!.state, (await linkOf('lv-2'))!.state]).toEqual(['unlinked', 'unlinked']);
    await shot('19d-mapping-records-unlinked');

    // A re-sync links lv-1 again (to a new issue); then the mapping goes and the connection with it.
    expect(
      (await api('/api/v1/sync', { method: 'POST', body: JSON.stringify({ scope: 'leaving', host_id: 'lv-1' }) }))
        .status,
    ).toBe(202);
    await waitFor(async () => (await linkOf('lv-1'))?.state === 'linked');
    const relinked = (await linkOf('lv-1'))!.issue_key;
    expect(keys).not.toContain(relinked);

    // "Sync a Jira issue now" on the records screen: an issue made in Jira that the mapping now
    // takes (create_record, narrowed by a label) is imported; again, it syncs both ways; a key no
    // mapping takes gets the reason. OPS is mapped through two connections: the connection is named.
    const narrowed = await api('/api/v1/mappings/leaving-ops', {
      method: 'PUT',
      body: JSON.stringify({
        connection: 'leaving',
        scope: 'leaving',
        project: 'OPS',
        kinds: { incident: { issue_type: 'Task' } },
        status: { out: { new: 'To Do' }, in: { 'To Do': 'new' } },
        on_jira_create: 'create_record',
        filter: 'labels = import-me',
      }),
    });
    expect(narrowed.status).toBeLessThan(300);
    const basic = `Basic ${Buffer.from(`${sb.credentials.email}:${sb.credentials.apiToken}`).toString('base64')}`;
    const made2 = await fetch(`${sb.baseUrl}/rest/api/3/issue`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/json' },
      body: JSON.stringify({
        fields: {
          project: { key: 'OPS' },
          issuetype: { name: 'Task' },
          summary: 'Made in Jira',
          labels: ['import-me'],
        },
      }),
    });
    expect(made2.status).toBe(201);
    const fresh = ((await made2.json()) as { key: string }).key;
    await page.goto(`${svc.url}/console/#/records`);
    await page.waitForSelector('#sync-issue-key');
    expect(await unlabelled()).toEqual([]);
    await page.fill('#sync-issue-key', fresh);
    await page.fill('#sync-issue-conn', 'leaving');
    await page.click('#sync-issue-go');
    await page.waitForSelector('.sync-issue-result[data-mode="imported"]');
    expect(await text('.sync-issue-result')).toMatch(new RegExp(`^✓ ${fresh} was imported as leaving/`));
    const imported = await json<{
      records: Array<{ host_id: string; title: string; link: { issue_key: string } | null }>;
    }>('/api/v1/records?scope=leaving');
    expect(imported.records.find((r) => r.link?.issue_key === fresh)?.title).toBe('Made in Jira');
    await page.click('#sync-issue-go');
    await until(`document.querySelector('.sync-issue-result')?.dataset.mode === 'two_way'`);
    expect(await text('.sync-issue-result')).toMatch(new RegExp(`^✓ ${fresh} is being synced both ways with leaving/`));
    await page.fill('#sync-issue-key', 'OPS-99999');
    await page.click('#sync-issue-go');
    await page.waitForSelector('#sync-issue-out .error');
    expect(await text('#sync-issue-out .error')).toMatch(/OPS-99999/);
    await shot('19f-sync-issue-now');

    expect((await api('/api/v1/mappings/leaving-ops', { method: 'DELETE' })).status).toBe(204);
    await page.goto(`${svc.url}/console/#/connections`);
    await page.waitForSelector(`${card} button.delete`);
    const asked: string[] = [];
    // The first question is the deletion itself; the second names the links and offers to remove them.
    page.on('dialog', function answer(d) {
      asked.push(d.message());
      void d.accept();
      if (asked.length === 2) page.off('dialog', answer);
    });
    await page.click(`${card} button.delete`);
    await waitFor(async () => (await api('/api/v1/connections/leaving')).status === 404);
    expect(asked).toHaveLength(2);
    expect(asked[0]).toMatch(/Delete the connection "leaving"/);
    expect(asked[1]).toMatch(/Unlink them and delete the connection\?/);
    await until(`!document.querySelector('${card}')`);
    // The record stays; its link went with the connection it was through.
    expect((await api('/api/v1/records/leaving/lv-1')).status).toBe(200);
    expect(await linkOf('lv-1')).toBeNull();
    // Every issue it made is still in Jira, as it was.
    for (const key of [...keys, relinked]) {
      const res = await fetch(`${sb.baseUrl}/rest/api/3/issue/${key}?fields=summary`, {
        headers: {
          authorization: `Basic ${Buffer.from(`${sb.credentials.email}:${sb.credentials.apiToken}`).toString('base64')}`,
        },
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { fields: { summary: string } }).fields.summary).toMatch(/^Leaving lv-/);
    }
    await shot('19e-connection-deleted');
  });

  it('looks right on a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [hash, name, sel] of [
      ['#/dashboard', '21-phone-dashboard', '.charts svg'],
      ['#/records', '22-phone-records', 'a.issue-link'],
      ['#/mapping/stackflow-ops', '23-phone-mapping', '#mapping-form'],
      ['#/tokens', '23b-phone-tokens', 'table.tokens'],
      ['#/audit', '23c-phone-audit', 'table.audit'],
      ['#/host-webhooks', '23d-phone-host-webhooks', 'table.host-webhooks tbody tr'],
    ] as const) {
      await page.goto(`${svc.url}/console/${hash}`);
      await page.waitForSelector(sel);
      // Nothing wider than the screen (wide tables scroll inside their own box).
      const wide = await page.evaluate<string[]>(`[...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > 391 && !e.closest('.table-wrap'))
        .map((e) => e.tagName.toLowerCase() + '.' + e.className)`);
      expect(wide).toEqual([]);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      await shot(name);
    }
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('no console errors on the way; a bad API token is sent back to sign in with the reason', async () => {
    expect(errors).toEqual([]);
    await page.click('#signout');
    await page.waitForSelector('#signin-form');
    await page.fill('#token', 'jb_not-a-real-token');
    await page.click('#signin-form button[type=submit]');
    await waitFor(async () => (await text('#signin-error')) !== '');
    expect(await text('#signin-error')).toMatch(/unknown, revoked or expired.*Sign in with a valid API token/);
    await shot('24-sign-in-rejected');
  });

  it('after 20 wrong tokens from one address, sign-in shows the 429: how long to wait and what to do', async () => {
    // Someone guessing from this address (the browser's too): 20 unknown tokens within a minute.
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${svc.url}/api/v1/jobs/stats`, { headers: { authorization: `Bearer jb_guess-${i}` } });
      await r.arrayBuffer();
    }
    await page.fill('#token', token);
    await page.click('#signin-form button[type=submit]');
    await waitFor(async () => /Too many/.test(await text('#signin-error')));
    expect(await text('#signin-error')).toMatch(
      /Too many failed sign-ins from this address.*wait \d+ s, then sign in with a valid API token/,
    );
    expect(await page.isVisible('#signin-form')).toBe(true);
    await shot('28-sign-in-throttled');
  });
});
