import { checkTemplates } from '../core/templates.js';
import { z } from 'zod';
import { unknownChangeEvent } from '../core/changes.js';

/**
 * The configuration file (`jira-bridge.yaml`), snake_case as written by people. Every object is
 * strict: an unknown key is an error (with a "did you mean" hint), never silently ignored.
 * The exported types are the parsed, defaulted shapes.
 */

const id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/i, 'must be 1–63 letters, digits, "-" or "_", starting with a letter or digit');
const nonEmpty = z.string().min(1, 'must not be empty');
const httpUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an absolute http(s) URL, e.g. https://your-site.atlassian.net');
const direction = z.enum(['both', 'to_jira', 'from_jira']);

const authSchema = z.discriminatedUnion('type', [
  /**
   * Basic auth, in one of two forms: `email` + `api_token` (Jira Cloud; an API token from
   * id.atlassian.com), or `username` + `password` (Data Center / Server, e.g. a Jira older than
   * personal access tokens). Cloud refuses a password over its API: see connectionSchema.
   */
  z
    .strictObject({
      type: z.literal('basic'),
      email: z.string().email('must be an email address').optional(),
      api_token: nonEmpty.optional(),
      username: nonEmpty.optional(),
      password: nonEmpty.optional(),
    })
    .superRefine((a, ctx) => {
      const token = a.email !== undefined || a.api_token !== undefined;
      const password = a.username !== undefined || a.password !== undefined;
      if (token && password) {
        for (const k of ['username', 'password'] as const)
          if (a[k] !== undefined)
            ctx.addIssue({
              code: 'custom',
              path: [k],
              message: `cannot be combined with ${a.email !== undefined ? 'email' : 'api_token'}: basic auth is either email + api_token (Cloud) or username + password (Data Center)`,
            });
        return;
      }
      const need: ReadonlyArray<'email' | 'api_token' | 'username' | 'password'> = password
        ? ['username', 'password']
        : ['email', 'api_token'];
      for (const k of need)
        if (a[k] === undefined)
          ctx.addIssue({
            code: 'custom',
            path: [k],
            message: password
              ? `is required with ${k === 'password' ? 'username' : 'password'} (Data Center basic auth: the Jira user name and its password)`
              : 'is required (basic auth: email + api_token on Cloud, or username + password on Data Center)',
          });
    }),
  z.strictObject({ type: z.literal('pat'), token: nonEmpty }),
  z.strictObject({
    type: z.literal('oauth'),
    client_id: nonEmpty,
    client_secret: nonEmpty,
    cloud_id: z.string().optional(),
    /** The authorization server (default https://auth.atlassian.com; the sandbox serves both). */
    auth_url: httpUrl.optional(),
    /** The API gateway (default https://api.atlassian.com): accessible-resources and /ex/jira/{cloudId}. */
    api_url: httpUrl.optional(),
  }),
]);

export const connectionSchema = z
  .strictObject({
    id,
    name: z.string().optional(),
    /** false pauses it: nothing flows either way until it is enabled again (see README, Pause). */
    enabled: z.boolean().default(true),
    site_url: httpUrl,
    flavour: z.enum(['cloud', 'datacenter']),
    auth: authSchema,
    tls: z
      .strictObject({
        verify: z.boolean().default(true),
        /** A PEM bundle file of the CA that signed Jira's certificate (self-hosted Jira, private CA). */
        ca_file: z.string().optional(),
        /** The same bundle inline (the admin API and console store it with the connection). */
        ca_pem: z
          .string()
          .refine(
            (v) => v.includes('-----BEGIN CERTIFICATE-----'),
            'must be a PEM bundle (-----BEGIN CERTIFICATE-----…)',
          )
          .optional(),
      })
      .default({ verify: true }),
    webhook: z
      .strictObject({
        secret: z.string().min(16, 'must be at least 16 characters').optional(),
        previous_secret: z.string().optional(),
        url_token: z.string().min(16, 'must be at least 16 characters').optional(),
      })
      .default({}),
    /** Reconciliation: how often Jira is searched for changes webhooks missed (0 turns it off). */
    sweep: z
      .strictObject({
        interval_seconds: z.number().int().min(0).max(86_400).default(300),
        /**
         * At most this often a sweep also checks that linked issues still exist (deletions send no
         * `updated`; without webhooks it is the only way to notice them). 0 turns it off.
         */
        link_check_seconds: z
          .number()
          .int()
          .min(0)
          .max(7 * 86_400)
          .default(3600),
      })
      .default({ interval_seconds: 300, link_check_seconds: 3600 }),
  })
  .superRefine((c, ctx) => {
    // Jira Cloud answers 401 to a password over its REST API (Atlassian removed it in 2019).
    if (c.flavour === 'cloud' && c.auth.type === 'basic' && c.auth.username !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['auth', 'username'],
        message:
          'Jira Cloud refuses a username and password over its API: use email and api_token (an API token from https://id.atlassian.com/manage-profile/security/api-tokens) or type: oauth; username + password is for flavour: datacenter',
      });
  });

