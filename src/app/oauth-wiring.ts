/**
 * OAuth 2.0 (3LO) in the service: one token provider per OAuth connection (cached per process,
 * serialized across replicas through the store), the connect flow, and the Jira client's auth for
 * an OAuth connection (`jiraConnectionOf(c, oauth.authFor)` in engine-wiring).
 */
import type { ConnectionConfig } from '../config/schema.js';
import { jiraApiBase, type OAuthAppCredentials, type OAuthHttpOptions } from '../jira/oauth-client.js';
import { missingScopes, scopesForMappings } from '../core/oauth-scopes.js';
import type { JiraAuth } from '../jira/transport.js';
import type { Logger } from '../log/logger.js';
import type { SecretBox } from '../security/secret-box.js';
import type { Store } from '../store/store.js';
import { createOAuthConnect, type ConnectedSite, type OAuthConnect } from './oauth-connect.js';
import { createOAuthTokenProvider, storedCloudIds, type OAuthTokenProvider } from './oauth-tokens.js';

export type OAuthJiraAuth = Extract<JiraAuth, { type: 'oauth' }>;
/** Builds the Jira client's auth of an OAuth connection (sync: the cloud id is preloaded). */
export type OAuthAuthFactory = (c: ConnectionConfig) => OAuthJiraAuth;

/** The OAuth app of a connection, or undefined when it does not use OAuth. */
export function oauthAppOf(c: ConnectionConfig): OAuthAppCredentials | undefined {
  if (c.auth.type !== 'oauth') return undefined;
  return {
    clientId: c.auth.client_id,
    clientSecret: c.auth.client_secret,
    ...(c.auth.auth_url ? { authUrl: c.auth.auth_url } : {}),
    ...(c.auth.api_url ? { apiUrl: c.auth.api_url } : {}),
  };
}

export interface OAuthWiring {
  connect: OAuthConnect;
  /** The token provider of an OAuth connection (one per connection and process). */
  provider(c: ConnectionConfig): OAuthTokenProvider;
  /** For jiraConnectionOf: getAccessToken from the provider, API base from the stored (or configured) cloud id. */
  authFor: OAuthAuthFactory;
  /** The scopes the connection's mappings need (what connecting asks for). */
  requiredScopes(connectionId: string): string[];
  /** The needed scopes the stored grant lacks ([] when none is missing or the connection was never connected). */
  missingScopes(connectionId: string): Promise<string[]>;
  /** The same from the scopes last read (sync, for health): mappings saved since count at once. */
  knownMissingScopes(connectionId: string): string[];
  /** Re-reads the connected sites (another replica connected one): the ids whose cloud id changed. */
  reloadSites(): Promise<string[]>;
}

export interface OAuthWiringOptions {
  store: Store;
  box: SecretBox;
  publicUrl: () => string;
  /** The current connections (config file and admin API). */
  connections: () => ConnectionConfig[];
  /** The current mappings: the scopes asked at connect are those the connection's mappings need. */
  mappings?: () => ReadonlyArray<{ connection: string; kinds: Record<string, object> }>;
  /** After a connection is connected: rebuild its Jira client (e.g. WiredEngine.setConnection). */
  onConnected?: (c: ConnectionConfig, site: ConnectedSite) => Promise<void> | void;
  logger?: Logger;
  clock?: () => number;
  http?: OAuthHttpOptions;
}

/** Loads the stored cloud ids (so client construction stays sync) and builds the wiring. */
export async function createOAuthWiring(o: OAuthWiringOptions): Promise<OAuthWiring> {
  const cloudIds = await storedCloudIds(o.store.db);
  // The granted scopes of each connected connection (health reads them synchronously).
  const readGranted = async (): Promise<Map<string, string>> =>
    new Map(
      (await o.store.db.selectFrom('oauth_tokens').select(['connection_id', 'scope']).execute()).map((r) => [
        r.connection_id,
        r.scope,
      ]),
    );
  let granted = await readGranted();
  const providers = new Map<string, { key: string; provider: OAuthTokenProvider }>();
  const find = (id: string): ConnectionConfig | undefined => o.connections().find((c) => c.id === id);

  const scopesOf = (id: string): string[] =>
    scopesForMappings((o.mappings?.() ?? []).filter((m) => m.connection === id));

  const provider = (c: ConnectionConfig): OAuthTokenProvider => {
    const app = oauthAppOf(c);
    if (!app) throw new Error(`connection ${c.id} does not use OAuth`);
    // A changed app (client id/secret, URLs) gets a new provider.
    const key = JSON.stringify(app);
    const have = providers.get(c.id);
    if (have?.key === key) return have.provider;
    const p = createOAuthTokenProvider({
      store: o.store,
      box: o.box,
      connectionId: c.id,
      app,
      ...(o.logger ? { logger: o.logger.child({ connectionId: c.id }) } : {}),
      ...(o.clock ? { clock: o.clock } : {}),
      ...(o.http ? { http: o.http } : {}),
    });
    providers.set(c.id, { key, provider: p });
    return p;
  };

  const connect = createOAuthConnect({
    store: o.store,
    box: o.box,
    publicUrl: o.publicUrl,
    connection: (id) => {
      const c = find(id);
      const app = c && c.flavour === 'cloud' ? oauthAppOf(c) : undefined;
      return c && app ? { id: c.id, siteUrl: c.site_url, app, scopes: scopesOf(c.id) } : undefined;
    },
    async onConnected(site) {
      cloudIds.set(site.connectionId, site.cloudId);
      granted.set(site.connectionId, site.scope);
      providers.get(site.connectionId)?.provider.invalidate();
      const c = find(site.connectionId);
      if (c) await o.onConnected?.(c, site);
    },
    ...(o.logger ? { logger: o.logger } : {}),
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.http ? { http: o.http } : {}),
  });

  return {
    connect,
    provider,
    requiredScopes: scopesOf,
    async missingScopes(id) {
      const row = await o.store.db
        .selectFrom('oauth_tokens')
        .select('scope')
        .where('connection_id', '=', id)
        .executeTakeFirst();
      if (row) granted.set(id, row.scope);
      else granted.delete(id);
      return row ? missingScopes(scopesOf(id), row.scope) : [];
    },
    knownMissingScopes(id) {
      const g = granted.get(id);
      return g === undefined ? [] : missingScopes(scopesOf(id), g);
    },
    async reloadSites() {
      granted = await readGranted();
      const now = await storedCloudIds(o.store.db);
      const changed = [...new Set([...now.keys(), ...cloudIds.keys()])].filter(
        (id) => now.get(id) !== cloudIds.get(id),
      );
      for (const id of changed) {
        const v = now.get(id);
        if (v === undefined) cloudIds.delete(id);
        else cloudIds.set(id, v);
        providers.get(id)?.provider.invalidate();
      }
      return changed;
    },
    authFor(c) {
      const app = oauthAppOf(c);
      if (!app) throw new Error(`connection ${c.id} does not use OAuth`);
      const p = provider(c);
      const cloudId = cloudIds.get(c.id) ?? (c.auth.type === 'oauth' ? c.auth.cloud_id : undefined);
      return {
        type: 'oauth',
        getAccessToken: () => p.getAccessToken(),
        invalidate: (token) => p.invalidate(token),
        ...(cloudId ? { cloudId, apiBase: jiraApiBase(app, cloudId) } : {}),
      };
    },
  };
}
