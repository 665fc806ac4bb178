/**
 * OAuth 2.0 (3LO) in the service: one token provider per OAuth connection (cached per process,
 * serialized across replicas through the store), the connect flow, and the Jira client's auth for
 * an OAuth connection (`jiraConnectionOf(c, oauth.authFor)` in engine-wiring).
 */
import type { ConnectionConfig } from '../config/schema.js';
import { jiraApiBase, type OAuthAppCredentials, type OAuthHttpOptions } from '../jira/oauth-client.js';
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
  /** Re-reads the connected sites (another replica connected one): the ids whose cloud id changed. */
  reloadSites(): Promise<string[]>;
}

export interface OAuthWiringOptions {
  store: Store;
  box: SecretBox;
  publicUrl: () => string;
  /** The current connections (config file and admin API). */
  connections: () => ConnectionConfig[];
  /** After a connection is connected: rebuild its Jira client (e.g. WiredEngine.setConnection). */
  onConnected?: (c: ConnectionConfig, site: ConnectedSite) => Promise<void> | void;
  logger?: Logger;
  clock?: () => number;
  http?: OAuthHttpOptions;
}

/** Loads the stored cloud ids (so client construction stays sync) and builds the wiring. */
export async function createOAuthWiring(o: OAuthWiringOptions): Promise<OAuthWiring> {
  const cloudIds = await storedCloudIds(o.store.db);
  const providers = new Map<string, { key: string; provider: OAuthTokenProvider }>();
  const find = (id: string): ConnectionConfig | undefined => o.connections().find((c) => c.id === id);

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
      return c && app ? { id: c.id, siteUrl: c.site_url, app } : undefined;
    },
    async onConnected(site) {
      cloudIds.set(site.connectionId, site.cloudId);
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
    async reloadSites() {
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
