import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import { PUBLIC } from '../auth.js';

/** The web console: static files from `console/`, served at `/console/` (no second server). */
export function consoleRoutes(opts: { root: string }): FastifyPluginAsync {
  return async (app) => {
    // The console's files are public (it signs in with an API token once loaded): declared here for
    // the routes @fastify/static registers in this scope.
    app.addHook('onRoute', (route) => {
      route.config = { ...route.config, access: PUBLIC.access };
    });
    await app.register(fastifyStatic, { root: opts.root, prefix: '/console/', decorateReply: false, index: false });
    // The page itself (`/console` and `/console/`: the router ignores the trailing slash).
    app.get(
      '/console',
      {
        config: PUBLIC,
        schema: { hide: true },
      },
      async (_req, reply) =>
        reply.type('text/html; charset=utf-8').send(await readFile(join(opts.root, 'index.html'), 'utf8')),
    );
  };
}
