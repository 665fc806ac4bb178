import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

/**
 * "Apply to linked records" (issue 19 item 2): a run re-syncs every linked record of one mapping,
 * adopting the mapping as it is now. `apply_runs` holds a run's state and counts (the progress the
 * API, CLI and console show) and where its listing of the mapping's records got to (`listed_after`, the
 * last record id queued; `listed` once all are); `apply_run_records` one row per record it queued:
 * the outbound job that re-syncs it and, once that job is over, its outcome (`changed`,
 * `unchanged`, `failed`) and the Jira calls it spent. The jobs themselves are the queue's, so a run
 * resumes after a restart where it was. Same SQL on both engines.
 */
export function statements(_dialect: Dialect): string[] {
  return [
    `CREATE TABLE apply_runs (
      id TEXT PRIMARY KEY,
      mapping_id TEXT NOT NULL,
      state TEXT NOT NULL,
      total INTEGER NOT NULL DEFAULT 0,
      enqueued INTEGER NOT NULL DEFAULT 0,
      done INTEGER NOT NULL DEFAULT 0,
      changed INTEGER NOT NULL DEFAULT 0,
      unchanged INTEGER NOT NULL DEFAULT 0,
      failed INTEGER NOT NULL DEFAULT 0,
      jira_calls INTEGER NOT NULL DEFAULT 0,
      listed_after TEXT,
      listed INTEGER NOT NULL DEFAULT 0,
      error TEXT,
      requested_by TEXT NOT NULL,
      started_at BIGINT NOT NULL,
      finished_at BIGINT,
      updated_at BIGINT NOT NULL
    )`,
    `CREATE INDEX apply_runs_mapping_idx ON apply_runs (mapping_id, started_at)`,
    `CREATE TABLE apply_run_records (
      run_id TEXT NOT NULL REFERENCES apply_runs(id) ON DELETE CASCADE,
      record_id TEXT NOT NULL,
      job_id BIGINT NOT NULL,
      outcome TEXT,
      jira_calls INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (run_id, record_id)
    )`,
    `CREATE INDEX apply_run_records_open_idx ON apply_run_records (run_id, outcome)`,
  ];
}

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  for (const s of statements(dialect)) await sql.raw(s).execute(db);
}
