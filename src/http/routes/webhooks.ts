import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../core/errors.js';
import type { Store } from '../../store/index.js';
import { receiveDelivery, type ReceiveDeps } from '../../webhooks/receive.js';
import type { DeliveryCredentials } from '../../webhooks/verify.js';
import type { SecretBox } from '../../security/secret-box.js';
import { RejectLimiter } from '../../webhooks/reject-limiter.js';
import { RejectionLog } from '../../webhooks/rejections.js';
import { generateWebhookSecret } from '../../webhooks/secrets.js';
import { errorResponses } from '../schemas.js';
import { JIRA_EVENTS } from '../../webhooks/parse.js';
import { actorOf, ADMIN, PUBLIC, READ } from '../auth.js';

export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

export interface WebhookRouteOptions {
  store: Store;
  credentials(connectionId: string): DeliveryCredentials | undefined | Promise<DeliveryCredentials | undefined>;
  logger?: ReceiveDeps['logger'];
  /** Base URL Jira reaches the service at (config server.public_url), for the setup endpoint. */
  publicUrl(): string;
  /** Seals generated secrets at rest. */
  secretBox: SecretBox;
  /**
   * Callers whose deliveries keep failing authentication are answered 429 (default 30 per minute),
   * counted per connection and client address.
   */
  rejectLimiter?: RejectLimiter;
  /** Rejected deliveries kept for the delivery log (default: one row per connection and address per 10 s). */
  rejections?: RejectionLog;
  /** Queues the work a stored delivery implies, in the same transaction (see ReceiveDeps.route). */
  route?: ReceiveDeps['route'];
  /**
   * Registers (or refreshes) the connection's Jira app webhook now; undefined for connections
   * that are not OAuth apps on Jira Cloud (their webhooks are set up by a Jira admin).
   */
  registerAppWebhook?: (connectionId: string) =>
    | Promise<{
        connection: string;
        ids: number[];
        expires_at: string | null;
        action: 'registered' | 'refreshed' | 'unchanged';
      }>
    | undefined;
}

const DeliverySchema = z.object({
  id: z.string(),
  connection_id: z.string(),
  identifier: z.string().nullable(),
  received_at: z.string(),
  event: z.string().nullable(),
  issue_id: z.string().nullable(),
  issue_key: z.string().nullable(),
  verdict: z
    .string()
    .describe(
      'stored, then what the sync made of it (applied, no_change, echo, duplicate, ignored:…, failed); rejected:signature or rejected:token for deliveries that failed authentication (body not kept)',
    ),
  detail: z.string().nullable().describe('rejected deliveries: what is wrong and how to fix it'),
  source_address: z.string().nullable().describe('rejected deliveries: the client address'),
  repeats: z
    .number()
    .int()
    .describe('rejected deliveries: how many more from the same address to the same connection within 10 s'),
});

function identifierOf(headers: string): string | null {
  try {
    const h = JSON.parse(headers) as Record<string, unknown>;
    const v = h['x-atlassian-webhook-identifier'];
    return typeof v === 'string' ? v : null;
  } catch {
    return null;
  }
}

/**
 * `POST /webhooks/jira/{connectionId}`: Jira's deliveries (raw bytes kept for the signature) and
 * `GET /api/v1/webhooks/deliveries`: the delivery log. The handler authenticates, stores and
 * answers; nothing else happens inline.
 */
