import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../core/errors.js';
import type { ConnectionView } from '../../app/connections-admin.js';
import type { JiraCatalog } from '../../core/catalog.js';
import type { CheckResult } from '../../jira/types.js';
import { actorOf } from '../auth.js';
import { BoolQuery, contains, PageQuery, pageOf } from '../paging.js';
import { errorResponses } from '../schemas.js';
import { ADMIN, OPERATE, READ } from '../auth.js';

export interface ConnectionHealthView {
  healthy: boolean;
  problem: string | null;
  since: string | null;
}

/** What the connection routes need (the composition root's connection admin and engine health). */
export interface ConnectionsApi {
  list(): ConnectionView[];
  get(id: string): ConnectionView | undefined;
  health(id: string): ConnectionHealthView;
  create(body: unknown, actor: string): Promise<{ connection: ConnectionView; created: boolean }>;
  put(id: string, body: unknown, actor: string): Promise<{ connection: ConnectionView; created: boolean }>;
  /** `unlink`: the connection's links are removed first (their Jira issues stay as they are). */
  remove(id: string, actor: string, opts?: { unlink?: boolean }): Promise<void>;
  check(target: { id: string } | { body: unknown }): Promise<CheckResult>;
  catalog(id: string, reload: boolean): Promise<JiraCatalog>;
}

const Health = z.object({ healthy: z.boolean(), problem: z.string().nullable(), since: z.string().nullable() });
const Connection = z.object({
  id: z.string(),
  name: z.string(),
  site_url: z.string(),
  flavour: z.enum(['cloud', 'datacenter']),
  source: z
    .enum(['file', 'api'])
    .describe('file: from jira-bridge.yaml (edit it there); api: created through this API'),
  auth: z.object({
    type: z.enum(['basic', 'pat', 'oauth']),
    email: z.string().optional(),
    username: z.string().optional().describe('Data Center basic auth: the Jira user name'),
    client_id: z.string().optional(),
    has_secret: z.boolean().describe('Whether the token, password or client secret is set; it is never returned'),
    oauth_connected: z
      .boolean()
      .optional()
      .describe('OAuth: whether an Atlassian account has authorized it (POST …/oauth/start to connect)'),
    auth_url: z.string().optional(),
    api_url: z.string().optional(),
  }),
  tls: z.object({ verify: z.boolean(), custom_ca: z.boolean() }),
  sweep: z.object({ interval_seconds: z.number(), link_check_seconds: z.number() }),
  enabled: z
    .boolean()
    .describe(
      'The configuration’s switch (false: paused); GET /api/v1/pauses tells whether it is paused through the API',
    ),
  health: Health,
});
const Check = z.union([
  z.object({
    ok: z.literal(true),
    user: z.object({ displayName: z.string(), accountId: z.string().optional(), name: z.string().optional() }),
    server: z.object({ baseUrl: z.string(), version: z.string(), deploymentType: z.string() }),
    warnings: z.array(z.string()),
  }),
  z.object({ ok: z.literal(false), code: z.string(), message: z.string(), hint: z.string() }),
]);
const Body = z
  .record(z.string(), z.unknown())
  .describe(
    'A connection in the configuration file’s form: {id, name?, site_url, flavour: cloud|datacenter, auth: {type: basic, email, api_token} | {type: basic, username, password} (Data Center) | {type: pat, token} | {type: oauth, client_id, client_secret}, tls?: {verify?, ca_pem?}, webhook?: {secret?, previous_secret?, url_token?}, sweep?: {interval_seconds, link_check_seconds}}. On update (and a check naming a saved connection), secrets and a saved CA left out keep their stored values, an explicit null clears webhook.secret, webhook.previous_secret, webhook.url_token or tls.ca_pem; a body that changes site_url, the OAuth auth_url/api_url or the TLS trust (tls.verify, the CA) must send the Jira secret again (400 otherwise): a stored secret is only ever sent to the site it was given for.',
  );

const text = z.string().max(10_000);
/**
 * The unsaved connection a check takes: the file's form, strict (unknown fields and wrong types
 * are refused here, naming the field); what is required is checked when it is parsed as a
 * connection.
 */
const CheckBody = z
  .strictObject({
    id: z.string().max(63).optional(),
    name: text.optional(),
    enabled: z.boolean().optional(),
    site_url: z.string().max(2048),
    flavour: z.enum(['cloud', 'datacenter']),
    auth: z.strictObject({
      type: z.enum(['basic', 'pat', 'oauth']),
      email: text.optional(),
      api_token: text.optional(),
      username: text.optional(),
      password: text.optional(),
      token: text.optional(),
      client_id: text.optional(),
      client_secret: text.optional(),
      cloud_id: text.optional(),
      auth_url: z.string().max(2048).optional(),
      api_url: z.string().max(2048).optional(),
    }),
    tls: z
      .strictObject({
        verify: z.boolean().optional(),
        ca_file: text.optional(),
        ca_pem: z.string().max(1_000_000).nullable().optional(),
      })
      .optional(),
    webhook: z
      .strictObject({
        secret: text.nullable().optional(),
        previous_secret: text.nullable().optional(),
        url_token: text.nullable().optional(),
      })
      .optional(),
    sweep: z
      .strictObject({ interval_seconds: z.number().optional(), link_check_seconds: z.number().optional() })
      .optional(),
  })
  .describe('A connection in the configuration file’s form, as for POST /api/v1/connections');

