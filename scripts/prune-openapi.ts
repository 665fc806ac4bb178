/**
 * Produces test/fixtures/openapi/jira-cloud-v3.pruned.json from Atlassian's published
 * swagger-v3.v3.json: only the paths the sandbox serves (plus every component they reference,
 * transitively), so CI has the contract without the 2.4 MB original.
 *
 *   npx tsx scripts/prune-openapi.ts [source.json] [target.json]
 *
 * Default source: ../shared/jira/openapi/swagger-v3.v3.json (outside the repo; see
 * test/fixtures/openapi/README.md for provenance and the source's sha256).
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { format, resolveConfig } from 'prettier';

/** Path templates the sandbox serves (Cloud, /rest/api/3) or that the contract suite checks. */
export const SERVED_PATHS = [
  '/rest/api/3/myself',
  '/rest/api/3/serverInfo',
  '/rest/api/3/project',
  '/rest/api/3/project/search',
  '/rest/api/3/project/{projectIdOrKey}',
  '/rest/api/3/project/{projectIdOrKey}/statuses',
  '/rest/api/3/issuetype',
  '/rest/api/3/issuetype/{id}',
  '/rest/api/3/issue/createmeta',
  '/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes',
  '/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}',
  '/rest/api/3/priority',
  '/rest/api/3/priority/{id}',
  '/rest/api/3/status',
  '/rest/api/3/status/{idOrName}',
  '/rest/api/3/statuscategory',
  '/rest/api/3/field',
  '/rest/api/3/user',
  '/rest/api/3/user/search',
  '/rest/api/3/issue',
  '/rest/api/3/issue/bulk',
  '/rest/api/3/issue/{issueIdOrKey}',
  '/rest/api/3/issue/{issueIdOrKey}/changelog',
  '/rest/api/3/issue/{issueIdOrKey}/editmeta',
  '/rest/api/3/issue/{issueIdOrKey}/assignee',
  '/rest/api/3/issue/{issueIdOrKey}/transitions',
  '/rest/api/3/issue/{issueIdOrKey}/comment',
  '/rest/api/3/issue/{issueIdOrKey}/comment/{id}',
  '/rest/api/3/issue/{issueIdOrKey}/attachments',
  '/rest/api/3/attachment/{id}',
  '/rest/api/3/attachment/content/{id}',
  '/rest/api/3/resolution',
  '/rest/api/3/statuses',
  '/rest/api/3/issue/{issueIdOrKey}/properties',
  '/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}',
  '/rest/api/3/issue/{issueIdOrKey}/remotelink',
  '/rest/api/3/issue/{issueIdOrKey}/remotelink/{linkId}',
  '/rest/api/3/issueLink',
  '/rest/api/3/issueLink/{linkId}',
  '/rest/api/3/issueLinkType',
  '/rest/api/3/issueLinkType/{issueLinkTypeId}',
  '/rest/api/3/search',
  '/rest/api/3/search/jql',
  '/rest/api/3/search/approximate-count',
  '/rest/api/3/webhook',
  '/rest/api/3/webhook/refresh',
  '/rest/api/3/webhook/failed',
];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function collectRefs(node: Json, out: Set<string>): void {
  if (Array.isArray(node)) {
    node.forEach((n) => collectRefs(n, out));
  } else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.add(v);
      else collectRefs(v, out);
    }
  }
}

export function prune(spec: Record<string, Json>, paths: readonly string[]): Record<string, Json> {
  const allPaths = spec.paths as Record<string, Json>;
  const components = spec.components as Record<string, Record<string, Json>>;
  const keptPaths: Record<string, Json> = {};
  for (const p of paths) if (allPaths[p] !== undefined) keptPaths[p] = allPaths[p] as Json;
  const kept: Record<string, Record<string, Json>> = {};
  const queue = new Set<string>();
  collectRefs(keptPaths, queue);
  const seen = new Set<string>();
  for (const ref of queue) {
    if (seen.has(ref)) continue;
    seen.add(ref);
    const m = /^#\/components\/([^/]+)\/(.+)$/u.exec(ref);
    if (!m) continue;
    const [, section, name] = m as unknown as [string, string, string];
    const value = components[section]?.[name];
    if (value === undefined) continue;
    (kept[section] ??= {})[name] = value;
    const inner = new Set<string>();
    collectRefs(value, inner);
    for (const r of inner) queue.add(r);
  }
  if (components.securitySchemes) kept.securitySchemes = components.securitySchemes;
  return {
    openapi: spec.openapi as Json,
    info: spec.info as Json,
    servers: spec.servers as Json,
    paths: keptPaths,
    components: kept as unknown as Json,
  };
}

async function main(): Promise<void> {
  const source = process.argv[2] ?? '../shared/jira/openapi/swagger-v3.v3.json';
  const target = process.argv[3] ?? 'test/fixtures/openapi/jira-cloud-v3.pruned.json';
  const raw = readFileSync(source);
  const spec = JSON.parse(raw.toString('utf8')) as Record<string, Json>;
  const pruned = prune(spec, SERVED_PATHS);
  const missing = SERVED_PATHS.filter((p) => (pruned.paths as Record<string, Json>)[p] === undefined);
  // Formatted as the repository's prettier would, so `prettier --check .` stays clean.
  const style = (await resolveConfig(target)) ?? {};
  writeFileSync(target, await format(JSON.stringify(pruned), { ...style, filepath: target }));
  const schemas = Object.keys((pruned.components as Record<string, Record<string, Json>>).schemas ?? {}).length;
  console.log(
    `${target}: ${Object.keys(pruned.paths as object).length} paths, ${schemas} schemas; source sha256 ${createHash('sha256').update(raw).digest('hex')}`,
  );
  if (missing.length > 0) console.log(`not in the source: ${missing.join(', ')}`);
}

await main();
