/**
 * Assembles what a mapping is checked against: projects with their issue types and create fields
 * (select options from createmeta allowedValues, which both flavours serve), statuses with their
 * category (new / indeterminate / done), priorities, resolutions, fields and service desks with
 * their request types.
 *
 * A connection's catalogue is a cache of parts (createCatalogCache): each part (the status list,
 * one project's issue types, one issue type's create fields, one desk's request types, …) is
 * fetched the first time something needs it and kept, so a mapping costs the calls of the parts it
 * names and a second mapping of the same site only those the first did not need (issue 17: a
 * tenant's connection + mapping cost 20 calls of a whole catalogue per save). `full()` is the
 * console's whole catalogue; `fetchCatalog` the same without a cache (`jira-bridge check`).
 */
import { isAppError } from '../core/errors.js';
import { putBackOfAnother } from './pacer.js';
import type { CatalogNeeds, JiraCatalog } from '../core/catalog.js';
import type { JiraClient } from './client.js';
import type {
  JiraField,
  JiraFieldMeta,
  JiraIssueTypeRef,
  JiraPriority,
  JiraProject,
  JiraResolution,
  JiraStatus,
  RequestType,
  ServiceDesk,
} from './types.js';

export type { JiraCatalog } from './catalog-types.js';

type CategoryKey = 'new' | 'indeterminate' | 'done';
type LinkType = { id: string; name: string; inward: string; outward: string };
type CatalogClient = Pick<
  JiraClient,
  | 'flavour'
  | 'listProjects'
  | 'statuses'
  | 'priorities'
  | 'resolutions'
  | 'fields'
  | 'issueLinkTypes'
  | 'issueTypesForProject'
  | 'createmeta'
  | 'serviceDesks'
  | 'requestTypes'
  | 'workflowStatuses'
>;

function categoryKey(k: string | undefined): CategoryKey {
  return k === 'done' ? 'done' : k === 'new' ? 'new' : 'indeterminate';
}

function optionsOf(f: JiraFieldMeta): Array<{ id: string; value: string }> | undefined {
  if (!f.allowedValues) return undefined;
  return f.allowedValues.map((v) => ({ id: String(v.id), value: String(v.value ?? v.name ?? v.id) }));
}

const eq = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

export interface CatalogCache {
  /** What has been fetched so far, as a catalogue (undefined before anything was). */
  view(): JiraCatalog | undefined;
  /**
   * Fetches the parts `needs` names that are not cached (or were fetched before `refreshBefore`,
   * epoch ms; with `only: 'createFields'`, only create fields are held to it) and returns the
   * catalogue of everything cached.
   */
  ensure(needs: CatalogNeeds, opts?: { refreshBefore?: number; only?: 'createFields' }): Promise<JiraCatalog>;
  /** Every part of the site (the console's lists); `reload` fetches them all again. */
  full(opts?: { reload?: boolean }): Promise<JiraCatalog>;
}

interface Part<T> {
  value: T;
  at: number;
}

