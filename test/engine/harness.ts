import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoJsmMapping, demoOpsMapping, demoSecMapping } from '../../src/engine/demo-mappings.js';
import { createEngine, type Engine, type EngineDeps } from '../../src/engine/engine.js';
import { jiraPortFromClient } from '../../src/engine/jira-port.js';
import { createJiraClient } from '../../src/jira/client.js';
import { staticMappingSource } from '../../src/engine/mapping-source.js';
import type { ConnectionInfo, InboundSettings, JiraPort, OutboundMapping } from '../../src/engine/types.js';
import { createQueue, startWorker, type Queue, type Worker } from '../../src/queue/index.js';
import { startSandbox, type SandboxOptions } from '../../src/sandbox/index.js';
import type { TestDb } from '../helpers/db.js';
import { OpenApiContract } from '../helpers/openapi.js';
import { until } from '../helpers/wait.js';

let contract: OpenApiContract | undefined;
let jsmContract: OpenApiContract | undefined;
/** Service Management Cloud's description, pruned (test/contract/fixtures/README.md). */
const JSM_SPEC = fileURLToPath(new URL('../contract/fixtures/jsm-cloud.pruned.json', import.meta.url));

export type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

export const CONNECTION_ID = 'sandbox';

/** The demo mappings (see src/engine/demo-mappings.ts) on the test connection. */
export const secMapping = (over: Partial<OutboundMapping> = {}): OutboundMapping =>
  demoSecMapping(CONNECTION_ID, { id: 'map-sec', ...over });
export const opsMapping = (over: Partial<OutboundMapping> = {}): OutboundMapping =>
  demoOpsMapping(CONNECTION_ID, { id: 'map-ops', ...over });
export const jsmMapping = (over: Partial<OutboundMapping> = {}): OutboundMapping =>
  demoJsmMapping(CONNECTION_ID, { id: 'map-itsd', ...over });

/** A mapping's inbound settings: Jira → host on, defaults of the file's schema, `over` on top. */
export const inboundSettings = (over: Partial<InboundSettings> = {}): InboundSettings => ({
  statusIn: {},
  priorityIn: {},
  reopenFromJira: true,
  comments: true,
  onJiraDelete: 'unlink',
  onJiraCreate: 'ignore',
  ...over,
});

/**
 * The security mapping with Jira → host on and the sandbox workflow's statuses (Triaged included)
 * mapped to the record's: a Jira user's move reaches the record.
 */
export const secMappingStatusIn = (): OutboundMapping =>
  secMapping({
    inbound: inboundSettings({
      statusIn: {
        Open: 'open',
        Triaged: 'triaged',
        'In Progress': 'in_progress',
        'In Review': 'review',
        Resolved: 'resolved',
      },
    }),
  });

/**
 * The port with some of its methods replaced (a test's interruptions, for `wrapPort`); the
 * replacements call the real port, every other member is the port's own.
 */
