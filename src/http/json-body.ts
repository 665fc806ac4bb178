import type { FastifyInstance } from 'fastify';
import { AppError } from '../core/errors.js';

export const DEFAULT_MAX_JSON_DEPTH = 64;

/**
 * Nesting depth of a JSON text, found by one pass over its brackets (strings skipped), before it
 * is parsed: a hostile body of a million `[` costs O(n) here instead of a deep parse and walk.
 * Returns as soon as `limit` is exceeded.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > limit) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return false;
}

/**
 * Replaces Fastify's JSON parser with the same secure parser (prototype-poisoning keys rejected)
 * behind a depth limit. An empty body with a JSON content type is treated as no body, so
 * `curl -X POST -H 'content-type: application/json'` on a body-less action works.
 */
export function installJsonParser(app: FastifyInstance, maxDepth: number): void {
  const secureParse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    if (jsonDepthExceeds(text, maxDepth)) {
      done(new AppError('JSON_TOO_DEEP', `The request body is nested deeper than ${maxDepth} levels`), undefined);
      return;
    }
    secureParse(req, text, done);
  });
}
