import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NO_NEEDS, type CatalogNeeds, type JiraCatalog } from '../../core/catalog.js';
import { mappingSchema } from '../../config/schema.js';
import { AppError } from '../../core/errors.js';
import { renderTemplate, type MappingTemplates, type TemplateRecord } from '../../core/templates.js';
import { normalizeText } from '../../engine/desired.js';
import { markdownToJiraBody } from '../../engine/markup.js';
import type { JiraClient } from '../../jira/client.js';
import { jqlRefusal } from '../../jira/jql-check.js';
import { errorResponses } from '../schemas.js';
import { ADMIN } from '../auth.js';

/** What the preview needs: the connection's Jira client, and its catalogue when fetched. */
export interface PreviewApi {
  client(connectionId: string): JiraClient | undefined;
  /** The parts of the site's catalogue named (cached, or fetched): the project and issue types are checked against it. */
  catalog?(connectionId: string, needs: CatalogNeeds): JiraCatalog | undefined | Promise<JiraCatalog | undefined>;
}

const PREVIEW_LIMIT = 10;

/** A JQL string literal. */
export const jqlString = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

type KindTarget = { issue_type?: unknown; service_desk?: unknown; request_type?: unknown };

/**
 * The JQL a mapping covers: its project and the issue types its kinds create (a service-desk
 * request type counts as its issue type when the catalogue says which; otherwise the whole
 * project is covered), narrowed by its JQL filter, newest first.
 */
export function mappingJql(
  m: { project: string; kinds?: Record<string, KindTarget> | undefined; filter?: string | undefined },
  catalog?: JiraCatalog,
): string {
  const types = new Set<string>();
  let wholeProject = false;
  for (const k of Object.values(m.kinds ?? {})) {
    if (typeof k.issue_type === 'string' && k.issue_type) types.add(k.issue_type);
    else if (typeof k.request_type === 'string' && k.request_type) {
      const desks = catalog?.serviceDesks ?? [];
      const rt = desks
        .filter((d) => d.id === k.service_desk || d.projectKey === m.project || d.projectId === m.project)
        .flatMap((d) => d.requestTypes)
        .find((r) => r.id === k.request_type || r.name === k.request_type);
      const it = rt?.issueTypeId
        ? catalog?.projects.flatMap((p) => p.issueTypes).find((t) => t.id === rt.issueTypeId)
        : undefined;
      if (it) types.add(it.name);
      else wholeProject = true;
    }
  }
  const clauses = [`project = ${jqlString(m.project)}`];
  if (types.size && !wholeProject) clauses.push(`issuetype in (${[...types].map(jqlString).join(', ')})`);
  // The mapping's own JQL filter, parenthesised (an OR in it stays inside).
  if (m.filter?.trim()) clauses.push(`(${m.filter.trim()})`);
  return `${clauses.join(' AND ')} ORDER BY updated DESC`;
}

/** The project and issue types of a preview body that the site does not have (paths as PUT /mappings reports them). */
export function catalogProblems(
  m: { project: string; kinds?: Record<string, KindTarget> | undefined },
  catalog: JiraCatalog,
): Array<{ path: string; message: string }> {
  const project = catalog.projects.find((p) => p.key.toLowerCase() === m.project.toLowerCase() || p.id === m.project);
  if (!project) {
    const known = catalog.projects.map((p) => p.key).join(', ') || '(none)';
    return [
      {
        path: 'body.project',
        message: `"${m.project}" is not a Jira project visible to this connection; known: ${known}`,
      },
    ];
  }
  const out: Array<{ path: string; message: string }> = [];
  for (const [kind, t] of Object.entries(m.kinds ?? {})) {
    const name = t.issue_type;
    if (typeof name !== 'string' || !name) continue;
    if (!project.issueTypes.some((it) => it.name.toLowerCase() === name.toLowerCase() || it.id === name)) {
      out.push({
        path: `body.kinds.${kind}.issue_type`,
        message: `"${name}" is not an issue type of ${project.key}; known: ${project.issueTypes.map((it) => it.name).join(', ')}`,
      });
    }
  }
  return out;
}

