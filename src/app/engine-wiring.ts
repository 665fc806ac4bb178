import { readFileSync } from 'node:fs';
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import type { Config, ConnectionConfig } from '../config/schema.js';
import { jqlFilterProblem } from '../jira/jql-check.js';
import { checkCloseAgainstCatalog, closeCatalogNeeds, closesOwnWay } from '../core/config-check.js';
import { toConnectionInfo, toOutboundMapping } from '../config/to-engine.js';
import { mergeNeeds } from '../core/catalog.js';
import { resolutionCatalogNeeds } from '../core/config-check.js';
import { createCatalogCache, type CatalogCache } from '../jira/catalog.js';
import { createEngine, jiraPortFromClient, staticMappingSource, type Engine, type JiraPort } from '../engine/index.js';
import { createJiraClient, type JiraClient } from '../jira/client.js';
import type { JiraConnection } from '../jira/transport.js';
import type { Logger } from '../log/logger.js';
import { jiraCallRecorder, type Metrics } from '../metrics/metrics.js';
import type { Queue } from '../queue/index.js';
import type { Store } from '../store/index.js';
import { createMappingAdmin, loadApiMappings, mergeMappings, type MappingAdmin } from './mappings-admin.js';
import type { OAuthAuthFactory } from './oauth-wiring.js';

/** The Jira client's connection from a validated config entry (CA bundle read from its file). */
export function jiraConnectionOf(c: ConnectionConfig, oauth?: OAuthAuthFactory): JiraConnection {
  const auth: JiraConnection['auth'] =
    c.auth.type === 'oauth' && oauth
      ? oauth(c)
      : c.auth.type === 'basic'
        ? c.auth.username !== undefined
          ? { type: 'password', username: c.auth.username, password: c.auth.password ?? '' }
          : { type: 'basic', email: c.auth.email ?? '', apiToken: c.auth.api_token ?? '' }
        : c.auth.type === 'pat'
          ? { type: 'pat', token: c.auth.token }
          : {
              type: 'oauth',
              // OAuth connections get their token provider from the OAuth module once connected.
              getAccessToken: () => Promise.reject(new Error(`connection ${c.id}: OAuth is not connected yet`)),
              ...(c.auth.cloud_id ? { cloudId: c.auth.cloud_id } : {}),
            };
  return {
    id: c.id,
    siteUrl: c.site_url,
    flavour: c.flavour,
    auth,
    tls: {
      verify: c.tls.verify,
      ...(c.tls.ca_pem ? { ca: c.tls.ca_pem } : c.tls.ca_file ? { ca: readFileSync(c.tls.ca_file, 'utf8') } : {}),
    },
  };
}

