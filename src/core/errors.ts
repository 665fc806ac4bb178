/**
 * The single catalogue of coded errors. Every error the service reports — to an API caller, in a
 * job's last_error, in the CLI — is one of these codes, with its HTTP status and whether a retry
 * could succeed. Pure: no I/O, importable from anywhere.
 */
export const ERRORS = {
  // --- API input ---------------------------------------------------------------------------
  VALIDATION_FAILED: { status: 400, retryable: false, message: 'The request is invalid' },
  BODY_TOO_LARGE: { status: 413, retryable: false, message: 'The request body is too large' },
  MALFORMED_JSON: { status: 400, retryable: false, message: 'The request body is not valid JSON' },
  UNAUTHENTICATED: { status: 401, retryable: false, message: 'A valid bearer token is required' },
  FORBIDDEN: { status: 403, retryable: false, message: 'This token may not do that' },
  SIGNATURE_MISMATCH: { status: 403, retryable: false, message: 'The webhook signature or token does not match' },
  NOT_FOUND: { status: 404, retryable: false, message: 'Not found' },
  CONFLICT: { status: 409, retryable: false, message: 'The resource changed or already exists' },
  RATE_LIMITED: { status: 429, retryable: true, message: 'Too many requests' },
  // --- configuration -------------------------------------------------------------------------
  CONFIG_INVALID: { status: 400, retryable: false, message: 'The configuration is invalid' },
  MAPPING_NOT_FOUND: { status: 422, retryable: false, message: 'No mapping covers this record' },
  // --- Jira ----------------------------------------------------------------------------------
  JIRA_UNAUTHORIZED: { status: 502, retryable: false, message: 'Jira rejected the credentials (401)' },
  JIRA_FORBIDDEN: { status: 502, retryable: false, message: 'Jira denied permission (403)' },
  JIRA_NOT_FOUND: { status: 502, retryable: false, message: 'Jira does not know this resource (404)' },
  JIRA_BAD_REQUEST: { status: 502, retryable: false, message: 'Jira rejected the request (400)' },
  JIRA_RATE_LIMITED: { status: 503, retryable: true, message: 'Jira is rate limiting this connection (429)' },
  JIRA_UNAVAILABLE: { status: 503, retryable: true, message: 'Jira is unavailable (5xx)' },
  JIRA_NETWORK: { status: 503, retryable: true, message: 'Jira could not be reached' },
  JIRA_TLS: { status: 502, retryable: false, message: 'The TLS certificate of Jira could not be verified' },
  JIRA_TRANSITION_UNAVAILABLE: {
    status: 409,
    retryable: false,
    message: 'No Jira transition reaches the target status',
  },
  JIRA_MOVED_CONCURRENTLY: {
    status: 409,
    retryable: true,
    message: 'Someone moved the Jira issue while it was being synced; the sync runs again on a fresh read',
  },
  // --- service ---------------------------------------------------------------------------------
  STORE_UNAVAILABLE: { status: 503, retryable: true, message: 'The store is unavailable' },
  SHUTTING_DOWN: { status: 503, retryable: true, message: 'The service is shutting down' },
  INTERNAL: { status: 500, retryable: true, message: 'Internal error' },
  // --- queue -----------------------------------------------------------------------------------
  JOB_LEASE_EXPIRED: {
    status: 500,
    retryable: true,
    message: 'The worker running this job stopped before finishing it (lease expired)',
  },
  JOB_HANDLER_MISSING: { status: 500, retryable: false, message: 'No handler is registered for this job kind' },
  JOB_PUT_BACK: {
    status: 503,
    retryable: true,
    message: 'The job was put back in the queue until its Jira connection has budget again (no attempt spent)',
  },
  // --- HTTP shell ------------------------------------------------------------------------------
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    retryable: false,
    message: 'The request body must be JSON (Content-Type: application/json)',
  },
  JSON_TOO_DEEP: { status: 400, retryable: false, message: 'The request body is nested too deeply' },
  NOT_READY: { status: 503, retryable: true, message: 'The service is not ready' },
} as const satisfies Record<string, { status: number; retryable: boolean; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: unknown;
  /** For retryable errors: the earliest moment a retry makes sense (e.g. Jira's Retry-After). */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: ErrorCode,
    message?: string,
    opts: { details?: unknown; retryAfterMs?: number; retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message ?? ERRORS[code].message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.retryable = opts.retryable ?? ERRORS[code].retryable;
    this.details = opts.details;
    this.retryAfterMs = opts.retryAfterMs;
  }

  toJSON(): { code: ErrorCode; message: string; details?: unknown } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/** Whether a failure should be retried: coded errors say so; unknown errors are assumed transient. */
export function isRetryable(e: unknown): boolean {
  return isAppError(e) ? e.retryable : true;
}

/**
 * ms until a job whose handler failed with `e` should run again when the failure asks for the job
 * to be put back (JOB_PUT_BACK, itself or as the cause of what the handler threw): its connection
 * had no Jira budget for the next call, which was not sent. The worker then returns the job to the
 * queue until then without counting the attempt (src/queue/worker.ts). Null for any other failure.
 */
export function putBackDelayMs(e: unknown): number | null {
  for (let err = e, depth = 0; err && depth < 8; depth++) {
    if (isAppError(err) && err.code === 'JOB_PUT_BACK') return Math.max(0, err.retryAfterMs ?? 0);
    err = (err as { cause?: unknown }).cause;
  }
  return null;
}

/**
 * A 400 for one request field the schema could not check (a cursor's contents), worded and shaped
 * as schema validation words its own (`The request is invalid: <path>: <text>`, one issue).
 */
export function invalidField(path: string, issue: string, text: string): AppError {
  return new AppError('VALIDATION_FAILED', `The request is invalid: ${path}: ${text}`, {
    details: { issues: [{ path, message: issue }] },
  });
}
