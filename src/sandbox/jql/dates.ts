/**
 * JQL date operands: absolute dates ("2026-01-02", "2026/01/02 10:00"), relative periods
 * ("-5m", "-1d", "-2w", "4w 2d") and date functions (now(), startOfDay("-1d"), endOfDay() …).
 * Times are interpreted in UTC (the sandbox's users all use UTC for JQL).
 */
import { JqlError } from './types.js';

const UNIT_MS: Record<string, number> = {
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

const DAY = 86_400_000;

export function invalidDate(value: string, field: string): JqlError {
  return new JqlError(
    `Date value '${value}' for field '${field}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.`,
  );
}

/** Parses a relative period such as "-5m", "+1d", "4w 2d" into milliseconds, or undefined. */
export function parsePeriod(text: string): number | undefined {
  const trimmed = text.trim();
  const m = /^([+-])?\s*((?:\d+\s*[wdhm]\s*)+)$/iu.exec(trimmed);
  if (!m) return undefined;
  const sign = m[1] === '-' ? -1 : 1;
  let total = 0;
  for (const part of (m[2] as string).matchAll(/(\d+)\s*([wdhm])/giu)) {
    total += Number(part[1]) * (UNIT_MS[(part[2] as string).toLowerCase()] as number);
  }
  return sign * total;
}

/** Parses "yyyy-MM-dd", "yyyy/MM/dd" with an optional " HH:mm" into epoch ms (UTC), or undefined. */
export function parseAbsolute(text: string): number | undefined {
  const m = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?$/u.exec(text.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0)];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59) return undefined;
  const t = Date.UTC(y, mo - 1, d, h, mi);
  const check = new Date(t);
  if (check.getUTCDate() !== d) return undefined;
  return t;
}

function startOf(unit: 'day' | 'week' | 'month' | 'year', t: number): number {
  const d = new Date(t);
  switch (unit) {
    case 'day':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    case 'week':
      // Jira's weeks start on Sunday by default.
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - d.getUTCDay());
    case 'month':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    case 'year':
      return Date.UTC(d.getUTCFullYear(), 0, 1);
  }
}

function endOf(unit: 'day' | 'week' | 'month' | 'year', t: number): number {
  const d = new Date(startOf(unit, t));
  switch (unit) {
    case 'day':
      return d.getTime() + DAY - 1;
    case 'week':
      return d.getTime() + 7 * DAY - 1;
    case 'month':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - 1;
    case 'year':
      return Date.UTC(d.getUTCFullYear() + 1, 0, 1) - 1;
  }
}

const FUNCTIONS = /^(start|end)of(day|week|month|year)$/iu;

export function isDateFunction(name: string): boolean {
  return name.toLowerCase() === 'now' || FUNCTIONS.test(name);
}

/** Evaluates a date function call at `now`; throws JqlError for a bad argument. */
export function evalDateFunction(name: string, args: string[], now: number): number {
  if (name.toLowerCase() === 'now') return now;
  const m = FUNCTIONS.exec(name);
  if (!m) throw new JqlError(`Unable to find JQL function '${name}()'.`);
  let base = now;
  if (args.length > 0) {
    const offset = parsePeriod(args[0] as string);
    if (offset === undefined) {
      throw new JqlError(
        `Function '${name}' expected a duration such as '-1d' or '+2w' but got '${args[0] as string}'.`,
      );
    }
    base += offset;
  }
  const unit = (m[2] as string).toLowerCase() as 'day' | 'week' | 'month' | 'year';
  return (m[1] as string).toLowerCase() === 'start' ? startOf(unit, base) : endOf(unit, base);
}

/** Resolves a literal date operand (absolute, relative, or epoch ms) for `field`. */
export function resolveDateLiteral(text: string, field: string, now: number): number {
  const abs = parseAbsolute(text);
  if (abs !== undefined) return abs;
  const period = parsePeriod(text);
  if (period !== undefined) return now + period;
  if (/^\d{10,}$/u.test(text)) return Number(text);
  throw invalidDate(text, field);
}
