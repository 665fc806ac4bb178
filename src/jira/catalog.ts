/**
 * Assembles what a mapping is checked against: projects with their issue types and create fields
 * (select options from createmeta allowedValues, which both flavours serve), statuses with their
 * category (new / indeterminate / done), priorities, resolutions, fields and service desks with
 * their request types.
 */
import { isAppError } from '../core/errors.js';
import type { JiraCatalog } from './catalog-types.js';
import type { JiraClient } from './client.js';
import type { JiraFieldMeta } from './types.js';

export type { JiraCatalog } from './catalog-types.js';

type CategoryKey = 'new' | 'indeterminate' | 'done';

function categoryKey(k: string | undefined): CategoryKey {
  return k === 'done' ? 'done' : k === 'new' ? 'new' : 'indeterminate';
}

function optionsOf(f: JiraFieldMeta): Array<{ id: string; value: string }> | undefined {
  if (!f.allowedValues) return undefined;
  return f.allowedValues.map((v) => ({ id: String(v.id), value: String(v.value ?? v.name ?? v.id) }));
}

export async function fetchCatalog(client: JiraClient): Promise<JiraCatalog> {
  const [projects, statuses, priorities, resolutions, fields, linkTypes] = await Promise.all([
    client.listProjects(),
    client.statuses(),
    client.priorities(),
    client.resolutions(),
    client.fields(),
    // Sites with issue linking switched off answer 404: no link types to check against.
    client.issueLinkTypes().catch((err: unknown) => {
      if (isAppError(err) && (err.code === 'JIRA_NOT_FOUND' || err.code === 'JIRA_FORBIDDEN')) return undefined;
      throw err;
    }),
  ]);
  const fieldOptions = new Map<string, Map<string, { id: string; value: string }>>();
  const outProjects: JiraCatalog['projects'] = [];
  for (const p of projects) {
    const types = await client.issueTypesForProject(p.key);
    const issueTypes: JiraCatalog['projects'][number]['issueTypes'] = [];
    for (const t of types) {
      const meta = await client.createmeta(p.key, String(t.id));
      issueTypes.push({
        id: String(t.id),
        name: t.name,
        subtask: Boolean(t.subtask),
        fields: meta.map((f) => {
          const options = optionsOf(f);
          if (options) {
            const m = fieldOptions.get(f.fieldId) ?? new Map<string, { id: string; value: string }>();
            for (const o of options) m.set(o.id, o);
            fieldOptions.set(f.fieldId, m);
          }
          return {
            id: f.fieldId,
            name: f.name,
            required: f.required,
            ...(f.hasDefaultValue === true ? { hasDefault: true } : {}),
            ...(options ? { options } : {}),
          };
        }),
      });
    }
    outProjects.push({ id: String(p.id), key: p.key, name: p.name, issueTypes });
  }
  let serviceDesks: JiraCatalog['serviceDesks'] = [];
  let serviceDesksUnreadable: string | undefined;
  try {
    const desks = await client.serviceDesks();
    serviceDesks = await Promise.all(
      desks.map(async (d) => ({
        id: d.id,
        projectId: d.projectId,
        projectKey: d.projectKey,
        requestTypes: (await client.requestTypes(d.id)).map((r) => ({
          id: r.id,
          name: r.name,
          ...(r.issueTypeId ? { issueTypeId: String(r.issueTypeId) } : {}),
        })),
      })),
    );
  } catch (err) {
    // Sites without Service Management answer 404 on /rest/servicedeskapi; an OAuth grant without
    // its scopes a 401 "scope does not match": the desks are unknown until it is reconnected.
    const scope = isAppError(err) && (err.details as { kind?: unknown } | undefined)?.kind === 'scope';
    if (scope) serviceDesksUnreadable = err.message;
    else if (!(isAppError(err) && (err.code === 'JIRA_NOT_FOUND' || err.code === 'JIRA_FORBIDDEN'))) throw err;
  }
  return {
    flavour: client.flavour,
    fetchedAt: new Date().toISOString(),
    projects: outProjects,
    statuses: statuses.map((s) => ({ id: String(s.id), name: s.name, category: categoryKey(s.statusCategory?.key) })),
    priorities: priorities.map((p) => ({ id: String(p.id), name: p.name })),
    resolutions: resolutions.map((r) => ({ id: String(r.id), name: r.name })),
    fields: fields.map((f) => {
      const opts = fieldOptions.get(f.id);
      return {
        id: f.id,
        name: f.name,
        custom: Boolean(f.custom),
        type: f.schema?.type ?? 'unknown',
        ...(f.schema?.custom ? { customType: f.schema.custom } : {}),
        ...(f.schema?.items ? { items: f.schema.items } : {}),
        ...(opts ? { options: [...opts.values()] } : {}),
      };
    }),
    serviceDesks,
    ...(serviceDesksUnreadable ? { serviceDesksUnreadable } : {}),
    ...(linkTypes ? { linkTypes } : {}),
  };
}
