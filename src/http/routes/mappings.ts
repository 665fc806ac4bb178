import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../core/errors.js';
import { actorOf } from '../auth.js';
import { BoolQuery, contains, PageQuery, pageOf } from '../paging.js';
import { errorResponses } from '../schemas.js';
import { ADMIN, READ } from '../auth.js';

/** What the mapping routes need (the composition root's mapping admin). */
export interface MappingsApi {
  list(): Array<{ id: string; source: 'file' | 'api'; version: number; mapping: unknown }>;
  get(id: string): { id: string; source: 'file' | 'api'; version: number; mapping: unknown } | undefined;
  save(
    id: string,
    body: unknown,
    actor: string,
  ): Promise<{ entry: { id: string; source: 'file' | 'api'; version: number; mapping: unknown }; created: boolean }>;
  remove(id: string, actor: string): Promise<void>;
}

const EntrySchema = z.object({
  id: z.string(),
  source: z
    .enum(['file', 'api'])
    .describe('file: from jira-bridge.yaml; api: saved through this API (wins over the file)'),
  version: z.number().int(),
  mapping: z.record(z.string(), z.unknown()).describe('The mapping in the configuration file’s form (snake_case)'),
});

/**
 * `/api/v1/mappings`: list, read, save (validated against the Jira site on save: unknown
 * projects, issue types, statuses, priorities, fields and options are errors naming the valid
 * values) and delete API mappings. Changes apply to new work at once.
 */
export function mappingsRoutes(opts: { mappings: MappingsApi }): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>();
    const view = (e: { id: string; source: 'file' | 'api'; version: number; mapping: unknown }) => ({
      ...e,
      mapping: e.mapping as Record<string, unknown>,
    });
    app.get(
      '/api/v1/mappings',
      {
        config: READ,
        schema: {
          tags: ['mappings'],
          summary: 'Every mapping in force (file and API); filtered, paged',
          querystring: z.strictObject({
            name: z.string().min(1).max(200).optional().describe('Part of the id (any case)'),
            connection: z.string().min(1).max(200).optional().describe('Its connection’s id'),
            project: z.string().min(1).max(200).optional().describe('Its Jira project key (any case)'),
            scope: z.string().min(1).max(200).optional(),
            enabled: BoolQuery.optional().describe('The configuration’s switch'),
            ...PageQuery,
          }),
          response: {
            200: z.object({
              mappings: z.array(EntrySchema),
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
        const all = opts.mappings.list().filter((e) => {
          const m = e.mapping as { connection?: string; project?: string; scope?: string; enabled?: boolean };
          return (
            contains(e.id, q.name) &&
            (q.connection === undefined || m.connection === q.connection) &&
            (q.project === undefined || (m.project ?? '').toLowerCase() === q.project.toLowerCase()) &&
            (q.scope === undefined || m.scope === q.scope) &&
            (q.enabled === undefined || (m.enabled ?? true) === q.enabled)
          );
        });
        const page = pageOf(all, q);
        const paged = q.limit !== undefined || q.cursor !== undefined;
        return { mappings: page.items.map(view), ...(paged ? { next_cursor: page.next_cursor } : {}) };
      },
    );
    app.get(
      '/api/v1/mappings/:id',
      {
        config: READ,
        schema: {
          tags: ['mappings'],
          summary: 'One mapping',
          params: z.object({ id: z.string() }),
          response: { 200: EntrySchema, ...errorResponses(404) },
        },
      },
      async (req) => {
        const e = opts.mappings.get(req.params.id);
        if (!e) throw new AppError('NOT_FOUND', `No mapping "${req.params.id}"`);
        return view(e);
      },
    );
    app.put(
      '/api/v1/mappings/:id',
      {
        config: ADMIN,
        schema: {
          tags: ['mappings'],
          summary:
            'Create or replace a mapping (same shape as in jira-bridge.yaml); checked against Jira before it is saved',
          params: z.object({ id: z.string() }),
          body: z.record(z.string(), z.unknown()),
          response: { 200: EntrySchema, 201: EntrySchema, ...errorResponses(400, 409, 502, 503) },
        },
      },
      async (req, reply) => {
        const out = await opts.mappings.save(req.params.id, req.body, actorOf(req));
        return reply.code(out.created ? 201 : 200).send(view(out.entry));
      },
    );
    app.delete(
      '/api/v1/mappings/:id',
      {
        config: ADMIN,
        schema: {
          tags: ['mappings'],
          summary: 'Delete a mapping saved through the API (a file mapping it overrode comes back)',
          params: z.object({ id: z.string() }),
          response: { 204: z.null(), ...errorResponses(404, 409) },
        },
      },
      async (req, reply) => {
        await opts.mappings.remove(req.params.id, actorOf(req));
        return reply.code(204).send(null);
      },
    );
  };
}
