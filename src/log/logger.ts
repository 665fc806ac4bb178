import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths whose values are never written to a log line. Secrets are also kept out of log
 * objects by construction (connections are logged by id), this is the second fence.
 */
export const REDACT_PATHS = [
  'password',
  'token',
  'apiToken',
  'secret',
  'accessToken',
  'refreshToken',
  'authorization',
  '*.password',
  '*.token',
  '*.apiToken',
  '*.secret',
  '*.webhookSecret',
  '*.accessToken',
  '*.refreshToken',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-hub-signature"]',
  'headers.authorization',
  'credentials',
  '*.credentials',
];

export interface LogOptions {
  level?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to read lines back. */
  destination?: NodeJS.WritableStream;
  name?: string;
}

/** Structured JSON logs, quiet by default (info), never containing a secret. */
export function createLogger(opts: LogOptions = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? process.env.LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info'),
    name: opts.name ?? 'jira-bridge',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return opts.destination ? pino(options, opts.destination as pino.DestinationStream) : pino(options);
}
