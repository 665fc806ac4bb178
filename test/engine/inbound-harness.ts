import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createSecretBox } from '../../src/security/secret-box.js';
import { buildServer } from '../../src/http/server.js';
import { webhookRoutes } from '../../src/http/routes/webhooks.js';
import type { JiraClient } from '../../src/jira/client.js';
import { sandboxUserClient } from '../helpers/service.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import type { TestDb } from '../helpers/db.js';
import { CONNECTION_ID, startHarness, type Harness } from './harness.js';
import { JIRA_EVENTS } from '../../src/webhooks/parse.js';

export const WEBHOOK_SECRET = 'inbound-test-secret-0123456789';
export const URL_TOKEN = 'inbound-url-token-abcdefghijkl';

export interface InboundHarness extends Harness {
  /** The service's webhook intake, on loopback. */
  server: FastifyInstance;
  intakeUrl: string;
  /** A person working in Jira (not the bridge's account): Alice, through the REST API. */
  alice: JiraClient;
  /** Waits until Jira's deliveries are sent and every job has run. */
  settle(): Promise<void>;
  record(scope: string, hostId: string): ReturnType<Harness['engine']['records']['getRecord']>;
  /** The sandbox's write calls so far (what the bridge cost Jira). */
  writes(): number;
}

export async function startInboundHarness(
  db: TestDb,
  opts: Parameters<typeof startHarness>[1] & { events?: string[]; logger?: Logger } = {},
): Promise<InboundHarness> {
  const h = await startHarness(db, opts);
  const server = await buildServer({
    logger: opts.logger ?? createLogger({ level: 'silent' }),
    readiness: () => Promise.resolve({ ready: true, checks: {} }),
    metrics: createMetrics(),
    version: 'test',
    routes: [
      webhookRoutes({
        store: db.store,
        credentials: (id) => (id === CONNECTION_ID ? { secrets: [WEBHOOK_SECRET], urlTokens: [URL_TOKEN] } : undefined),
        ...(opts.logger ? { logger: opts.logger } : {}),
        publicUrl: () => 'http://127.0.0.1',
        secretBox: createSecretBox(randomBytes(32)),
        route: h.engine.webhookRoute,
      }),
    ],
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  const addr = server.server.address();
  const intakeUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/webhooks/jira/${CONNECTION_ID}`;
  if (opts.events?.length !== 0)
    h.sandbox.webhooks.register({
      url: intakeUrl,
      events: opts.events ?? [...JIRA_EVENTS],
      secret: WEBHOOK_SECRET,
    });
  const alice = sandboxUserClient(h.sandbox, 'alice');
  const close = h.close;
  return {
    ...h,
    server,
    intakeUrl,
    alice,
    async settle() {
      // Deliveries cause jobs, jobs cause writes, writes cause deliveries: until all is quiet.
      for (let i = 0; i < 10; i++) {
        await h.sandbox.webhooks.drain();
        await h.drain();
        await h.sandbox.webhooks.drain();
        const s = await h.queue.stats();
        if (s.byState.queued === 0 && s.byState.running === 0) return;
      }
    },
    record: (scope, hostId) => h.engine.records.getRecord(scope, hostId),
    writes: () =>
      h.sandbox.calls
        .snapshot()
        .filter((c) => c.method !== 'GET' && !c.route.includes('search') && !c.route.startsWith('/_sandbox'))
        .reduce((n, c) => n + c.count, 0),
    async close() {
      await alice.close();
      await server.close();
      await close();
    },
  };
}
