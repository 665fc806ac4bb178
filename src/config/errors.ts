import { AppError } from '../core/errors.js';

export interface ConfigIssue {
  /** Exact location, e.g. `mappings[1].priority.out.Critical`. */
  path: string;
  message: string;
}

/** Every problem of a configuration at once, so one run shows them all. */
export class ConfigError extends AppError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[], source?: string | null) {
    const where = source ? ` (${source})` : '';
    super('CONFIG_INVALID', `The configuration is invalid${where}: ${issues.length} problem(s)`, {
      details: { issues },
    });
    this.name = 'ConfigError';
    this.issues = issues;
  }

  format(): string {
    return this.issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('\n');
  }
}

/** `['mappings', 1, 'priority']` → `mappings[1].priority`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/** Levenshtein distance, for "did you mean" hints on misspelt keys and values. */
export function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}
