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

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lossyUtf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** The text of a UTF-8 body, or null when it is not valid UTF-8 (never repaired). */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * The offset of the first byte that is not valid UTF-8 (or -1). The lossy decoding agrees with
 * the bytes up to the first bad sequence, so its first U+FFFD that the bytes do not spell out
 * (EF BF BD) marks it.
 */
export function firstInvalidUtf8Byte(bytes: Buffer): number {
  const text = lossyUtf8.decode(bytes);
  let from = 0;
  for (;;) {
    const i = text.indexOf('\uFFFD', from);
    if (i < 0) return -1;
    const at = Buffer.byteLength(text.slice(0, i), 'utf8');
    if (!(bytes[at] === 0xef && bytes[at + 1] === 0xbf && bytes[at + 2] === 0xbd)) return at;
    from = i + 1;
  }
}

/**
 * Replaces Fastify's JSON parser with the same secure parser (prototype-poisoning keys rejected)
 * behind a depth limit, over the body's bytes decoded as strict UTF-8 (invalid UTF-8 is a 400
 * naming the byte, never replaced by U+FFFD). An empty body with a JSON content type is treated as no body, so
 * `curl -X POST -H 'content-type: application/json'` on a body-less action works.
 */
export function installJsonParser(app: FastifyInstance, maxDepth: number): void {
  const secureParse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const text = decodeUtf8(body as Buffer);
    if (text === null) {
      const at = firstInvalidUtf8Byte(body as Buffer);
      const message = `the body is not valid UTF-8 at byte ${at}; send JSON encoded as UTF-8`;
      done(
        new AppError('VALIDATION_FAILED', `body: ${message}`, { details: { issues: [{ path: 'body', message }] } }),
        undefined,
      );
      return;
    }
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
