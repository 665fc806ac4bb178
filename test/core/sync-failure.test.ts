/** Failure episodes (pure): the host hears once per episode and cause, and once when it ends. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  failureAdvice,
  failureStep,
  recovers,
  RETRY_REPORT_AFTER,
  type FailureKind,
  type StoredError,
} from '../../src/core/sync-failure.js';

type Attempt = { ok: true } | { ok: false; code: string; kind: FailureKind };

/** Runs attempts through the rules as the engine does; returns the events the host hears. */
function run(attempts: Attempt[]): string[] {
  let stored: StoredError | null = null;
  const events: string[] = [];
  attempts.forEach((a, t) => {
    if (a.ok) {
      if (recovers(stored)) events.push('recovered');
      stored = null;
      return;
    }
    const step = failureStep(stored, a.code, a.kind, t);
    if (step.report) events.push(`failed:${a.code}`);
    stored = { code: a.code, message: 'm', episode: step.episode };
  });
  return events;
}

describe('failure episodes', () => {
  it('a held record is reported at once, once; its success is reported once', () => {
    const held = { ok: false, code: 'SYNC_DISABLED', kind: 'held' } as const;
    expect(run([held, held, held, { ok: true }, { ok: true }])).toEqual(['failed:SYNC_DISABLED', 'recovered']);
  });
  it('transient failures are news only after RETRY_REPORT_AFTER in a row; a blip is never reported', () => {
    const blip = { ok: false, code: 'JIRA_RATE_LIMITED', kind: 'retry' } as const;
    expect(run([blip, { ok: true }])).toEqual([]);
    expect(run([...Array<Attempt>(RETRY_REPORT_AFTER + 2).fill(blip), { ok: true }])).toEqual([
      'failed:JIRA_RATE_LIMITED',
      'recovered',
    ]);
  });
  it('a new cause within an episode is told once more', () => {
    const held = { ok: false, code: 'SYNC_DISABLED', kind: 'held' } as const;
    const refused = { ok: false, code: 'JIRA_BAD_REQUEST', kind: 'failed' } as const;
    expect(run([held, refused, refused, { ok: true }])).toEqual([
      'failed:SYNC_DISABLED',
      'failed:JIRA_BAD_REQUEST',
      'recovered',
    ]);
  });
  it('property: at most one report per episode and cause, one when it must, and a recovery exactly after a reported episode', () => {
    const attempt = fc.oneof(
      fc.constant<Attempt>({ ok: true }),
      fc.record({
        ok: fc.constant(false as const),
        code: fc.constantFrom('SYNC_DISABLED', 'JIRA_UNAUTHORIZED', 'JIRA_UNAVAILABLE'),
        kind: fc.constantFrom<FailureKind>('held', 'paused', 'retry', 'failed'),
      }),
    );
    fc.assert(
      fc.property(fc.array(attempt, { maxLength: 40 }), (attempts) => {
        // Each episode (a run of failures, and the success that ends it) checked on its own.
        let i = 0;
        while (i < attempts.length) {
          if (attempts[i]!.ok) {
            i++;
            continue;
          }
          const start = i;
          while (i < attempts.length && !attempts[i]!.ok) i++;
          const ep = attempts.slice(start, i) as Array<Exclude<Attempt, { ok: true }>>;
          const events = run(attempts.slice(start, i + 1));
          const reports = events.filter((x) => x.startsWith('failed:'));
          for (let k = 1; k < reports.length; k++) if (reports[k] === reports[k - 1]) return false;
          if (!reports.length && ep.some((x) => x.kind !== 'retry')) return false;
          if (!reports.length && ep.length >= RETRY_REPORT_AFTER) return false;
          const recovered = events.filter((x) => x === 'recovered').length;
          if (recovered !== (reports.length && i < attempts.length ? 1 : 0)) return false;
        }
        return true;
      }),
    );
  });
  it('says what to do', () => {
    expect(failureAdvice('SYNC_DISABLED', 'held', { disabled: 'mapping:ops' })).toContain(
      'POST /api/v1/mappings/ops/resume',
    );
    expect(failureAdvice('JIRA_UNAUTHORIZED', 'paused')).toContain('credentials');
    expect(failureAdvice('JIRA_UNAVAILABLE', 'retry')).toContain('keeps retrying');
    expect(failureAdvice('JIRA_BAD_REQUEST', 'failed')).toContain('POST /api/v1/sync');
  });
});
