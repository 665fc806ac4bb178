/**
 * Outbound fields of a linked record: what differs from the agreed bases, decided per field by
 * the planner's three-way rule (decideOutboundField, src/core/plan-outbound.ts) on a read of the
 * issue, as one edit; and that edit sent on its own or carried by the status walk's last
 * transition, journaled before it goes and recorded as pushed only once Jira took it.
 */
import { AppError, isAppError } from '../core/errors.js';
import type { JournalEntry } from '../core/journal.js';
import { decideOutboundField, fieldCandidate, type OutboundPlanField } from '../core/plan-outbound.js';
import { fromJson } from '../store/json.js';
import { desiredFields, encodeField, type EncodeContext } from './desired.js';
import { journalIntent, journalOutcome } from './journal.js';
import type { OutboundContext, Preread, RecordRow, SyncOutcome } from './outbound-context.js';
import { outboundFieldInputs } from './plan-input.js';
import type { CarriedEdit } from './status-path.js';
import type { EditBody, JiraIssueState, JiraPort, OutboundMapping, RecordData } from './types.js';

/** The field edit of an update, and the values (by base key) Jira has once it is in. */
export interface FieldEdit {
  body: EditBody;
  values: Map<string, unknown>;
}

/** A field edit to send alone or let the status walk carry; `settled` once sent, carried or failed. */
export type PendingEdit = CarriedEdit & { settled: () => boolean; begin: () => Promise<void> };

/** The part's functions: each declared once, on its implementation below. */
export type OutboundFields = ReturnType<typeof createOutboundFields>;

