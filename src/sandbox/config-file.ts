/**
 * The sandbox's own start-up file (`jira-bridge sandbox --config sandbox.yaml`): flavour, port,
 * realism knobs, webhook faults and admin webhooks registered at start, so a staging setup or a
 * demo starts the same Jira every time. Keys are those of the control API (`/_sandbox/knobs`,
 * `/_sandbox/webhooks/faults`, `/rest/webhooks/1.0/webhook`). `${VAR}` (upper case) is read from
 * the environment; Jira's own URL variables (`${issue.key}`) are left alone.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import type { SandboxKnobs } from './knobs.js';
import { compileSite, SiteError, type CompiledSite } from './site.js';
import type { WebhookFaults, WebhookInput } from './webhooks/types.js';

const bucket = z.strictObject({
  capacity: z.number().int().min(1),
  refillPerSecond: z.number().min(0),
});
const rate = z.number().min(0).max(1);

const knobsSchema = z
  .strictObject({
    latencyMs: z.number().min(0),
    jitterMs: z.number().min(0),
    rateLimit: bucket.nullable(),
    perIssueWriteLimit: bucket.nullable(),
    errorRate: rate,
    errorStatus: z.union([z.literal(500), z.literal(502), z.literal(503), z.literal(504)]),
    expiredAuth: z.boolean(),
    seed: z.number().int(),
  })
  .partial();

const faultsSchema = z
  .strictObject({
    dropRate: rate,
    duplicateRate: rate,
    delayMs: z
      .tuple([z.number().min(0), z.number().min(0)])
      .refine(([a, b]) => b >= a, 'must be [min, max] with min <= max'),
    reorder: z.boolean(),
    failFirstAttempts: z.number().int().min(0),
  })
  .partial();

const webhookSchema = z.strictObject({
  name: z.string().min(1),
  url: z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL (Jira variables such as ${issue.key} allowed)'),
  events: z.array(z.string().min(1)).min(1, 'list at least one event, e.g. [jira:issue_updated]'),
  jqlFilter: z.string().optional(),
  secret: z.string().min(1).optional(),
});

export const sandboxFileSchema = z.strictObject({
  flavour: z.enum(['cloud', 'datacenter']).optional(),
  port: z.number().int().min(0).max(65535).optional(),
  host: z.string().min(1).optional(),
  seed: z.enum(['default', 'empty']).optional(),
  maxAttachmentBytes: z.number().int().min(1).optional(),
  knobs: knobsSchema.optional(),
  webhookFaults: faultsSchema.optional(),
  webhooks: z.array(webhookSchema).optional(),
  /** The user's own site (see site.ts); checked by compileSite. */
  site: z.unknown().optional(),
});

export interface SandboxFile {
  flavour?: 'cloud' | 'datacenter';
  port?: number;
  host?: string;
  seed?: 'default' | 'empty';
  maxAttachmentBytes?: number;
  knobs?: Partial<SandboxKnobs>;
  webhookFaults?: WebhookFaults;
  webhooks?: WebhookInput[];
  /** A declared site replacing the seeded one. */
  site?: CompiledSite;
}

/** Every problem of a sandbox file at once, each as `path: message`. */
export class SandboxFileError extends Error {
  constructor(
    readonly file: string,
    readonly issues: Issue[],
  ) {
    super(`${file}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
    this.name = 'SandboxFileError';
  }
}

function pathOf(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>(
    (out, p) => (typeof p === 'number' ? `${out}[${p}]` : out ? `${out}.${String(p)}` : String(p)),
    '',
  );
}

type Issue = { path: string; message: string };

function resolveEnv(value: unknown, env: NodeJS.ProcessEnv, path: PropertyKey[], missing: Issue[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name];
      if (v === undefined) missing.push({ path: pathOf(path), message: `environment variable ${name} is not set` });
      return v ?? '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveEnv(v, env, [...path, i], missing));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, resolveEnv(v, env, [...path, k], missing)] as const),
    );
  }
  return value;
}

/** Parses a sandbox file's text (YAML or JSON); throws SandboxFileError naming every problem. */
export function parseSandboxFile(text: string, env: NodeJS.ProcessEnv, file = '(sandbox file)'): SandboxFile {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new SandboxFileError(
      file,
      doc.errors.map((e) => ({ path: '(file)', message: `YAML syntax error: ${e.message.split('\n')[0]}` })),
    );
  }
  const missing: Issue[] = [];
  const raw = resolveEnv(doc.toJS() ?? {}, env, [], missing);
  if (missing.length > 0) throw new SandboxFileError(file, missing);
  const parsed = sandboxFileSchema.safeParse(raw);
  const problems: Issue[] = parsed.success
    ? []
    : parsed.error.issues.map((i) => ({ path: pathOf(i.path), message: i.message }));
  const rawSite = (raw as { site?: unknown } | null)?.site;
  let site: CompiledSite | undefined;
  if (rawSite !== undefined) {
    if ((raw as { seed?: unknown }).seed !== undefined)
      problems.push({ path: 'seed', message: 'seed and site exclude each other: a declared site replaces the seed' });
    try {
      site = compileSite(rawSite, 'site');
    } catch (err) {
      if (!(err instanceof SiteError)) throw err;
      problems.push(...err.issues);
    }
  }
  if (!parsed.success || problems.length > 0) throw new SandboxFileError(file, problems);
  const f = parsed.data;
  return {
    ...(f.flavour ? { flavour: f.flavour } : {}),
    ...(f.port !== undefined ? { port: f.port } : {}),
    ...(f.host ? { host: f.host } : {}),
    ...(f.seed ? { seed: f.seed } : {}),
    ...(f.maxAttachmentBytes !== undefined ? { maxAttachmentBytes: f.maxAttachmentBytes } : {}),
    ...(f.knobs ? { knobs: f.knobs as Partial<SandboxKnobs> } : {}),
    ...(f.webhookFaults ? { webhookFaults: f.webhookFaults as WebhookFaults } : {}),
    ...(f.webhooks
      ? {
          webhooks: f.webhooks.map((w) => ({
            name: w.name,
            url: w.url,
            events: w.events,
            ...(w.jqlFilter !== undefined ? { jqlFilter: w.jqlFilter } : {}),
            ...(w.secret !== undefined ? { secret: w.secret } : {}),
          })),
        }
      : {}),
    ...(site ? { site } : {}),
  };
}

/** Reads and parses a sandbox file. */
export function loadSandboxFile(file: string, env: NodeJS.ProcessEnv = process.env): SandboxFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (err as Error).message;
    throw new SandboxFileError(file, [{ path: '(file)', message: `${file} ${why}` }]);
  }
  return parseSandboxFile(text, env, file);
}
