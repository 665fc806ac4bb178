import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { createQueue, startWorker, type Job } from '../../src/queue/index.js';
import { describeEachEngine } from '../helpers/db.js';
import { waitFor } from './helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/hang-worker.ts', import.meta.url));
const LEASE_MS = 500;

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Starts the hanging worker process; resolves with the job id and worker id it claimed. */
function spawnHangingWorker(openOpts: object): Promise<{ child: ChildProcess; jobId: number; workerId: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, JSON.stringify(openOpts), String(LEASE_MS)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'test' },
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /CLAIMED (\d+) (\S+)\n/.exec(out);
      if (m) resolve({ child, jobId: Number(m[1]), workerId: m[2]! });
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code, signal) => reject(new Error(`worker child exited early (${code ?? signal}): ${err}`)));
  });
}

describeEachEngine('queue lease takeover', ({ fresh }) => {
  it('a job claimed by a worker process killed with SIGKILL is taken over after its lease expires', async () => {
    const { store, openOpts } = await fresh();
    const queue = createQueue(store);
    const { id } = await store.transaction((trx) =>
      queue.enqueue(trx, { kind: 'hang', key: 'rec-1', payload: { n: 1 } }),
    );
    // A second job of the same key must wait for the first, even across the crash.
    const { id: id2 } = await store.transaction((trx) =>
      queue.enqueue(trx, { kind: 'hang', key: 'rec-1', payload: { n: 2 } }),
    );

    const { child, jobId, workerId: childWorker } = await spawnHangingWorker(openOpts);
    expect(jobId).toBe(id);
    expect(await queue.getJob(id)).toMatchObject({ state: 'running', leaseOwner: childWorker, attempts: 1 });

    const exited = new Promise((r) => child.once('exit', (_c, signal) => r(signal)));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const ran: Job[] = [];
    const worker = startWorker({
      store,
      queue,
      leaseMs: LEASE_MS,
      pollMs: 50,
      concurrency: 2,
      handlers: { hang: async (job) => void ran.push(job) },
    });
    try {
      await waitFor(async () => (await queue.getJob(id2))?.state === 'done', 'both jobs done by the new worker');
    } finally {
      await worker.stop();
    }
    expect(ran.map((j) => j.id)).toEqual([id, id2]);
    expect(ran[0]).toMatchObject({ attempts: 2, leaseOwner: worker.workerId });
    expect(worker.workerId).not.toBe(childWorker);
    const taken = (await queue.getJob(id))!;
    expect(taken.state).toBe('done');
    expect(taken.lastError).toMatchObject({ code: 'JOB_LEASE_EXPIRED', attempt: 1 });
    expect(taken.lastError?.message).toContain(childWorker);
  });
});
