import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { z } from 'zod';
import { ConfigError, formatPath, suggest, type ConfigIssue } from './errors.js';
import { configSchema, type Config } from './schema.js';

export { ConfigError } from './errors.js';
export type { ConfigIssue } from './errors.js';

export interface LoadedConfig {
  config: Config;
  /** The file read, or null when none exists at the default path (demo mode). */
  source: string | null;
}

export const DEFAULT_CONFIG_FILE = 'jira-bridge.yaml';

/**
 * Reads, resolves and validates the configuration. Path: `opts.path`, else `JIRA_BRIDGE_CONFIG`,
 * else `./jira-bridge.yaml`; a missing default file means "no configuration" (source null), a
 * missing explicit file is an error. `${VAR}` references are replaced from the environment.
 * Throws ConfigError listing every problem with its exact path (and line, where known).
 */
export async function loadConfig(opts: { path?: string; env?: NodeJS.ProcessEnv } = {}): Promise<LoadedConfig> {
  const env = opts.env ?? process.env;
  const explicit = opts.path ?? (env.JIRA_BRIDGE_CONFIG || undefined);
  const file = resolve(explicit ?? DEFAULT_CONFIG_FILE);
  if (!existsSync(file)) {
    if (explicit !== undefined) {
      throw new ConfigError([
        { path: '(file)', message: `${file} does not exist; pass --config <path> or set JIRA_BRIDGE_CONFIG` },
      ]);
    }
    return { config: configSchema.parse({}), source: null };
  }
  return { config: parseConfigText(readFileSync(file, 'utf8'), env, file), source: file };
}

/** Parses configuration text (YAML or JSON); exported for the admin API and tests. */
export function parseConfigText(text: string, env: NodeJS.ProcessEnv, source: string | null = null): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return {
          path: pos ? `line ${pos.line}, column ${pos.col}` : '(file)',
          message: `YAML syntax error: ${e.message.split('\n')[0]}`,
        };
      }),
      source,
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  const lineOf = (path: ReadonlyArray<PropertyKey>): number | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n) as unknown[], true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  const withLine = (path: ReadonlyArray<PropertyKey>, message: string): ConfigIssue => {
    const line = lineOf(path);
    return { path: formatPath(path), message: line ? `${message} (line ${line})` : message };
  };

  const envIssues: ConfigIssue[] = [];
  const resolved = resolveEnvRefs(raw, env, [], (path, name) =>
    envIssues.push(withLine(path, `environment variable ${name} is not set (referenced as \${${name}})`)),
  );
  if (envIssues.length > 0) throw new ConfigError(envIssues, source);

  const parsed = configSchema.safeParse(resolved, { reportInput: true });
  if (!parsed.success) {
    throw new ConfigError(
      flattenIssues(parsed.error.issues).map((i) => withLine(i.path, i.message)),
      source,
    );
  }
  return parsed.data;
}

/** Replaces `${NAME}` in every string; `$${` escapes a literal `${`. */
function resolveEnvRefs(
  value: unknown,
  env: NodeJS.ProcessEnv,
  path: PropertyKey[],
  missing: (path: PropertyKey[], name: string) => void,
): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$?\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, name: string) => {
      if (m.startsWith('$$')) return m.slice(1);
      const v = env[name];
      if (v === undefined) {
        missing(path, name);
        return '';
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveEnvRefs(v, env, [...path, i], missing));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, resolveEnvRefs(v, env, [...path, k], missing)]),
    );
  }
  return value;
}

export interface FlatIssue {
  path: PropertyKey[];
  message: string;
}

/**
 * The problems of one mapping (as the mappings API receives it) in the words `check` and start-up
 * use — an unknown key with the allowed ones, a value with the valid choices —, each path
 * relative to the mapping.
 */
export function mappingIssues(issues: ReadonlyArray<z.core.$ZodIssue>): FlatIssue[] {
  return flattenIssues(issues, ['mappings', 0]).map((i) => ({ path: i.path.slice(2), message: i.message }));
}

/** zod issues → one readable message per exact path (unions: the closest branch's issues). */
function flattenIssues(issues: ReadonlyArray<z.core.$ZodIssue>, prefix: PropertyKey[] = []): FlatIssue[] {
  const out: FlatIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    switch (issue.code) {
      case 'unrecognized_keys': {
        for (const key of issue.keys) {
          const known = allowedKeysAt(path);
          const hint = known ? suggest(key, known) : undefined;
          out.push({
            path: [...path, key],
            message: `unknown key '${key}'${hint ? ` — did you mean '${hint}'?` : ''}${known ? `; allowed: ${known.join(', ')}` : ''}`,
          });
        }
        break;
      }
      case 'invalid_union': {
        const branches = issue.errors;
        if (branches.length === 0) {
          out.push({ path, message: issue.message });
          break;
        }
        const best = [...branches].sort((a, b) => a.length - b.length)[0]!;
        out.push(...flattenIssues(best, path));
        break;
      }
      case 'invalid_type': {
        const got = issue.input === undefined ? 'nothing' : describe(issue.input);
        out.push({
          path,
          message:
            issue.input === undefined
              ? `is required (expected ${issue.expected})`
              : `expected ${issue.expected}, got ${got}`,
        });
        break;
      }
      case 'invalid_value': {
        const values = issue.values.map((v) => JSON.stringify(v));
        const given = (issue as { input?: unknown }).input;
        const hint =
          typeof given === 'string'
            ? suggest(
                given,
                issue.values.filter((v): v is string => typeof v === 'string'),
              )
            : undefined;
        out.push({
          path,
          message: `${given === undefined ? 'is required' : `${JSON.stringify(given)} is not allowed`}; expected one of ${values.join(', ')}${hint ? ` — did you mean "${hint}"?` : ''}`,
        });
        break;
      }
      default:
        out.push({ path, message: issue.message });
    }
  }
  return out;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}

/** The keys an object at `path` may have, found by walking the schema (for "did you mean"). */
function allowedKeysAt(path: ReadonlyArray<PropertyKey>): string[] | undefined {
  let node: unknown = configSchema;
  const unwrap = (n: unknown): unknown => {
    let cur = n as { _zod?: { def?: { type?: string; innerType?: unknown } } };
    while (cur?._zod?.def && ['default', 'optional', 'nullable', 'prefault'].includes(cur._zod.def.type ?? '')) {
      cur = cur._zod.def.innerType as typeof cur;
    }
    return cur;
  };
  for (const p of path) {
    const n = unwrap(node) as { _zod?: { def?: Record<string, unknown> } };
    const def = n?._zod?.def;
    if (!def) return undefined;
    if (def.type === 'array') node = def.element;
    else if (def.type === 'record') node = def.valueType;
    else if (def.type === 'object') node = (def.shape as Record<string, unknown>)[String(p)];
    else return undefined;
  }
  const def = (unwrap(node) as { _zod?: { def?: Record<string, unknown> } })?._zod?.def;
  if (def?.type === 'object') return Object.keys(def.shape as Record<string, unknown>);
  return undefined;
}
