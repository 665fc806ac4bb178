/**
 * Jira connections through the admin API (and the console). The configuration file seeds the
 * model; a connection created here is stored in the `connections` table — its public part as JSON
 * (`{ source: 'api', connection }`), its secrets (API token, password, PAT, OAuth client secret, webhook
 * secrets) sealed with the master key into `secrets_enc`, bound to the row — and is live at once:
 * a Jira client, the sync engine, the webhook intake and the sweep all see it. A connection from
 * the file is edited in the file (the API says so). Responses never carry a secret: they say
 * whether one is set. Every change is in the audit log with secrets masked.
 */
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import { AppError } from '../core/errors.js';
import type { JiraCatalog } from '../core/catalog.js';
import type { CatalogCache } from '../jira/catalog.js';
import { connectionSchema, type Config, type ConnectionConfig } from '../config/schema.js';
import { createJiraClient, type JiraClient } from '../jira/client.js';
import { missingScopesMessage } from '../core/oauth-scopes.js';
import type { CheckResult } from '../jira/types.js';
import type { Logger } from '../log/logger.js';
import type { SecretBox } from '../security/secret-box.js';
import { fromJson, toJson } from '../store/json.js';
import type { Database } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { jiraConnectionOf } from './engine-wiring.js';
import { appendAudit } from '../store/audit.js';

/** Where each secret of a connection lives in its config shape. */
const SECRET_PATHS = [
  ['auth', 'api_token'],
  ['auth', 'password'],
  ['auth', 'token'],
  ['auth', 'client_secret'],
  ['webhook', 'secret'],
  ['webhook', 'previous_secret'],
  ['webhook', 'url_token'],
] as const;

type Secrets = Record<string, string>;
const aad = (id: string): string => `connection:${id}`;

interface StoredPublic {
  source: 'api';
  connection: Record<string, unknown>;
}

/** The connection without its secrets, and the secrets by dotted path. */
export function splitSecrets(c: ConnectionConfig): { pub: Record<string, unknown>; secrets: Secrets } {
  const pub = structuredClone(c) as unknown as Record<string, Record<string, unknown>>;
  const secrets: Secrets = {};
  for (const [a, b] of SECRET_PATHS) {
    const v = pub[a]?.[b];
    if (typeof v === 'string') {
      secrets[`${a}.${b}`] = v;
      delete pub[a]![b];
    }
  }
  return { pub, secrets };
}

function joinSecrets(pub: Record<string, unknown>, secrets: Secrets): Record<string, unknown> {
  const out = structuredClone(pub) as Record<string, Record<string, unknown>>;
  for (const [path, v] of Object.entries(secrets)) {
    const [a, b] = path.split('.') as [string, string];
    out[a] ??= {};
    out[a][b] = v;
  }
  return out;
}

export interface ConnectionView {
  id: string;
  name: string;
  site_url: string;
  flavour: 'cloud' | 'datacenter';
  source: 'file' | 'api';
  auth: {
    type: 'basic' | 'pat' | 'oauth';
    email?: string;
    /** Data Center basic auth with a username and password (the password is never returned). */
    username?: string;
    client_id?: string;
    has_secret: boolean;
    /** OAuth: whether an Atlassian account has authorized it ("Connect with Atlassian" done). */
    oauth_connected?: boolean;
    /** OAuth: Atlassian's endpoints when not the defaults (a sandbox, a proxy). */
    auth_url?: string;
    api_url?: string;
  };
  tls: { verify: boolean; custom_ca: boolean };
  sweep: { interval_seconds: number; link_check_seconds: number };
  /** The configuration's switch (`enabled: false` pauses it). */
  enabled: boolean;
}

/** What the API shows of a connection: never a secret, only whether one is set. */
export function connectionView(c: ConnectionConfig, source: 'file' | 'api', oauthConnected = false): ConnectionView {
  const a = c.auth;
  return {
    id: c.id,
    name: c.name ?? c.id,
    site_url: c.site_url,
    flavour: c.flavour,
    source,
    auth:
      a.type === 'basic'
        ? a.username !== undefined
          ? { type: 'basic', username: a.username, has_secret: !!a.password }
          : { type: 'basic', ...(a.email !== undefined ? { email: a.email } : {}), has_secret: !!a.api_token }
        : a.type === 'pat'
          ? { type: 'pat', has_secret: !!a.token }
          : {
              type: 'oauth',
              client_id: a.client_id,
              has_secret: !!a.client_secret,
              oauth_connected: oauthConnected,
              ...(a.auth_url ? { auth_url: a.auth_url } : {}),
              ...(a.api_url ? { api_url: a.api_url } : {}),
            },
    tls: { verify: c.tls.verify, custom_ca: !!(c.tls.ca_pem || c.tls.ca_file) },
    sweep: { interval_seconds: c.sweep.interval_seconds, link_check_seconds: c.sweep.link_check_seconds },
    enabled: c.enabled,
  };
}