export function createCatalogCache(client: CatalogClient, now: () => number = Date.now): CatalogCache {
  const parts = new Map<string, Part<unknown>>();
  const inflight = new Map<string, Promise<unknown>>();
  let lastAt = 0;

  async function part<T>(key: string, refreshBefore: number, fetch: () => Promise<T>): Promise<T> {
    const have = parts.get(key);
    if (have && have.at >= refreshBefore) return have.value as T;
    const running = inflight.get(key);
    // Joined a fetch a queued job started: if the job was put back (no budget), fetch anew here.
    if (running)
      return (running as Promise<T>).catch((err: unknown) => {
        if (putBackOfAnother(err)) return part(key, refreshBefore, fetch);
        throw err;
      });
    const p = fetch()
      .then((value) => {
        const at = now();
        parts.set(key, { value, at });
        lastAt = Math.max(lastAt, at);
        return value;
      })
      .finally(() => inflight.delete(key));
    inflight.set(key, p);
    return p;
  }
  const got = <T>(key: string): T | undefined => parts.get(key)?.value as T | undefined;

  const projectsPart = (r: number) => part<JiraProject[]>('projects', r, () => client.listProjects());
  const linkTypesPart = (r: number) =>
    part<LinkType[] | undefined>('linkTypes', r, () =>
      // Sites with issue linking switched off answer 404: no link types to check against.
      client.issueLinkTypes().catch((err: unknown) => {
        if (isAppError(err) && (err.code === 'JIRA_NOT_FOUND' || err.code === 'JIRA_FORBIDDEN')) return undefined;
        throw err;
      }),
    );
  const desksPart = (r: number) =>
    part<{ desks: ServiceDesk[]; unreadable?: string }>('desks', r, async () => {
      try {
        return { desks: await client.serviceDesks() };
      } catch (err) {
        // Sites without Service Management answer 404 on /rest/servicedeskapi; an OAuth grant without
        // its scopes a 401 "scope does not match": the desks are unknown until it is reconnected.
        const scope = isAppError(err) && (err.details as { kind?: unknown } | undefined)?.kind === 'scope';
        if (scope) return { desks: [], unreadable: err.message };
        if (isAppError(err) && (err.code === 'JIRA_NOT_FOUND' || err.code === 'JIRA_FORBIDDEN')) return { desks: [] };
        throw err;
      }
    });
  const issueTypesPart = (key: string, r: number) =>
    part<JiraIssueTypeRef[]>(`types:${key}`, r, () => client.issueTypesForProject(key));
  const createPart = (key: string, typeId: string, r: number) =>
    part<JiraFieldMeta[]>(`create:${key}/${typeId}`, r, () => client.createmeta(key, typeId));
  type Workflows = Awaited<ReturnType<JiraClient['workflowStatuses']>>;
  const workflowsPart = (key: string, r: number) =>
    part<Workflows>(`workflows:${key}`, r, () =>
      // Which statuses each issue type's workflow has (closing targets are checked against them).
      client.workflowStatuses(key).catch((err: unknown) => {
        if (isAppError(err) && (err.code === 'JIRA_NOT_FOUND' || err.code === 'JIRA_FORBIDDEN')) return null;
        throw err;
      }),
    );
  const requestTypesPart = (deskId: string, r: number) =>
    part<RequestType[]>(`requestTypes:${deskId}`, r, () => client.requestTypes(deskId));

  async function ensure(
    needs: CatalogNeeds,
    opts: { refreshBefore?: number; only?: 'createFields' } = {},
  ): Promise<JiraCatalog> {
    const rc = opts.refreshBefore ?? -Infinity;
    const r = opts.only === 'createFields' ? -Infinity : rc;
    const workflowRefs = needs.workflows ?? [];
    const wantProjects = needs.projects.length > 0 || needs.createFields.length > 0 || workflowRefs.length > 0;
    const wantDesks = needs.serviceDesks.length > 0;
    const [projects, , , , , , desks] = await Promise.all([
      wantProjects ? projectsPart(r) : undefined,
      needs.statuses ? part<JiraStatus[]>('statuses', r, () => client.statuses()) : undefined,
      needs.priorities ? part<JiraPriority[]>('priorities', r, () => client.priorities()) : undefined,
      needs.resolutions ? part<JiraResolution[]>('resolutions', r, () => client.resolutions()) : undefined,
      needs.fields ? part<JiraField[]>('fields', r, () => client.fields()) : undefined,
      needs.linkTypes ? linkTypesPart(r) : undefined,
      wantDesks ? desksPart(r) : undefined,
    ]);
    const keyOf = (ref: string): string | undefined =>
      projects?.find((p) => eq(p.key, ref) || String(p.id) === ref)?.key;
    const typeKeys = [
      ...new Set([...needs.projects, ...needs.createFields.map((c) => c.project)].flatMap((p) => keyOf(p) ?? [])),
    ];
    const types = new Map(await Promise.all(typeKeys.map(async (k) => [k, await issueTypesPart(k, r)] as const)));
    await Promise.all([...new Set(workflowRefs.flatMap((p) => keyOf(p) ?? []))].map(async (k) => workflowsPart(k, r)));
    await Promise.all(
      needs.createFields.map(async (c) => {
        const key = keyOf(c.project);
        const t = key
          ? types.get(key)?.find((x) => eq(x.name, c.issueType) || String(x.id) === c.issueType)
          : undefined;
        if (key && t) await createPart(key, String(t.id), rc);
      }),
    );
    if (desks) {
      const wanted = desks.desks.filter((d) => needs.serviceDesks.some((s) => s === d.id || eq(s, d.projectKey)));
      await Promise.all(wanted.map((d) => requestTypesPart(d.id, r)));
    }
    return view()!;
  }

  async function full(opts: { reload?: boolean } = {}): Promise<JiraCatalog> {
    const r = opts.reload ? now() : -Infinity;
    const [projects, , , , , , desks] = await Promise.all([
      projectsPart(r),
      part<JiraStatus[]>('statuses', r, () => client.statuses()),
      part<JiraPriority[]>('priorities', r, () => client.priorities()),
      part<JiraResolution[]>('resolutions', r, () => client.resolutions()),
      part<JiraField[]>('fields', r, () => client.fields()),
      linkTypesPart(r),
      desksPart(r),
    ]);
    for (const p of projects) {
      const [types] = await Promise.all([issueTypesPart(p.key, r), workflowsPart(p.key, r)]);
      for (const t of types) await createPart(p.key, String(t.id), r);
    }
    await Promise.all(desks.desks.map((d) => requestTypesPart(d.id, r)));
    return view()!;
  }

  function view(): JiraCatalog | undefined {
    if (parts.size === 0) return undefined;
    const fieldOptions = new Map<string, Map<string, { id: string; value: string }>>();
    const outProjects: JiraCatalog['projects'] = (got<JiraProject[]>('projects') ?? []).map((p) => ({
      id: String(p.id),
      key: p.key,
      name: p.name,
      issueTypes: (got<JiraIssueTypeRef[]>(`types:${p.key}`) ?? []).map((t) => {
        const workflow = got<Workflows>(`workflows:${p.key}`)?.find((w) => w.id === String(t.id));
        return {
          id: String(t.id),
          name: t.name,
          subtask: Boolean(t.subtask),
          ...(workflow ? { statuses: workflow.statuses.map((s) => s.name) } : {}),
          fields: (got<JiraFieldMeta[]>(`create:${p.key}/${String(t.id)}`) ?? []).map((f) => {
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
        };
      }),
    }));
    const desks = got<{ desks: ServiceDesk[]; unreadable?: string }>('desks');
    const linkTypes = got<LinkType[] | undefined>('linkTypes');
    return {
      flavour: client.flavour,
      fetchedAt: new Date(lastAt).toISOString(),
      projects: outProjects,
      statuses: (got<JiraStatus[]>('statuses') ?? []).map((s) => ({
        id: String(s.id),
        name: s.name,
        category: categoryKey(s.statusCategory?.key),
      })),
      priorities: (got<JiraPriority[]>('priorities') ?? []).map((p) => ({ id: String(p.id), name: p.name })),
      resolutions: (got<JiraResolution[]>('resolutions') ?? []).map((r) => ({ id: String(r.id), name: r.name })),
      fields: (got<JiraField[]>('fields') ?? []).map((f) => {
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
      serviceDesks: (desks?.desks ?? []).map((d) => ({
        id: d.id,
        projectId: d.projectId,
        projectKey: d.projectKey,
        requestTypes: (got<RequestType[]>(`requestTypes:${d.id}`) ?? []).map((r) => ({
          id: r.id,
          name: r.name,
          ...(r.issueTypeId ? { issueTypeId: String(r.issueTypeId) } : {}),
        })),
      })),
      ...(desks?.unreadable ? { serviceDesksUnreadable: desks.unreadable } : {}),
      ...(linkTypes ? { linkTypes } : {}),
    };
  }

  return { view, ensure, full };
}

/** The whole catalogue, fetched now (no cache). */
export function fetchCatalog(client: CatalogClient): Promise<JiraCatalog> {
  return createCatalogCache(client).full();
}