export interface WiredEngine {
  engine: Engine;
  clients: Map<string, JiraClient>;
  /** Mappings through the admin API (validated against Jira, persisted, live at once). */
  mappingAdmin: MappingAdmin;
  /** Each connection's Jira catalogue, fetched part by part on first need (the console's dropdowns, mapping checks). */
  catalogs: Map<string, CatalogCache>;
  /** Adds or replaces a connection at runtime (a new client; the old one is closed). */
  setConnection(c: ConnectionConfig): Promise<void>;
  /** Removes a connection at runtime (its client is closed). */
  dropConnection(id: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Builds the sync engine from the configuration: one Jira client per connection (sharing the
 * connection's pacer), each mapping resolved against its site's catalogue where it can be
 * fetched (field names → ids and types). A site that cannot be reached at start-up does not stop
 * the service: its mappings use the ids and types written in the file, and jobs retry.
 */
export async function wireEngine(deps: {
  config: Config;
  store: Store;
  queue: Queue;
  metrics: Metrics;
  logger: Logger;
  dataDir: string;
  /** This replica's lease owner name (./replica-id.ts). */
  replicaId?: string;
  /** OAuth connections' token providers (createOAuthWiring(...).authFor); without it they cannot call Jira. */
  oauth?: OAuthAuthFactory;
  /** The configuration file (named in a ConfigError). */
  configSource?: string | null | undefined;
}): Promise<WiredEngine> {
  const { config, logger } = deps;
  const clients = new Map<string, JiraClient>();
  const ports = new Map<string, JiraPort>();
  const catalogs = new Map<string, CatalogCache>();
  const connect = (c: ConnectionConfig): JiraClient => {
    const client = createJiraClient(jiraConnectionOf(c, deps.oauth), {
      logger: logger.child({ connectionId: c.id }),
      onCall: jiraCallRecorder(deps.metrics, c.id),
    });
    clients.set(c.id, client);
    ports.set(c.id, jiraPortFromClient(client));
    catalogs.set(c.id, createCatalogCache(client));
    return client;
  };
  for (const c of config.connections) {
    connect(c);
    // Only what resolving the file's mappings reads (field names and types, and then request
    // types by name): a mapping that names its fields by id and type costs no call at start-up.
    const needs = mergeNeeds(...config.mappings.filter((m) => m.connection === c.id).map(resolutionCatalogNeeds));
    if (needs.fields) {
      try {
        await catalogs.get(c.id)!.ensure(needs);
      } catch (err) {
        logger.warn(
          { connectionId: c.id, err: (err as Error).message },
          'could not fetch the Jira catalogue at start-up; field mappings use the ids and types in the file',
        );
      }
    }
  }
  // Each JQL filter of the file runs once against its site: a query Jira refuses stops the start
  // (like `check`), with Jira's message; a site that cannot be reached only postpones the check.
  const refused: ConfigIssue[] = [];
  for (const [index, m] of config.mappings.entries()) {
    const client = clients.get(m.connection);
    if (m.filter === undefined || !client) continue;
    try {
      const bad = await jqlFilterProblem(client, m.project, m.filter);
      if (bad) refused.push({ path: `mappings[${index}].filter`, message: bad });
    } catch (err) {
      logger.warn(
        { connectionId: m.connection, mappingId: m.id, err: (err as Error).message },
        'could not check the mapping filter against Jira at start-up; it is used as written',
      );
    }
  }
  // How records close (issue 18 item 2: resolutions by host status, a Jira status per closed host
  // status) is checked against the site as `check` does, for the mappings that use those options
  // (only the parts it reads are fetched; a site that cannot be reached postpones the check).
  for (const [index, m] of config.mappings.entries()) {
    const cache = catalogs.get(m.connection);
    if (!cache || !closesOwnWay(m)) continue;
    try {
      refused.push(...checkCloseAgainstCatalog(m, await cache.ensure(closeCatalogNeeds(m)), index));
    } catch (err) {
      logger.warn(
        { connectionId: m.connection, mappingId: m.id, err: (err as Error).message },
        'could not check how the mapping closes issues against Jira at start-up; it is used as written',
      );
    }
  }
  if (refused.length) {
    await Promise.all([...clients.values()].map((c) => c.close().catch(() => undefined)));
    throw new ConfigError(refused, deps.configSource ?? null);
  }
  // The file seeds the model; mappings saved through the admin API win over it.
  const entries = mergeMappings(config.mappings, await loadApiMappings(deps.store.db, logger), logger);
  const mappings = entries.map((e) => toOutboundMapping(e.mapping, catalogs.get(e.mapping.connection)?.view()));
  const source = staticMappingSource(mappings, config.connections.map(toConnectionInfo));
  const engine = createEngine({
    store: deps.store,
    queue: deps.queue,
    mappings: source,
    jira: (id) => {
      const port = ports.get(id);
      if (!port) throw new Error(`no Jira connection "${id}" is configured`);
      return port;
    },
    dataDir: deps.dataDir,
    logger,
    ...(deps.replicaId !== undefined ? { replicaId: deps.replicaId } : {}),
  });
  const admin = createMappingAdmin({
    store: deps.store,
    config,
    clients,
    entries,
    catalogs,
    logger,
    apply: (ms) => source.replace(ms),
  });
  const infos = (): ReturnType<typeof toConnectionInfo>[] => config.connections.map(toConnectionInfo);
  return {
    engine,
    clients,
    mappingAdmin: admin,
    catalogs,
    async setConnection(c) {
      const old = clients.get(c.id);
      connect(c);
      source.replace(source.all(), [...infos().filter((i) => i.id !== c.id), toConnectionInfo(c)]);
      await old?.close();
    },
    async dropConnection(id) {
      const old = clients.get(id);
      clients.delete(id);
      ports.delete(id);
      catalogs.delete(id);
      source.replace(
        source.all(),
        infos().filter((i) => i.id !== id),
      );
      await old?.close();
      // Its Jira call counts go with it (after the close: no call of it is recorded again).
      deps.metrics.forgetConnection(id);
    },
    async close() {
      await Promise.all([...clients.values()].map((c) => c.close()));
    },
  };
}
