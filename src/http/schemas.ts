import { z } from 'zod';
import { ERRORS, type ErrorCode } from '../core/errors.js';

/**
 * Schemas shared by every route group. Route files declare their own request/response schemas
 * with zod (strict objects: unknown fields are rejected) and reuse these for errors, so the
 * OpenAPI document describes the one error shape everywhere.
 */
const codes = Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]];

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(codes).describe('Stable machine-readable code from the error catalogue'),
      message: z.string().describe('Human-readable explanation naming the field and the fix'),
      details: z
        .unknown()
        .optional()
        .describe('Code-specific details, e.g. `{ issues: [{ path, message }] }` for VALIDATION_FAILED'),
    }),
  })
  .meta({ id: 'Error' });

/** Standard error responses to spread into a route's `response` map. */
export function errorResponses<S extends number>(...statuses: S[]): Record<S, typeof ErrorSchema> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorSchema])) as Record<S, typeof ErrorSchema>;
}

export const ReadinessSchema = z
  .object({
    ready: z.boolean(),
    checks: z.record(z.string(), z.object({ ok: z.boolean(), detail: z.string().optional() })),
  })
  .meta({ id: 'Readiness' });

/**
 * The Jira user behind a Jira-origin change (`data.jira_user` of the change feed and the host
 * webhooks, `fields.jira_user` of the record's sync log): who triggered it in Jira.
 */
export const JiraUserSchema = z
  .object({
    account_id: z.string().optional().describe('Jira Cloud: the user’s accountId'),
    name: z.string().optional().describe('Jira Data Center: the user name'),
    key: z.string().optional().describe('Jira Data Center: the user key'),
    display_name: z.string(),
    email_address: z
      .string()
      .optional()
      .describe('Only where Jira shows it (Cloud hides it unless the user’s profile makes it visible)'),
  })
  .meta({ id: 'JiraUser' });

/** The data of a change-feed event (and of a host webhook): origin, what changed, and who. */
export const ChangeDataSchema = z
  .looseObject({
    origin: z.string().optional().describe('host | jira: which side the change came from'),
    jira_user: JiraUserSchema.optional().describe(
      'origin jira: the Jira user who made the change (the delivery’s user, the comment’s author, or the changelog entry’s author for changes the sweep found); absent when Jira named nobody',
    ),
  })
  .describe('origin, changed fields, issue key, jira_user (origin jira), …')
  .meta({ id: 'ChangeData' });
