import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, ERRORS, isAppError, type ErrorCode } from '../core/errors.js';

/** The one error body every endpoint returns: `{ error: { code, message, details? } }`. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

export interface FieldIssue {
  /** Where: `body.mappings[1].priority`, `querystring.limit`, `params.id`. */
  path: string;
  message: string;
}

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message?: string;
  validation?: unknown;
  validationContext?: string;
}

/** `['mappings', 1, 'priority']` → `mappings[1].priority`. */
export function formatPath(prefix: string, segments: readonly PropertyKey[]): string {
  let out = prefix;
  for (const seg of segments) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

interface ZodLikeIssue {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: { keys?: string[]; expected?: string; origin?: string };
}

function issuesFromValidation(err: FastifyLikeError): FieldIssue[] {
  const context = err.validationContext ?? 'body';
  const list = (Array.isArray(err.validation) ? err.validation : []) as ZodLikeIssue[];
  const out: FieldIssue[] = [];
  for (const v of list) {
    const segments = (v.instancePath ?? '/')
      .split('/')
      .slice(1)
      .filter((s) => s !== '')
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    if (v.keyword === 'unrecognized_keys' && Array.isArray(v.params?.keys)) {
      for (const key of v.params.keys) {
        out.push({ path: formatPath(context, [...segments, key]), message: 'unknown field; remove it' });
      }
      continue;
    }
    out.push({ path: formatPath(context, segments), message: v.message ?? 'invalid value' });
  }
  return out;
}

function describeIssues(issues: FieldIssue[]): string {
  const shown = issues.slice(0, 3).map((i) => `${i.path}: ${i.message}`);
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : '';
  return `The request is invalid: ${shown.join('; ')}${more}`;
}

/**
 * Maps anything thrown in a request to a coded error from the catalogue. Unknown errors become
 * INTERNAL with a generic message: their text and stack go to the log, never to the caller.
 */
export function toAppError(err: unknown, opts: { bodyLimit?: number } = {}): AppError {
  if (isAppError(err)) return err;
  const e = (err ?? {}) as FastifyLikeError;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issues = issuesFromValidation(e);
    return new AppError('VALIDATION_FAILED', describeIssues(issues), { details: { issues } });
  }
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('MALFORMED_JSON', 'The request body is not valid JSON; check quotes, commas and brackets');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('MALFORMED_JSON', 'The request body is empty but Content-Type says JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError(
        'BODY_TOO_LARGE',
        opts.bodyLimit
          ? `The request body is larger than the limit of ${opts.bodyLimit} bytes`
          : ERRORS.BODY_TOO_LARGE.message,
        opts.bodyLimit ? { details: { limit_bytes: opts.bodyLimit } } : {},
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('VALIDATION_FAILED', 'The request body size did not match Content-Length');
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_INVALID_URL':
      return new AppError('VALIDATION_FAILED', 'The request URL is malformed');
    case 'FST_ERR_NOT_FOUND':
      return new AppError('NOT_FOUND');
    default:
      break;
  }
  if (Array.isArray(e.validation)) {
    // A schema that is not zod (plain JSON schema): still report each field.
    const issues = (e.validation as Array<{ instancePath?: string; message?: string }>).map((v) => ({
      path: formatPath(e.validationContext ?? 'body', (v.instancePath ?? '').split('/').filter(Boolean)),
      message: v.message ?? 'invalid value',
    }));
    return new AppError('VALIDATION_FAILED', describeIssues(issues), { details: { issues } });
  }
  const status = e.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 404) return new AppError('NOT_FOUND');
    if (status === 413) return new AppError('BODY_TOO_LARGE');
    if (status === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE');
    if (status === 429) return new AppError('RATE_LIMITED');
    // Framework 4xx messages are written for callers and hold no secrets.
    return new AppError('VALIDATION_FAILED', e.message || ERRORS.VALIDATION_FAILED.message);
  }
  return new AppError('INTERNAL', ERRORS.INTERNAL.message, { cause: err });
}

export function errorBody(err: AppError, requestId?: string): ErrorBody {
  const details =
    err.code === 'INTERNAL'
      ? { request_id: requestId } // the caller's handle into our logs; nothing else leaks
      : err.details;
  return details === undefined
    ? { error: { code: err.code, message: err.message } }
    : { error: { code: err.code, message: err.message, details } };
}
