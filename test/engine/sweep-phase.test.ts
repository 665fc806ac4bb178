import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sweepDelay } from '../../src/engine/sweep.js';

describe('sweepDelay: each connection sweeps at its own phase of the interval (issue 17)', () => {
  it('is within (0, interval], lands on the same wall-clock phase whenever it is asked, and is the same for every process', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1_000, max: 3_600_000 }),
        fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        (id, interval, now, later) => {
          const d = sweepDelay(id, interval, now);
          expect(d).toBeGreaterThan(0);
          expect(d).toBeLessThanOrEqual(interval);
          // Asked at another time (another replica, after a restart): the same phase.
          const d2 = sweepDelay(id, interval, now + later);
          expect((now + d) % interval).toBe((now + later + d2) % interval);
        },
      ),
    );
  });

  it('spreads 1,000 connections over the interval instead of firing them together', () => {
    const interval = 300_000;
    const now = 1_765_000_000_000;
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 1000; i++) buckets[Math.floor((sweepDelay(`tenant-${i}`, interval, now) - 1) / 30_000)]! += 1;
    // Every tenth of the interval gets some, none more than twice its share.
    for (const n of buckets) {
      expect(n).toBeGreaterThan(50);
      expect(n).toBeLessThan(200);
    }
  });
});
