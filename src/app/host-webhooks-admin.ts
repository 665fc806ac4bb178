/**
 * Host-webhook subscriptions through the admin API (and beside the configuration file's): each is
 * a row in `outbound_webhooks` (source 'api') with its secret sealed under the master key (aad
 * `host-webhook:<id>`), never returned after creation, live at once (the dispatcher's set of
 * streams is replaced), and audited with the secret
 * masked. A subscription from the file is listed (without its secret) and edited in the file.
 * Other replicas reload through the shared configuration sync (src/app/config-sync.ts: its
 * fingerprint covers these rows; `onChange` announces a change at once).
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AppError } from '../core/errors.js';
import { subscriptionId, type HostSubscription } from '../host/dispatcher.js';
import type { Logger } from '../log/logger.js';
import type { SecretBox } from '../security/secret-box.js';
import { appendAudit } from '../store/audit.js';
import { newId } from '../store/ids.js';
import { fromJson, toJson } from '../store/json.js';
import type { Database } from '../store/schema.js';
import type { Store } from '../store/store.js';

const aad = (id: string): string => `host-webhook:${id}`;
const MASK = '••••••';

export interface HostWebhookView {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  active: boolean;
  source: 'file' | 'api';
  /** Always true: a subscription cannot exist without a secret; the secret itself is never returned. */
  has_secret: true;
  created_at: string | null;
  updated_at: string | null;
}

export interface HostWebhookInput {
  url: string;
  events?: string[] | undefined;
  /** Given (at least 16 characters; `whsec_<base64>` is the Standard Webhooks form) or generated. */
  secret?: string | undefined;
  description?: string | undefined;
  active?: boolean | undefined;
}

export interface HostWebhookPatch {
  url?: string | undefined;
  events?: string[] | undefined;
  secret?: string | undefined;
  /** Generate a new secret (returned once). */
  rotate_secret?: boolean | undefined;
  description?: string | null | undefined;
  active?: boolean | undefined;
}

/** A new secret in the Standard Webhooks form (`whsec_` + 32 random bytes in base64). */
export const generateHostSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

interface Row {
  id: string;
  url: string;
  events: string;
  secret_enc: string | null;
  description: string | null;
  active: number;
  created_at: number;
  updated_at: number;
}

/** API subscriptions with their secrets opened (an unopenable row is logged and skipped). */
export async function loadApiHostWebhooks(
  db: Kysely<Database>,
  box: SecretBox,
  logger?: Logger,
): Promise<HostSubscription[]> {
  const rows = await db
    .selectFrom('outbound_webhooks')
    .select(['id', 'url', 'events', 'secret_enc', 'active'])
    .where('source', '=', 'api')
    .orderBy('id')
    .execute();
  const out: HostSubscription[] = [];
  for (const r of rows) {
    if (!r.active || !r.secret_enc) continue;
    try {
      out.push({
        id: r.id,
        url: r.url,
        events: fromJson<string[]>(r.events) ?? ['*'],
        secret: box.open(r.secret_enc, aad(r.id)),
        source: 'api',
      });
    } catch (err) {
      logger?.error(
        { subscription: r.id, err: (err as Error).message },
        'a host webhook’s secret cannot be opened (was the master key changed without rotate-key?); it is not delivered to',
      );
    }
  }
  return out;
}

/** rotate-key: re-seals every API subscription's secret under the current key. */
export async function resealHostWebhooks(
  db: Kysely<Database>,
  box: SecretBox,
): Promise<{ resealed: number; current: number }> {
  const rows = await db.selectFrom('outbound_webhooks').select(['id', 'secret_enc']).execute();
  let resealed = 0;
  let current = 0;
  for (const r of rows) {
    if (!r.secret_enc) continue;
    const secret_enc = box.reseal(r.secret_enc, aad(r.id));
    if (secret_enc === null) {
      current++;
      continue;
    }
    await db.updateTable('outbound_webhooks').set({ secret_enc }).where('id', '=', r.id).execute();
    resealed++;
  }
  return { resealed, current };
}

