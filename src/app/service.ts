import type { RunningSandbox } from '../sandbox/index.js';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { startHostWebhooks } from '../host/dispatcher.js';
import { createAppWebhooks, type AppWebhookTarget } from './app-webhooks.js';
import { generatedWebhookSecret } from '../webhooks/secrets.js';
import { createTokenService } from './tokens.js';
import { createHostWebhookAdmin, loadApiHostWebhooks } from './host-webhooks-admin.js';
import { createConnectionAdmin, loadApiConnections } from './connections-admin.js';
import { startConfigSync } from './config-sync.js';
import { storedCloudIds } from './oauth-tokens.js';
import { createOAuthWiring } from './oauth-wiring.js';
import { missingScopesMessage } from '../core/oauth-scopes.js';
import type { ConnectionConfig } from '../config/schema.js';
import { loadSecretBox } from '../security/master-key.js';
import { checkConfigStructure } from '../core/config-check.js';
import { ConfigError } from '../config/errors.js';
import { apiRoutes } from '../http/routes/index.js';
import { wireEngine } from './engine-wiring.js';
import { buildServer, parseTrustProxy } from '../http/server.js';
import type { Engine } from '../engine/index.js';
import { connectionOfPartition } from '../engine/fairness.js';
import type { Logger } from '../log/logger.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import { createStatsRecorder } from './stats.js';
import { startQueueSampler, tapMetrics } from './stats-wiring.js';
import { createQueue, startWorker, type JobHandler, type Queue, type Worker } from '../queue/index.js';
import { openStore, type Store } from '../store/index.js';
import { demoBanner } from './banner.js';
import { loadServiceConfig, makeDemoConfig, type Config } from './config-port.js';
import { storeReadiness } from './readiness.js';
import { replicaIdentity } from './replica-id.js';
import { runtimeSettings } from './settings.js';
import { VERSION } from './version.js';
import { JIRA_EVENTS } from '../webhooks/parse.js';

export interface StartServiceOptions {
  /** Configuration file; default: jira-bridge.yaml in the working directory (see loadConfig). */
  configPath?: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** Where the demo banner goes (default process.stderr). */
  stderr?: NodeJS.WritableStream;
  /** Job handlers by kind (the sync engine registers its own here). */
  handlers?: Record<string, JobHandler>;
  /** How long a stop waits for in-flight jobs before leaving them to lease expiry (default 20 s). */
  drainMs?: number;
}

export interface RunningService {
  /** http://host:port the API listens on. */
  url: string;
  port: number;
  mode: 'configured' | 'demo';
  /** The configuration file used, or null in demo mode. */
  configSource: string | null;
  config: Config;
  store: Store;
  queue: Queue;
  metrics: Metrics;
  server: FastifyInstance;
  engine: Engine;
  /** The built-in Jira sandbox, in demo mode only. */
  sandbox: RunningSandbox | undefined;
  /**
   * Graceful stop: readiness turns 503, the server stops accepting and finishes open requests,
   * workers finish their jobs (or leave them to lease expiry after drainMs), then the store and
   * the sandbox close. Idempotent.
   */
  stop(): Promise<void>;
}

/** Things to undo, newest first, if start-up fails half-way or on stop. */
class Closer {
  readonly #steps: Array<{ name: string; fn: () => Promise<unknown> }> = [];
  constructor(private readonly logger: Logger) {}
  add(name: string, fn: () => Promise<unknown>): void {
    this.#steps.push({ name, fn });
  }
  async closeAll(): Promise<void> {
    while (this.#steps.length) {
      const { name, fn } = this.#steps.pop()!;
      try {
        await fn();
      } catch (err) {
        this.logger.error({ err, step: name }, 'error while shutting down');
      }
    }
  }
}

/**
 * The composition root. Loads and validates the configuration first — an invalid file throws the
 * loader's ConfigError before anything starts. With no file, starts the built-in Jira sandbox and
 * a demo mapping, and says so loudly. Then: store (DATABASE_URL → PostgreSQL, else SQLite under
 * ./data), migrations, queue worker, HTTP server on PORT (default 8080).
 */