export function interceptPort(port: JiraPort, replaced: Partial<JiraPort>): JiraPort {
  return new Proxy(port, {
    get(target, prop, receiver) {
      if (Object.hasOwn(replaced, prop)) return replaced[prop as keyof JiraPort];
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * Runs a worker until a test's interruption has `fired` with the record's issue created and linked
 * and its job queued again for a retry (attempted at least once); the link's issue id and key.
 */
export async function untilInterrupted(
  h: Harness,
  db: TestDb,
  recordId: string,
  fired: () => boolean,
  what: string,
): Promise<{ issue_id: string; issue_key: string }> {
  const worker = h.startWorker(1);
  try {
    return await until(what, async () => {
      if (!fired()) return undefined;
      const l = await db.store.db
        .selectFrom('links')
        .select(['issue_id', 'issue_key', 'state'])
        .where('record_id', '=', recordId)
        .executeTakeFirst();
      const job = await db.store.db
        .selectFrom('jobs')
        .select(['state', 'attempts'])
        .where('key', '=', `record:${recordId}`)
        .orderBy('id', 'desc')
        .executeTakeFirst();
      return l?.state === 'linked' && l.issue_id && l.issue_key && job?.state === 'queued' && Number(job.attempts) >= 1
        ? { issue_id: l.issue_id, issue_key: l.issue_key }
        : undefined;
    });
  } finally {
    await worker.stop();
  }
}

/** A host upserts an incident of the OPS mapping (scope stackflow-incidents), new and P3 unless `over` says otherwise. */
export const upsertIncident = (h: Harness, hostId: string, title: string, over: Record<string, unknown> = {}) =>
  h.engine.records.upsertRecord({
    scope: 'stackflow-incidents',
    hostId,
    kind: 'incident',
    title,
    status: 'new',
    severity: 'P3',
    ...over,
  });

export interface Harness {
  sandbox: Sandbox;
  queue: Queue;
  engine: Engine;
  port: JiraPort;
  mappings: ReturnType<typeof staticMappingSource>;
  dataDir: string;
  /** Runs the worker until no job is queued or running. */
  drain(opts?: { timeoutMs?: number }): Promise<void>;
  startWorker(concurrency?: number): Worker;
  close(): Promise<void>;
}

export async function startHarness(
  db: TestDb,
  opts: {
    mappings?: OutboundMapping[];
    flavour?: 'cloud' | 'datacenter';
    hooks?: EngineDeps['hooks'];
    /** What the engine calls Jira through, around the harness's port (a test's interruptions). */
    wrapPort?: (port: JiraPort) => JiraPort;
    pauseRetryMs?: number;
    sandbox?: Omit<SandboxOptions, 'flavour' | 'port'>;
  } = {},
): Promise<Harness> {
  const flavour = opts.flavour ?? 'cloud';
  // Every JSON body sent to the Cloud sandbox in every engine test is checked against Jira's
  // published request schema, every 2xx JSON answer against its response schema; close() fails
  // the test file on a violation.
  const violations: string[] = [];
  const userInspect = opts.sandbox?.inspect;
  // The platform API against Jira Cloud's description, Service Management's against its own.
  const contractFor = (route: string): OpenApiContract | undefined => {
    if (route.startsWith('/rest/api/3/')) return (contract ??= OpenApiContract.load());
    if (route.startsWith('/rest/servicedeskapi/')) return (jsmContract ??= OpenApiContract.load(JSM_SPEC));
    return undefined;
  };
  const sandbox = await startSandbox({
    ...opts.sandbox,
    flavour,
    port: 0,
    inspect: (r) => {
      userInspect?.(r);
      const c = contractFor(r.route);
      if (flavour !== 'cloud' || !c || r.body === undefined) return;
      if (!r.contentType?.includes('application/json')) return;
      const path = r.url.split('?')[0]!;
      const v = c.validateRequest(r.method, path, r.body);
      if (!v.ok) violations.push(`${r.method} ${path}: ${v.errors.join('; ')}`);
    },
    // …and every successful JSON answer the bridge reads against the response schema.
    inspectResponse: (r) => {
      opts.sandbox?.inspectResponse?.(r);
      const c = contractFor(r.route);
      if (flavour !== 'cloud' || !c || r.body === undefined) return;
      if (r.status < 200 || r.status > 299) return;
      const path = r.url.split('?')[0]!;
      const v = c.validateResponse(r.method, path, r.status, r.body);
      if (!v.ok) violations.push(`${r.method} ${path} → ${r.status}: ${v.errors.join('; ')}`);
    },
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'jb-engine-'));
  const queue = createQueue(db.store, { backoff: { baseMs: 5, capMs: 100 } });
  const connections: ConnectionInfo[] = [{ id: CONNECTION_ID, name: 'sandbox', flavour, siteUrl: sandbox.baseUrl }];
  const mappings = staticMappingSource(opts.mappings ?? [secMapping(), opsMapping(), jsmMapping()], connections);
  const port = jiraPortFromClient(
    createJiraClient({
      id: CONNECTION_ID,
      siteUrl: sandbox.baseUrl,
      flavour,
      auth:
        flavour === 'cloud'
          ? { type: 'basic', email: sandbox.credentials.email, apiToken: sandbox.credentials.apiToken }
          : { type: 'pat', token: sandbox.credentials.pat },
    }),
    // The sandbox's search sees writes at once (real Cloud may lag a few seconds).
    { searchLagMs: 0 },
  );
  const enginePort = opts.wrapPort ? opts.wrapPort(port) : port;
  const engine = createEngine({
    store: db.store,
    queue,
    mappings,
    jira: () => enginePort,
    dataDir,
    pauseRetryMs: opts.pauseRetryMs ?? 50,
    ...(opts.hooks ? { hooks: opts.hooks } : {}),
  });
  const workers: Worker[] = [];
  const start = (concurrency = 2): Worker => {
    const w = startWorker({
      store: db.store,
      queue,
      handlers: engine.handlers,
      concurrency,
      pollMs: 10,
      leaseMs: 10_000,
    });
    workers.push(w);
    return w;
  };
  return {
    sandbox,
    queue,
    engine,
    port,
    mappings,
    dataDir,
    startWorker: start,
    async drain({ timeoutMs = 20_000 } = {}) {
      const w = start();
      try {
        for (let waited = 0; ; waited += 10) {
          const s = await queue.stats();
          if (s.byState.queued === 0 && s.byState.running === 0) return;
          if (waited > timeoutMs) throw new Error(`queue did not drain: ${JSON.stringify(s.byState)}`);
          await new Promise((r) => setTimeout(r, 10));
        }
      } finally {
        await w.stop();
        workers.splice(workers.indexOf(w), 1);
      }
    },
    async close() {
      for (const w of workers.splice(0)) await w.stop({ graceful: false });
      await sandbox.close();
      rmSync(dataDir, { recursive: true, force: true });
      if (violations.length > 0) {
        throw new Error(`exchanges that break Jira's v3 contract:\n${[...new Set(violations)].join('\n')}`);
      }
    },
  };
}

/** Issues of a project in the sandbox, by summary. */
export function issuesOf(
  sandbox: Sandbox,
  projectKey: string,
): Array<ReturnType<Sandbox['state']['allIssues']>[number]> {
  const project = sandbox.state.project(projectKey);
  return sandbox.state.allIssues().filter((i) => i.projectId === project?.id);
}

/** The route the noisy neighbour calls (the bridge never does). */
export const NEIGHBOUR_ROUTE = '/rest/api/3/serverInfo';

/**
 * Another client of the site (alice) spending the sandbox's site-wide rate-limit bucket at
 * `perSecond` calls, so the bridge meets 429s however well it paces.
 */
export function noisyNeighbour(sandbox: Sandbox, perSecond: number): { stop(): Promise<void> } {
  const auth = `Basic ${Buffer.from('alice@sandbox.example:sandbox-api-token-alice').toString('base64')}`;
  const inFlight = new Set<Promise<unknown>>();
  const timer = setInterval(() => {
    const p = fetch(`${sandbox.baseUrl}${NEIGHBOUR_ROUTE}`, { headers: { authorization: auth } })
      .then((r) => r.arrayBuffer())
      .catch(() => undefined)
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }, 1000 / perSecond);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all([...inFlight]);
    },
  };
}

/** Spends `tokens` of the sandbox's rate-limit bucket as the neighbour, one call after another. */
export async function drainBucket(sandbox: Sandbox, tokens: number): Promise<void> {
  const auth = `Basic ${Buffer.from('alice@sandbox.example:sandbox-api-token-alice').toString('base64')}`;
  for (let i = 0; i < tokens; i++)
    await fetch(`${sandbox.baseUrl}${NEIGHBOUR_ROUTE}`, { headers: { authorization: auth } }).then((r) =>
      r.arrayBuffer(),
    );
}

/** 429s the bridge itself met (the neighbour's left out). */
export function bridge429s(sandbox: Sandbox): number {
  return sandbox.calls
    .snapshot()
    .filter((r) => r.status === 429 && r.route !== NEIGHBOUR_ROUTE)
    .reduce((n, r) => n + r.count, 0);
}
