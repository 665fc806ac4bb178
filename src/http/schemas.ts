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
