import { describe, expect, it } from 'vitest';
import { healthAfter, type ConnectionHealth } from '../../src/engine/engine.js';

/**
 * The health rule (pure): the soak (test/engine/crash-soak.test.ts, PostgreSQL, seed 210961) saw
 * a connection go paused → healthy → paused within one 4 s credential outage: a job whose Jira
 * call was answered just before the outage ended after another job's 401 and reported the
 * credentials working.
 */
describe('connection health after a job’s report', () => {
  const paused: ConnectionHealth = { healthy: false, problem: '401', since: 1_000 };

  it('a job that began before the pause does not resume it, whatever it was answered', () => {
    expect(healthAfter(paused, null, 900, 1_200)).toEqual({ next: paused, transition: null });
  });

  it('a job that began after the pause (the probe) resumes it', () => {
    expect(healthAfter(paused, null, 1_100, 1_200)).toEqual({
      next: { healthy: true, problem: null, since: 1_200 },
      transition: 'healthy',
    });
  });

  it('a rejected credential pauses once; more rejections keep the pause and its start', () => {
    const first = healthAfter(undefined, '401', 500, 1_000);
    expect(first).toEqual({ next: paused, transition: 'paused' });
    expect(healthAfter(first.next, '401 again', 1_500, 2_000)).toEqual({
      next: { healthy: false, problem: '401 again', since: 1_000 },
      transition: null,
    });
  });

  it('a healthy connection stays healthy without a transition (a report outside a job too)', () => {
    const ok: ConnectionHealth = { healthy: true, problem: null, since: 10 };
    expect(healthAfter(ok, null, undefined, 50)).toEqual({ next: ok, transition: null });
    expect(healthAfter(undefined, null, undefined, 50)).toEqual({
      next: { healthy: true, problem: null, since: 50 },
      transition: null,
    });
  });

  it('the interleaving of the soak, in order: one pause and one resume', () => {
    const transitions: string[] = [];
    let h: ConnectionHealth | undefined;
    const report = (problem: string | null, began: number, at: number): void => {
      const r = healthAfter(h, problem, began, at);
      h = r.next;
      if (r.transition) transitions.push(r.transition);
    };
    report('401', 1_900, 2_000); // job B, begun in the outage
    report(null, 1_800, 2_050); // job A, answered before the outage, ends after B
    report('401', 2_100, 2_200); // job C
    report(null, 6_500, 6_600); // the probe after the outage
    expect(transitions).toEqual(['paused', 'healthy']);
  });
});
