/**
 * The operations of the running service's `/openapi.json` (never a hand-written list), the
 * concrete values for their path parameters (ids of seeded data), the spellings of a path an
 * attacker tries, and a valid example body for each operation that takes JSON.
 */
import { HOST_SCOPE, OTHER_SCOPE } from './oracle.js';
import type { World } from './world.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- JSON Schema / OpenAPI documents are untyped */
export type Schema = Record<string, any>;

export interface Param {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  schema: Schema;
}

export interface Operation {
  method: string;
  /** The OpenAPI path, `/api/v1/records/{scope}/{hostId}`. */
  template: string;
  /** `GET /api/v1/records/{scope}/{hostId}`. */
  label: string;
  params: Param[];
  /** The JSON request body's schema ($refs resolved), if the operation takes JSON. */
  jsonBody: Schema | undefined;
  /** multipart/form-data upload (documented by summary or content type). */
  multipart: boolean;
  /** Not in /openapi.json but documented public by the README (/openapi.json itself, /docs, /console/). */
  fromReadme?: boolean;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head'];

function resolve(doc: Schema, s: Schema | undefined, depth = 0): Schema | undefined {
  if (!s || depth > 20) return s;
  if (typeof s.$ref === 'string') {
    const name = s.$ref.replace('#/components/schemas/', '');
    return resolve(doc, doc.components?.schemas?.[name], depth + 1);
  }
  return s;
}

export function operationsOf(doc: Schema): Operation[] {
  const ops: Operation[] = [];
  for (const [template, item] of Object.entries<Schema>(doc.paths ?? {})) {
    for (const [m, op] of Object.entries<Schema>(item)) {
      if (!METHODS.includes(m)) continue;
      const method = m.toUpperCase();
      const params: Param[] = ((op.parameters ?? []) as Schema[])
        .filter((p) => p.in === 'path' || p.in === 'query')
        .map((p) => ({
          name: p.name as string,
          in: p.in as 'path' | 'query',
          required: Boolean(p.required),
          schema: resolve(doc, p.schema) ?? {},
        }));
      const content = (op.requestBody?.content ?? {}) as Record<string, Schema>;
      const jsonBody = content['application/json'] ? resolve(doc, content['application/json'].schema) : undefined;
      const multipart =
        content['multipart/form-data'] !== undefined ||
        /multipart\/form-data/.test(String(op.summary ?? '')) ||
        (Array.isArray(op.consumes) && op.consumes.includes('multipart/form-data'));
      ops.push({ method, template, label: `${method} ${template}`, params, jsonBody, multipart });
    }
  }
  // Documented public by the README but not operations of the document itself.
  const known = new Set(ops.map((o) => o.label));
  for (const template of ['/openapi.json', '/docs', '/console/']) {
    if (!known.has(`GET ${template}`)) {
      ops.push({
        method: 'GET',
        template,
        label: `GET ${template}`,
        params: [],
        jsonBody: undefined,
        multipart: false,
        fromReadme: true,
      });
    }
  }
  return ops;
}

export const isRead = (method: string) => method === 'GET' || method === 'HEAD';

/** A concrete request target: the path with parameters filled in, and the scope it names. */
export interface Instance {
  /** What is special about this instance (`scope=web`, `no scope`, …). */
  note: string;
  path: string;
  /** The record scope the request names (path or query), if any. */
  scope: string | undefined;
  /** The scope/hostId pair filled in, for building bodies. */
  values: Record<string, string>;
}

/** Seeded ids by the resource a path parameter names. */
function seededValue(w: World, template: string, name: string, scope: string): string {
  const s = w.seeded;
  if (name === 'scope') return scope;
  if (name === 'hostId') return scope === HOST_SCOPE ? s.webRecord : s.payRecord;
  if (name === 'attachmentId') return s.attachmentId;
  if (name === 'connectionId') return 'sb';
  const resource = template.split('/')[3] ?? '';
  const byResource: Record<string, string> = {
    jobs: String(s.jobId),
    backfill: s.backfillId,
    connections: s.connectionId,
    'host-webhooks': s.hostWebhookId,
    mappings: s.mappingId,
    tokens: s.victimTokenId,
  };
  return byResource[resource] ?? 'hostile-probe';
}

/**
 * The instances an operation is tried with: a record route once in the scoped host token's scope
 * and once outside it; a route with `?scope=` without it, with it and with another; else once.
 * `missingIds`: ids that name nothing (all but the scope), for probes that must not change data.
 */
export function instancesOf(w: World, op: Operation, missingIds = false): Instance[] {
  const pathParams = op.params.filter((p) => p.in === 'path');
  const hasPathScope = pathParams.some((p) => p.name === 'scope');
  const hasQueryScope = op.params.some((p) => p.in === 'query' && p.name === 'scope');
  const fill = (scope: string) => {
    const values: Record<string, string> = {};
    let path = op.template;
    for (const p of pathParams) {
      const keep = p.name === 'scope' || p.name === 'connectionId';
      const v = missingIds && !keep ? `hs-missing-${p.name}` : seededValue(w, op.template, p.name, scope);
      values[p.name] = v;
      path = path.replace(`{${p.name}}`, encodeURIComponent(v));
    }
    return { path, values };
  };
  if (op.label === 'POST /api/v1/sync') {
    // The scope is the record's, named in the body: once in the scoped host token's scope, once outside.
    return [HOST_SCOPE, OTHER_SCOPE].map((scope) => ({
      note: `body scope ${scope}`,
      scope,
      path: op.template,
      values: { scope, hostId: seededValue(w, op.template, 'hostId', scope) },
    }));
  }
  if (hasPathScope) {
    return [HOST_SCOPE, OTHER_SCOPE].map((scope) => ({ note: `scope ${scope}`, scope, ...fill(scope) }));
  }
  if (hasQueryScope) {
    const { path, values } = fill(HOST_SCOPE);
    return [
      { note: 'no scope', path, scope: undefined, values },
      { note: `?scope=${HOST_SCOPE}`, path: `${path}?scope=${HOST_SCOPE}`, scope: HOST_SCOPE, values },
      { note: `?scope=${OTHER_SCOPE}`, path: `${path}?scope=${OTHER_SCOPE}`, scope: OTHER_SCOPE, values },
    ];
  }
  const { path, values } = fill(HOST_SCOPE);
  return [{ note: '', path, scope: undefined, values }];
}

const pct = (s: string) => [...Buffer.from(s)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

/**
 * The spellings of `path` (with its query) an attacker tries: percent-encoded letters and whole
 * segments, an encoded slash, double slashes, a trailing slash, dot segments (plain and encoded),
 * upper and mixed case, a `;` suffix, a NUL byte.
 */
export function spellingsOf(full: string): Array<{ name: string; path: string }> {
  const q = full.indexOf('?');
  const path = q < 0 ? full : full.slice(0, q);
  const query = q < 0 ? '' : full.slice(q);
  const segs = path.split('/').slice(1);
  const first = segs[0] ?? '';
  const rest = segs.slice(1);
  const last = segs.length - 1;
  const join = (xs: string[]) => `/${xs.join('/')}`;
  const before = join(segs.slice(0, last));
  const out: Array<{ name: string; path: string }> = [];
  const add = (name: string, p: string) => {
    if (p !== path && !out.some((o) => o.path === p + query)) out.push({ name, path: p + query });
  };
  if (/^[a-z]/i.test(first)) add('percent-encoded first letter', join([pct(first[0]!) + first.slice(1), ...rest]));
  if (segs[1] === 'v1') add('percent-encoded version digit', join([first, 'v%31', ...segs.slice(2)]));
  add('fully encoded first segment', join([pct(first), ...rest]));
  if (/^[a-z-]+$/i.test(segs[last] ?? '') && last > 0)
    add('fully encoded last segment', join([...segs.slice(0, last), pct(segs[last]!)]));
  add('every byte encoded', join(segs.map((s) => pct(decodeURIComponentSafe(s)))));
  if (segs.length > 1) add('encoded slash', `/${first}%2F${rest.join('/')}`);
  add('leading double slash', `/${path}`);
  if (segs.length > 1) add('inner double slash', join([first, '', ...rest]));
  add('trailing slash', `${path}/`);
  add('trailing double slash', `${path}//`);
  add('dot-dot segment', `${before === '/' ? '' : before}/x/../${segs[last]}`);
  add('dot segment', `${before === '/' ? '' : before}/./${segs[last]}`);
  add('encoded dot-dot segment', `${before === '/' ? '' : before}/x/%2e%2e/${segs[last]}`);
  add('upper case', join([first.toUpperCase(), ...rest]));
  add('mixed case', join(segs.map((s, i) => (i < 2 ? s.charAt(0).toUpperCase() + s.slice(1) : s))));
  add('semicolon suffix', `${path};x`);
  add('NUL byte', `${path}%00`);
  return out;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export interface Example {
  body: Record<string, unknown>;
  /** Fields a request must have (the schema's `required`, or the documented form's for open schemas). */
  required: string[];
}

/**
 * A valid body for each operation that takes JSON (keyed by operation; an operation the document
 * gains without an example here fails the suite, so it cannot go untested).
 */
export function exampleBody(w: World, op: Operation, values: Record<string, string>): Example | undefined {
  const sb = w.sb;
  const basic = { type: 'basic', email: sb.credentials.email, api_token: sb.credentials.apiToken };
  const declared = (op.jsonBody?.required as string[] | undefined) ?? [];
  const examples: Record<string, () => Example> = {
    'PUT /api/v1/records/{scope}/{hostId}': () => ({
      body:
        values.scope === OTHER_SCOPE
          ? { kind: 'vulnerability', title: 'Hostile title', status: 'open', severity: 'high' }
          : { kind: 'incident', title: 'Hostile title', status: 'new', severity: 'high' },
      required: declared,
    }),
    'POST /api/v1/records/{scope}/{hostId}/comments': () => ({
      body: { author: 'Mallory', body: 'hostile comment', host_comment_id: 'hc-hostile' },
      required: declared,
    }),
    'POST /api/v1/sync': () => ({
      body: { scope: values.scope ?? HOST_SCOPE, host_id: values.hostId ?? w.seeded.webRecord },
      required: ['scope', 'host_id'],
    }),
    'POST /api/v1/backfill': () => ({ body: { scope: HOST_SCOPE }, required: declared }),
    'POST /api/v1/host-webhooks': () => ({
      body: { url: 'http://127.0.0.1:9/hostile', events: ['*'], description: 'hostile', active: false },
      required: declared,
    }),
    'PUT /api/v1/host-webhooks/{id}': () => ({ body: { description: 'hostile', active: false }, required: declared }),
    'PUT /api/v1/mappings/{id}': () => ({
      body: {
        connection: w.seeded.connectionId,
        scope: 'hs-scope',
        project: 'OPS',
        kinds: { incident: { issue_type: 'Incident' } },
      },
      required: ['connection', 'scope', 'project', 'kinds'],
    }),
    'POST /api/v1/tokens': () => ({ body: { name: 'mallory', role: 'admin' }, required: declared }),
    'POST /api/v1/connections': () => ({
      body: { id: 'hs-evil', site_url: sb.baseUrl, flavour: 'cloud', auth: basic },
      required: ['id', 'site_url', 'flavour', 'auth'],
    }),
    'POST /api/v1/connections/check': () => ({
      body: { id: 'hs-check', site_url: sb.baseUrl, flavour: 'cloud', auth: basic },
      required: ['site_url', 'flavour', 'auth'],
    }),
    'PUT /api/v1/connections/{id}': () => ({
      body: {
        name: 'Hostile suite (API)',
        site_url: sb.baseUrl,
        flavour: 'cloud',
        auth: basic,
        sweep: { interval_seconds: 0 },
      },
      required: ['site_url', 'flavour'],
    }),
    'POST /api/v1/mappings/preview': () => ({
      body: { connection: 'sb', project: 'OPS', kinds: { incident: { issue_type: 'Incident' } } },
      required: declared,
    }),
  };
  return examples[op.label]?.();
}
