/**
 * Validates HTTP exchanges against Jira's published OpenAPI contract (the pruned copy in
 * test/fixtures/openapi/, produced by scripts/prune-openapi.ts) with ajv 8 + ajv-formats.
 *
 * OpenAPI 3.0 specifics are translated to JSON Schema: `nullable: true` adds `null`; `xml`,
 * `example`, `discriminator` are dropped; `readOnly`/`writeOnly` are ignored. The spec's own
 * `additionalProperties` is honoured as written (Jira's spec is open on most schemas).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM + NodeNext.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv,
) => Ajv;

export const DEFAULT_SPEC = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'fixtures',
  'openapi',
  'jira-cloud-v3.pruned.json',
);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

export type HttpMethod = 'get' | 'post' | 'put' | 'delete' | 'patch';

export interface ValidationResult {
  ok: boolean;
  /** The path template that matched, e.g. /rest/api/3/issue/{issueIdOrKey}. */
  template?: string;
  /** The response key used ("200", "default"), for responses. */
  statusKey?: string;
  errors: string[];
}

const DROP = new Set([
  'xml',
  'example',
  'examples',
  'discriminator',
  'externalDocs',
  'deprecated',
  'readOnly',
  'writeOnly',
]);

/** Rewrites one OpenAPI 3.0 schema object (recursively) into plain JSON Schema. */
export function toJsonSchema(node: Json): Json {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (node === null || typeof node !== 'object') return node;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(node)) {
    if (DROP.has(k) || k.startsWith('x-')) continue;
    if (k === 'properties' && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      out.properties = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, toJsonSchema(s)]));
      continue;
    }
    out[k] = toJsonSchema(v);
  }
  if (out.nullable === true) {
    delete out.nullable;
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    if (
      out.type === undefined &&
      (out.$ref !== undefined || out.allOf !== undefined || out.oneOf !== undefined || out.anyOf !== undefined)
    ) {
      const inner = { ...out };
      return { anyOf: [inner, { type: 'null' }] };
    }
  } else if ('nullable' in out) {
    delete out.nullable;
  }
  // A $ref with siblings: JSON Schema draft-07 ignores the siblings; keep them via allOf.
  if (typeof out.$ref === 'string' && Object.keys(out).length > 1) {
    const { $ref, ...rest } = out;
    return { allOf: [{ $ref }, rest] };
  }
  return out;
}

/**
 * Places where Jira's published schema contradicts Jira's own documented behaviour. Each is
 * applied to the loaded spec before validation; keep this list short and sourced.
 */
export const SPEC_CORRECTIONS: Array<{ where: string; reason: string; apply(spec: JsonObject): void }> = [
  {
    where: 'components.schemas.ChangeDetails.{from,fromString,to,toString}',
    reason:
      'Jira sends null for a side of a change that had no value (e.g. a field set for the first time): see every changelog item in test/fixtures/jira-webhooks; the schema omits `nullable`',
    apply(spec) {
      const props = (((spec.components as JsonObject).schemas as JsonObject).ChangeDetails as JsonObject | undefined)
        ?.properties as JsonObject | undefined;
      for (const k of ['from', 'fromString', 'to', 'toString']) {
        const prop = props?.[k];
        if (prop && typeof prop === 'object' && !Array.isArray(prop)) prop.nullable = true;
      }
    },
  },
  {
    where: 'paths./rest/api/3/issue/{issueIdOrKey}/remotelink.get.responses.200',
    reason:
      "the operation's description says all links are returned when no globalId is given, and its own example is an array; the schema says a single RemoteIssueLink",
    apply(spec) {
      const op = ((spec.paths as JsonObject)['/rest/api/3/issue/{issueIdOrKey}/remotelink'] as JsonObject | undefined)
        ?.get as JsonObject | undefined;
      const media = (
        ((op?.responses as JsonObject | undefined)?.['200'] as JsonObject | undefined)?.content as
          JsonObject | undefined
      )?.['application/json'] as JsonObject | undefined;
      if (media?.schema) media.schema = { oneOf: [media.schema, { type: 'array', items: media.schema }] };
    },
  },
];

function escapePointer(s: string): string {
  return s.replace(/~/gu, '~0').replace(/\//gu, '~1');
}

function formatErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map(
    (e) =>
      `${e.instancePath || '(root)'} ${e.message ?? ''}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''}`,
  );
}