export async function startService(opts: StartServiceOptions): Promise<RunningService> {
  const { env, logger } = opts;
  const stderr = opts.stderr ?? process.stderr;
  const loaded = await loadServiceConfig({ ...(opts.configPath !== undefined ? { path: opts.configPath } : {}), env });
  const demo = loaded.source === null;
  const settings = runtimeSettings(loaded.config, env, { demo });
  const { port, host, dataDir, databaseUrl } = settings;
  // Behind a load balancer: whose X-Forwarded-For names the client (rate limits key on it).
  const trustProxyRaw = env.TRUST_PROXY?.trim() ? env.TRUST_PROXY : loaded.config.server.trust_proxy;
  const trustProxy =
    trustProxyRaw === undefined
      ? undefined
      : parseTrustProxy(trustProxyRaw, env.TRUST_PROXY?.trim() ? 'TRUST_PROXY' : 'server.trust_proxy');

  const closer = new Closer(logger);
  try {
    let config = loaded.config;
    let sandbox: RunningSandbox | undefined;
    if (demo) {
      // Loaded only in demo mode: the sandbox is a third of the modules a serve would load.
      const { startSandbox } = await import('../sandbox/index.js');
      sandbox = await startSandbox({
        flavour: 'cloud',
        port: 0,
        host: '127.0.0.1',
        seed: 'default',
        logger: logger.child({ component: 'jira-sandbox' }),
      });
      closer.add('sandbox', () => sandbox!.close());
      config = await makeDemoConfig(sandbox.baseUrl, sandbox.credentials);
    }

    const store = await openStore({ ...(databaseUrl ? { databaseUrl } : { dataDir }), logger });
    closer.add('store', () => store.close());
    const { applied } = await store.migrate();
    logger.info({ applied, engine: store.dialect }, 'store ready');

    // Connections created through the admin API join the file's (the file's id wins).
    const secretBox = loadSecretBox(env, dataDir, logger);
    const fileIds = new Set(config.connections.map((c) => c.id));
    for (const c of await loadApiConnections(store.db, secretBox, logger)) {
      if (fileIds.has(c.id)) {
        logger.warn(
          { connectionId: c.id },
          'a connection saved through the API has the id of one in the file; the file’s is used',
        );
      } else config.connections.push(c);
    }
    // Cross-references of the file (duplicate ids, a mapping naming no connection, a scope mapped
    // twice, …) are checked once the API's connections are known: a broken file starts nothing.
    if (loaded.source !== null) {
      const problems = checkConfigStructure(config);
      if (problems.length > 0) throw new ConfigError(problems, loaded.source);
    }

    // The URL Jira and browsers reach us at (public_url, else where we listen once bound).
    let serviceUrl = `http://localhost:${port}`;
    // OAuth 2.0 (3LO) connections: token providers (refresh serialized across replicas) and the
    // connect flow; a connection gets a new Jira client once connected.
    const connectedOAuth = new Set((await storedCloudIds(store.db)).keys());
    let onOAuthConnected: (c: ConnectionConfig) => Promise<void> = () => Promise.resolve();
    let liveMappings: () => ReadonlyArray<{ connection: string; kinds: Record<string, object> }> = () =>
      config.mappings;
    const oauth = await createOAuthWiring({
      store,
      box: secretBox,
      logger: logger.child({ component: 'oauth' }),
      connections: () => config.connections,
      // The live mappings (the file's, replaced or extended by the API's) once the engine is wired.
      mappings: () => liveMappings(),
      publicUrl: () => config.server.public_url ?? serviceUrl,
      onConnected: (c) => {
        connectedOAuth.add(c.id);
        return onOAuthConnected(c);
      },
    });

    // Authorization requests never completed are forgotten after their expiry (hourly).
    const purgeStates = setInterval(() => void oauth.connect.purgeExpired().catch(() => undefined), 3_600_000).unref();
    closer.add('oauth state purge', () => Promise.resolve(clearInterval(purgeStates)));

    const queue = createQueue(store, { logger });
    // The console dashboard's series ride on the same measurements as /metrics.
    const dashboard = createStatsRecorder();
    const metrics = tapMetrics(createMetrics({ queueStats: () => queue.stats() }), dashboard);
    const queueSampler = startQueueSampler(() => queue.stats(), dashboard);
    closer.add('stats sampler', async () => queueSampler.stop());
    // Lease owner name, the same after a restart: its own leases are taken back at once.
    const replica = replicaIdentity({ configured: settings.replicaId, dataDir, logger });
    closer.add('replica id', () => Promise.resolve(replica.release()));
    logger.info({ replicaId: replica.id, stable: replica.stable }, 'replica id');
    const wired = await wireEngine({
      replicaId: replica.id,
      config,
      store,
      queue,
      metrics,
      logger,
      dataDir,
      oauth: oauth.authFor,
      configSource: loaded.source,
    });
    liveMappings = () => wired.mappingAdmin.list().map((e) => e.mapping);
    onOAuthConnected = async (c) => {
      await wired.setConnection(c);
      await wired.engine.resumeConnection(c.id);
      await configSync.announce();
    };
    closer.add('jira clients', () => wired.close());
    const worker: Worker = startWorker({
      store,
      queue,
      handlers: { ...wired.engine.handlers, ...opts.handlers },
      concurrency: settings.workerConcurrency,
      leaseMs: settings.workerLeaseMs,
      // The replica id owns the job leases too: jobs its previous life was running (killed) run
      // again at once, not after their leases expire (no live process shares a stable id).
      workerId: replica.id,
      takeBackOwn: replica.stable,
      logger,
      onOutcome: (job, outcome, ms) => metrics.recordJobOutcome(job.kind, outcome, ms),
    });
    const drainMs = opts.drainMs ?? 20_000;
    closer.add('worker', async () => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), drainMs)));
      const result = await Promise.race([worker.stop({ graceful: true }).then(() => 'done' as const), timedOut]);
      clearTimeout(timer);
      if (result === 'timeout') {
        logger.warn(
          { inFlight: worker.inFlight(), drainMs },
          'in-flight jobs did not finish in time; releasing them so another worker takes them over at once',
        );
        await worker.stop({ graceful: false });
      }
    });

    // One sweep per connection, restarted when a connection changes through the API.
    const sweeps = new Map<string, { stop(): Promise<void> }>();
    const restartSweep = async (id: string, c: ConnectionConfig | undefined): Promise<void> => {
      await sweeps.get(id)?.stop();
      sweeps.delete(id);
      if (c) sweeps.set(id, wired.engine.startSweeps({ [id]: c.sweep.interval_seconds * 1000 }));
    };
    for (const c of config.connections) await restartSweep(c.id, c);
    // Pauses in step with the configuration: what was re-enabled in the file while stopped resumes now.
    await wired.engine.pauses.reconcile();

    // Replicas: what another replica saves (connections, mappings, OAuth sites, host webhook
    // subscriptions) is applied here too.
    let reloadHostWebhooks: () => Promise<void> = () => Promise.resolve();
    /** The stored OAuth sites → the providers' cloud ids and the connected set; returns the ids that changed. */
    const syncOAuthSites = async (): Promise<string[]> => {
      const changed = await oauth.reloadSites();
      const stored = await storedCloudIds(store.db);
      for (const id of changed) {
        if (stored.has(id) && config.connections.some((c) => c.id === id)) connectedOAuth.add(id);
        else connectedOAuth.delete(id);
      }
      return changed;
    };
    const reloadConfig = async (): Promise<void> => {
      await reloadHostWebhooks();
      const stored = new Map(
        (await loadApiConnections(store.db, secretBox, logger)).filter((c) => !fileIds.has(c.id)).map((c) => [c.id, c]),
      );
      for (const c of [...config.connections]) {
        if (fileIds.has(c.id) || stored.has(c.id)) continue;
        config.connections.splice(config.connections.indexOf(c), 1);
        await wired.dropConnection(c.id);
        await restartSweep(c.id, undefined);
      }
      const resited = new Set(await syncOAuthSites());
      for (const c of [...stored.values(), ...config.connections.filter((x) => fileIds.has(x.id))]) {
        const i = config.connections.findIndex((x) => x.id === c.id);
        const same = i >= 0 && JSON.stringify(config.connections[i]) === JSON.stringify(c);
        if (same && !resited.has(c.id)) continue;
        if (i >= 0) config.connections[i] = c;
        else config.connections.push(c);
        await wired.setConnection(c);
        await restartSweep(c.id, c);
      }
      await wired.mappingAdmin.reload();
      await wired.engine.pauses.reconcile();
    };
    const configSync = await startConfigSync({
      store,
      reload: reloadConfig,
      logger: logger.child({ component: 'config-sync' }),
    });
    closer.add('config sync', () => configSync.stop());
    closer.add('sweeps', () => Promise.all([...sweeps.values()].map((x) => x.stop())));
    // Attachment files no row names (an upload or download cut off half-way) go at start and then
    // every 15 minutes, once an hour old.
    const attachmentGc = wired.engine.startAttachmentGc();
    closer.add('attachment collection', () => attachmentGc.stop());
    const connectionAdmin = createConnectionAdmin({
      store,
      box: secretBox,
      config,
      fileIds,
      registry: wired,
      onChange: async (id, c) => {
        // An OAuth grant the change voided (or the connection's removal) is gone from the store:
        // forget it here too, so nothing spends a cached token or calls the old cloud id.
        if ((await syncOAuthSites()).includes(id) && c) await wired.setConnection(c);
        await restartSweep(id, c);
        if (c) await wired.engine.resumeConnection(id);
        await wired.engine.pauses.reconcile();
        await configSync.check();
        await configSync.announce();
      },
      oauthConnected: (id) => connectedOAuth.has(id),
      oauthMissingScopes: (id) => oauth.missingScopes(id),
      logger: logger.child({ component: 'connections' }),
    });
    // Host webhooks: the file's subscriptions and those made through the admin API (sealed).
    const hooks = startHostWebhooks({
      store,
      subscriptions: [
        ...config.host_webhooks,
        ...(await loadApiHostWebhooks(store.db, secretBox, logger.child({ component: 'host-webhooks' }))),
      ],
      logger: logger.child({ component: 'host-webhooks' }),
      owner: `host-webhooks:${replica.id}`,
    });
    closer.add('host webhooks', () => hooks.stop());
    const hostWebhookAdmin = createHostWebhookAdmin({
      store,
      box: secretBox,
      fileSubscriptions: config.host_webhooks,
      apply: (subs) => hooks.set(subs),
      onChange: () => configSync.announce(),
      logger: logger.child({ component: 'host-webhooks' }),
    });
    reloadHostWebhooks = () => hostWebhookAdmin.reload();

    // OAuth app connections on Cloud register their own webhooks (URL token; refreshed before expiry).
    const appWebhooks = createAppWebhooks({ store, logger: logger.child({ component: 'app-webhooks' }) });
    const appWebhookTargets = (): AppWebhookTarget[] =>
      config.connections.flatMap((c) => {
        const client = wired.clients.get(c.id);
        if (c.auth.type !== 'oauth' || c.flavour !== 'cloud' || !c.webhook.url_token || !client) return [];
        const base = (config.server.public_url ?? serviceUrl).replace(/\/$/, '');
        return [
          {
            connectionId: c.id,
            client,
            url: `${base}/webhooks/jira/${encodeURIComponent(c.id)}?token=${encodeURIComponent(c.webhook.url_token)}`,
            projects: config.mappings.filter((m) => m.connection === c.id).map((m) => m.project),
          },
        ];
      });

    const tokens = createTokenService({ store, adminToken: env.JIRA_BRIDGE_ADMIN_TOKEN || undefined });
    if (!(await tokens.enforced())) {
      logger.warn(
        'the API is open: no API token exists yet; create one with POST /api/v1/tokens (or set JIRA_BRIDGE_ADMIN_TOKEN) to require tokens',
      );
    }

    let shuttingDown = false;
    const server = await buildServer({
      logger,
      store,
      trustProxy,
      readiness: storeReadiness(store, { shuttingDown: () => shuttingDown }),
      metrics,
      version: VERSION,
      auth: tokens,
      routes: apiRoutes({
        queue,
        engine: wired.engine,
        webhooks: {
          store,
          logger: logger.child({ component: 'webhooks' }),
          credentials: async (id) => {
            const c = config.connections.find((x) => x.id === id);
            if (!c) return undefined;
            const generated = await generatedWebhookSecret(store, secretBox, id);
            const secrets = [c.webhook.secret, c.webhook.previous_secret, generated?.secret].filter(
              (x): x is string => !!x,
            );
            return { secrets, urlTokens: c.webhook.url_token ? [c.webhook.url_token] : [] };
          },
          publicUrl: () => config.server.public_url ?? serviceUrl,
          secretBox,
          route: wired.engine.webhookRoute,
          registerAppWebhook: (id) => {
            const t = appWebhookTargets().find((x) => x.connectionId === id);
            return t ? appWebhooks.ensure(t) : undefined;
          },
        },
        changes: { store },
        hostWebhooks: hostWebhookAdmin,
        mappings: {
          list: () => wired.mappingAdmin.list(),
          get: (id) => wired.mappingAdmin.get(id),
          // The other replicas hear of it at once (PostgreSQL) or within the poll interval.
          save: async (id, body, actor) => {
            const out = await wired.mappingAdmin.save(id, body, actor);
            // enabled: true again (or false): the pause rows follow, and a resume reconciles.
            await wired.engine.pauses.reconcile();
            await configSync.check();
            await configSync.announce();
            return out;
          },
          remove: async (id, actor) => {
            await wired.mappingAdmin.remove(id, actor);
            await wired.engine.pauses.reconcile();
            await configSync.check();
            await configSync.announce();
          },
        },
        access: { tokens, store },
        connections: {
          ...connectionAdmin,
          remove: async (id, actor, removeOpts) => {
            const using = wired.mappingAdmin
              .list()
              .filter((m) => m.mapping.connection === id)
              .map((m) => m.id);
            // ?unlink=true: its links go first (the Jira issues stay), once nothing else refuses.
            if (removeOpts?.unlink && !using.length && !fileIds.has(id) && config.connections.some((c) => c.id === id))
              await wired.engine.unlinker.unlink({ kind: 'connection', id }, actor);
            await connectionAdmin.remove(id, actor, using);
            await wired.engine.pauses.reconcile();
          },
          health: (id) => {
            const h = wired.engine.connectionHealth()[id];
            // An OAuth grant narrower than the mappings now need (e.g. a service desk mapping added).
            const missing = (h?.healthy ?? true) ? oauth.knownMissingScopes(id) : [];
            if (missing.length > 0) return { healthy: false, problem: missingScopesMessage(missing), since: null };
            return {
              healthy: h?.healthy ?? true,
              problem: h?.problem ?? null,
              since: h ? new Date(h.since).toISOString() : null,
            };
          },
        },
        stats: {
          snapshot: (o) => dashboard.snapshot(o),
          sample: () => queueSampler.sample(),
          connections: async (limit) => {
            const calls = new Map(metrics.connectionCalls().map((c) => [c.connection, c]));
            const depth = new Map<string, { queued: number; ready: number; age: number }>();
            for (const d of await queue.partitionDepths(Number.MAX_SAFE_INTEGER)) {
              const id = connectionOfPartition(d.partition);
              if (id === null) continue;
              const x = depth.get(id) ?? { queued: 0, ready: 0, age: 0 };
              depth.set(id, {
                queued: x.queued + d.queued,
                ready: x.ready + d.ready,
                age: Math.max(x.age, d.oldestQueuedAgeMs / 1000),
              });
            }
            const all = config.connections.map((c) => ({
              id: c.id,
              queued: depth.get(c.id)?.queued ?? 0,
              ready: depth.get(c.id)?.ready ?? 0,
              oldest_queued_age_seconds: depth.get(c.id)?.age ?? 0,
              jira_calls: calls.get(c.id)?.calls ?? 0,
              jira_429: calls.get(c.id)?.r429 ?? 0,
            }));
            all.sort((a, b) => b.queued - a.queued || b.jira_calls - a.jira_calls || (a.id < b.id ? -1 : 1));
            return { total: all.length, connections: all.slice(0, limit) };
          },
        },
        preview: {
          client: (id) => wired.clients.get(id),
          catalog: (id, needs) => wired.catalogs.get(id)?.ensure(needs),
        },
        oauth: { connect: oauth.connect, logger: logger.child({ component: 'oauth' }) },
        consoleRoot: fileURLToPath(new URL('../../console/', import.meta.url)),
      }),
    });
    closer.add('http', () => server.close());
    await server.listen({ port, host });
    const addr = server.server.address();
    const boundPort = typeof addr === 'object' && addr ? addr.port : port;
    const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
    const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${boundPort}`;
    serviceUrl = url;
    const appTargets = appWebhookTargets();
    if (appTargets.length) {
      const timer = appWebhooks.start(appTargets);
      closer.add('app webhooks', () => Promise.resolve(timer.stop()));
    }
    logger.info(
      { url, mode: demo ? 'demo' : 'configured', config: loaded.source, version: VERSION },
      'jira-bridge listening',
    );
    if (demo && sandbox) {
      // The first run shows both directions: the sandbox sends its signed webhooks here.
      const c = config.connections[0];
      if (c?.webhook.secret) {
        sandbox.webhooks.register({
          url: `${url}/webhooks/jira/${encodeURIComponent(c.id)}`,
          events: [...JIRA_EVENTS],
          secret: c.webhook.secret,
        });
      }
    }
    if (demo && sandbox) stderr.write(demoBanner({ sandboxUrl: sandbox.baseUrl, dataDir, serviceUrl: url }));

    let stopping: Promise<void> | undefined;
    return {
      url,
      port: boundPort,
      mode: demo ? 'demo' : 'configured',
      configSource: loaded.source,
      config,
      store,
      queue,
      metrics,
      server,
      engine: wired.engine,
      sandbox,
      stop() {
        stopping ??= (async () => {
          shuttingDown = true;
          logger.info('shutting down');
          await closer.closeAll(); // http, then worker, then store, then sandbox
          logger.info('stopped');
        })();
        return stopping;
      },
    };
  } catch (err) {
    await closer.closeAll();
    throw err;
  }
}
