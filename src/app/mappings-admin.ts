/**
 * Mappings through the admin API. The configuration file seeds the model; a mapping saved through
 * the API is persisted in the `mappings` table (config `{ source: 'api', mapping }`) and wins over
 * the file's mapping of the same id from then on (the file's is logged as overridden at start).
 * Saving validates the structure (the same schema as the file), the connection, the uniqueness of
 * the scope, and every value against the Jira site's catalogue (projects, issue types, statuses,
 * priorities, fields and their types, the options of field value tables, the fields each issue
 * type requires on create), its JQL filter by running it (Jira's message when Jira refuses it),
 * and that no other mapping of the connection takes the same project's issue types from Jira
 * (unless filters separate them), naming each wrong value and the valid ones. A saved mapping
 * applies to new work at once; records already linked keep the snapshot they were linked with
 * until re-synced (one by one, or all at once by applying the mapping: ../engine/apply.ts). Every save and delete is in the audit log.
 */
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import {
  checkMappingAgainstCatalog,
  checkMappingStructure,
  inboundOverlaps,
  mappingCatalogNeeds,
  overlapMessage,
  resolutionCatalogNeeds,
} from '../core/config-check.js';
import { jqlFilterProblem } from '../jira/jql-check.js';
import { AppError } from '../core/errors.js';
import { mappingIssues } from '../config/load.js';
import { mappingSchema, type Config, type MappingConfig } from '../config/schema.js';
import { toOutboundMapping } from '../config/to-engine.js';
import type { CatalogCache } from '../jira/catalog.js';
import type { JiraCatalog } from '../core/catalog.js';
import type { OutboundMapping } from '../engine/types.js';
import type { JiraClient } from '../jira/client.js';
import type { Logger } from '../log/logger.js';
import { fromJson, toJson } from '../store/json.js';
import type { Database } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { appendAudit } from '../store/audit.js';

interface StoredApiMapping {
  source: 'api';
  mapping: MappingConfig;
}

export interface MappingEntry {
  id: string;
  source: 'file' | 'api';
  version: number;
  mapping: MappingConfig;
}

/** Mappings saved through the API, as stored (valid ones only; a bad row is logged and skipped). */
export async function loadApiMappings(
  db: Kysely<Database>,
  logger?: Logger,
): Promise<Map<string, { version: number; mapping: MappingConfig }>> {
  const rows = await db.selectFrom('mappings').select(['id', 'config', 'version']).execute();
  const out = new Map<string, { version: number; mapping: MappingConfig }>();
  for (const r of rows) {
    const c = fromJson<Partial<StoredApiMapping>>(r.config);
    if (c?.source !== 'api') continue;
    const parsed = mappingSchema.safeParse(c.mapping);
    if (parsed.success) out.set(r.id, { version: r.version, mapping: parsed.data });
    else logger?.error({ mappingId: r.id }, 'a stored mapping no longer validates; it is ignored until saved again');
  }
  return out;
}

/** The live list: the file's mappings, replaced or extended by the API's. */
export function mergeMappings(
  file: MappingConfig[],
  api: Map<string, { version: number; mapping: MappingConfig }>,
  logger?: Logger,
): MappingEntry[] {
  const out: MappingEntry[] = [];
  for (const m of file) {
    const saved = api.get(m.id);
    if (saved) {
      logger?.warn(
        { mappingId: m.id },
        'the mapping saved through the API overrides the one in the configuration file',
      );
      out.push({ id: m.id, source: 'api', version: saved.version, mapping: saved.mapping });
    } else out.push({ id: m.id, source: 'file', version: 0, mapping: m });
  }
  for (const [id, saved] of api)
    if (!file.some((m) => m.id === id)) out.push({ id, source: 'api', version: saved.version, mapping: saved.mapping });
  return out;
}

export interface MappingAdminDeps {
  store: Store;
  config: Config;
  clients: Map<string, JiraClient>;
  /** Current entries (file + API); replaced on every save. */
  entries: MappingEntry[];
  /** Makes a new list of engine mappings live. */
  apply(mappings: OutboundMapping[]): void;
  /** Each connection's catalogue cache: a save fetches only the parts not fetched yet. */
  catalogs: Map<string, CatalogCache>;
  logger?: Logger | undefined;
  now?: () => number;
}

