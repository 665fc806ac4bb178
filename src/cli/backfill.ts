import cliProgress from 'cli-progress';
import type { Backfill, BackfillProgress } from '../engine/backfill.js';

export interface RunBackfillOptions {
  backfill: Pick<Backfill, 'start' | 'get' | 'run'>;
  /** Host scope whose mapping is backfilled. */
  scope: string;
  /**
   * Run the backfill in this process (the CLI without a running service). Otherwise the job is
   * left to the service's workers and this only shows progress.
   */
  inline?: boolean;
  /** Where the bar is drawn (default process.stderr); no bar when not a TTY unless `bar: true`. */
  stream?: NodeJS.WritableStream;
  bar?: boolean;
  /** Progress poll interval (default 250 ms). */
  pollMs?: number;
}

/**
 * `jira-bridge backfill --scope <scope>`: starts a backfill of every unlinked record of the scope's
 * mapping and shows done/total with a progress bar until it finishes. Resolves with the final
 * progress (state `done` or `failed`).
 */
export async function runBackfill(opts: RunBackfillOptions): Promise<BackfillProgress> {
  const stream = (opts.stream ?? process.stderr) as NodeJS.WriteStream;
  const started = await opts.backfill.start({ scope: opts.scope });
  const showBar = opts.bar ?? Boolean(stream.isTTY);
  const bar = showBar
    ? new cliProgress.SingleBar(
        {
          stream,
          format: 'backfill {scope} [{bar}] {value}/{total} created | {failed} failed | {bulk} bulk calls',
          hideCursor: true,
          noTTYOutput: !stream.isTTY,
          notTTYSchedule: 1000,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(started.total, 0, { scope: opts.scope, failed: 0, bulk: 0 });
  const inline = opts.inline ? opts.backfill.run(started.id) : undefined;
  let last: BackfillProgress = started;
  try {
    for (;;) {
      const p = await opts.backfill.get(started.id);
      if (p) {
        last = p;
        bar?.setTotal(p.total);
        bar?.update(p.done, { failed: p.failed, bulk: p.bulk_calls });
        if (p.state === 'done' || p.state === 'failed') break;
      }
      if (inline) {
        // Finish as soon as the inline run ends (it saved its final state).
        const ended = await Promise.race([inline.then(() => true), sleep(opts.pollMs ?? 250).then(() => false)]);
        if (ended) {
          last = (await opts.backfill.get(started.id)) ?? last;
          bar?.update(last.done, { failed: last.failed, bulk: last.bulk_calls });
          break;
        }
      } else await sleep(opts.pollMs ?? 250);
    }
  } finally {
    bar?.stop();
  }
  if (inline) await inline;
  return last;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
