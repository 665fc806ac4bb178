import { randomBytes } from 'node:crypto';
import { configSchema, type Config } from './schema.js';

/**
 * The configuration used when `npm start` finds no jira-bridge.yaml: one connection to the
 * built-in Jira sandbox and one mapping per kind of host the seeds describe — security findings
 * (SEC, multi-hop workflow, custom fields), ITSM incidents (OPS) and Service Management requests
 * (ITSD desk).
 */
export function demoConfig(sandboxUrl: string, creds: { email: string; apiToken: string }): Config {
  return configSchema.parse({
    connections: [
      {
        id: 'sandbox',
        name: 'Built-in Jira sandbox',
        site_url: sandboxUrl,
        flavour: 'cloud',
        auth: { type: 'basic', email: creds.email, api_token: creds.apiToken },
        webhook: { secret: randomBytes(24).toString('base64url') },
      },
    ],
    mappings: [
      {
        id: 'demo-sec',
        connection: 'sandbox',
        scope: 'astra-web',
        project: 'SEC',
        kinds: {
          vulnerability: { issue_type: 'Vulnerability' },
          finding: { issue_type: 'Finding', subtask_of: 'vulnerability' },
          task: { issue_type: 'Task' },
        },
        status: {
          out: {
            open: 'Open',
            triaged: 'Triaged',
            in_progress: 'In Progress',
            review: 'In Review',
            resolved: 'Resolved',
          },
          in: {
            Open: 'open',
            Triaged: 'triaged',
            'In Progress': 'in_progress',
            'In Review': 'review',
            'category:done': 'resolved',
          },
          closed: ['resolved', 'closed'],
        },
        priority: {
          out: { critical: 'Highest', high: 'High', medium: 'Medium', low: 'Low', informational: 'Lowest' },
          out_default: 'Low',
          in: { Highest: 'critical', High: 'high', Medium: 'medium', Low: 'low', Lowest: 'informational' },
          in_default: 'medium',
        },
        fields: [
          { host: 'cvss', jira: 'CVSS Score', type: 'number', direction: 'to_jira' },
          { host: 'asset_id', jira: 'Asset', type: 'select', direction: 'to_jira' },
          { host: 'url', jira: 'Affected URL', type: 'url', direction: 'to_jira' },
          // By id: the name "Environment" is also Jira's system field.
          { host: 'environments', jira: 'customfield_10013', type: 'multiselect', direction: 'to_jira' },
        ],
        labels: ['astra'],
        close: { status: 'Resolved' },
        resolution: 'Fixed',
      },
      {
        id: 'demo-ops',
        connection: 'sandbox',
        scope: 'stackflow-incidents',
        project: 'OPS',
        kinds: { incident: { issue_type: 'Incident' }, change: { issue_type: 'Task' } },
        status: {
          out: { new: 'To Do', in_progress: 'In Progress', on_hold: 'To Do' },
          in: { 'category:new': 'new', 'category:indeterminate': 'in_progress', 'category:done': 'resolved' },
          closed: ['resolved', 'closed'],
        },
        priority: { out: { P1: 'Highest', P2: 'High', P3: 'Medium', P4: 'Low' }, out_default: 'Medium' },
        labels: ['stackflow-sync'],
        close: { status: 'Done' },
      },
      {
        id: 'demo-itsd',
        connection: 'sandbox',
        scope: 'xyte',
        project: 'ITSD',
        kinds: { incident: { service_desk: '1', request_type: 'Report an incident' } },
        status: { out: { open: 'Waiting for support' }, closed: ['resolved'] },
        priority: { out: { critical: 'Highest', high: 'High', moderate: 'Medium', low: 'Low', planning: 'Lowest' } },
        close: { status: 'Resolved' },
        resolution: 'Done',
        reopen: { mode: 'never', allow_from_jira: false },
      },
    ],
  });
}