export interface HostWebhookAdminDeps {
  store: Store;
  box: SecretBox;
  /** The configuration file's subscriptions (read-only here). */
  fileSubscriptions: HostSubscription[];
  /** Called after every change with the full set (file + API) to deliver to. */
  apply(subscriptions: HostSubscription[]): Promise<void>;
  /** Called after a change made here (create, update, delete): tells the other replicas at once. */
  onChange?: () => Promise<void>;
  logger?: Logger | undefined;
  now?: () => number;
}

export function createHostWebhookAdmin(deps: HostWebhookAdminDeps) {
  const now = deps.now ?? Date.now;
  const iso = (t: number | null): string | null => (t === null ? null : new Date(Number(t)).toISOString());
  const fileIds = new Map(deps.fileSubscriptions.map((s) => [subscriptionId(s.url), s]));

  const viewOf = (r: Row): HostWebhookView => ({
    id: r.id,
    url: r.url,
    events: fromJson<string[]>(r.events) ?? ['*'],
    description: r.description,
    active: Boolean(r.active),
    source: 'api',
    has_secret: true,
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
  });
  const fileView = (s: HostSubscription): HostWebhookView => ({
    id: subscriptionId(s.url),
    url: s.url,
    events: s.events,
    description: null,
    active: true,
    source: 'file',
    has_secret: true,
    created_at: null,
    updated_at: null,
  });
  const audited = (v: HostWebhookView): Record<string, unknown> => ({
    url: v.url,
    events: v.events,
    description: v.description,
    active: v.active,
    secret: MASK,
  });

  async function row(id: string): Promise<Row | undefined> {
    return deps.store.db
      .selectFrom('outbound_webhooks')
      .select(['id', 'url', 'events', 'secret_enc', 'description', 'active', 'created_at', 'updated_at'])
      .where('id', '=', id)
      .where('source', '=', 'api')
      .executeTakeFirst();
  }

  async function assertUrlFree(url: string, except?: string): Promise<void> {
    if (deps.fileSubscriptions.some((s) => s.url === url)) {
      throw new AppError('CONFLICT', `body.url: ${url} is already a subscription in the configuration file`, {
        details: { issues: [{ path: 'body.url', message: 'already subscribed in the configuration file' }] },
      });
    }
    const other = await deps.store.db
      .selectFrom('outbound_webhooks')
      .select('id')
      .where('source', '=', 'api')
      .where('url', '=', url)
      .executeTakeFirst();
    if (other && other.id !== except) {
      throw new AppError('CONFLICT', `body.url: ${url} is already subscription "${other.id}"; change that one`, {
        details: { issues: [{ path: 'body.url', message: `already subscription ${other.id}` }] },
      });
    }
  }

  /** Delivers to the file's subscriptions and the stored API ones, as they are now. */
  async function refresh(): Promise<void> {
    await deps.apply([...deps.fileSubscriptions, ...(await loadApiHostWebhooks(deps.store.db, deps.box, deps.logger))]);
  }

  return {
    /** The file's and the API's subscriptions; never a secret. */
    async list(): Promise<HostWebhookView[]> {
      const rows = await deps.store.db
        .selectFrom('outbound_webhooks')
        .select(['id', 'url', 'events', 'secret_enc', 'description', 'active', 'created_at', 'updated_at'])
        .where('source', '=', 'api')
        .orderBy('created_at')
        .execute();
      return [...deps.fileSubscriptions.map(fileView), ...rows.map(viewOf)];
    },

    async get(id: string): Promise<HostWebhookView> {
      const f = fileIds.get(id);
      if (f) return fileView(f);
      const r = await row(id);
      if (!r) throw new AppError('NOT_FOUND', `No host webhook "${id}"`);
      return viewOf(r);
    },

    /** Creates a subscription; the secret (given or generated) is in this answer only. */
    async create(input: HostWebhookInput, actor: string): Promise<{ view: HostWebhookView; secret: string }> {
      await assertUrlFree(input.url);
      const t = now();
      const id = `hw_${newId(t).replace(/-/g, '').slice(-16)}`;
      const secret = input.secret ?? generateHostSecret();
      const r: Row = {
        id,
        url: input.url,
        events: toJson(input.events?.length ? input.events : ['*']),
        secret_enc: deps.box.seal(secret, aad(id)),
        description: input.description ?? null,
        active: input.active === false ? 0 : 1,
        created_at: t,
        updated_at: t,
      };
      const view = viewOf(r);
      await deps.store.transaction(async (trx) => {
        await trx
          .insertInto('outbound_webhooks')
          .values({ ...r, source: 'api' })
          .execute();
        await appendAudit(trx, {
          actor,
          action: 'host_webhook.created',
          target: `host_webhook:${id}`,
          before: null,
          after: audited(view),
          at: t,
        });
      });
      deps.logger?.info({ subscription: id, actor }, 'host webhook created');
      await refresh();
      await deps.onChange?.();
      return { view, secret };
    },

    /** Changes a subscription; a new secret (given, or generated with rotate_secret) takes effect at once. */
    async update(
      id: string,
      patch: HostWebhookPatch,
      actor: string,
    ): Promise<{ view: HostWebhookView; secret: string | null }> {
      if (fileIds.has(id)) {
        throw new AppError(
          'CONFLICT',
          `Host webhook "${id}" comes from the configuration file (host_webhooks); change it there`,
        );
      }
      const before = await row(id);
      if (!before) throw new AppError('NOT_FOUND', `No host webhook "${id}"`);
      if (patch.secret !== undefined && patch.rotate_secret) {
        throw new AppError('VALIDATION_FAILED', 'body.secret: give a secret or rotate_secret: true, not both', {
          details: { issues: [{ path: 'body.secret', message: 'not together with rotate_secret' }] },
        });
      }
      if (patch.url !== undefined && patch.url !== before.url) await assertUrlFree(patch.url, id);
      const t = now();
      const fresh = patch.rotate_secret ? generateHostSecret() : patch.secret;
      const after: Row = {
        ...before,
        url: patch.url ?? before.url,
        events: patch.events?.length ? toJson(patch.events) : before.events,
        description: patch.description === undefined ? before.description : patch.description,
        active: patch.active === undefined ? before.active : patch.active ? 1 : 0,
        secret_enc: fresh !== undefined ? deps.box.seal(fresh, aad(id)) : before.secret_enc,
        updated_at: t,
      };
      await deps.store.transaction(async (trx) => {
        await trx
          .updateTable('outbound_webhooks')
          .set({
            url: after.url,
            events: after.events,
            description: after.description,
            active: after.active,
            secret_enc: after.secret_enc,
            updated_at: t,
          })
          .where('id', '=', id)
          .execute();
        const a = audited(viewOf(after));
        await appendAudit(trx, {
          actor,
          action: 'host_webhook.updated',
          target: `host_webhook:${id}`,
          before: audited(viewOf(before)),
          // A changed secret shows as changed, never as itself.
          after: fresh !== undefined ? { ...a, secret: `${MASK} (replaced)` } : a,
          at: t,
        });
      });
      deps.logger?.info({ subscription: id, actor, secretReplaced: fresh !== undefined }, 'host webhook updated');
      await refresh();
      await deps.onChange?.();
      return { view: viewOf(after), secret: patch.rotate_secret ? fresh! : null };
    },

    /** Stops delivering to it at once; its delivery log goes with it. */
    async remove(id: string, actor: string): Promise<void> {
      if (fileIds.has(id)) {
        throw new AppError(
          'CONFLICT',
          `Host webhook "${id}" comes from the configuration file (host_webhooks); remove it there`,
        );
      }
      const before = await row(id);
      if (!before) throw new AppError('NOT_FOUND', `No host webhook "${id}"`);
      const t = now();
      await deps.store.transaction(async (trx) => {
        await trx.deleteFrom('outbound_webhooks').where('id', '=', id).execute();
        await appendAudit(trx, {
          actor,
          action: 'host_webhook.deleted',
          target: `host_webhook:${id}`,
          before: audited(viewOf(before)),
          after: null,
          at: t,
        });
      });
      deps.logger?.info({ subscription: id, actor }, 'host webhook deleted');
      await refresh(); // its stream has stopped: its cursor can go
      await deps.onChange?.();
      await deps.store.db.deleteFrom('sweeps').where('name', '=', `host-webhook:${id}`).execute();
    },

    /** Another replica changed subscriptions: deliver to the stored set. */
    reload: refresh,
  };
}

export type HostWebhookAdmin = ReturnType<typeof createHostWebhookAdmin>;
