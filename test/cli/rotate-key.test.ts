import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadApiConnections } from '../../src/app/connections-admin.js';
import { createLogger } from '../../src/log/logger.js';
import { createSecretBox } from '../../src/security/secret-box.js';
import { openStore } from '../../src/store/index.js';
import { generateWebhookSecret, generatedWebhookSecret } from '../../src/webhooks/secrets.js';
import { runCli, tempDir } from './helpers.js';

describe('jira-bridge rotate-key', () => {
  it('re-seals stored secrets under the new key; afterwards the old key is no longer needed', async () => {
    const cwd = tempDir('jb-rotate-');
    const dataDir = join(cwd, 'data');
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    let store = await openStore({ dataDir, logger: createLogger({ level: 'silent' }) });
    await store.migrate();
    const { secret } = await generateWebhookSecret(store, createSecretBox(oldKey), 'sb', 'test');
    // A connection created through the admin API, its token sealed under the old key.
    const conn = {
      id: 'api1',
      site_url: 'https://jira.example.com',
      flavour: 'cloud',
      auth: { type: 'basic', email: 'a@example.com' },
    };
    await store.db
      .insertInto('connections')
      .values({
        id: 'api1',
        name: 'api1',
        flavour: 'cloud',
        site_url: conn.site_url,
        config: JSON.stringify({ source: 'api', connection: conn }),
        secrets_enc: createSecretBox(oldKey).seal(JSON.stringify({ 'auth.api_token': 'tok-123' }), 'connection:api1'),
        created_at: 1,
        updated_at: 1,
      })
      .execute();
    await store.close();

    const env = {
      DATA_DIR: dataDir,
      JIRA_BRIDGE_MASTER_KEY: newKey.toString('base64'),
      JIRA_BRIDGE_PREVIOUS_MASTER_KEYS: oldKey.toString('base64'),
    };
    const first = await runCli(['rotate-key'], { cwd, env });
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('2 secret(s) re-sealed');
    const again = await runCli(['rotate-key'], { cwd, env });
    expect(again.stdout).toMatch(/0 secret\(s\) re-sealed under key \S+; 2 already were/);

    store = await openStore({ dataDir, logger: createLogger({ level: 'silent' }) });
    expect((await generatedWebhookSecret(store, createSecretBox(newKey), 'sb'))?.secret).toBe(secret);
    await expect(generatedWebhookSecret(store, createSecretBox(oldKey), 'sb')).rejects.toThrow(/unknown master key/);
    const [api1] = await loadApiConnections(store.db, createSecretBox(newKey));
    expect(api1?.auth).toMatchObject({ type: 'basic', api_token: 'tok-123' });
    expect(await loadApiConnections(store.db, createSecretBox(oldKey))).toEqual([]);
    await store.close();
  });
});