/**
 * The audit log's copy: the public part, each secret replaced by a mask — marked "(replaced)" when
 * it differs from the one in `previous`, so a rotated credential shows in the diff without being in
 * it; a webhook secret `previous` had and `c` has not was cleared on purpose and shows "(cleared)".
 */
function masked(c: ConnectionConfig, previous?: ConnectionConfig): Record<string, unknown> {
  const { pub, secrets } = splitSecrets(c);
  const before = previous ? (splitSecrets(previous).secrets as Record<string, unknown>) : undefined;
  const cleared = Object.keys(before ?? {})
    .filter((k) => k.startsWith('webhook.') && !(k in secrets))
    .map((k) => [k, '(cleared)']);
  return joinSecrets(pub, {
    ...Object.fromEntries(
      Object.entries(secrets as Record<string, unknown>).map(([k, v]) => [
        k,
        before && k in before && before[k] !== v ? '•••••• (replaced)' : '••••••',
      ]),
    ),
    ...Object.fromEntries(cleared),
  });
}

/** The parts of a connection that are plain objects (anything else there is refused, named). */
const OBJECT_FIELDS = {
  auth: 'must be an object: {type: basic, email, api_token} | {type: basic, username, password} (Data Center) | {type: pat, token} | {type: oauth, client_id, client_secret}',
  tls: 'must be an object: {verify?, ca_pem?}',
  webhook: 'must be an object: {secret?, previous_secret?, url_token?}',
  sweep: 'must be an object: {interval_seconds?, link_check_seconds?}',
} as const;

/** What an explicit `null` clears on purpose (left out, the stored value is kept). */
const CLEARABLE = [
  ['webhook', 'secret'],
  ['webhook', 'previous_secret'],
  ['webhook', 'url_token'],
  ['tls', 'ca_pem'],
] as const;

/** The secret a connection authenticates to Jira with, as people call it. */
const AUTH_SECRET_NAMES: Record<string, string> = {
  'auth.api_token': 'API token',
  'auth.password': 'password',
  'auth.token': 'personal access token',
  'auth.client_secret': 'client secret',
};

/**
 * Which credential an auth object holds: basic auth's two forms (email + API token, username +
 * password) are different credentials, so a stored one is kept only for a body of the same form.
 * A body's basic auth naming neither login is taken as the stored form.
 */
