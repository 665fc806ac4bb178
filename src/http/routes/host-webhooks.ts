import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CHANGE_EVENTS, unknownChangeEvent } from '../../core/changes.js';
import { actorOf } from '../auth.js';
import { errorResponses } from '../schemas.js';
import { ADMIN, READ } from '../auth.js';

const HostWebhookSchema = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  description: z.string().nullable(),
  active: z.boolean(),
  source: z.enum(['file', 'api']).describe('file: host_webhooks in the configuration (edit it there)'),
  has_secret: z.literal(true).describe('the secret itself is never returned after creation'),
  created_at: z.string().nullable(),
  updated_at: z.string().nullable(),
});
type View = z.infer<typeof HostWebhookSchema>;

export interface HostWebhooksApi {
  list(): Promise<View[]>;
  get(id: string): Promise<View>;
  create(
    input: { url: string; events?: string[]; secret?: string; description?: string; active?: boolean },
    actor: string,
  ): Promise<{ view: View; secret: string }>;
  update(
    id: string,
    patch: {
      url?: string;
      events?: string[];
      secret?: string;
      rotate_secret?: boolean;
      description?: string | null;
      active?: boolean;
    },
    actor: string,
  ): Promise<{ view: View; secret: string | null }>;
  remove(id: string, actor: string): Promise<void>;
}

const url = z
  .string()
  .max(2000)
  .refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL of the host’s webhook endpoint, e.g. https://platform.example.com/hooks/jira-bridge');
const events = z
  .array(z.string().min(1).max(100))
  .min(1)
  .max(50)
  .refine((e) => unknownChangeEvent(e) === null, { error: (iss) => unknownChangeEvent(iss.input as string[]) ?? '' })
  .describe(`${CHANGE_EVENTS.join(', ')}, or *`);
const secret = z
  .string()
  .min(16, 'must be at least 16 characters (leave it out to have one generated)')
  .max(500)
  .describe('whsec_<base64> (the Standard Webhooks form) or any string of 16+ characters; generated when left out');

/**
 * `/api/v1/host-webhooks`: the signed webhooks sent to the host (the configuration file's, listed,
 * and the API's: create, change, delete). A secret is returned only when jira-bridge made it up
 * (creation without one, or `rotate_secret`), once; it is sealed at rest.
 */
export function hostWebhooksRoutes(opts: { hostWebhooks: HostWebhooksApi }): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>();
    const api = opts.hostWebhooks;
    app.get(
      '/api/v1/host-webhooks',
      {
        config: READ,
        schema: {
          tags: ['changes'],
          summary: 'Host webhook subscriptions (the configuration file’s and the API’s); never their secrets',
          response: {
            200: z.object({
              subscriptions: z.array(HostWebhookSchema),
              event_types: z.array(z.string()).describe('the change types a subscription may name (or *)'),
            }),
            ...errorResponses(401, 403),
          },
        },
      },
      async () => ({ subscriptions: await api.list(), event_types: [...CHANGE_EVENTS] }),
    );
    app.get(
      '/api/v1/host-webhooks/:id',
      {
        config: READ,
        schema: {
          tags: ['changes'],
          summary: 'One host webhook subscription',
          params: z.object({ id: z.string() }),
          response: { 200: HostWebhookSchema, ...errorResponses(401, 403, 404) },
        },
      },
      async (req) => api.get(req.params.id),
    );
    app.post(
      '/api/v1/host-webhooks',
      {
        config: ADMIN,
        schema: {
          tags: ['changes'],
          summary:
            'Subscribe the host to signed change webhooks, live at once; the secret (given or generated) is in this answer only',
          body: z.strictObject({
            url,
            events: events.optional(),
            secret: secret.optional(),
            description: z.string().max(200).optional(),
            active: z.boolean().optional(),
          }),
          response: {
            201: z.object({ subscription: HostWebhookSchema, secret: z.string(), note: z.string() }),
            ...errorResponses(400, 401, 403, 409),
          },
        },
      },
      async (req, reply) => {
        const out = await api.create(req.body, actorOf(req));
        return reply.code(201).send({
          subscription: out.view,
          secret: out.secret,
          note: 'Configure the host to verify webhook-signature with this secret now: it is not shown again.',
        });
      },
    );
    app.put(
      '/api/v1/host-webhooks/:id',
      {
        config: ADMIN,
        schema: {
          tags: ['changes'],
          summary:
            'Change a subscription (fields left out are kept); secret replaces it, rotate_secret: true generates one (returned once)',
          params: z.object({ id: z.string() }),
          body: z.strictObject({
            url: url.optional(),
            events: events.optional(),
            secret: secret.optional(),
            rotate_secret: z.boolean().optional(),
            description: z.string().max(200).nullable().optional(),
            active: z.boolean().optional(),
          }),
          response: {
            200: z.object({ subscription: HostWebhookSchema, secret: z.string().optional() }),
            ...errorResponses(400, 401, 403, 404, 409),
          },
        },
      },
      async (req) => {
        const out = await api.update(req.params.id, req.body, actorOf(req));
        return { subscription: out.view, ...(out.secret ? { secret: out.secret } : {}) };
      },
    );
    app.delete(
      '/api/v1/host-webhooks/:id',
      {
        config: ADMIN,
        schema: {
          tags: ['changes'],
          summary: 'Stop and remove a subscription made through the API, and its delivery log',
          params: z.object({ id: z.string() }),
          response: { 204: z.null(), ...errorResponses(401, 403, 404, 409) },
        },
      },
      async (req, reply) => {
        await api.remove(req.params.id, actorOf(req));
        return reply.code(204).send(null);
      },
    );
  };
}
