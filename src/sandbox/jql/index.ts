/** The sandbox's JQL engine: parse once, compile against a context, evaluate over issues. */
export { parseJql, tokenize } from './parser.js';
export { compileJql } from './compile.js';
export { parseAppWebhookJql } from './app-webhook.js';
export { parseAbsolute, parsePeriod } from './dates.js';
export * from './types.js';

import { compileJql } from './compile.js';
import { parseJql } from './parser.js';
import type { JqlContext, JqlIssue } from './types.js';

/** Convenience: parse, compile, filter and sort `issues` in one call. Throws JqlError. */
export function searchJql(jql: string, issues: readonly JqlIssue[], ctx: JqlContext): JqlIssue[] {
  const compiled = compileJql(parseJql(jql), ctx);
  return issues.filter((i) => compiled.matches(i)).sort((a, b) => compiled.compare(a, b));
}