const kindTarget = z.union([
  z.strictObject({ issue_type: nonEmpty, subtask_of: z.string().optional() }),
  z.strictObject({ service_desk: nonEmpty, request_type: nonEmpty }),
]);

const fieldMapping = z.strictObject({
  host: nonEmpty,
  jira: nonEmpty,
  type: z
    .enum(['string', 'textarea', 'number', 'url', 'date', 'datetime', 'select', 'multiselect', 'labels', 'user'])
    .optional(),
  direction: direction.default('both'),
  lock: z.enum(['host', 'jira']).optional(),
  /**
   * Select / multi-select: host value → Jira option (e.g. { prod: Production }); values not listed
   * go as they are. Jira's option comes back as the first host value mapping to it.
   */
  values: z.record(z.string(), nonEmpty).optional(),
});

const stringMap = z.record(z.string(), nonEmpty);

export const mappingSchema = z.strictObject({
  id,
  connection: nonEmpty,
  scope: nonEmpty,
  /** false pauses it: nothing flows either way until it is enabled again (see README, Pause). */
  enabled: z.boolean().default(true),
  project: nonEmpty,
  /**
   * JQL narrowing the issues of the project that are this mapping's own (e.g. `labels =
   * stackflow-sync`): Jira changes to other issues are ignored, no record is created from them,
   * the sweep and the preview search only these. ANDed into every search, so no ORDER BY.
   */
  filter: z
    .string()
    .trim()
    .min(1, 'must not be empty (leave filter out to take the whole project)')
    .max(2000)
    .optional(),
  direction: direction.default('both'),
  kinds: z.record(z.string(), kindTarget).refine((k) => Object.keys(k).length > 0, 'must map at least one kind'),
  status: z
    .strictObject({
      out: stringMap.default({}),
      in: stringMap.default({}),
      in_default: z.string().optional(),
      closed: z.array(nonEmpty).default([]),
    })
    .default({ out: {}, in: {}, closed: [] }),
  priority: z
    .strictObject({
      out: stringMap.default({}),
      out_default: z.string().optional(),
      in: stringMap.default({}),
      in_default: z.string().optional(),
    })
    .default({ out: {}, in: {} }),
  fields: z.array(fieldMapping).default([]),
  sync: z
    .strictObject({
      summary: direction.optional(),
      description: direction.optional(),
      priority: direction.optional(),
      labels: direction.optional(),
      assignee: direction.optional(),
      status: direction.optional(),
    })
    .default({}),
  labels: z.array(z.string().regex(/^\S+$/, 'must not contain spaces (Jira labels cannot)')).default([]),
  /**
   * Issue content from the record (Liquid: `{{ title }}`, `{{ custom.device }}`, `{% if … %}`,
   * `{% for l in labels %}`): the summary (plain text), the description and a prefix of the
   * comments the host posts (Markdown; values escaped unless `| raw`). Checked at save: an
   * unknown variable or filter is an error naming it and the valid ones.
   */
  templates: z
    .strictObject({
      summary: z.string().min(1, 'must not be empty (leave it out to use the record title)').optional(),
      description: z.string().optional(),
      comment_prefix: z.string().optional(),
    })
    .superRefine((t, ctx) => {
      for (const p of checkTemplates(t)) ctx.addIssue({ code: 'custom', path: [p.template], message: p.message });
    })
    .optional(),
  /** A link on each issue back to its record on the platform: {scope}, {host_id} and {kind} are filled in. */
  host_link: z
    .strictObject({
      url: z
        .string()
        .refine(
          (v) => /^https?:\/\/[^\s]+$/.test(v),
          'must be an http(s) URL template, e.g. https://platform.example/incidents/{host_id}',
        ),
      title: z.string().min(1).max(255).optional(),
    })
    .optional(),
  close: z
    .union([z.strictObject({ status: nonEmpty }), z.strictObject({ never: z.literal(true) })])
    .default({ never: true }),
  /**
   * The Jira resolution a closing transition sets: one for every closed host status, or a table by
   * host status with an optional `default` (e.g. { risk_accepted: "Won't Fix", default: Fixed }).
   */
  resolution: z
    .union([
      nonEmpty,
      z
        .record(z.string(), nonEmpty)
        .refine(
          (t) => Object.keys(t).length > 0,
          'must name at least one host status (or default), e.g. { risk_accepted: "Won\'t Fix", default: Fixed }',
        ),
    ])
    .optional(),
  reopen: z
    .strictObject({
      mode: z.enum(['reopen', 'never', 'rework']).default('reopen'),
      rework_issue_type: z.string().optional(),
      rework_link_type: z.string().optional(),
      allow_from_jira: z.boolean().default(true),
    })
    .default({ mode: 'reopen', allow_from_jira: true }),
  comments: z
    .strictObject({ enabled: z.boolean().default(true), direction: direction.default('both') })
    .default({ enabled: true, direction: 'both' }),
  /**
   * Jira's assignee has no email the record can match (hidden by privacy, or none): `unassign`
   * the record (default) or `keep` its assignee; the record carries a warning either way.
   */
  assignee: z
    .strictObject({ unmatched: z.enum(['unassign', 'keep']).default('unassign') })
    .default({ unmatched: 'unassign' }),
  on_jira_delete: z.enum(['unlink', 'resolve']).default('unlink'),
  on_jira_create: z.enum(['ignore', 'create_record']).default('ignore'),
  /** Jira → host attachments: downloaded to the record up to max_bytes; larger ones are noted, not downloaded. */
  attachments: z
    .strictObject({
      from_jira: z.boolean().default(true),
      max_bytes: z
        .number()
        .int()
        .min(0)
        .max(2 ** 31, 'must be at most 2147483648 (2 GiB)')
        .default(10 * 1024 * 1024),
    })
    .optional(),
});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      port: z.number().int().min(0).max(65535).optional(),
      host: z.string().optional(),
      public_url: httpUrl.optional(),
      body_limit_bytes: z.number().int().min(1024).optional(),
      /**
       * Behind a load balancer: whose X-Forwarded-For to believe for the client address (rate
       * limits): the balancer's addresses/CIDRs (or loopback, uniquelocal for private networks),
       * or true (any: only when nothing but the balancer can reach the service). Env TRUST_PROXY.
       */
      trust_proxy: z.union([z.boolean(), z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    })
    .default({}),
  database: z.strictObject({ url: z.string().optional(), data_dir: z.string().optional() }).default({}),
  worker: z
    .strictObject({
      concurrency: z.number().int().min(1).max(256).optional(),
      /** Seconds a claimed job stays a worker's (renewed while it runs); a dead replica's jobs wait this long. */
      lease_seconds: z.number().int().min(3).max(3600).optional(),
      /**
       * This replica's lease owner name (its jobs, host-webhook streams, sweeps), stable across
       * restarts so a restarted process takes its own leases back at once (env
       * JIRA_BRIDGE_REPLICA_ID); unique per live process. Default: the host name and a token kept
       * in the data directory.
       */
      replica_id: z.string().min(1).max(200).optional(),
    })
    .default({}),
  connections: z.array(connectionSchema).default([]),
  mappings: z.array(mappingSchema).default([]),
  host_webhooks: z
    .array(
      z.strictObject({
        url: httpUrl,
        secret: z.string().min(16, 'must be at least 16 characters'),
        events: z
          .array(nonEmpty)
          .default(['*'])
          .refine((e) => unknownChangeEvent(e) === null, {
            error: (iss) => unknownChangeEvent(iss.input as string[]) ?? '',
          }),
      }),
    )
    .default([]),
});

export type Config = z.output<typeof configSchema>;
export type ConnectionConfig = z.output<typeof connectionSchema>;
export type MappingConfig = z.output<typeof mappingSchema>;
export type FieldMappingConfig = MappingConfig['fields'][number];
