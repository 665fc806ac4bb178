import cliProgress from 'cli-progress';
import type { Apply, ApplyRun } from '../engine/apply.js';

export interface RunApplyOptions {
  apply: Pick<Apply, 'start' | 'get'>;
  mappingId: string;
  /** Who asked (the audit log's actor). */
  actor: string;
  /** Where the progress goes (default process.stderr): a bar on a TTY, else a line per change. */
  stream?: NodeJS.WritableStream;
  bar?: boolean;
  /** Progress poll interval (default 250 ms). */
  pollMs?: number;
}

const FINAL = new Set(['done', 'failed', 'cancelled']);

/** One progress line (also the CLI's last line). */
export const applyLine = (p: ApplyRun): string =>
  `apply ${p.mapping_id}: ${p.done}/${p.total} re-synced — ${p.changed} changed, ${p.unchanged} unchanged, ` +
  `${p.failed} failed, ${p.jira_calls} Jira call(s) — ${p.state}`;

/**
 * `jira-bridge apply --mapping <id>`: starts a run applying the mapping to its linked records
 * (src/engine/apply.ts) and shows its progress until it is over; the jobs are run by whatever
 * workers share the queue (the command's own, see ./commands/apply.ts). Resolves with the final run.
 */
export async function runApply(opts: RunApplyOptions): Promise<ApplyRun> {
  const stream = (opts.stream ?? process.stderr) as NodeJS.WriteStream;
  const started = await opts.apply.start({ mappingId: opts.mappingId, actor: opts.actor });
  const showBar = opts.bar ?? Boolean(stream.isTTY);
  const bar = showBar
    ? new cliProgress.SingleBar(
        {
          stream,
          format:
            'apply {mapping} [{bar}] {value}/{total} re-synced | {changed} changed | {unchanged} unchanged | {failed} failed | {calls} Jira calls',
          hideCursor: true,
          noTTYOutput: !stream.isTTY,
          notTTYSchedule: 1000,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const payload = (p: ApplyRun) => ({
    mapping: p.mapping_id,
    changed: p.changed,
    unchanged: p.unchanged,
    failed: p.failed,
    calls: p.jira_calls,
  });
  bar?.start(started.total, 0, payload(started));
  let last = started;
  let shown = '';
  try {
    for (;;) {
      const p = await opts.apply.get(opts.mappingId, started.id);
      last = p;
      if (bar) {
        bar.setTotal(p.total);
        bar.update(p.done, payload(p));
      } else {
        const l = applyLine(p);
        if (l !== shown) stream.write(`${l}\n`);
        shown = l;
      }
      if (FINAL.has(p.state)) break;
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
    }
  } finally {
    bar?.stop();
  }
  return last;
}
