import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ruleText } from '../../core/plan-outbound.js';
import type { Engine } from '../../engine/engine.js';
import { errorResponses } from '../schemas.js';
import { READ_OR_HOST } from '../auth.js';

const Params = z.strictObject({
  scope: z.string().min(1).max(200).describe("The host's scope (project / target / module)"),
  hostId: z.string().min(1).max(200).describe("The host's own id of the record"),
});

const Query = z.strictObject({
  read: z
    .enum(['store', 'jira'])
    .default('store')
    .describe('`store`: from the store alone (no Jira call); `jira`: with one read of the issue (conflicts seen)'),
});

const Rule = z.string().describe('The rule that decided (host_changed, host_newer, jira_newer, locked, unchanged, …)');

const PlanStepSchema = z
  .object({
    op: z
      .enum(['create', 'read', 'edit', 'transition', 'explore', 'rework', 'link', 'comment', 'attachment'])
      .describe('The Jira operation'),
    why: Rule,
    why_text: z.string().describe('The rule in words'),
    calls: z.number().int().describe('Jira calls the step costs'),
    expect: z.string().describe('The effect the step expects'),
    bases: z.array(z.string()).optional().describe('The agreed values (bases) it establishes'),
    issue: z.string().optional(),
    fields: z
      .union([
        z.array(z.string()),
        z.array(z.object({ key: z.string(), jira_field: z.string(), value: z.unknown(), rule: Rule })),
      ])
      .optional()
      .describe('create: the fields it sets; edit: each field with its value and rule'),
    search: z.boolean().optional().describe('create: looks for an issue an earlier attempt made first'),
    carried_by: z.string().optional().describe('edit: the transition it rides on (no call of its own)'),
    from: z.string().nullable().optional(),
    to: z.string().optional(),
    transition: z.string().nullable().optional().describe('transition: the workflow transition id'),
    screen_fields: z.record(z.string(), z.unknown()).optional().describe('transition: screen fields it fills'),
    carries: z.array(z.string()).optional().describe('transition: the edited fields riding on it'),
    version: z.number().int().optional(),
    url: z.string().optional(),
    post: z.number().int().optional(),
    edit: z.number().int().optional(),
    upload: z.number().int().optional(),
    interrupted: z.number().int().optional().describe('posts or uploads an earlier attempt may have made'),
  })
  .meta({ id: 'PlanStep' });

export const PlanSchema = z
  .object({
    record: z.object({ scope: z.string(), host_id: z.string(), id: z.string() }),
    issue_key: z.string().nullable(),
    mapping_id: z.string().nullable(),
    source: z.enum(['store', 'jira']).describe('Where the view of the issue comes from'),
    preview_calls: z.number().int().describe('Jira calls this preview spent (0, or 1 with read=jira)'),
    summary: z.string().describe('One line, e.g. "next sync: move SEC-12 Open → Resolved (2 hops) — 3 Jira calls"'),
    steps: z.array(PlanStepSchema),
    calls: z.number().int().describe('Jira calls the next sync would cost'),
    calls_exact: z.boolean().describe('false: a lower bound (the workflow must be explored, or a new issue read)'),
    idle: z.string().optional().describe('Why nothing is sent, when nothing is'),
    fields: z.array(
      z.object({
        key: z.string(),
        action: z.enum(['push', 'none', 'jira_wins']),
        rule: Rule,
        why_text: z.string(),
      }),
    ),
    status: z.object({
      action: z.string().describe('none | move | check | rework'),
      rule: Rule,
      from: z.string().optional(),
      to: z.string().optional(),
      hops: z.number().int().nullable().optional().describe('Known hops; null: to be explored'),
    }),
    conflicts: z.array(z.object({ field: z.string(), winner: z.string(), rule: z.string(), lost: z.unknown() })),
    warnings: z.array(z.string()),
  })
  .meta({ id: 'SyncPlan' });

export interface PlanRouteOptions {
  engine: Pick<Engine, 'planner'>;
}

/** `GET /api/v1/records/{scope}/{hostId}/plan`: what the next sync would do and why (issue 16). */
export const planPlugin: FastifyPluginAsync<PlanRouteOptions> = async (fastify, opts) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/api/v1/records/:scope/:hostId/plan',
    {
      config: READ_OR_HOST,
      schema: {
        tags: ['records'],
        summary: 'What the next sync of a record would do to its Jira issue, and why',
        description:
          'The ordered Jira operations the next outbound sync would make (create, read, edit, each transition hop ' +
          'with its screen fields, rework task, platform link, comments, attachments), the rule behind each ' +
          '(host_changed, host_newer, jira_newer, locked, unchanged, direction_off, …), the bases each establishes ' +
          'and the Jira calls it would cost. Writes nothing. `read=store` (default) answers from the store alone, ' +
          'taking the issue as last agreed; `read=jira` reads the issue once, so Jira-side changes and conflicts show.',
        params: Params,
        querystring: Query,
        response: { 200: PlanSchema, ...errorResponses(400, 404, 422) },
      },
    },
    async (req) => {
      const p = await opts.engine.planner.planFor(req.params.scope, req.params.hostId, {
        readJira: req.query.read === 'jira',
      });
      return {
        ...p,
        steps: p.steps.map((s) => ({ ...s, why_text: ruleText(s.why) })),
        fields: p.fields.map((f) => ({ key: f.key, action: f.action, rule: f.rule, why_text: ruleText(f.rule) })),
      };
    },
  );
};

export function planRoutes(opts: PlanRouteOptions): FastifyPluginAsync {
  return async (app) => {
    await app.register(planPlugin, opts);
  };
}
