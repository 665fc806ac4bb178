import { isAppError } from '../core/errors.js';

export interface Out {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export const processOut: Out = { stdout: process.stdout, stderr: process.stderr };

export function line(stream: NodeJS.WritableStream, text = ''): void {
  stream.write(`${text}\n`);
}

interface Issue {
  path: string;
  message: string;
}

/** The configuration loader's issues, when `err` is its CONFIG_INVALID error. */
export function configIssues(err: unknown): Issue[] | undefined {
  if (!isAppError(err) || err.code !== 'CONFIG_INVALID') return undefined;
  const issues = (err.details as { issues?: unknown } | undefined)?.issues;
  if (!Array.isArray(issues)) return [];
  return issues.filter((i): i is Issue => typeof i === 'object' && i !== null && typeof (i as Issue).path === 'string');
}

/**
 * Prints a CONFIG_INVALID error: a headline, then one `path: message` line per issue.
 * Returns false when `err` is not a configuration error.
 */
export function printConfigError(err: unknown, out: Out): boolean {
  const issues = configIssues(err);
  if (issues === undefined || !isAppError(err)) return false;
  line(out.stderr, err.message);
  for (const i of issues) line(out.stderr, `  ${i.path || '(root)'}: ${i.message}`);
  return true;
}

/** One line for an unexpected error: coded errors by code and message, others by message. */
export function describeError(err: unknown): string {
  if (isAppError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
