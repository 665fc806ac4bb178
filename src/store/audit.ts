import type { Kysely } from 'kysely';
import { newId } from './ids.js';
import { toJson } from './json.js';
import type { Database } from './schema.js';

/** One audit entry: who changed what, before and after (callers mask secrets first). */
export interface AuditEntry {
  actor: string;
  /** e.g. `mapping.updated`, `connection.created`, `token.revoked`. */
  action: string;
  /** e.g. `mapping:web`, `connection:jira-cloud`. */
  target: string;
  before?: unknown;
  after?: unknown;
  at: number;
}

/** Appends to the audit log (inside the caller's transaction, with the change it describes). */
export async function appendAudit(db: Kysely<Database>, e: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      id: newId(e.at),
      actor: e.actor,
      action: e.action,
      target: e.target,
      before: e.before === undefined || e.before === null ? null : toJson(e.before),
      after: e.after === undefined || e.after === null ? null : toJson(e.after),
      at: e.at,
    })
    .execute();
}
