/**
 * The outbound planner's field inputs from the engine's data (pure): the record's wanted values
 * (./desired.ts), the agreed bases, the journal, the host's change times, and — when the issue was
 * read — Jira's side of each field (./inbound-mapping.ts). Shared by the outbound executor
 * (./outbound.ts) and the plan preview (./plan.ts), so both decide alike.
 */
import type { OutboundPlanField } from '../core/plan-outbound.js';
import { journaledValues, type JournalEntry } from '../core/journal.js';
import { desiredFields, type DesiredField } from './desired.js';
import { applyToHost, jiraSide, sameText } from './inbound-mapping.js';
import type { JiraIssueState, OutboundMapping, RecordData } from './types.js';

/** When Jira last changed a field (from the changelog; else the issue's `updated`). */
export function jiraChangeTime(state: JiraIssueState, key: string, mapping: OutboundMapping): number {
  const id = key.startsWith('custom:') ? (mapping.fields.find((f) => `custom:${f.host}` === key)?.jira ?? key) : key;
  return state.fieldTimes[id.toLowerCase()] ?? state.updated;
}

export interface FieldInputArgs {
  data: RecordData;
  mapping: OutboundMapping;
  bases: ReadonlyMap<string, unknown>;
  journal: readonly JournalEntry[];
  /** The record's per-field change times and its last update (the host's conflict clock). */
  record: { field_times: Record<string, number>; updated_at: number };
  hostWins: boolean;
  /** The issue as read (undefined: not read). */
  state?: JiraIssueState | undefined;
  flavour: 'cloud' | 'datacenter';
  /** desiredFields(data, mapping), when the caller has it already. */
  desired?: Map<string, DesiredField> | undefined;
}

/** Every field the mapping pushes, as the planner takes it (see src/core/plan-outbound.ts). */
export function outboundFieldInputs(a: FieldInputArgs): OutboundPlanField[] {
  const desired = a.desired ?? desiredFields(a.data, a.mapping);
  const side = a.state ? new Map(jiraSide(a.state, a.mapping, a.flavour).map((f) => [f.key, f])) : undefined;
  const out: OutboundPlanField[] = [];
  for (const [key, f] of desired) {
    const base = a.bases.get(key);
    let baseEquivalent = false;
    // A priority set in Jira that maps back to the record's severity is not a host change
    // (several priorities may share one severity). Not on a re-sync: there the host's mapped
    // value wins (a changed severity → priority table is applied, issue 19).
    if (key === 'priority' && typeof base === 'string' && !a.hostWins) {
      const probe: RecordData = { ...a.data };
      baseEquivalent = applyToHost(probe, 'priority', base, a.mapping).ok && probe.severity === a.data.severity;
    }
    const js = side?.get(key);
    out.push({
      key,
      jiraField: f.jiraField,
      want: f.value,
      base,
      journaled: journaledValues(a.journal, key),
      baseEquivalent,
      hostChangedAt: a.record.field_times[key] ?? a.record.updated_at,
      lock: a.mapping.fields.find((m) => `custom:${m.host}` === key)?.lock,
      hostWins: a.hostWins,
      userLookup: f.type === 'assignee' || f.type === 'user',
      jira:
        side === undefined
          ? undefined
          : js
            ? {
                value: js.value,
                changedAt: jiraChangeTime(a.state!, key, a.mapping),
                ...(js.text ? { same: (x: unknown, y: unknown) => sameText(x, y, a.flavour) } : {}),
              }
            : null,
    });
  }
  return out;
}