/** Each problem at body.<path>, worded as `check` and start-up word it (the valid choices named). */
function zodIssues(err: z.ZodError): Array<{ path: string; message: string }> {
  return mappingIssues(err.issues).map((i) => ({
    path: ['body', ...i.path.map(String)].join('.'),
    message: i.message,
  }));
}

export function createMappingAdmin(deps: MappingAdminDeps) {
  const now = deps.now ?? Date.now;
  let entries = deps.entries;

  const engineMappings = (): OutboundMapping[] =>
    entries.map((e) => toOutboundMapping(e.mapping, deps.catalogs.get(e.mapping.connection)?.view()));

  async function save(id: string, body: unknown, actor: string): Promise<{ entry: MappingEntry; created: boolean }> {
    const withId = body && typeof body === 'object' && !Array.isArray(body) ? { ...(body as object), id } : body;
    const parsed = mappingSchema.safeParse(withId, { reportInput: true });
    if (!parsed.success) {
      const issues = zodIssues(parsed.error);
      throw new AppError('VALIDATION_FAILED', `${issues[0]!.path}: ${issues[0]!.message}`, { details: { issues } });
    }
    const m = parsed.data;
    // What needs no Jira first (kinds, rework, field value tables, host_link placeholders).
    const structural = checkMappingStructure(m, 0).map((p) => ({
      path: p.path.replace(/^mappings\[0\]/, 'body'),
      message: p.message,
    }));
    if (structural.length) {
      throw new AppError('VALIDATION_FAILED', `${structural[0]!.path}: ${structural[0]!.message}`, {
        details: { issues: structural },
      });
    }
    const conn = deps.config.connections.find((c) => c.id === m.connection);
    if (!conn) {
      const known = deps.config.connections.map((c) => c.id).join(', ') || '(none)';
      throw new AppError(
        'VALIDATION_FAILED',
        `body.connection: "${m.connection}" is not a configured connection; known: ${known}`,
        {
          details: { issues: [{ path: 'body.connection', message: `unknown connection; known: ${known}` }] },
        },
      );
    }
    const clash = entries.find(
      (e) => e.id !== id && e.mapping.connection === m.connection && e.mapping.scope === m.scope,
    );
    if (clash) {
      throw new AppError(
        'CONFLICT',
        `body.scope: mapping "${clash.id}" already maps scope "${m.scope}" on connection "${m.connection}"`,
        {
          details: { issues: [{ path: 'body.scope', message: `already mapped by ${clash.id}` }] },
        },
      );
    }
    // One owner per Jira issue: no other mapping of the connection may take the same project's
    // issue types from Jira, unless JQL filters separate the two.
    const others = entries.filter((e) => e.id !== id).map((e) => e.mapping);
    const overlap = inboundOverlaps([...others, m]).find((o) => o.second === others.length);
    if (overlap) {
      const path = `body.${overlap.at}`;
      const message = overlapMessage(overlap, [...others, m]);
      throw new AppError('CONFLICT', `${path}: ${message}`, {
        details: { issues: [{ path, message }], mappings: [others[overlap.first]!.id, id] },
      });
    }
    // Values against Jira: the parts of the site's catalogue this mapping names, fetched once per
    // connection and reused. The create fields of its issue types are read fresh (a field made
    // required in Jira changes nothing else, and a mapping that misses it fails every create); a
    // value the cached parts do not know may be new in Jira, so before a value is refused the
    // parts fetched before this save are fetched again once.
    const client = deps.clients.get(m.connection);
    const cache = deps.catalogs.get(m.connection);
    if (!client || !cache)
      throw new AppError('VALIDATION_FAILED', `body.connection: "${m.connection}" has no Jira client`);
    const needs = mappingCatalogNeeds(m);
    const startedAt = Date.now();
    const against = (catalog: JiraCatalog) =>
      checkMappingAgainstCatalog(m, catalog, 0).map((p) => ({
        path: p.path.replace(/^mappings\[0\]/, 'body'),
        message: p.message,
      }));
    let problems = against(await cache.ensure(needs, { refreshBefore: startedAt, only: 'createFields' }));
    if (problems.length) problems = against(await cache.ensure(needs, { refreshBefore: startedAt }));
    // The filter as jira-bridge will run it (only once the project is known to exist).
    if (m.filter !== undefined && !problems.some((p) => p.path === 'body.project')) {
      const bad = await jqlFilterProblem(client, m.project, m.filter);
      if (bad) problems.push({ path: 'body.filter', message: bad });
    }
    if (problems.length) {
      throw new AppError('VALIDATION_FAILED', `${problems[0]!.path}: ${problems[0]!.message}`, {
        details: { issues: problems },
      });
    }
    const t = now();
    const existing = entries.find((e) => e.id === id);
    const version = (existing?.version ?? 0) + 1;
    await deps.store.transaction(async (trx) => {
      await trx
        .insertInto('connections')
        .values({
          id: conn.id,
          name: conn.name ?? conn.id,
          flavour: conn.flavour,
          site_url: conn.site_url,
          config: '{}',
          secrets_enc: null,
          created_at: t,
          updated_at: t,
        })
        .onConflict((oc) => oc.doNothing())
        .execute();
      const config = toJson({ source: 'api', mapping: m } satisfies StoredApiMapping);
      await trx
        .insertInto('mappings')
        .values({ id, connection_id: m.connection, host_scope: m.scope, config, version, created_at: t, updated_at: t })
        .onConflict((oc) =>
          oc
            .column('id')
            .doUpdateSet({ connection_id: m.connection, host_scope: m.scope, config, version, updated_at: t }),
        )
        .execute();
      await appendAudit(trx, {
        actor,
        action: existing ? 'mapping.updated' : 'mapping.created',
        target: `mapping:${id}`,
        before: existing ? existing.mapping : null,
        after: m,
        at: t,
      });
    });
    const entry: MappingEntry = { id, source: 'api', version, mapping: m };
    entries = existing ? entries.map((e) => (e.id === id ? entry : e)) : [...entries, entry];
    deps.apply(engineMappings());
    deps.logger?.info({ mappingId: id, version, actor }, existing ? 'mapping updated' : 'mapping created');
    return { entry, created: !existing };
  }

  async function remove(id: string, actor: string): Promise<void> {
    const existing = entries.find((e) => e.id === id);
    if (!existing) throw new AppError('NOT_FOUND', `No mapping "${id}"`);
    if (existing.source === 'file') {
      throw new AppError('CONFLICT', `Mapping "${id}" comes from the configuration file; remove it there`);
    }
    const t = now();
    await deps.store.transaction(async (trx) => {
      // The row stays (links refer to it); it stops being an API mapping.
      await trx
        .updateTable('mappings')
        .set({ config: toJson({ source: 'deleted' }), updated_at: t })
        .where('id', '=', id)
        .execute();
      await appendAudit(trx, {
        actor,
        action: 'mapping.deleted',
        target: `mapping:${id}`,
        before: existing.mapping,
        after: null,
        at: t,
      });
    });
    // An API override of a file mapping: the file's comes back.
    const fromFile = deps.config.mappings.find((m) => m.id === id);
    entries = fromFile
      ? entries.map((e) => (e.id === id ? { id, source: 'file' as const, version: 0, mapping: fromFile } : e))
      : entries.filter((e) => e.id !== id);
    deps.apply(engineMappings());
  }

  /** Another replica saved or deleted a mapping: read them again from the store and apply. */
  async function reload(): Promise<void> {
    entries = mergeMappings(deps.config.mappings, await loadApiMappings(deps.store.db, deps.logger));
    // Field names resolve against the site's catalogue: fetch the parts this replica lacks.
    for (const e of entries.filter((x) => x.mapping.fields.length)) {
      const id = e.mapping.connection;
      try {
        await deps.catalogs.get(id)?.ensure(resolutionCatalogNeeds(e.mapping));
      } catch (err) {
        deps.logger?.warn(
          { connectionId: id, err: (err as Error).message },
          'could not fetch the Jira catalogue; field mappings use the ids and types as saved',
        );
      }
    }
    deps.apply(engineMappings());
  }

  return { list: () => entries, get: (id: string) => entries.find((e) => e.id === id), save, remove, reload };
}

export type MappingAdmin = ReturnType<typeof createMappingAdmin>;
