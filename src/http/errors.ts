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
  params?: { keys?: string[]; expected?: string; origin?: string; errors?: RawZodIssue[][] };
}

/** A zod issue as zod reports it (inside a union's branches). */
interface RawZodIssue {
  code?: string;
  path?: PropertyKey[];
  message?: string;
  keys?: string[];
  expected?: string;
  errors?: RawZodIssue[][];
}

const withArticle = (noun: string): string => (/^[aeiou]/i.test(noun) ? `an ${noun}` : `a ${noun}`);

/**
 * zod's generic wording ("Invalid input: expected string, received number") said plainly:
 * "expected a string, got a number", or "required (a string)" for a missing field. Messages a
 * schema wrote itself are kept.
 */
function plainMessage(code: string | undefined, message: string | undefined, expected: string | undefined): string {
  const m = message ?? 'invalid value';
  if (code === 'invalid_type' && expected && m.startsWith('Invalid input')) {
    const received = /received (\w+)/.exec(m)?.[1];
    if (received === 'undefined') return `required (${withArticle(expected)})`;
    return received
      ? `expected ${withArticle(expected)}, got ${withArticle(received)}`
      : `expected ${withArticle(expected)}`;
  }
  if (code === 'invalid_union' && m === 'Invalid input') return 'matches none of the accepted forms';
  return m;
}

/**
 * The branch of a union the caller most likely meant: one that knows every key sent (no
 * "unrecognized key" at its root), with the fewest complaints.
 */
function likelyBranch(branches: RawZodIssue[][]): RawZodIssue[] | undefined {
  const fits = branches.filter((b) => !b.some((i) => i.code === 'unrecognized_keys' && (i.path ?? []).length === 0));
  const pool = fits.length ? fits : branches;
  return [...pool].sort((a, b) => a.length - b.length)[0];
}

function pushIssue(out: FieldIssue[], prefix: string, segments: PropertyKey[], issue: RawZodIssue): void {
  if (issue.code === 'unrecognized_keys' && Array.isArray(issue.keys)) {
    for (const key of issue.keys) {
      out.push({ path: formatPath(prefix, [...segments, key]), message: 'unknown field; remove it' });
    }
    return;
  }
  out.push({ path: formatPath(prefix, segments), message: plainMessage(issue.code, issue.message, issue.expected) });
  if (issue.code === 'invalid_union' && Array.isArray(issue.errors)) {
    // Which form failed how: the branch the caller most likely meant, each field named.
    const branch = likelyBranch(issue.errors);
    const rootOnly = issue.errors.every((b) =>
      b.every((i) => (i.path ?? []).length === 0 && i.code === 'invalid_type'),
    );
    if (branch && !rootOnly) for (const i of branch) pushIssue(out, prefix, [...segments, ...(i.path ?? [])], i);
    else if (branch?.[0])
      out.push({
        path: formatPath(prefix, segments),
        message: plainMessage(branch[0].code, branch[0].message, branch[0].expected),
      });
  }
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
    pushIssue(out, context, segments, {
      code: v.keyword,
      message: v.message,
      ...(v.params?.keys ? { keys: v.params.keys } : {}),
      ...(v.params?.expected ? { expected: v.params.expected } : {}),
      ...(v.params?.errors ? { errors: v.params.errors } : {}),
    });
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
