import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, isAppError } from '../../core/errors.js';
import type { OAuthConnect } from '../../app/oauth-connect.js';
import type { Logger } from '../../log/logger.js';
import { actorOf } from '../auth.js';
import { errorResponses } from '../schemas.js';
import { ADMIN, PUBLIC } from '../auth.js';

export interface OAuthRouteOptions {
  connect: OAuthConnect;
  logger?: Logger;
}

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const wantsHtml = (req: FastifyRequest): boolean => {
  const accept = req.headers.accept ?? '';
  return accept.includes('text/html') || (!accept.includes('application/json') && accept === '');
};

function failure(req: FastifyRequest, reply: FastifyReply, err: AppError): FastifyReply {
  if (!wantsHtml(req)) return reply.status(err.status).send({ error: err.toJSON() });
  const html =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Connecting Jira failed</title></head>` +
    `<body><main><h1>Connecting Jira failed</h1><p id="error" data-code="${esc(err.code)}">${esc(err.message)}</p>` +
    `<p><a href="/console/#connections">Back to connections</a></p></main></body></html>`;
  return reply.status(err.status).type('text/html; charset=utf-8').send(html);
}

/**
 * OAuth 2.0 (3LO) for Jira Cloud connections:
 *  - `POST /api/v1/connections/{id}/oauth/start` (admin): the Atlassian authorize URL to open;
 *  - `GET /oauth/callback` (public; authenticated by the single-use `state`): where Atlassian sends
 *    the browser back; stores the tokens and redirects to the console.
 */
export function oauthRoutes(opts: OAuthRouteOptions): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>();
    app.post(
      '/api/v1/connections/:id/oauth/start',
      {
        config: ADMIN,
        schema: {
          tags: ['connections'],
          summary: 'Connect a Jira Cloud connection with Atlassian (OAuth 2.0 3LO): get the authorize URL',
          description:
            'Returns `authorize_url`: open it in a browser, choose the site and Accept. Atlassian then redirects to ' +
            '`{server.public_url}/oauth/callback`, which stores the tokens (encrypted) and the site cloud id. The link ' +
            'works once and expires after 10 minutes. Register `{server.public_url}/oauth/callback` as the callback URL ' +
            'of the OAuth app in the Atlassian developer console.',
          params: z.strictObject({ id: z.string().min(1) }),
          response: {
            200: z.object({ authorize_url: z.string(), expires_at: z.string() }),
            ...errorResponses(401, 403, 404),
          },
        },
      },
      async (req) => {
        const r = await opts.connect.start(req.params.id, actorOf(req));
        return { authorize_url: r.authorize_url, expires_at: new Date(r.expires_at).toISOString() };
      },
    );

    app.get(
      '/oauth/callback',
      {
        config: PUBLIC,
        schema: {
          tags: ['connections'],
          summary: 'Atlassian redirects here after consent (OAuth 2.0 3LO callback)',
          querystring: z.object({
            code: z.string().max(4096).optional(),
            state: z.string().max(512).optional(),
            error: z.string().max(200).optional(),
            error_description: z.string().max(1000).optional(),
          }),
        },
      },
      async (req, reply) => {
        try {
          const r = await opts.connect.callback(req.query);
          return await reply.redirect(`/console/#connections?connected=${encodeURIComponent(r.connectionId)}`, 302);
        } catch (err) {
          if (isAppError(err)) return failure(req, reply, err);
          opts.logger?.error({ err }, 'OAuth callback failed');
          return failure(
            req,
            reply,
            new AppError('INTERNAL', 'Connecting Jira failed unexpectedly; see the service log'),
          );
        }
      },
    );
  };
}