function authForm(auth: Record<string, unknown> | undefined, existing: ConnectionConfig): string {
  const stored =
    existing.auth.type === 'basic' && existing.auth.username !== undefined ? 'basic:password' : existing.auth.type;
  if (!auth) return stored;
  if (auth.type !== 'basic') return String(auth.type ?? existing.auth.type);
  if (auth.username !== undefined) return 'basic:password';
  if (auth.email !== undefined) return 'basic';
  return existing.auth.type === 'basic' ? stored : 'basic';
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * A URL as the place a secret is sent to: scheme, user info, host and port (default ports
 * dropped, case folded by the URL parser), path without trailing slashes, query.
 */
function placeOf(url: string | undefined): string {
  if (url === undefined) return '';
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username}:${u.password}@${u.host}${u.pathname.replace(/\/+$/, '')}${u.search}`;
  } catch {
    return url;
  }
}

/**
 * What changed between two versions of a connection that a stored secret is bound to: the site,
 * the OAuth endpoints, the TLS trust. `where` says what the secret would be sent to anew.
 */
function bindingChanges(
  before: ConnectionConfig,
  after: ConnectionConfig,
): { changes: string[]; where: 'site' | 'endpoints' | 'trust' } | undefined {
  const changes: string[] = [];
  let where: 'site' | 'endpoints' | 'trust' = 'trust';
  if (placeOf(before.site_url) !== placeOf(after.site_url)) {
    changes.push(`site_url changed from ${before.site_url} to ${after.site_url}`);
    where = 'site';
  }
  if (before.auth.type === 'oauth' && after.auth.type === 'oauth') {
    for (const k of ['auth_url', 'api_url'] as const) {
      const [was, is] = [before.auth[k], after.auth[k]];
      if (placeOf(was) !== placeOf(is)) {
        changes.push(`auth.${k} changed from ${was ?? '(the default)'} to ${is ?? '(the default)'}`);
        if (where === 'trust') where = 'endpoints';
      }
    }
  }
  if (before.tls.verify !== after.tls.verify)
    changes.push(`tls.verify changed from ${before.tls.verify} to ${after.tls.verify}`);
  for (const k of ['ca_pem', 'ca_file'] as const) {
    const [was, is] = [before.tls[k], after.tls[k]];
    if (was === is) continue;
    changes.push(
      was === undefined
        ? `tls.${k} was added`
        : is === undefined
          ? `tls.${k} was removed`
          : k === 'ca_file'
            ? `tls.ca_file changed from ${was} to ${is}`
            : 'tls.ca_pem changed',
    );
  }
  return changes.length ? { changes, where } : undefined;
}

/**
 * Whether the OAuth grant stored for a connection (access and refresh tokens, and the cloud id of
 * the site they were issued for) stops being valid with this change: they are bound, like the
 * client secret, to the app, the site, the endpoints and the TLS trust they were obtained through.
 * Kept across such a change they would be spent at a place their owner never authorized.
 */
export function oauthGrantVoided(before: ConnectionConfig, after: ConnectionConfig | undefined): boolean {
  if (before.auth.type !== 'oauth') return false;
  if (!after || after.auth.type !== 'oauth') return true;
  return before.auth.client_id !== after.auth.client_id || bindingChanges(before, after) !== undefined;
}

/** Connections stored through the API, secrets opened (a row that does not open is logged and skipped). */
export async function loadApiConnections(
  db: Kysely<Database>,
  box: SecretBox,
  logger?: Logger,
): Promise<ConnectionConfig[]> {
  const rows = await db.selectFrom('connections').select(['id', 'config', 'secrets_enc']).orderBy('id').execute();
  const out: ConnectionConfig[] = [];
  for (const r of rows) {
    const c = fromJson<Partial<StoredPublic>>(r.config);
    if (c?.source !== 'api' || !c.connection) continue;
    try {
      const secrets = r.secrets_enc ? (JSON.parse(box.open(r.secrets_enc, aad(r.id))) as Secrets) : {};
      const parsed = connectionSchema.safeParse(joinSecrets(c.connection, secrets));
      if (parsed.success) out.push(parsed.data);
      else
        logger?.error(
          { connectionId: r.id },
          'a stored connection no longer validates; it is ignored until saved again',
        );
    } catch (err) {
      logger?.error(
        { connectionId: r.id, err: (err as Error).message },
        'a stored connection’s secrets cannot be opened (was the master key changed without rotate-key?); it is ignored',
      );
    }
  }
  return out;
}

/** Seals the secrets of stored connections again under the current key (`jira-bridge rotate-key`). */
export async function resealConnections(
  db: Kysely<Database>,
  box: SecretBox,
): Promise<{ resealed: number; current: number }> {
  const rows = await db.selectFrom('connections').select(['id', 'secrets_enc']).execute();
  let resealed = 0;
  let current = 0;
  for (const r of rows) {
    if (!r.secrets_enc) continue;
    const secrets_enc = box.reseal(r.secrets_enc, aad(r.id));
    if (secrets_enc === null) {
      current++;
      continue;
    }
    await db.updateTable('connections').set({ secrets_enc }).where('id', '=', r.id).execute();
    resealed++;
  }
  return { resealed, current };
}

export interface ConnectionAdminDeps {
  store: Store;
  box: SecretBox;
  /** The live configuration: its `connections` list is updated in place on every change. */
  config: Config;
  /** Ids of the connections that came from the configuration file. */
  fileIds: Set<string>;
  /** The engine's runtime registry. */
  registry: {
    clients: Map<string, JiraClient>;
    catalogs: Map<string, CatalogCache>;
    setConnection(c: ConnectionConfig): Promise<void>;
    dropConnection(id: string): Promise<void>;
  };
  /** Called after a connection was added, changed or removed (sweeps, app webhooks). */
  onChange?: (id: string, c: ConnectionConfig | undefined) => void | Promise<void>;
  /** OAuth connections: whether tokens are stored for it. */
  oauthConnected?: (id: string) => boolean;
  /** OAuth connections: the scopes its mappings need that the stored grant lacks. */
  oauthMissingScopes?: (id: string) => Promise<string[]>;
  logger?: Logger | undefined;
  now?: () => number;
}

function zodIssues(err: z.ZodError): Array<{ path: string; message: string }> {
  return err.issues.map((i) => ({ path: ['body', ...i.path.map(String)].join('.'), message: i.message }));
}

function invalid(issues: Array<{ path: string; message: string }>): AppError {
  return new AppError('VALIDATION_FAILED', `${issues[0]!.path}: ${issues[0]!.message}`, { details: { issues } });
}

export function createConnectionAdmin(deps: ConnectionAdminDeps) {
  const now = deps.now ?? Date.now;
  const find = (id: string): ConnectionConfig | undefined => deps.config.connections.find((c) => c.id === id);
  const sourceOf = (id: string): 'file' | 'api' => (deps.fileIds.has(id) ? 'file' : 'api');

  /**
   * Validates a body as a connection. Secrets (and a saved CA) left out keep the stored ones when
   * the auth type is unchanged (the console never has them to send back); an explicit `null` clears
   * a webhook secret, the URL token or the CA. A stored Jira secret is bound to the site, the OAuth
   * endpoints and the TLS trust it was given for: kept across a change of any of them, it would be
   * sent where its owner never sent it, so such a body must bring the secret again (400 otherwise).
   */
  function parse(id: string, body: unknown, existing: ConnectionConfig | undefined): ConnectionConfig {
    if (!isObject(body)) throw invalid([{ path: 'body', message: 'must be an object' }]);
    for (const [k, message] of Object.entries(OBJECT_FIELDS)) {
      if (k in body && !isObject(body[k])) throw invalid([{ path: `body.${k}`, message }]);
    }
    let candidate = structuredClone({ ...body, id }) as Record<string, unknown>;
    const b = candidate as Record<string, Record<string, unknown> | undefined>;
    const cleared = new Set<string>();
    for (const [a, k] of CLEARABLE) {
      if (b[a]?.[k] !== null) continue;
      delete b[a]![k];
      cleared.add(`${a}.${k}`);
    }
    /** The stored Jira secret this body relies on, if it left its own out. */
    let borrowed: string | undefined;
    if (existing) {
      const { secrets } = splitSecrets(existing);
      const keep: Secrets = {};
      const left = (a: string, k: string) => !cleared.has(`${a}.${k}`) && (b[a]?.[k] === undefined || b[a]?.[k] === '');
      for (const [path, v] of Object.entries(secrets)) {
        const [a, k] = path.split('.') as [string, string];
        const sameAuth = a !== 'auth' || authForm(b.auth, existing) === authForm(existing.auth, existing);
        if (!sameAuth || !left(a, k)) continue;
        keep[path] = v;
        if (a === 'auth') borrowed = path;
      }
      // OAuth endpoints and cloud id are kept like secrets when the form does not send them.
      if (existing.auth.type === 'oauth' && (b.auth?.type ?? 'oauth') === 'oauth') {
        for (const k of ['auth_url', 'api_url', 'cloud_id'] as const) {
          const v = existing.auth[k];
          if (v !== undefined && left('auth', k)) keep[`auth.${k}`] = v;
        }
      }
      // So is a saved CA (the console shows "A CA is saved: leave blank to keep it").
      if (existing.tls.ca_pem !== undefined && left('tls', 'ca_pem')) keep['tls.ca_pem'] = existing.tls.ca_pem;
      if (Object.keys(keep).length) candidate = joinSecrets(candidate, keep);
    }
    const parsed = connectionSchema.safeParse(candidate);
    if (!parsed.success) throw invalid(zodIssues(parsed.error));
    if (parsed.data.tls.ca_file) {
      throw invalid([
        {
          path: 'body.tls.ca_file',
          message: 'a file path cannot be set through the API; paste the PEM bundle as tls.ca_pem',
        },
      ]);
    }
    const moved = borrowed && existing ? bindingChanges(existing, parsed.data) : undefined;
    if (moved && borrowed) {
      const fix =
        moved.where === 'site'
          ? 'for the new site'
          : moved.where === 'endpoints'
            ? 'for the new endpoints'
            : 'with the new TLS trust';
      throw invalid([
        {
          path: `body.${borrowed}`,
          message: `${moved.changes.join('; ')}; send the ${AUTH_SECRET_NAMES[borrowed] ?? borrowed} again ${fix}`,
        },
      ]);
    }
    return parsed.data;
  }

  async function persist(
    c: ConnectionConfig,
    before: ConnectionConfig | undefined,
    actor: string,
    forgetGrant = false,
  ): Promise<void> {
    const t = now();
    const { pub, secrets } = splitSecrets(c);
    const config = toJson({ source: 'api', connection: pub } satisfies StoredPublic);
    const secrets_enc = Object.keys(secrets).length ? deps.box.seal(JSON.stringify(secrets), aad(c.id)) : null;
    const name = c.name ?? c.id;
    await deps.store.transaction(async (trx) => {
      await trx
        .insertInto('connections')
        .values({
          id: c.id,
          name,
          flavour: c.flavour,
          site_url: c.site_url,
          config,
          secrets_enc,
          created_at: t,
          updated_at: t,
        })
        .onConflict((oc) =>
          oc
            .column('id')
            .doUpdateSet({ name, flavour: c.flavour, site_url: c.site_url, config, secrets_enc, updated_at: t }),
        )
        .execute();
      // A voided OAuth grant goes in the same transaction: no replica spends it at the new place.
      if (forgetGrant) await trx.deleteFrom('oauth_tokens').where('connection_id', '=', c.id).execute();
      await appendAudit(trx, {
        actor,
        action: before ? 'connection.updated' : 'connection.created',
        target: `connection:${c.id}`,
        before: before ? masked(before) : null,
        after: masked(c, before ?? undefined),
        at: t,
      });
    });
  }

  async function save(
    id: string,
    body: unknown,
    actor: string,
    mode: 'create' | 'upsert',
  ): Promise<{ connection: ConnectionView; created: boolean }> {
    if (deps.fileIds.has(id)) {
      throw new AppError(
        'CONFLICT',
        `Connection "${id}" comes from the configuration file; change it there (or choose another id)`,
      );
    }
    const existing = find(id);
    if (existing && mode === 'create') {
      throw new AppError(
        'CONFLICT',
        `A connection "${id}" exists already; change it with PUT /api/v1/connections/${id}`,
      );
    }
    let c = parse(id, body, existing);
    const voided = existing !== undefined && oauthGrantVoided(existing, c);
    if (voided && c.auth.type === 'oauth' && c.auth.cloud_id !== undefined) {
      // The cloud id named the old site: the next "Connect with Atlassian" finds the new one.
      const { cloud_id: _old, ...auth } = c.auth;
      c = { ...c, auth };
    }
    await persist(c, existing, actor, voided);
    if (voided)
      deps.logger?.info(
        { connectionId: id, actor },
        'the OAuth grant of this connection was forgotten (its app, site, endpoints or TLS trust changed): connect it with Atlassian again',
      );
    const i = deps.config.connections.findIndex((x) => x.id === id);
    if (i >= 0) deps.config.connections[i] = c;
    else deps.config.connections.push(c);
    await deps.registry.setConnection(c);
    await deps.onChange?.(id, c);
    deps.logger?.info({ connectionId: id, actor }, existing ? 'connection updated' : 'connection created');
    return { connection: connectionView(c, 'api', deps.oauthConnected?.(id)), created: !existing };
  }

  async function remove(id: string, actor: string, mappingsUsing: string[]): Promise<void> {
    const existing = find(id);
    if (!existing) throw new AppError('NOT_FOUND', `No connection "${id}"`);
    if (deps.fileIds.has(id))
      throw new AppError('CONFLICT', `Connection "${id}" comes from the configuration file; remove it there`);
    if (mappingsUsing.length) {
      throw new AppError(
        'CONFLICT',
        `Connection "${id}" is used by mapping(s) ${mappingsUsing.join(', ')}: delete or move them first`,
      );
    }
    const linked = await deps.store.db
      .selectFrom('links')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('connection_id', '=', id)
      .where('state', '!=', 'unlinked')
      .executeTakeFirst();
    const n = Number(linked?.n ?? 0);
    if (n > 0) {
      throw new AppError(
        'CONFLICT',
        `Connection "${id}" still links ${n} record(s) to Jira issues; unlink them first (DELETE …?unlink=true does both)`,
      );
    }
    const t = now();
    await deps.store.transaction(async (trx) => {
      // Links removed earlier (their records stay, unlinked) go with the connection they named.
      await trx.deleteFrom('links').where('connection_id', '=', id).where('state', '=', 'unlinked').execute();
      await trx.deleteFrom('connections').where('id', '=', id).execute();
      // Its OAuth grant (if any) goes with it: a later connection of the same id starts unconnected.
      await trx.deleteFrom('oauth_tokens').where('connection_id', '=', id).execute();
      await appendAudit(trx, {
        actor,
        action: 'connection.deleted',
        target: `connection:${id}`,
        before: masked(existing),
        after: null,
        at: t,
      });
    });
    deps.config.connections.splice(
      deps.config.connections.findIndex((x) => x.id === id),
      1,
    );
    await deps.registry.dropConnection(id);
    await deps.onChange?.(id, undefined);
    deps.logger?.info({ connectionId: id, actor }, 'connection deleted');
  }

  /** "Check connection": a saved one by id, or an unsaved body (secrets left out: the saved ones). */
  async function check(idOrBody: { id: string } | { body: unknown }): Promise<CheckResult> {
    if ('id' in idOrBody) {
      // A saved connection is checked through its live client (OAuth tokens, pacing and all).
      const client = deps.registry.clients.get(idOrBody.id);
      const c = find(idOrBody.id);
      if (!c || !client) throw new AppError('NOT_FOUND', `No connection "${idOrBody.id}"`);
      const result = await client.checkConnection();
      if (!result.ok || c.auth.type !== 'oauth' || !deps.oauthMissingScopes) return result;
      // Reached Jira, but the grant may not cover what the mappings do (e.g. a service desk added later).
      const missing = await deps.oauthMissingScopes(c.id);
      if (missing.length === 0) return result;
      return {
        ok: false,
        code: 'missing_scopes',
        message: missingScopesMessage(missing),
        hint: `a mapping of connection ${c.id} needs ${missing.join(', ')}: connect with Atlassian again (POST /api/v1/connections/${c.id}/oauth/start or the console's Connect button) and accept`,
      };
    }
    const b = idOrBody.body as { id?: unknown } | null;
    const id = typeof b?.id === 'string' && b.id ? b.id : 'unsaved';
    const client = createJiraClient(jiraConnectionOf(parse(id, idOrBody.body, find(id))), {
      maxRetries: 1,
      timeoutMs: 15_000,
      logger: deps.logger,
    });
    try {
      return await client.checkConnection();
    } finally {
      await client.close();
    }
  }

  /** The whole catalogue (the console's lists): cached parts are reused, `reload` fetches them all again. */
  async function catalog(id: string, reload: boolean): Promise<JiraCatalog> {
    if (!find(id)) throw new AppError('NOT_FOUND', `No connection "${id}"`);
    const cache = deps.registry.catalogs.get(id);
    if (!cache) throw new AppError('NOT_FOUND', `Connection "${id}" has no Jira client`);
    return cache.full({ reload });
  }

  return {
    list: (): ConnectionView[] =>
      deps.config.connections.map((c) => connectionView(c, sourceOf(c.id), deps.oauthConnected?.(c.id))),
    get: (id: string): ConnectionView | undefined => {
      const c = find(id);
      return c ? connectionView(c, sourceOf(id), deps.oauthConnected?.(id)) : undefined;
    },
    create: (body: unknown, actor: string) => {
      const id = (body as { id?: unknown } | null)?.id;
      if (typeof id !== 'string' || !id)
        throw invalid([{ path: 'body.id', message: 'required: a short id such as "jira-cloud"' }]);
      return save(id, body, actor, 'create');
    },
    put: (id: string, body: unknown, actor: string) => save(id, body, actor, 'upsert'),
    remove,
    check,
    catalog,
  };
}

export type ConnectionAdmin = ReturnType<typeof createConnectionAdmin>;
