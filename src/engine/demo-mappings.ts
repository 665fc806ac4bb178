import type { OutboundMapping } from './types.js';

/**
 * Mappings for the built-in sandbox's seeded site (demo mode and tests), one per seed:
 *  - `astra-web` → SEC (Astra/Conviso: vulnerabilities, findings as sub-tasks, every custom
 *    field type, multi-hop security workflow with required resolution);
 *  - `stackflow-incidents` → OPS (StackFlow: incidents and changes, close to Done);
 *  - `xyte` → ITSD Service Management requests (Xyte: incidents, never reopened).
 * The configuration module's demo config supersedes these once it exists.
 */

/** Astra-like security mapping: SEC project, multi-hop workflow, every custom field type. */
export function demoSecMapping(connectionId: string, over: Partial<OutboundMapping> = {}): OutboundMapping {
  return {
    id: 'demo-sec',
    connectionId,
    scope: 'astra-web',
    projectKey: 'SEC',
    direction: 'both',
    kinds: {
      vulnerability: { issueType: 'Vulnerability' },
      finding: { issueType: 'Finding', subtask: true },
      task: { issueType: 'Task' },
    },
    statusOut: {
      open: 'Open',
      triaged: 'Triaged',
      in_progress: 'In Progress',
      review: 'In Review',
      resolved: 'Resolved',
    },
    closedStatuses: ['resolved', 'closed'],
    closeStatus: 'Resolved',
    resolution: 'Fixed',
    reopen: { mode: 'reopen' },
    severityToPriority: { critical: 'Highest', high: 'High', medium: 'Medium', low: 'Low', informational: 'Lowest' },
    defaultPriority: 'Low',
    fields: [
      { host: 'cvss', jira: 'customfield_10010', type: 'number', direction: 'to_jira' },
      { host: 'asset_id', jira: 'customfield_10011', type: 'select', direction: 'to_jira' },
      { host: 'url', jira: 'customfield_10012', type: 'url', direction: 'to_jira' },
      { host: 'environments', jira: 'customfield_10013', type: 'multiselect', direction: 'to_jira' },
      { host: 'owner', jira: 'customfield_10014', type: 'user', direction: 'to_jira' },
      { host: 'due', jira: 'customfield_10015', type: 'date', direction: 'to_jira' },
      { host: 'notes', jira: 'customfield_10016', type: 'textarea', direction: 'to_jira' },
      { host: 'tags', jira: 'customfield_10018', type: 'labels', direction: 'to_jira' },
    ],
    labels: ['astra'],
    comments: true,
    ...over,
  };
}

/** StackFlow-like incidents: OPS project, simplified workflow; close policy per test. */
export function demoOpsMapping(connectionId: string, over: Partial<OutboundMapping> = {}): OutboundMapping {
  return {
    id: 'demo-ops',
    connectionId,
    scope: 'stackflow-incidents',
    projectKey: 'OPS',
    direction: 'both',
    kinds: { incident: { issueType: 'Incident' }, change: { issueType: 'Task' } },
    statusOut: { new: 'To Do', in_progress: 'In Progress', on_hold: 'To Do' },
    closedStatuses: ['resolved', 'closed'],
    closeStatus: 'Done',
    reopen: { mode: 'reopen' },
    severityToPriority: { P1: 'Highest', P2: 'High', P3: 'Medium', P4: 'Low' },
    fields: [],
    labels: ['stackflow-sync'],
    comments: true,
    ...over,
  };
}

/** Xyte-like incidents: Service Management requests in ITSD. */
export function demoJsmMapping(connectionId: string, over: Partial<OutboundMapping> = {}): OutboundMapping {
  return {
    id: 'demo-itsd',
    connectionId,
    scope: 'xyte',
    projectKey: 'ITSD',
    direction: 'both',
    kinds: { incident: { issueType: 'Incident', serviceDesk: { serviceDeskId: '1', requestTypeId: '1' } } },
    statusOut: { open: 'Waiting for support' },
    closedStatuses: ['resolved'],
    closeStatus: 'Resolved',
    resolution: 'Done',
    reopen: { mode: 'never' },
    severityToPriority: { critical: 'Highest', high: 'High', moderate: 'Medium', low: 'Low', planning: 'Lowest' },
    fields: [],
    labels: [],
    comments: true,
    ...over,
  };
}

/** All three demo mappings for a connection to the sandbox. */
export function demoMappings(connectionId: string): OutboundMapping[] {
  return [demoSecMapping(connectionId), demoOpsMapping(connectionId), demoJsmMapping(connectionId)];
}
