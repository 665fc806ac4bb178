/** Counts REST calls by method + route template + status, so tests can assert what a client spent. */

export interface CallRecord {
  method: string;
  route: string;
  status: number;
  count: number;
}

export interface CallFilter {
  method?: string;
  /** Route template as registered, e.g. /rest/api/3/issue/:issueIdOrKey */
  route?: string;
  status?: number;
}

export class CallCounter {
  private readonly counts = new Map<string, CallRecord>();

  record(method: string, route: string, status: number): void {
    const key = `${method} ${route} ${status}`;
    const rec = this.counts.get(key);
    if (rec) rec.count += 1;
    else this.counts.set(key, { method, route, status, count: 1 });
  }

  /** All counters, sorted by route then method then status. */
  snapshot(): CallRecord[] {
    return [...this.counts.values()]
      .map((r) => ({ ...r }))
      .sort((a, b) => a.route.localeCompare(b.route) || a.method.localeCompare(b.method) || a.status - b.status);
  }

  /** Sum of calls matching the filter (all calls without one). */
  count(filter: CallFilter = {}): number {
    let n = 0;
    for (const r of this.counts.values()) {
      if (filter.method !== undefined && r.method !== filter.method.toUpperCase()) continue;
      if (filter.route !== undefined && r.route !== filter.route) continue;
      if (filter.status !== undefined && r.status !== filter.status) continue;
      n += r.count;
    }
    return n;
  }

  reset(): void {
    this.counts.clear();
  }
}