/**
 * `/api/v1/connections`: Jira connections (never their credentials), their health, "check
 * connection" (saved or not yet saved), and the Jira catalogue the console's dropdowns are filled
 * from. Creating and changing needs an admin token; the change is live at once.
 */
export function connectionsRoutes(opts: { connections: ConnectionsApi }): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>();
    const api = opts.connections;
    const view = (c: ConnectionView) => ({ ...c, health: api.health(c.id) });
    app.get(
      '/api/v1/connections',
      {
        config: READ,
        schema: {
          tags: ['connections'],
          summary:
            'Jira connections and their health (a 401 pauses a connection: the reason says what to fix); filtered, paged',
          querystring: z.strictObject({
            name: z.string().min(1).max(200).optional().describe('Part of the id or name (any case)'),
            enabled: BoolQuery.optional().describe('The configuration’s switch'),
            flavour: z.enum(['cloud', 'datacenter']).optional(),
            ...PageQuery,
          }),
          response: {
            200: z.object({
              connections: z.array(Connection),
              next_cursor: z
                .string()
                .nullable()
                .optional()
                .describe('Present when paged (limit or cursor): the next page’s cursor, null on the last'),
            }),
            ...errorResponses(400),
          },
        },
      },
      async (req) => {
        const q = req.query;
        const all = api
          .list()
          .filter(
            (c) =>
              (contains(c.id, q.name) || contains(c.name, q.name)) &&
              (q.enabled === undefined || c.enabled === q.enabled) &&
              (q.flavour === undefined || c.flavour === q.flavour),
          );
        const page = pageOf(all, q);
        const paged = q.limit !== undefined || q.cursor !== undefined;
        return { connections: page.items.map(view), ...(paged ? { next_cursor: page.next_cursor } : {}) };
      },
    );
    app.post(
      '/api/v1/connections',
      {
        config: ADMIN,
        schema: {
          tags: ['connections'],
          summary: 'Create a connection (its secrets are sealed at rest and never returned)',
          body: Body,
          response: { 201: Connection, ...errorResponses(400, 409) },
        },
      },
      async (req, reply) => {
        const out = await api.create(req.body, actorOf(req));
        return reply.code(201).send(view(out.connection));
      },
    );
    app.post(
      '/api/v1/connections/check',
      {
        config: ADMIN,
        schema: {
          tags: ['connections'],
          summary:
            'Check a connection before saving it: the Jira user and server reached, or what failed and how to fix it',
          body: CheckBody,
          response: { 200: Check, ...errorResponses(400) },
        },
      },
      async (req) => api.check({ body: req.body }),
    );
    app.get(
      '/api/v1/connections/:id',
      {
        config: READ,
        schema: {
          tags: ['connections'],
          summary: 'One connection',
          params: z.object({ id: z.string() }),
          response: { 200: Connection, ...errorResponses(404) },
        },
      },
      async (req) => {
        const c = api.get(req.params.id);
        if (!c) throw new AppError('NOT_FOUND', `No connection "${req.params.id}"`);
        return view(c);
      },
    );
    app.put(
      '/api/v1/connections/:id',
      {
        config: ADMIN,
        schema: {
          tags: ['connections'],
          summary: 'Create or replace a connection (secrets left out keep their stored values)',
          params: z.object({ id: z.string() }),
          body: Body,
          response: { 200: Connection, 201: Connection, ...errorResponses(400, 409) },
        },
      },
      async (req, reply) => {
        const out = await api.put(req.params.id, req.body, actorOf(req));
        return reply.code(out.created ? 201 : 200).send(view(out.connection));
      },
    );
    app.delete(
      '/api/v1/connections/:id',
      {
        config: ADMIN,
        schema: {
          tags: ['connections'],
          summary:
            'Delete a connection created through the API (not while mappings use it; with ?unlink=true its links are removed first, the Jira issues left as they are, else not while it has links)',
          params: z.object({ id: z.string() }),
          querystring: z.strictObject({
            unlink: z
              .enum(['true', 'false'])
              .optional()
              .describe('true: remove its links (audited as connection.unlinked) and delete it'),
          }),
          response: { 204: z.null(), ...errorResponses(400, 404, 409) },
        },
      },
      async (req, reply) => {
        await api.remove(req.params.id, actorOf(req), { unlink: req.query.unlink === 'true' });
        return reply.code(204).send(null);
      },
    );
    app.post(
      '/api/v1/connections/:id/check',
      {
        config: OPERATE,
        schema: {
          tags: ['connections'],
          summary: 'Check a saved connection: the Jira user and server reached, or what failed and how to fix it',
          params: z.object({ id: z.string() }),
          response: { 200: Check, ...errorResponses(404) },
        },
      },
      async (req) => api.check({ id: req.params.id }),
    );
    app.get(
      '/api/v1/connections/:id/catalog',
      {
        config: READ,
        schema: {
          tags: ['connections'],
          summary:
            'What the Jira site offers a mapping: projects with issue types and their fields, statuses, priorities, resolutions, fields, service desks (cached; reload=true fetches again)',
          params: z.object({ id: z.string() }),
          querystring: z.strictObject({ reload: z.enum(['true', 'false']).optional() }),
          response: { 200: z.record(z.string(), z.unknown()), ...errorResponses(404, 502, 503) },
        },
      },
      async (req) =>
        (await api.catalog(req.params.id, req.query.reload === 'true')) as unknown as Record<string, unknown>,
    );
  };
}
