/**
 * Which mapping may open a host record for a Jira issue no record is linked to (`on_jira_create:
 * create_record`), and, when none may, why — in words a delivery log or an API answer can show.
 * Pure: the issue as read, the mappings in force; no I/O. A mapping's JQL `filter` is the one
 * thing this cannot decide (Jira is asked, one search per filtered candidate, by the caller).
 */
import { TOKEN_LABEL_PREFIX } from '../jira/idempotent-create.js';
import { inboundSettings } from './inbound-mapping.js';
import type { JiraIssueState, OutboundMapping } from './types.js';

/** The host kind an issue of this type becomes under a mapping, if any. */
export function kindForIssueType(m: OutboundMapping, issueType: string): string | undefined {
  const given = inboundSettings(m).createKind;
  if (given) return given;
  const kinds = Object.entries(m.kinds);
  const t = issueType.toLowerCase();
  return (
    kinds.find(([, k]) => !k.serviceDesk && k.issueType.toLowerCase() === t)?.[0] ??
    kinds.find(([, k]) => k.serviceDesk !== undefined)?.[0]
  );
}

export interface ImportCandidate {
  mapping: OutboundMapping;
  kind: string;
}

export type ImportDecision =
  /** Candidates in the order to try: mappings without a JQL filter first (a filtered one needs Jira's word). */
  | { ok: true; candidates: ImportCandidate[] }
  | { ok: false; verdict: 'ignored:unlinked' | 'ignored:out_of_scope'; why: string };

/** The mappings of a connection and project that create records from Jira (direction not to_jira). */
export function creatingMappings(all: readonly OutboundMapping[], connectionId: string, projectKey: string) {
  return all.filter(
    (m) =>
      m.connectionId === connectionId &&
      m.projectKey === projectKey &&
      m.direction !== 'to_jira' &&
      inboundSettings(m).onJiraCreate === 'create_record',
  );
}

const names = (ms: readonly OutboundMapping[]): string => ms.map((m) => `"${m.id}"`).join(', ');

/**
 * May an unlinked issue become a host record, and under which mappings? The same rules a
 * delivery of a new issue follows: a mapping of its project that creates records, a kind for its
 * issue type, not an issue jira-bridge created itself (its own record links it), not while done.
 */
export function importDecision(
  all: readonly OutboundMapping[],
  connectionId: string,
  issue: Pick<JiraIssueState, 'key' | 'projectKey' | 'issueType' | 'labels' | 'status' | 'creationToken'>,
): ImportDecision {
  const creating = creatingMappings(all, connectionId, issue.projectKey);
  if (!creating.length) {
    const project = all.filter((m) => m.connectionId === connectionId && m.projectKey === issue.projectKey);
    return {
      ok: false,
      verdict: 'ignored:unlinked',
      why: project.length
        ? `no record is linked to ${issue.key}, and mapping ${names(project)} of project ${issue.projectKey} does not create records from Jira (set on_jira_create: create_record, with a direction other than to_jira)`
        : `no record is linked to ${issue.key}, and no mapping of connection "${connectionId}" covers project ${issue.projectKey}`,
    };
  }
  const candidates = creating
    .map((m) => ({ mapping: m, kind: kindForIssueType(m, issue.issueType) }))
    .filter((c): c is ImportCandidate => c.kind !== undefined)
    .sort((a, b) => Number(Boolean(a.mapping.filter)) - Number(Boolean(b.mapping.filter)));
  if (!candidates.length) {
    return {
      ok: false,
      verdict: 'ignored:out_of_scope',
      why: `issue type "${issue.issueType}" of ${issue.key} is mapped to no kind of mapping ${names(creating)} (map it under kinds, or set create_kind)`,
    };
  }
  // Our creation token: the `jira-bridge` property, or a `jb-` label on issues created with the
  // label marker (or before it was opt-in).
  if (issue.creationToken !== undefined || issue.labels.some((l) => l.startsWith(TOKEN_LABEL_PREFIX))) {
    return {
      ok: false,
      verdict: 'ignored:unlinked',
      why: `${issue.key} was created by jira-bridge for a host record (it carries a creation token): that record links it`,
    };
  }
  if (issue.status.category === 'done') {
    return {
      ok: false,
      verdict: 'ignored:out_of_scope',
      why: `${issue.key} is in a done status ("${issue.status.name}"): records are opened for issues that are not done`,
    };
  }
  return { ok: true, candidates };
}