/**
 * The same body as PUT /api/v1/mappings/:id (what the console's editor sends), strict like it:
 * unknown fields and wrong types are refused. Only the connection and project are required, so
 * a mapping half written can be previewed; kinds may be empty (the whole project).
 */
const BodySchema = mappingSchema
  .partial()
  .extend({
    id: mappingSchema.shape.id.optional(),
    connection: z.string().min(1, 'choose the Jira connection'),
    project: z.string().min(1, 'choose the Jira project').optional(),
    /**
     * false: only render sample_record (the editor's live preview as the admin types) — no Jira
     * call, so neither the project nor the issues are checked; `total` is null and `issues` empty.
     */
    search: z
      .boolean()
      .default(true)
      .describe('false: render sample_record only, without searching Jira (no Jira call; total null, issues empty)'),
    kinds: z.record(z.string(), mappingSchema.shape.kinds.valueType).optional(),
    /** One record to render the mapping's `templates` for (the editor's live preview). */
    sample_record: z
      .strictObject({
        scope: z.string().optional(),
        host_id: z.string().default('sample-1'),
        kind: z.string().optional(),
        title: z.string().default(''),
        description: z.string().default(''),
        status: z.string().default('open'),
        severity: z.string().nullable().default(null),
        assignee_email: z.string().nullable().default(null),
        labels: z.array(z.string()).default([]),
        custom: z.record(z.string(), z.unknown()).default({}),
        parent_host_id: z.string().nullable().default(null),
        comment_author: z.string().nullable().default(null),
      })
      .optional(),
  })
  .superRefine((b, ctx) => {
    if (b.search && !b.project) ctx.addIssue({ code: 'custom', path: ['project'], message: 'choose the Jira project' });
  });

/** One record rendered as the mapping's templates would render it for its issue (pure). */
function renderSample(
  templates: MappingTemplates,
  sample: NonNullable<z.output<typeof BodySchema>['sample_record']>,
  scope: string,
  kinds: Record<string, unknown> | undefined,
  flavour: 'cloud' | 'datacenter',
): {
  summary: string;
  description: string;
  description_body: unknown;
  description_doc: unknown;
  comment_prefix: string | null;
} {
  const record: TemplateRecord = {
    ...sample,
    scope: sample.scope ?? scope,
    kind: sample.kind ?? Object.keys(kinds ?? {})[0] ?? '',
  };
  const summary = (
    templates.summary !== undefined ? renderTemplate('summary', templates.summary, record) : record.title
  ).trim();
  const description = normalizeText(
    templates.description !== undefined
      ? renderTemplate('description', templates.description, record)
      : record.description,
  );
  const author = sample.comment_author;
  return {
    summary,
    description,
    description_body: description === '' ? null : markdownToJiraBody(description, flavour),
    // The same Markdown as a document tree whatever the flavour: what the console shows, readable.
    description_doc: description === '' ? null : markdownToJiraBody(description, 'cloud'),
    comment_prefix:
      templates.comment_prefix !== undefined
        ? renderTemplate('comment_prefix', templates.comment_prefix, record, { comment: { author } }).trim()
        : author
          ? `**${author}** wrote:`
          : null,
  };
}

const statusName = (fields: Record<string, unknown>): string => {
  const s = fields.status as { name?: unknown } | undefined;
  return typeof s?.name === 'string' ? s.name : '';
};

/**
 * `POST /api/v1/mappings/preview`: runs the JQL a mapping (the same body as PUT
 * /api/v1/mappings/:id, saved or not) covers through its connection and returns the query, how
 * many issues match, and the first ten — what the mapping would see, before it is saved.
 */
