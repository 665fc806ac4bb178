/**
 * Paging of the admin API's in-memory lists (connections, mappings: a platform holds thousands).
 * Pure: the items, a filter already applied, and the page asked for → the page and the cursor of
 * the next. Pages are in id order; the cursor is the last id given (opaque, base64url), so an
 * item added or removed between two pages neither repeats nor hides another.
 */
import { z } from 'zod';
import { invalidField } from '../core/errors.js';

export const MAX_PAGE = 1000;

/** The query of a paged list (limit and cursor; both absent: the whole list, as before paging). */
export const PageQuery = {
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE)
    .optional()
    .describe(`Page size (1–${MAX_PAGE}); with it (or a cursor) the list comes in id order with next_cursor`),
  cursor: z.string().min(1).max(2048).optional().describe('next_cursor of the previous page'),
};

export const encodePageCursor = (lastId: string): string =>
  Buffer.from(JSON.stringify({ after: lastId })).toString('base64url');

export function decodePageCursor(cursor: string): string {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof v.after === 'string') return v.after;
  } catch {
    // refused below
  }
  throw invalidField(
    'querystring.cursor',
    'not a next_cursor of this list',
    'not a cursor this list gave; pass next_cursor as it came, or omit it to start',
  );
}

/**
 * The page of `items` after `cursor`, `limit` long (default 100 once a cursor is given). Without
 * either, every item in the order given and `next_cursor` null.
 */
export function pageOf<T extends { id: string }>(
  items: readonly T[],
  q: { limit?: number | undefined; cursor?: string | undefined },
): { items: T[]; next_cursor: string | null } {
  if (q.limit === undefined && q.cursor === undefined) return { items: [...items], next_cursor: null };
  const limit = q.limit ?? 100;
  const after = q.cursor === undefined ? undefined : decodePageCursor(q.cursor);
  const sorted = [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const rest = after === undefined ? sorted : sorted.filter((x) => x.id > after);
  const page = rest.slice(0, limit);
  return { items: page, next_cursor: rest.length > limit ? encodePageCursor(page[page.length - 1]!.id) : null };
}

/** `?enabled=true|false` */
export const BoolQuery = z.enum(['true', 'false']).transform((v) => v === 'true');

/** Whether `text` holds `needle`, case-insensitively (no needle: yes). */
export const contains = (text: string, needle: string | undefined): boolean =>
  needle === undefined || text.toLowerCase().includes(needle.toLowerCase());
