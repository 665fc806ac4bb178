import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Metrics } from '../../metrics/metrics.js';
import { ReadinessSchema } from '../schemas.js';
import { PUBLIC } from '../auth.js';

export interface ReadinessCheck {
  ok: boolean;
  detail?: string;
}

/** What `/readyz` reports; the composition root decides the checks (store, migrations, shutdown). */
export type Readiness = () => Promise<{ ready: boolean; checks: Record<string, ReadinessCheck> }>;

export interface SystemRouteDeps {
  readiness: Readiness;
  metrics: Metrics;
}

/** `/healthz`, `/readyz`, `/metrics`, `/openapi.json`. Unauthenticated by design (probes, scrapers). */
export function systemRoutes(deps: SystemRouteDeps): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>();

    app.get(
      '/healthz',
      {
        config: PUBLIC,
        schema: {
          tags: ['system'],
          summary: 'Liveness: the process is up and serving HTTP',
          response: { 200: z.object({ status: z.literal('ok') }) },
        },
      },
      async () => ({ status: 'ok' as const }),
    );

    app.get(
      '/readyz',
      {
        config: PUBLIC,
        schema: {
          tags: ['system'],
          summary: 'Readiness: the store answers and migrations are applied',
          description: '200 when ready to take traffic, 503 with the failing checks otherwise.',
          response: { 200: ReadinessSchema, 503: ReadinessSchema },
        },
      },
      async (req, reply) => {
        let result: Awaited<ReturnType<Readiness>>;
        try {
          result = await deps.readiness();
        } catch (err) {
          req.log.warn({ err }, 'readiness check failed');
          result = { ready: false, checks: { readiness: { ok: false, detail: 'the readiness check itself failed' } } };
        }
        return reply.code(result.ready ? 200 : 503).send(result);
      },
    );

    app.get(
      '/metrics',
      {
        config: PUBLIC,
        schema: {
          tags: ['system'],
          summary: 'Prometheus metrics (text exposition format)',
          produces: ['text/plain'],
        },
      },
      async (_req, reply) => {
        const text = await deps.metrics.render();
        return reply.type(deps.metrics.contentType).send(text);
      },
    );

    app.get(
      '/openapi.json',
      {
        config: PUBLIC,
        schema: { hide: true },
      },
      async () => fastify.swagger(),
    );
  };
}
