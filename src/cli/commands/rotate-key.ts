import { describeDatabase, runtimeSettings } from '../../app/settings.js';
import { loadServiceConfig } from '../../app/config-port.js';
import { createLogger } from '../../log/logger.js';
import { loadSecretBox } from '../../security/master-key.js';
import { fromJson, toJson } from '../../store/json.js';
import { openStore } from '../../store/index.js';
import { resealConnections } from '../../app/connections-admin.js';
import { resealOAuthTokens } from '../../app/oauth-tokens.js';
import { resealHostWebhooks } from '../../app/host-webhooks-admin.js';
import { EXIT } from '../exit-codes.js';
import { describeError, line, printConfigError, type Out } from '../output.js';

export interface RotateKeyOptions {
  configPath?: string;
  env: NodeJS.ProcessEnv;
  out: Out;
}

/**
 * Re-seals every stored secret under the current master key (`JIRA_BRIDGE_MASTER_KEY`), opening
 * the old values with `JIRA_BRIDGE_PREVIOUS_MASTER_KEYS`. Run it after changing the key; then the
 * previous keys can be dropped. Idempotent.
 */
export async function rotateKeyCommand(opts: RotateKeyOptions): Promise<number> {
  const logger = createLogger({ level: opts.env.LOG_LEVEL ?? 'warn', destination: opts.out.stderr });
  let settings;
  try {
    const loaded = await loadServiceConfig({
      ...(opts.configPath !== undefined ? { path: opts.configPath } : {}),
      env: opts.env,
    });
    settings = runtimeSettings(loaded.config, opts.env, { demo: loaded.source === null });
  } catch (err) {
    if (printConfigError(err, opts.out)) return EXIT.CONFIG_INVALID;
    line(opts.out.stderr, `jira-bridge rotate-key: ${describeError(err)}`);
    return EXIT.FAILURE;
  }
  const where = describeDatabase(settings);
  let store;
  try {
    const box = loadSecretBox(opts.env, settings.dataDir, logger);
    store = await openStore({
      ...(settings.databaseUrl ? { databaseUrl: settings.databaseUrl } : { dataDir: settings.dataDir }),
      logger,
    });
    await store.migrate();
    let resealed = 0;
    let current = 0;
    await store.transaction(async (trx) => {
      const rows = await trx.selectFrom('settings').selectAll().execute();
      for (const r of rows) {
        const v = fromJson<{ sealed?: unknown }>(r.value);
        if (!v || typeof v.sealed !== 'string') continue;
        const sealed = box.reseal(v.sealed, r.key);
        if (sealed === null) {
          current++;
          continue;
        }
        await trx
          .updateTable('settings')
          .set({ value: toJson({ ...v, sealed }) })
          .where('key', '=', r.key)
          .execute();
        resealed++;
      }
      // Connections created through the admin API: their credentials.
      const c = await resealConnections(trx, box);
      // OAuth access and refresh tokens.
      const o = await resealOAuthTokens(trx, box);
      // Host webhook subscriptions made through the admin API: their secrets.
      const h = await resealHostWebhooks(trx, box);
      resealed += c.resealed + o.resealed + h.resealed;
      current += c.current + o.current + h.current;
    });
    line(opts.out.stdout, `${where}: ${resealed} secret(s) re-sealed under key ${box.keyId}; ${current} already were.`);
    return EXIT.OK;
  } catch (err) {
    line(opts.out.stderr, `jira-bridge rotate-key: ${where}: ${describeError(err)}`);
    return EXIT.FAILURE;
  } finally {
    await store?.close().catch(() => undefined);
  }
}