export class OpenApiContract {
  private readonly ajv: Ajv;
  private readonly spec: JsonObject;
  private readonly templates: Array<{ template: string; regex: RegExp; literalSegments: number }>;
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(spec: JsonObject, corrections = SPEC_CORRECTIONS) {
    for (const c of corrections) c.apply(spec);
    this.spec = spec;
    this.ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.ajv);
    for (const f of ['int32', 'int64', 'float', 'double', 'byte', 'binary', 'password', 'url']) {
      if (!this.ajv.formats[f]) this.ajv.addFormat(f, true);
    }
    // Register the components (converted) as one schema document that refs resolve within.
    const components = toJsonSchema((spec.components ?? {}) as Json) as JsonObject;
    this.ajv.addSchema({ $id: 'openapi', components } as unknown as object);
    this.templates = Object.keys((spec.paths ?? {}) as JsonObject).map((template) => {
      const segments = template.split('/');
      const regex = new RegExp(
        `^${segments.map((s) => (/^\{[^}]+\}$/u.test(s) ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&'))).join('/')}$`,
        'u',
      );
      return { template, regex, literalSegments: segments.filter((s) => !s.startsWith('{')).length };
    });
    // Literal segments win over parameters (e.g. /issue/bulk over /issue/{issueIdOrKey}).
    this.templates.sort((a, b) => b.literalSegments - a.literalSegments);
  }

  static load(file: string = DEFAULT_SPEC): OpenApiContract {
    return new OpenApiContract(JSON.parse(readFileSync(file, 'utf8')) as JsonObject);
  }

  /** Every documented (method, template) pair. */
  operations(): Array<{ method: HttpMethod; template: string }> {
    const out: Array<{ method: HttpMethod; template: string }> = [];
    for (const [template, item] of Object.entries((this.spec.paths ?? {}) as Record<string, JsonObject>)) {
      for (const method of Object.keys(item)) {
        if (['get', 'post', 'put', 'delete', 'patch'].includes(method))
          out.push({ method: method as HttpMethod, template });
      }
    }
    return out;
  }

  /** The documented template a concrete path (query string ignored) belongs to. */
  findTemplate(method: string, path: string): string | undefined {
    const clean = path.split('?')[0] as string;
    const m = method.toLowerCase();
    for (const t of this.templates) {
      if (t.regex.test(clean) && this.operation(m, t.template)) return t.template;
    }
    return undefined;
  }

  private operation(method: string, template: string): JsonObject | undefined {
    const item = ((this.spec.paths ?? {}) as Record<string, JsonObject>)[template];
    const op = item?.[method];
    return op !== null && typeof op === 'object' && !Array.isArray(op) ? op : undefined;
  }

  private compile(pointer: string, schema: Json): ValidateFunction {
    let v = this.cache.get(pointer);
    if (!v) {
      // Refs inside point at "#/components/…": resolve them within the registered document.
      const rewritten = JSON.parse(
        JSON.stringify(toJsonSchema(schema)).replace(/"\$ref":"#\/components\//gu, '"$ref":"openapi#/components/'),
      ) as object;
      v = this.ajv.compile(rewritten);
      this.cache.set(pointer, v);
    }
    return v;
  }

  /** Validates a response body (parsed JSON, or undefined/'' for an empty body) for (method, path, status). */
  validateResponse(method: string, path: string, status: number, body: unknown): ValidationResult {
    const m = method.toLowerCase();
    const template = this.findTemplate(m, path);
    if (!template) return { ok: false, errors: [`${method.toUpperCase()} ${path} is not a documented operation`] };
    const op = this.operation(m, template) as JsonObject;
    const responses = (op.responses ?? {}) as Record<string, JsonObject>;
    const statusKey = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => responses[k] !== undefined);
    if (!statusKey) {
      return {
        ok: false,
        template,
        errors: [
          `status ${status} is not documented for ${m.toUpperCase()} ${template} (documented: ${Object.keys(responses).join(', ')})`,
        ],
      };
    }
    const content = responses[statusKey]?.content as Record<string, JsonObject> | undefined;
    const schema = content?.['application/json']?.schema;
    // Jira documents some responses without a schema (204s, some 200s): nothing to check.
    if (schema === undefined) return { ok: true, template, statusKey, errors: [] };
    const v = this.compile(`res ${m} ${template} ${statusKey}`, schema);
    const ok = v(body) as boolean;
    return { ok, template, statusKey, errors: ok ? [] : formatErrors(v.errors) };
  }

  /** Validates a JSON request body against the operation's request schema. */
  validateRequest(method: string, path: string, body: unknown): ValidationResult {
    const m = method.toLowerCase();
    const template = this.findTemplate(m, path);
    if (!template) return { ok: false, errors: [`${method.toUpperCase()} ${path} is not a documented operation`] };
    const op = this.operation(m, template) as JsonObject;
    const content = ((op.requestBody as JsonObject | undefined)?.content ?? {}) as Record<string, JsonObject>;
    const schema = content['application/json']?.schema;
    if (schema === undefined) return { ok: true, template, errors: [] };
    const v = this.compile(`req ${m} ${template}`, schema);
    const ok = v(body) as boolean;
    return { ok, template, errors: ok ? [] : formatErrors(v.errors) };
  }

  /** JSON pointer of a template in the spec, for messages. */
  static pointer(template: string): string {
    return `#/paths/${escapePointer(template)}`;
  }
}

export interface RecordedExchange {
  method: string;
  path: string;
  status: number;
  result: ValidationResult;
}

/** Collects validation results over a test run: violations and which documented operations were exercised. */
export class ContractRecorder {
  readonly exchanges: RecordedExchange[] = [];

  constructor(readonly contract: OpenApiContract) {}

  response(method: string, path: string, status: number, body: unknown): ValidationResult {
    const result = this.contract.validateResponse(method, path, status, body);
    this.exchanges.push({ method: method.toUpperCase(), path, status, result });
    return result;
  }

  violations(): RecordedExchange[] {
    return this.exchanges.filter((e) => !e.result.ok);
  }

  /** Documented operations exercised at least once, and those never exercised. */
  coverage(): { served: string[]; notExercised: string[] } {
    const served = new Set(
      this.exchanges.filter((e) => e.result.template).map((e) => `${e.method} ${e.result.template as string}`),
    );
    const all = this.contract.operations().map((o) => `${o.method.toUpperCase()} ${o.template}`);
    return { served: [...served].sort(), notExercised: all.filter((o) => !served.has(o)).sort() };
  }
}
