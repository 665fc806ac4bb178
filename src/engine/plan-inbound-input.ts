/**
 * The inbound planner's input from the engine's data (pure): the issue as read (./inbound-mapping.ts
 * gives Jira's side of each field), the record, the agreed bases, the journal and the mapping's
 * tables, with the value tables that write a Jira value into the record's data. The planner is
 * src/core/plan-inbound.ts; the executor src/engine/inbound.ts.
 */
import { journaledValues, type JournalEntry } from '../core/journal.js';
import type { CommentLinkIn, InboundPlanInput, JiraCommentIn } from '../core/plan-inbound.js';
import { desiredFields, desiredStatus, normalizeText, templated } from './desired.js';
import {
  applyToHost,
  flowsIn,
  inboundSettings,
  isHiddenPerson,
  jiraSide,
  samePerson,
  sameText,
  unmatchedAssigneeWarning,
} from './inbound-mapping.js';
import { jiraTextToMarkdown } from './markup-in.js';
import { jiraChangeTime } from './plan-input.js';
import type { JiraIssueState, JiraPerson, OutboundMapping, RecordData } from './types.js';

/** Who made Jira's last change of the field behind a base name (the changelog entry's author). */
export function jiraChangeAuthor(state: JiraIssueState, key: string, mapping: OutboundMapping): JiraPerson | null {
  const id = key.startsWith('custom:') ? (mapping.fields.find((f) => `custom:${f.host}` === key)?.jira ?? key) : key;
  return state.fieldAuthors?.[id.toLowerCase()] ?? null;
}

/** A copy of the record's data that a value can be written into without touching the original. */
const copyData = (d: RecordData): RecordData => ({ ...d, labels: [...d.labels], custom: { ...d.custom } });

export interface InboundInputArgs {
  state: JiraIssueState;
  /** The record as stored (its identity for templates, its host change times). */
  record: { scope: string; host_id: string; kind: string; updated_at: number };
  data: RecordData;
  mapping: OutboundMapping;
  bases: ReadonlyMap<string, unknown>;
  journal: readonly JournalEntry[];
  flavour: 'cloud' | 'datacenter';
  /** jira-bridge's own account. */
  me: JiraPerson;
  /** The issue key the link knows. */
  linkedKey: string | null;
  /** The record's comment links of this issue, when comments flow from Jira (else null). */
  commentLinks: readonly CommentLinkIn[] | null;
  /** The record's per-field change times (JSON-decoded field_times). */
  hostTimes: Record<string, number>;
}

/** Everything planInbound decides with, from what the executor read. */
export function inboundPlanInput(a: InboundInputArgs): InboundPlanInput<RecordData> {
  const { state, mapping, data, flavour } = a;
  const inbound = inboundSettings(mapping);
  const desired = desiredFields(data, mapping, a.record);
  const rule = inboundSettings(mapping).assigneeUnmatched ?? 'unassign';
  return {
    issue: { id: state.id, key: state.key, projectKey: state.projectKey },
    linkedKey: a.linkedKey,
    data,
    bases: a.bases,
    journal: a.journal,
    fields: jiraSide(state, mapping, flavour).map((f) => ({
      key: f.key,
      jira: f.value,
      host: desired.has(f.key) ? desired.get(f.key)!.value : f.key.startsWith('custom:') ? null : undefined,
      base: a.bases.get(f.key),
      journaled: journaledValues(a.journal, f.key),
      direction: f.direction,
      flowsIn: flowsIn(f.direction, mapping),
      lock: f.lock,
      hostChangedAt: a.hostTimes[f.key] ?? a.record.updated_at,
      jiraChangedAt: jiraChangeTime(state, f.key, mapping),
      ...(f.text ? { text: true, same: (x: unknown, y: unknown) => sameText(x, y, flavour) } : {}),
      ...(f.key === 'priority'
        ? {
            hostEquivalent: (base: unknown) => {
              const probe = copyData(data);
              return applyToHost(probe, 'priority', base, mapping).ok && probe.severity === data.severity;
            },
          }
        : {}),
      templated: templated(f.key, mapping),
      byUs: samePerson(jiraChangeAuthor(state, f.key, mapping), a.me),
      apply: (d: RecordData, value: unknown) => {
        const next = copyData(d);
        const r = applyToHost(next, f.key, value, mapping);
        return r.ok ? { ok: true as const, data: next } : r;
      },
    })),
    status: {
      flowsIn: flowsIn(mapping.builtinDirections?.status, mapping),
      jira: state.status,
      lastChange: state.lastStatusChange,
      me: a.me,
      table: inbound.statusIn,
      fallback: inbound.statusInDefault,
      closedStatuses: mapping.closedStatuses,
      reopenFromJira: inbound.reopenFromJira,
      hostChangedAt: a.hostTimes.status ?? a.record.updated_at,
      jiraChangedAt: jiraChangeTime(state, 'status', mapping),
    },
    targetStatus: (d) => desiredStatus(d, mapping).status,
    unmatchedAssignee: { rule, warning: (kept) => unmatchedAssigneeWarning(state.assignee, rule, kept) },
    hidden: isHiddenPerson,
    comments: a.commentLinks ? { jira: jiraCommentsIn(state, a.me, flavour), links: a.commentLinks } : null,
  };
}

/** The issue's comments as the planner takes them: the record's Markdown, and whether they are ours. */
export function jiraCommentsIn(
  state: JiraIssueState,
  me: JiraPerson,
  flavour: 'cloud' | 'datacenter',
): JiraCommentIn[] {
  return state.comments.map((c) => ({
    id: c.id,
    ours: samePerson(c.author, me),
    body: normalizeText(jiraTextToMarkdown(c.body, flavour)),
    created: c.created,
    updated: c.updated,
    internal: c.internal,
  }));
}
