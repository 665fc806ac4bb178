import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

/** The web console: static files from `console/`, served at `/console/` (no second server). */
export function consoleRoutes(opts: { root: string }): FastifyPluginAsync {
  return async (app) => {
    await app.register(fastifyStatic, { root: opts.root, prefix: '/console/', decorateReply: false, index: false });
    // The page itself (`/console` and `/console/`: the router ignores the trailing slash).
    app.get('/console', { schema: { hide: true } }, async (_req, reply) =>
      reply.type('text/html; charset=utf-8').send(await readFile(join(opts.root, 'index.html'), 'utf8')),
    );
  };
}
