import type { FastifyInstance } from 'fastify';
import { AppError } from '../core/errors.js';

/**
 * Where the first NUL character (U+0000) is in a parsed value, as a path (`body.comments[2].body`,
 * `querystring.kind`), or undefined. Keys count too. Buffers (raw webhook bodies) are not text.
 */
export function findNul(value: unknown, path: string, depth = 0): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value) || depth > 100) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findNul(value[i], `${path}[${i}]`, depth + 1);
      if (hit) return hit;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k.includes('\u0000')) return `${path} (a key)`;
    const hit = findNul(v, `${path}.${k}`, depth + 1);
    if (hit) return hit;
  }
  return undefined;
}

export const nulMessage = 'contains a NUL character (U+0000), which neither the store nor Jira can keep; remove it';

/**
 * No NUL character gets past validation, in a path parameter, the query string or a JSON body: a
 * 400 naming where it is, on both engines alike (PostgreSQL cannot store one in text; SQLite
 * would keep it and Jira would refuse it later, far from its cause).
 */
export function installNulGuard(app: FastifyInstance): void {
  app.addHook('preValidation', async (req) => {
    const hit = findNul(req.params, 'params') ?? findNul(req.query, 'querystring') ?? findNul(req.body, 'body');
    if (hit) {
      throw new AppError('VALIDATION_FAILED', `${hit}: ${nulMessage}`, {
        details: { issues: [{ path: hit, message: nulMessage }] },
      });
    }
  });
}
