import { fieldWriteType, type JiraCatalog } from '../core/catalog.js';
import type { ConnectionInfo, FieldMappingSnapshot, OutboundMapping } from '../engine/types.js';
import type { ConnectionConfig, MappingConfig } from './schema.js';

/** A Jira field by id or (case-insensitive) name. */
export function findField(catalog: JiraCatalog | undefined, ref: string): JiraCatalog['fields'][number] | undefined {
  if (!catalog) return undefined;
  return (
    catalog.fields.find((f) => f.id === ref) ?? catalog.fields.find((f) => f.name.toLowerCase() === ref.toLowerCase())
  );
}

/**
 * The engine's view of a mapping. Field and request-type names are resolved to ids through the
 * catalog when one is given; without it, `jira` must already be a field id and `type` is used.
 */
export function toOutboundMapping(m: MappingConfig, catalog?: JiraCatalog): OutboundMapping {
  const fields: FieldMappingSnapshot[] = m.fields.map((f) => {
    const jf = findField(catalog, f.jira);
    return {
      host: f.host,
      jira: jf?.id ?? f.jira,
      type: f.type ?? (jf ? fieldWriteType(jf) : 'string'),
      direction: f.direction,
      ...(f.lock ? { lock: f.lock } : {}),
      ...(f.values ? { values: f.values } : {}),
    };
  });
  const kinds: OutboundMapping['kinds'] = {};
  for (const [kind, t] of Object.entries(m.kinds)) {
    if ('issue_type' in t) {
      kinds[kind] = { issueType: t.issue_type, ...(t.subtask_of ? { subtask: true } : {}) };
    } else {
      const desk = catalog?.serviceDesks.find((d) => d.id === t.service_desk || d.projectKey === t.service_desk);
      const rt = desk?.requestTypes.find(
        (r) => r.id === t.request_type || r.name.toLowerCase() === t.request_type.toLowerCase(),
      );
      kinds[kind] = {
        issueType: 'Service Request',
        serviceDesk: { serviceDeskId: desk?.id ?? t.service_desk, requestTypeId: rt?.id ?? t.request_type },
      };
    }
  }
  return {
    id: m.id,
    connectionId: m.connection,
    scope: m.scope,
    projectKey: m.project,
    ...(m.filter ? { filter: m.filter } : {}),
    direction: m.direction,
    ...(m.enabled === false ? { enabled: false } : {}),
    kinds,
    statusOut: m.status.out,
    closedStatuses: m.status.closed,
    closeStatus: 'status' in m.close ? m.close.status : null,
    ...(m.resolution ? { resolution: m.resolution } : {}),
    reopen: {
      mode: m.reopen.mode,
      ...(m.reopen.rework_issue_type ? { reworkIssueType: m.reopen.rework_issue_type } : {}),
      ...(m.reopen.rework_link_type ? { reworkLinkType: m.reopen.rework_link_type } : {}),
    },
    severityToPriority: m.priority.out,
    ...(m.priority.out_default ? { defaultPriority: m.priority.out_default } : {}),
    fields,
    labels: m.labels,
    ...(m.host_link ? { hostLink: { url: m.host_link.url, title: m.host_link.title } } : {}),
    ...(m.templates && Object.values(m.templates).some((v) => v !== undefined)
      ? {
          templates: {
            ...(m.templates.summary !== undefined ? { summary: m.templates.summary } : {}),
            ...(m.templates.description !== undefined ? { description: m.templates.description } : {}),
            ...(m.templates.comment_prefix !== undefined ? { comment_prefix: m.templates.comment_prefix } : {}),
          },
        }
      : {}),
    comments: m.comments.enabled && m.comments.direction !== 'from_jira',
    builtinDirections: m.sync,
    inbound: {
      statusIn: m.status.in,
      ...(m.status.in_default ? { statusInDefault: m.status.in_default } : {}),
      priorityIn: m.priority.in,
      ...(m.priority.in_default ? { priorityInDefault: m.priority.in_default } : {}),
      reopenFromJira: m.reopen.allow_from_jira,
      comments: m.comments.enabled && m.comments.direction !== 'to_jira',
      onJiraDelete: m.on_jira_delete,
      onJiraCreate: m.on_jira_create,
      assigneeUnmatched: m.assignee.unmatched,
      ...(m.attachments
        ? { attachments: { fromJira: m.attachments.from_jira, maxBytes: m.attachments.max_bytes } }
        : {}),
    },
  };
}

export function toConnectionInfo(c: ConnectionConfig): ConnectionInfo {
  return {
    id: c.id,
    name: c.name ?? c.id,
    flavour: c.flavour,
    siteUrl: c.site_url,
    linkCheckSeconds: c.sweep.link_check_seconds,
    ...(c.enabled === false ? { enabled: false } : {}),
  };
}
