import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { sql } from 'kysely';
import { z } from 'zod';
import { ROLES } from '../../core/access.js';
import { fromJson } from '../../store/json.js';
import type { Store } from '../../store/index.js';
import { actorOf } from '../auth.js';
import { errorResponses } from '../schemas.js';
import { ADMIN, ANY_TOKEN } from '../auth.js';

const TokenViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  scopes: z.array(z.string()),
  created_at: z.string(),
  last_used_at: z.string().nullable(),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
});
type TokenViewT = z.infer<typeof TokenViewSchema>;

export interface TokensApi {
  create(
    input: { name: string; role: string; scopes?: string[]; expires_in_days?: number },
    actor: string,
  ): Promise<{ token: string; view: TokenViewT }>;
  list(): Promise<TokenViewT[]>;
  revoke(id: string, actor: string): Promise<void>;
}

/** `/api/v1/tokens` (create: the token is in this answer only; list; revoke) and `/api/v1/audit`. */
export function accessRoutes(opts: { tokens: TokensApi; store: Store }): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>();
    app.post(
      '/api/v1/tokens',
      {
        config: ADMIN,
        schema: {
          tags: ['access'],
          summary: 'Create an API token (shown once, stored hashed). The first token closes the open API.',
          body: z.strictObject({
            name: z.string().min(1).max(100),
            role: z.enum(ROLES),
            scopes: z.array(z.string().min(1)).optional().describe('host tokens only: the scopes it may use'),
            expires_in_days: z.number().int().min(1).max(3650).optional(),
          }),
          response: { 201: z.object({ token: z.string(), info: TokenViewSchema }), ...errorResponses(400, 401, 403) },
        },
      },
      async (req, reply) => {
        const out = await opts.tokens.create(req.body, actorOf(req));
        return reply.code(201).send({ token: out.token, info: out.view });
      },
    );
    app.get(
      '/api/v1/tokens',
      {
        config: ADMIN,
        schema: {
          tags: ['access'],
          summary: 'API tokens (never the secrets)',
          response: { 200: z.object({ tokens: z.array(TokenViewSchema) }), ...errorResponses(401, 403) },
        },
      },
      async () => ({ tokens: await opts.tokens.list() }),
    );
    app.delete(
      '/api/v1/tokens/:id',
      {
        config: ADMIN,
        schema: {
          tags: ['access'],
          summary: 'Revoke a token (effective at once)',
          params: z.object({ id: z.string() }),
          response: { 204: z.null(), ...errorResponses(401, 403, 404) },
        },
      },
      async (req, reply) => {
        await opts.tokens.revoke(req.params.id, actorOf(req));
        return reply.code(204).send(null);
      },
    );
    app.get(
      '/api/v1/me',
      {
        config: ANY_TOKEN,
        schema: {
          tags: ['access'],
          summary: 'The caller: token name, role and scopes (any role; while the API is open, open: true)',
          response: {
            200: z.object({
              open: z.boolean(),
              id: z.string().nullable().describe('the token id (as in GET /api/v1/tokens)'),
              name: z.string().nullable(),
              role: z.enum(ROLES),
              scopes: z.array(z.string()),
            }),
            ...errorResponses(401),
          },
        },
      },
      async (req) =>
        req.principal
          ? {
              open: false,
              id: req.principal.id,
              name: req.principal.name,
              role: req.principal.role,
              scopes: req.principal.scopes,
            }
          : { open: true, id: null, name: null, role: 'admin' as const, scopes: [] },
    );
    app.get(
      '/api/v1/audit',
      {
        config: ADMIN,
        schema: {
          tags: ['access'],
          summary: 'The audit log: who changed what (secrets are never in it), newest first',
          querystring: z.strictObject({
            limit: z.coerce.number().int().min(1).max(1000).default(100),
            action: z.string().max(100).optional().describe('entries whose action starts with this (e.g. "mapping.")'),
            target: z.string().max(300).optional().describe('entries about this target (e.g. "connection:acme")'),
          }),
          response: {
            200: z.object({
              entries: z.array(
                z.object({
                  id: z.string(),
                  actor: z.string(),
                  action: z.string(),
                  target: z.string().nullable(),
                  before: z.unknown(),
                  after: z.unknown(),
                  at: z.string(),
                }),
              ),
            }),
            ...errorResponses(401, 403),
          },
        },
      },
      async (req) => {
        let q = opts.store.db
          .selectFrom('audit_log')
          .selectAll()
          .orderBy('at', 'desc')
          .orderBy('id', 'desc')
          .limit(req.query.limit);
        const prefix = req.query.action;
        if (prefix) q = q.where(sql<string>`substr(action, 1, ${prefix.length})`, '=', prefix);
        if (req.query.target) q = q.where('target', '=', req.query.target);
        const rows = await q.execute();
        return {
          entries: rows.map((r) => ({
            id: r.id,
            actor: r.actor,
            action: r.action,
            target: r.target,
            before: fromJson(r.before),
            after: fromJson(r.after),
            at: new Date(Number(r.at)).toISOString(),
          })),
        };
      },
    );
  };
}