export function createOutboundFields(ctx: OutboundContext) {
  const { store, now, writes } = ctx;

  /**
   * The changed fields of a linked record: only what differs from the bases, as one edit (not
   * sent here: the caller sends it, or lets the status walk carry it on its last transition).
   * Reads the issue first (one call, reused by the status work) so that a field Jira changed
   * meanwhile goes through the three-way rule: the newer change wins, Jira's is never clobbered
   * by an older host edit (the inbound job then brings it to the record).
   */
  async function update(
    jira: JiraPort,
    issueKey: string,
    record: RecordRow,
    data: RecordData,
    mapping: OutboundMapping,
    bases: Map<string, unknown>,
    newBases: Map<string, unknown>,
    outcome: SyncOutcome,
    statusWork: boolean,
    /** A manual re-sync: the record's state is pushed as it is (the host wins every field). */
    hostWins: boolean,
    /** Journal rows of earlier attempts: values they sent that Jira holds are ours (see ourBase). */
    journal: readonly JournalEntry[] = [],
    /** The issue as this job already read it (a manual two-way sync's inbound half): no second read. */
    preread?: Preread,
  ): Promise<{
    state: JiraIssueState | null;
    jiraWon: boolean;
    /** The edit to send, and the values (by base key) Jira has once it is in. */
    edit: FieldEdit | null;
  }> {
    const desired = desiredFields(data, mapping, record);
    const ctx: EncodeContext = { jira, users: new Map(), warnings: outcome.warnings };
    const fields: Record<string, unknown> = {};
    const update: Record<string, Array<Record<string, unknown>>> = {};
    const inputs = (state?: JiraIssueState): OutboundPlanField[] =>
      outboundFieldInputs({
        data,
        mapping,
        bases,
        journal,
        record: {
          field_times: fromJson<Record<string, number>>(record.field_times) ?? {},
          updated_at: record.updated_at,
        },
        hostWins,
        state,
        flavour: jira.flavour,
        desired,
      });
    // Fields that differ from what was agreed (or that an earlier attempt journaled): decided on a read.
    const changed = inputs().filter((f) => fieldCandidate(f).candidate);
    if (!changed.length && !statusWork) return { state: null, jiraWon: false, edit: null };
    const wanted = mapping.fields.map((f) => f.jira);
    const state =
      preread && wanted.every((id) => preread.fields.includes(id))
        ? preread.state
        : await jira.readIssue(issueKey, wanted);
    if (!state) {
      throw new AppError('JIRA_NOT_FOUND', `Issue ${issueKey} no longer exists in Jira; the inbound job unlinks it`, {
        retryable: false,
      });
    }
    let jiraWon = false;
    const values = new Map<string, unknown>();
    // The planner's rule per field (src/core/plan-outbound.ts): push, leave, or Jira's newer value wins.
    for (const input of inputs(state)) {
      const d = decideOutboundField(input);
      const key = input.key;
      if (d.base) newBases.set(key, d.base.value);
      if (d.action === 'none') continue;
      if (d.action === 'jira_wins') {
        jiraWon = true;
        outcome.extra = {
          ...outcome.extra,
          conflicts: [...((outcome.extra?.conflicts as unknown[] | undefined) ?? []), d.conflict],
        };
        continue;
      }
      const f = desired.get(key)!;
      const base = d.base ? d.base.value : input.base;
      if (f.type === 'labels' && f.jiraField === 'labels') {
        // Add/remove against the base: labels people add in Jira (and our token) are kept.
        const before = new Set((base as string[] | undefined) ?? []);
        const after = new Set(f.value as string[]);
        const ops: Array<Record<string, unknown>> = [];
        for (const l of after) if (!before.has(l)) ops.push({ add: l });
        for (const l of before) if (!after.has(l)) ops.push({ remove: l });
        if (ops.length) update.labels = ops;
      } else {
        fields[f.jiraField] = await encodeField(key, f, ctx);
      }
      values.set(key, f.value);
    }
    const body: EditBody = {
      ...(Object.keys(fields).length ? { fields } : {}),
      ...(Object.keys(update).length ? { update } : {}),
    };
    return { state, jiraWon, edit: values.size ? { body, values } : null };
  }

  /**
   * The field edit of an update, to send on its own or to let the status walk carry on its last
   * transition. Either way its values are recorded as pushed (bases, outcome) only once Jira took
   * them. `settled` tells whether it was sent or carried (or tried and failed).
   */
  function pendingEdit(
    jira: JiraPort,
    issueKey: string,
    recordId: string,
    jobId: number | null,
    edit: FieldEdit,
    newBases: Map<string, unknown>,
    outcome: SyncOutcome,
  ): PendingEdit {
    let settled = false;
    /** The journal row of the edit: written before the edit (or the walk that carries it) is sent. */
    let intentId: string | undefined;
    const begin = async (): Promise<void> => {
      intentId ??= await journalIntent(store.db, {
        recordId,
        jobId,
        target: issueKey,
        intent: { op: 'edit', values: Object.fromEntries(edit.values) },
        at: now(),
      });
    };
    const answered = async (ok: boolean): Promise<void> => {
      if (intentId) await journalOutcome(store.db, intentId, ok ? 'done' : 'failed', now());
    };
    const pushed = async (): Promise<void> => {
      for (const [k, v] of edit.values) {
        newBases.set(k, v);
        outcome.fields.push(k);
      }
      // Jira has these now: recorded at once, before any later step that may fail on its own.
      await writes.writeBases(store.db, recordId, edit.values);
    };
    return {
      ...edit.body,
      settled: () => settled,
      begin,
      async sendAlone() {
        if (settled) return;
        settled = true;
        if (edit.body.fields || edit.body.update) {
          await begin();
          try {
            await jira.editIssue(issueKey, edit.body);
          } catch (err) {
            if (isAppError(err) && !err.retryable) await answered(false);
            throw err;
          }
          await answered(true);
        }
        await pushed();
      },
      async carried(transition) {
        if (settled) return;
        settled = true;
        await answered(true);
        await pushed();
        outcome.extra = { ...outcome.extra, carried: { transition, fields: [...edit.values.keys()] } };
      },
    };
  }

  return { update, pendingEdit };
}