export function previewRoutes(opts: { preview: PreviewApi }): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>();
    app.post(
      '/api/v1/mappings/preview',
      {
        config: ADMIN,
        schema: {
          tags: ['mappings'],
          summary: 'JQL preview: the issues a mapping covers (project, issue types and filter), first ten',
          body: BodySchema,
          response: {
            200: z.object({
              jql: z.string(),
              total: z.number().int().nullable().describe('Matching issues (Cloud: approximate count)'),
              issues: z.array(z.object({ key: z.string(), summary: z.string(), status: z.string() })),
              browse_url: z.string().describe('The search in Jira’s issue navigator'),
              rendered: z
                .object({
                  summary: z.string().describe('As the issue’s summary would be (the record title without a template)'),
                  description: z.string().describe('Markdown, as rendered from the template (or the record’s)'),
                  description_body: z
                    .unknown()
                    .describe('What Jira is sent: ADF on Cloud, a wiki markup string on Data Center'),
                  description_doc: z
                    .unknown()
                    .describe('The description as a document tree (ADF) on either flavour, for display'),
                  comment_prefix: z.string().nullable(),
                })
                .optional()
                .describe('sample_record rendered by the mapping’s templates'),
            }),
            ...errorResponses(400, 502, 503),
          },
        },
      },
      async (req) => {
        const { connection, kinds, filter, templates, sample_record: sample, search } = req.body;
        const client = opts.preview.client(connection);
        if (!client) {
          throw new AppError('VALIDATION_FAILED', `body.connection: "${connection}" is not a configured connection`, {
            details: { issues: [{ path: 'body.connection', message: 'unknown connection' }] },
          });
        }
        const rendered = sample
          ? { rendered: renderSample(templates ?? {}, sample, req.body.scope ?? '', kinds, client.flavour) }
          : {};
        const project = req.body.project ?? '';
        const browseUrl = (jql: string): string =>
          `${client.browseUrl('X-1').replace(/\/browse\/X-1$/, '')}/issues/?jql=${encodeURIComponent(jql)}`;
        if (!search) {
          // The live preview of the templates: rendered here, nothing asked of Jira.
          const jql = project ? mappingJql({ project, kinds, filter }) : '';
          return { jql, total: null, issues: [], browse_url: jql ? browseUrl(jql) : '', ...rendered };
        }
        // Only the project's issue types (and its service desk's request types) are read.
        const desks = Object.values(kinds ?? {}).flatMap((k) => ('service_desk' in k ? [k.service_desk] : []));
        const catalog = await opts.preview.catalog?.(connection, {
          ...NO_NEEDS,
          projects: [project],
          serviceDesks: desks.length ? [...desks, project] : [],
        });
        if (catalog) {
          const issues = catalogProblems({ project, kinds }, catalog);
          if (issues.length) {
            throw new AppError('VALIDATION_FAILED', `${issues[0]!.path}: ${issues[0]!.message}`, {
              details: { issues },
            });
          }
        }
        const jql = mappingJql({ project, kinds, filter }, catalog);
        let page: Awaited<ReturnType<JiraClient['searchJql']>>;
        try {
          page = await client.searchJql(jql, { maxResults: PREVIEW_LIMIT, fields: ['summary', 'status'] });
        } catch (err) {
          // The filter is the admin's JQL: a query Jira refuses is a 400 naming it, with Jira's words.
          const message = filter ? jqlRefusal(err) : null;
          if (message === null) throw err;
          throw new AppError('VALIDATION_FAILED', `body.filter: ${message}`, {
            details: { issues: [{ path: 'body.filter', message }] },
          });
        }
        let total: number | null = page.total ?? null;
        if (total === null) {
          if (page.isLast) total = page.issues.length;
          else {
            // Cloud's enhanced search has no total: ask for the approximate count.
            const r = await client.transport
              .request<{ count?: number }>({
                method: 'POST',
                route: `${client.apiPath}/search/approximate-count`,
                body: { jql: jql.replace(/ ORDER BY .*$/, '') },
                idempotent: true,
              })
              .catch(() => undefined);
            total = typeof r?.body?.count === 'number' ? r.body.count : null;
          }
        }
        return {
          jql,
          total,
          issues: page.issues.slice(0, PREVIEW_LIMIT).map((i) => ({
            key: i.key,
            summary: typeof i.fields.summary === 'string' ? i.fields.summary : '',
            status: statusName(i.fields),
          })),
          browse_url: browseUrl(jql),
          ...rendered,
        };
      },
    );
  };
}
