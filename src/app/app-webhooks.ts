/**
 * Webhooks registered by jira-bridge itself, for connections that act as an OAuth 2.0 app on Jira
 * Cloud (`POST /rest/api/3/webhook`). Jira does not sign them with a shared secret, so their URL
 * carries the connection's URL token; they expire after 30 days unless refreshed, so a timer
 * refreshes them well before (and registers them again if Jira forgot them). The registration
 * (ids, URL, expiry) is kept in the `settings` table under `app-webhooks:<connection>`; the URL
 * token itself is never stored there or logged.
 */
import type { JiraClient } from '../jira/client.js';
import type { Logger } from '../log/logger.js';
import { fromJson, toJson } from '../store/json.js';
import type { Store } from '../store/store.js';
import { AppError } from '../core/errors.js';
import { JIRA_EVENTS } from '../webhooks/parse.js';

export const APP_WEBHOOK_EVENTS: string[] = [...JIRA_EVENTS];

export interface AppWebhookTarget {
  connectionId: string;
  client: JiraClient;
  /** The intake URL including `?token=`; compared and registered, never stored or logged. */
  url: string;
  /** Projects whose issues matter (the webhook's JQL filter). */
  projects: string[];
}

export interface AppWebhookStatus {
  connection: string;
  ids: number[];
  expires_at: string | null;
  action: 'registered' | 'refreshed' | 'unchanged';
}

interface Saved {
  ids: number[];
  expiresAt: number | null;
  /** A hash-free fingerprint of what was registered (projects), to re-register on change. */
  projects: string[];
}

const toMillis = (v: string | number | undefined): number | null =>
  v === undefined ? null : typeof v === 'number' ? v : Number.isNaN(Date.parse(v)) ? null : Date.parse(v);

export function createAppWebhooks(opts: {
  store: Store;
  logger?: Logger | undefined;
  now?: () => number;
  /** Refresh when expiry is closer than this (default 7 days). */
  refreshBeforeMs?: number;
}) {
  const now = opts.now ?? Date.now;
  const refreshBefore = opts.refreshBeforeMs ?? 7 * 86_400_000;
  const key = (id: string): string => `app-webhooks:${id}`;

  async function save(id: string, s: Saved): Promise<void> {
    const value = toJson(s);
    await opts.store.db
      .insertInto('settings')
      .values({ key: key(id), value, updated_at: now() })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: now() }))
      .execute();
  }

  /** Registers the connection's webhook when Jira has none for our URL, refreshes it when due. */
  async function ensure(t: AppWebhookTarget): Promise<AppWebhookStatus> {
    if (!t.url.includes('token=')) {
      throw new AppError(
        'CONFIG_INVALID',
        `connection ${t.connectionId}: app webhooks are not signed by Jira; set connections[].webhook.url_token so their URL can carry it`,
      );
    }
    const projects = [...t.projects].sort();
    const row = await opts.store.db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', key(t.connectionId))
      .executeTakeFirst();
    const saved = fromJson<Saved>(row?.value ?? null);
    const live = (await t.client.listWebhooks()).filter(
      (w) => (w as { url?: unknown }).url === t.url || saved?.ids.includes(w.id),
    );
    const sameProjects = saved !== null && saved.projects.join(',') === projects.join(',');
    if (!live.length || !sameProjects) {
      if (live.length) await t.client.deleteWebhooks(live.map((w) => w.id));
      const jqlFilter = `project in (${projects.map((p) => `"${p.replace(/"/g, '\\"')}"`).join(', ')})`;
      const res = await t.client.registerWebhooks(t.url, [{ events: APP_WEBHOOK_EVENTS, jqlFilter }]);
      const errors = res.flatMap((r) => r.errors ?? []);
      if (errors.length) {
        throw new AppError('JIRA_BAD_REQUEST', `Jira refused the webhook registration: ${errors.join('; ')}`);
      }
      const ids = res.map((r) => r.createdWebhookId).filter((x): x is number => typeof x === 'number');
      const listed = (await t.client.listWebhooks()).filter((w) => ids.includes(w.id));
      const expiresAt = listed.map((w) => toMillis(w.expirationDate)).find((x) => x !== null) ?? null;
      await save(t.connectionId, { ids, expiresAt, projects });
      opts.logger?.info({ connectionId: t.connectionId, ids, expiresAt }, 'Jira app webhooks registered');
      return {
        connection: t.connectionId,
        ids,
        expires_at: expiresAt === null ? null : new Date(expiresAt).toISOString(),
        action: 'registered',
      };
    }
    const ids = live.map((w) => w.id);
    const expiresAt = Math.min(...live.map((w) => toMillis(w.expirationDate) ?? Number.POSITIVE_INFINITY));
    if (expiresAt - now() < refreshBefore) {
      const r = await t.client.refreshWebhooks(ids);
      const next = toMillis(r.expirationDate) ?? null;
      await save(t.connectionId, { ids, expiresAt: next, projects });
      opts.logger?.info({ connectionId: t.connectionId, ids, expiresAt: next }, 'Jira app webhooks refreshed');
      return {
        connection: t.connectionId,
        ids,
        expires_at: next === null ? null : new Date(next).toISOString(),
        action: 'refreshed',
      };
    }
    await save(t.connectionId, { ids, expiresAt: Number.isFinite(expiresAt) ? expiresAt : null, projects });
    return {
      connection: t.connectionId,
      ids,
      expires_at: Number.isFinite(expiresAt) ? new Date(expiresAt).toISOString() : null,
      action: 'unchanged',
    };
  }

  /** Ensures every target now and then every `intervalMs` (default 12 h) until stopped. */
  function start(targets: AppWebhookTarget[], intervalMs = 12 * 3_600_000): { stop(): void } {
    const tick = (): void => {
      for (const t of targets) {
        ensure(t).catch((err: unknown) =>
          opts.logger?.warn(
            { connectionId: t.connectionId, err: err instanceof Error ? err.message : String(err) },
            'could not register or refresh the Jira app webhooks; will try again',
          ),
        );
      }
    };
    tick();
    const timer = setInterval(tick, intervalMs).unref();
    return { stop: () => clearInterval(timer) };
  }

  return { ensure, start };
}
