import { describe, expect, it } from 'vitest';
import { faultPhases, runSoak } from '../../bench/soak-driver.js';

/**
 * A short run of the fault soak (bench/soak.ts runs it for minutes): the whole service against
 * the sandbox with 5xx errors throughout, a phase of latency spikes (0.8–2 s per call), a 429
 * storm, credentials expired for a while, and dropped, duplicated, delayed and reordered
 * webhooks, while the host and a Jira user both keep editing. The sandbox's own call counts show
 * the faults really happened; afterwards every record must equal its issue, with nothing doubled
 * or lost.
 */
describe('fault soak (short)', () => {
  it('the schedule covers the run without gaps and has each fault phase', () => {
    const phases = faultPhases(10, 1);
    expect(phases[0]!.from).toBe(0);
    expect(phases.at(-1)!.to).toBe(10_000);
    for (let i = 1; i < phases.length; i++) expect(phases[i]!.from).toBe(phases[i - 1]!.to);
    const by = (name: string) => phases.find((p) => p.name === name)!;
    expect(by('latency-spikes').knobs.latencyMs).toBeGreaterThanOrEqual(800);
    expect(by('429-storm').knobs.rateLimit!.capacity).toBeLessThan(by('baseline').knobs.rateLimit!.capacity);
    expect(by('expired-auth').to - by('expired-auth').from).toBe(1000);
    expect(phases.every((p) => p.knobs.errorRate > 0)).toBe(true);
    expect(phases.filter((p) => p.neighbourPerSecond > 0).map((p) => p.name)).toEqual(['429-storm']);
    expect(faultPhases(10, 0).some((p) => p.name === 'expired-auth')).toBe(false);
  });

  it('ends converged: every record matches its issue, no duplicate issue, every comment exactly once, no stuck job', async () => {
    const r = await runSoak({ seconds: 10, records: 6, expiredAuthSeconds: 1, seed: 7, errorRate: 0.1 });
    expect(r.hostChanges).toBeGreaterThan(10);
    expect(r.jiraChanges).toBeGreaterThan(10);
    expect(r.hostComments + r.jiraComments).toBeGreaterThan(5);
    // The faults really happened: the sandbox answered 429, 5xx and 401 (its call counts).
    expect(r.rejected429).toBeGreaterThan(0);
    expect(r.failed5xx).toBeGreaterThan(0);
    expect(r.unauthorized401).toBeGreaterThan(0);
    expect(r.webhooksDropped).toBeGreaterThan(0);
    const phase = (name: string) => r.phases.filter((p) => p.name === name);
    const calls = (name: string, status?: string) =>
      phase(name).reduce(
        (n, p) => n + Object.entries(p.byStatus).reduce((m, [s, c]) => m + (!status || s === status ? c : 0), 0),
        0,
      );
    expect(phase('latency-spikes')).toHaveLength(1);
    expect(calls('latency-spikes')).toBeGreaterThan(0);
    expect(calls('429-storm', '429')).toBeGreaterThan(0);
    // The neighbour spent the bucket during the storm (and only then); its calls are not the bridge's.
    expect(phase('429-storm')[0]!.neighbour['200']).toBeGreaterThan(0);
    expect(r.phases.filter((p) => p.name !== '429-storm').every((p) => !Object.keys(p.neighbour).length)).toBe(true);
    expect(calls('expired-auth', '401')).toBeGreaterThan(0);
    // And nothing shows.
    expect(r.mismatches).toEqual([]);
    expect(r.duplicateIssues).toBe(0);
    expect(r.commentProblems).toEqual([]);
    expect(r.stuckJobs).toBe(0);
  }, 240_000);
});