export function webhookRoutes(opts: WebhookRouteOptions): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>();
    const limiter = opts.rejectLimiter ?? new RejectLimiter();
    const rejections = opts.rejections ?? new RejectionLog({ logger: opts.logger });

    await app.register(async (raw) => {
      // Signatures are over the exact bytes: this scope keeps JSON bodies as Buffers.
      raw.removeContentTypeParser('application/json');
      raw.addContentTypeParser(
        'application/json',
        { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT },
        (_req, body, done) => done(null, body),
      );
      raw.post<{ Params: { connectionId: string }; Querystring: Record<string, string | undefined> }>(
        '/webhooks/jira/:connectionId',
        {
          // No API token: each delivery proves itself by its signature or URL token, checked below.
          config: PUBLIC,
          bodyLimit: WEBHOOK_BODY_LIMIT,
          schema: {
            tags: ['webhooks'],
            summary: 'Receive a Jira webhook delivery (HMAC X-Hub-Signature or ?token=)',
            hide: false,
          },
        },
        async (req, reply) => {
          // Per connection and client address (the forwarded one behind a trusted proxy): one
          // sender's garbage neither blocks Jira's deliveries from elsewhere nor another connection's.
          const caller = `${req.params.connectionId}\u0000${req.ip}`;
          const wait = limiter.blockedFor(caller);
          if (wait > 0) {
            throw new AppError(
              'RATE_LIMITED',
              `Too many deliveries from this address to connection "${req.params.connectionId}" failed authentication; try again in ${Math.ceil(wait / 1000)} s with the secret (or URL token) the connection expects`,
              { retryAfterMs: wait },
            );
          }
          if (!Buffer.isBuffer(req.body)) {
            throw new AppError('VALIDATION_FAILED', 'A Jira delivery must be sent as application/json');
          }
          const result = await receiveDelivery(
            { store: opts.store, credentials: opts.credentials, logger: opts.logger, route: opts.route, rejections },
            {
              connectionId: req.params.connectionId,
              rawBody: req.body,
              headers: req.headers,
              query: req.query,
              sourceAddress: req.ip,
            },
          );
          if (result.verdict === 'unknown_connection') {
            throw new AppError('NOT_FOUND', `No connection "${req.params.connectionId}"`);
          }
          if (result.verdict === 'rejected') {
            limiter.reject(caller);
            throw new AppError('SIGNATURE_MISMATCH');
          }
          return reply.code(result.status).send({ verdict: result.verdict, identifier: result.identifier });
        },
      );
    });

    app.get(
      '/api/v1/webhooks/deliveries',
      {
        config: READ,
        schema: {
          tags: ['webhooks'],
          summary: 'The webhook delivery log, newest first',
          querystring: z.strictObject({
            connection: z.string().optional(),
            verdict: z.string().optional().describe('a verdict, or "rejected" for every rejected:… one'),
            issue_key: z.string().optional(),
            limit: z.coerce.number().int().min(1).max(500).default(50),
          }),
          response: { 200: z.object({ deliveries: z.array(DeliverySchema) }), ...errorResponses(400) },
        },
      },
      async (req) => {
        let q = opts.store.db
          .selectFrom('webhook_deliveries')
          .select([
            'id',
            'connection_id',
            'identifier',
            'received_at',
            'event',
            'issue_id',
            'issue_key',
            'verdict',
            'detail',
            'source_address',
            'repeats',
            'headers',
          ])
          .orderBy('received_at', 'desc')
          .orderBy('id', 'desc')
          .limit(req.query.limit);
        if (req.query.connection) q = q.where('connection_id', '=', req.query.connection);
        if (req.query.verdict === 'rejected') q = q.where('verdict', 'like', 'rejected:%');
        else if (req.query.verdict) q = q.where('verdict', '=', req.query.verdict);
        if (req.query.issue_key) q = q.where('issue_key', '=', req.query.issue_key);
        const rows = await q.execute();
        return {
          deliveries: rows.map(({ headers, ...r }) => ({
            ...r,
            // A rejected delivery keeps Jira's identifier among its headers only (see rejections.ts).
            identifier: r.identifier ?? identifierOf(headers),
            repeats: Number(r.repeats ?? 0),
            received_at: new Date(Number(r.received_at)).toISOString(),
          })),
        };
      },
    );

    app.get(
      '/api/v1/connections/:id/webhook',
      {
        config: READ,
        schema: {
          tags: ['webhooks'],
          summary: 'What to paste into Jira: the delivery URL (with Jira variables) and how it authenticates',
          params: z.object({ id: z.string() }),
          response: {
            200: z.object({
              url: z.string(),
              authentication: z.enum(['signature', 'url_token', 'signature_and_url_token', 'none']),
              events: z.array(z.string()),
            }),
            ...errorResponses(404),
          },
        },
      },
      async (req) => {
        const creds = await opts.credentials(req.params.id);
        if (!creds) throw new AppError('NOT_FOUND', `No connection "${req.params.id}"`);
        const base = opts.publicUrl().replace(/\/$/, '');
        const auth: 'signature_and_url_token' | 'signature' | 'url_token' | 'none' =
          creds.secrets.length && creds.urlTokens.length
            ? 'signature_and_url_token'
            : creds.secrets.length
              ? 'signature'
              : creds.urlTokens.length
                ? 'url_token'
                : 'none';
        return {
          url: `${base}/webhooks/jira/${encodeURIComponent(req.params.id)}?issue_key=\${issue.key}&project_key=\${project.key}${auth === 'url_token' ? '&token=<the connection url_token>' : ''}`,
          authentication: auth,
          events: [...JIRA_EVENTS],
        };
      },
    );

    app.post(
      '/api/v1/connections/:id/webhook/secret',
      {
        config: ADMIN,
        schema: {
          tags: ['webhooks'],
          summary:
            'Generate a webhook secret to paste into Jira (shown once; accepted beside the configured ones, so it is a rotation)',
          params: z.object({ id: z.string() }),
          response: {
            201: z.object({ secret: z.string(), created_at: z.string(), url: z.string(), note: z.string() }),
            ...errorResponses(404),
          },
        },
      },
      async (req, reply) => {
        if (!(await opts.credentials(req.params.id)))
          throw new AppError('NOT_FOUND', `No connection "${req.params.id}"`);
        const g = await generateWebhookSecret(opts.store, opts.secretBox, req.params.id, actorOf(req));
        const base = opts.publicUrl().replace(/\/$/, '');
        return reply.code(201).send({
          secret: g.secret,
          created_at: new Date(g.created_at).toISOString(),
          url: `${base}/webhooks/jira/${encodeURIComponent(req.params.id)}`,
          note: 'Paste this secret into the Jira webhook now: it is not shown again. Generating another one replaces it.',
        });
      },
    );

    app.post(
      '/api/v1/connections/:id/webhook/register',
      {
        config: ADMIN,
        schema: {
          tags: ['webhooks'],
          summary: 'OAuth app connections: register the Jira webhook now (or refresh it before its 30-day expiry)',
          params: z.object({ id: z.string() }),
          response: {
            200: z.object({
              connection: z.string(),
              ids: z.array(z.number().int()),
              expires_at: z.string().nullable(),
              action: z.enum(['registered', 'refreshed', 'unchanged']),
            }),
            ...errorResponses(400, 404, 409),
          },
        },
      },
      async (req) => {
        if (!(await opts.credentials(req.params.id)))
          throw new AppError('NOT_FOUND', `No connection "${req.params.id}"`);
        const pending = opts.registerAppWebhook?.(req.params.id);
        if (!pending) {
          throw new AppError(
            'CONFLICT',
            `Connection "${req.params.id}" is not an OAuth app on Jira Cloud with a webhook.url_token: a Jira admin adds its webhook (see GET /api/v1/connections/${req.params.id}/webhook)`,
          );
        }
        return pending;
      },
    );
  };
}
