import { describe, expect, it } from 'vitest';
import { runtimeSettings } from '../../src/app/settings.js';

describe('runtime settings: environment first, then the file, then defaults', () => {
  it('defaults', () => {
    const s = runtimeSettings({}, {}, { demo: false });
    expect(s).toMatchObject({ port: 8080, host: '0.0.0.0', workerConcurrency: 8, workerLeaseMs: 30_000 });
    expect(runtimeSettings({}, {}, { demo: true }).host).toBe('127.0.0.1');
  });

  it('the file, and the environment over the file', () => {
    const file = { server: { port: 9000 }, worker: { concurrency: 8, lease_seconds: 60 } };
    expect(runtimeSettings(file, {}, { demo: false })).toMatchObject({
      port: 9000,
      workerConcurrency: 8,
      workerLeaseMs: 60_000,
    });
    expect(
      runtimeSettings(file, { PORT: '9100', WORKER_CONCURRENCY: '2', WORKER_LEASE_SECONDS: '10' }, { demo: false }),
    ).toMatchObject({ port: 9100, workerConcurrency: 2, workerLeaseMs: 10_000 });
  });

  it('a bad value names the variable and the range', () => {
    expect(() => runtimeSettings({}, { WORKER_LEASE_SECONDS: '1' }, { demo: false })).toThrow(
      'WORKER_LEASE_SECONDS: "1" is not a whole number between 3 and 3600',
    );
    expect(() => runtimeSettings({}, { WORKER_CONCURRENCY: 'many' }, { demo: false })).toThrow(
      'WORKER_CONCURRENCY: "many" is not a whole number between 1 and 256',
    );
  });
});
