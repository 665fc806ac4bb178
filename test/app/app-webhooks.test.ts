import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppWebhooks } from '../../src/app/app-webhooks.js';
import { createJiraClient, type JiraClient } from '../../src/jira/client.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { freshSqlite, type TestDb } from '../helpers/db.js';

describe('Jira app webhooks (OAuth connections): registered, refreshed before their 30-day expiry', () => {
  let sb: RunningSandbox;
  let db: TestDb;
  let client: JiraClient;
  let clock = Date.now();
  const url = 'https://bridge.example.com/webhooks/jira/cloud?token=app-webhook-token-0123456789';

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    db = await freshSqlite();
    client = createJiraClient({
      id: 'cloud',
      siteUrl: sb.baseUrl,
      flavour: 'cloud',
      auth: { type: 'oauth', getAccessToken: () => Promise.resolve(sb.credentials.oauthToken), apiBase: sb.baseUrl },
    });
  });
  afterAll(async () => {
    await client.close();
    await sb.close();
    await db.cleanup();
  });

  it('registers once, leaves a fresh registration alone, refreshes one close to expiry, re-registers one Jira lost', async () => {
    const hooks = createAppWebhooks({ store: db.store, now: () => clock });
    const target = { connectionId: 'cloud', client, url, projects: ['SEC', 'OPS'] };
    const first = await hooks.ensure(target);
    expect(first.action).toBe('registered');
    expect(first.ids).toHaveLength(1);
    const reg = sb.webhooks.get(first.ids[0]!)!;
    expect(reg.url).toBe(url);
    expect(reg.jqlFilter).toBe('project in ("OPS", "SEC")');
    expect(reg.events).toContain('comment_deleted');
    expect(reg.expiresAt! - Date.now()).toBeGreaterThan(29 * 86_400_000);

    expect((await hooks.ensure(target)).action).toBe('unchanged');
    expect(sb.webhooks.list()).toHaveLength(1);

    // 25 days later: inside the refresh window.
    clock += 25 * 86_400_000;
    const refreshed = await hooks.ensure(target);
    expect(refreshed.action).toBe('refreshed');
    expect(refreshed.ids).toEqual(first.ids);

    // Jira dropped it (expired or deleted): registered again, never twice.
    sb.webhooks.remove(first.ids[0]!);
    const again = await hooks.ensure(target);
    expect(again.action).toBe('registered');
    expect(sb.webhooks.list()).toHaveLength(1);
    // The stored registration holds no token.
    const saved = await db.store.db.selectFrom('settings').selectAll().execute();
    expect(JSON.stringify(saved)).not.toContain('app-webhook-token');
  });

  it('refuses a URL without a token, naming the setting to add', async () => {
    const hooks = createAppWebhooks({ store: db.store });
    await expect(
      hooks.ensure({
        connectionId: 'cloud',
        client,
        url: 'https://bridge.example.com/webhooks/jira/cloud',
        projects: ['SEC'],
      }),
    ).rejects.toThrow(/webhook\.url_token/);
  });
});
