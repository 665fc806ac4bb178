import { describe, expect, it } from 'vitest';
import { runSoak } from '../../bench/soak-driver.js';

/**
 * A short run of the fault soak (bench/soak.ts runs it for minutes): the whole service against
 * the sandbox with 5xx errors, latency spikes, a tight rate limit, credentials expired for a
 * while, and dropped, duplicated, delayed and reordered webhooks, while the host and a Jira user
 * both keep editing. Afterwards every record must equal its issue, with nothing doubled or lost.
 */
describe('fault soak (short)', () => {
  it('ends converged: every record matches its issue, no duplicate issue, every comment exactly once, no stuck job', async () => {
    const r = await runSoak({ seconds: 8, records: 6, expiredAuthSeconds: 1, seed: 7 });
    expect(r.hostChanges).toBeGreaterThan(10);
    expect(r.jiraChanges).toBeGreaterThan(10);
    expect(r.hostComments + r.jiraComments).toBeGreaterThan(5);
    // The faults really happened.
    expect(r.unauthorized401).toBeGreaterThan(0);
    expect(r.webhooksDropped).toBeGreaterThan(0);
    // And nothing shows.
    expect(r.mismatches).toEqual([]);
    expect(r.duplicateIssues).toBe(0);
    expect(r.commentProblems).toEqual([]);
    expect(r.stuckJobs).toBe(0);
  }, 240_000);
});
