import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';

export interface ConnectionsApi {
  list(): Array<{
    id: string;
    name: string;
    site_url: string;
    flavour: 'cloud' | 'datacenter';
    auth_type: string;
    health: { healthy: boolean; problem: string | null; since: string | null };
  }>;
}

/** `GET /api/v1/connections`: each Jira connection (never its credentials) and its health. */
export function connectionsRoutes(opts: { connections: ConnectionsApi }): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>();
    app.get(
      '/api/v1/connections',
      {
        schema: {
          tags: ['webhooks'],
          summary: 'Jira connections and their health (a 401 pauses a connection: the reason says what to fix)',
          response: {
            200: z.object({
              connections: z.array(
                z.object({
                  id: z.string(),
                  name: z.string(),
                  site_url: z.string(),
                  flavour: z.enum(['cloud', 'datacenter']),
                  auth_type: z.string(),
                  health: z.object({
                    healthy: z.boolean(),
                    problem: z.string().nullable(),
                    since: z.string().nullable(),
                  }),
                }),
              ),
            }),
          },
        },
      },
      async () => ({ connections: opts.connections.list() }),
    );
  };
}
