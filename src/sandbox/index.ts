/**
 * The Jira sandbox: a faithful, stateful, in-process Jira (Cloud or Data Center flavour) for
 * tests, benchmarks, demos and a new user's first run.
 *
 *   const sb = await startSandbox({ flavour: 'cloud', port: 0 });
 *   // sb.baseUrl, sb.credentials.email + sb.credentials.apiToken (Cloud), sb.credentials.pat (DC)
 *   await sb.close();
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../log/logger.js';
import type { CallCounter } from './calls.js';
import { createSandboxApp, type SandboxApp, type SandboxAppOptions } from './app.js';
export type { InspectedRequest, InspectedResponse } from './app.js';
import type { SandboxKnobs, SandboxKnobsController } from './knobs.js';
import { SEEDED_CLIENT_ID, SEEDED_CLIENT_SECRET } from './oauth/server.js';
import type { Flavour } from './model.js';
import type { SeedName } from './seed.js';
import type { CompiledSite } from './site.js';
import type { SandboxState } from './state.js';
import type { WebhookDispatcher } from './webhooks/dispatcher.js';

export interface SandboxOptions {
  flavour?: Flavour;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** 'default' (also `true`) and 'empty' (also `false`) both seed the site configuration; no issues exist at start. */
  seed?: SeedName | boolean;
  knobs?: Partial<SandboxKnobs>;
  logger?: Logger;
  /** Attachment size limit in bytes; larger uploads answer 413. Default 10 MiB. */
  maxAttachmentBytes?: number;
  /** Sees every parsed REST request (see InspectedRequest). */
  inspect?: SandboxAppOptions['inspect'];
  /** Sees every REST response (status, parsed JSON body). */
  inspectResponse?: SandboxAppOptions['inspectResponse'];
  /** OAuth 2.0 (3LO) authorization server options (token lifetimes, fixed cloud id). */
  oauth?: SandboxAppOptions['oauth'];
  /** A declared site replacing the seeded one (compileSite, or the sandbox file's `site`). */
  site?: CompiledSite;
}

export interface SandboxUserCredentials {
  accountId: string;
  name: string;
  /** null when Cloud hides the email (profile privacy); the login still works with the real email. */
  email: string | null;
  /** The login email, always present (Basic auth on Cloud). */
  loginEmail: string;
  apiToken: string;
  /** The login password (Data Center Basic username:password). */
  password: string;
  pat: string;
  /** OAuth 2.0 bearer token (Cloud). */
  oauthToken: string;
}

export interface SandboxCredentials {
  /** The admin's email and API token (Cloud Basic auth). */
  email: string;
  apiToken: string;
  /** The admin's login password (Data Center Basic auth with username and password). */
  password: string;
  /** The admin's personal access token (Data Center Bearer auth). */
  pat: string;
  /** The admin's OAuth 2.0 access token (Cloud Bearer auth; needed for /rest/api/3/webhook). */
  oauthToken: string;
  /** Every seeded user by name: admin, alice, bob. */
  users: Record<string, SandboxUserCredentials>;
  /** The seeded OAuth 2.0 (3LO) app (accepts any http://127.0.0.1|localhost redirect URI). */
  oauthClient: { clientId: string; clientSecret: string };
}

export interface RunningSandbox {
  baseUrl: string;
  flavour: Flavour;
  credentials: SandboxCredentials;
  state: SandboxState;
  knobs: SandboxKnobsController;
  calls: CallCounter;
  webhooks: WebhookDispatcher;
  /** The OAuth 2.0 (3LO) authorization server: counters, registerApp, expire/revoke tokens. */
  oauth: SandboxApp['oauth'];
  app: FastifyInstance;
  /** Operations that act as a Jira user (transition, comment, edit, move, delete) with events. */
  ops: SandboxApp['ops'];
  close(): Promise<void>;
}

function seedName(seed: SandboxOptions['seed']): SeedName {
  return seed === 'empty' || seed === false ? 'empty' : 'default';
}

/** The credentials of the seeded users, as the sandbox prints them. */
export function sandboxCredentials(sb: Pick<SandboxApp, 'state' | 'flavour'>): SandboxCredentials {
  const users: Record<string, SandboxUserCredentials> = {};
  for (const u of sb.state.users.values()) {
    users[u.name] = {
      accountId: u.accountId,
      name: u.name,
      email: sb.flavour === 'cloud' && !u.emailVisible ? null : u.email,
      loginEmail: u.email,
      apiToken: u.apiToken,
      password: u.password,
      pat: u.pat,
      oauthToken: u.oauthToken,
    };
  }
  const admin = sb.state.user(sb.state.adminAccountId);
  if (!admin) throw new Error('sandbox: the seed has no administrator');
  return {
    email: admin.email,
    apiToken: admin.apiToken,
    password: admin.password,
    pat: admin.pat,
    oauthToken: admin.oauthToken,
    users,
    oauthClient: { clientId: SEEDED_CLIENT_ID, clientSecret: SEEDED_CLIENT_SECRET },
  };
}

/** Builds the sandbox without listening: use `app.inject()` in tests. */
export async function buildSandboxApp(
  opts: SandboxOptions = {},
): Promise<SandboxApp & { credentials: SandboxCredentials }> {
  const sb = await createSandboxApp({
    ...(opts.flavour ? { flavour: opts.flavour } : {}),
    seed: seedName(opts.seed),
    ...(opts.knobs ? { knobs: opts.knobs } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.maxAttachmentBytes !== undefined ? { maxAttachmentBytes: opts.maxAttachmentBytes } : {}),
    ...(opts.inspect ? { inspect: opts.inspect } : {}),
    ...(opts.inspectResponse ? { inspectResponse: opts.inspectResponse } : {}),
    ...(opts.oauth ? { oauth: opts.oauth } : {}),
    ...(opts.site ? { site: opts.site } : {}),
  });
  return Object.assign(sb, { credentials: sandboxCredentials(sb) });
}

/** Starts the sandbox on a real port. */
export async function startSandbox(opts: SandboxOptions = {}): Promise<RunningSandbox> {
  const sb = await buildSandboxApp(opts);
  const host = opts.host ?? '127.0.0.1';
  await sb.app.listen({ port: opts.port ?? 0, host });
  const address = sb.app.server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? 0);
  const baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  sb.setBaseUrl(baseUrl);
  let closed = false;
  return {
    baseUrl,
    flavour: sb.flavour,
    credentials: sb.credentials,
    state: sb.state,
    knobs: sb.knobs,
    calls: sb.calls,
    webhooks: sb.webhooks,
    oauth: sb.oauth,
    app: sb.app,
    ops: sb.ops,
    async close() {
      if (closed) return;
      closed = true;
      await sb.webhooks.close();
      await sb.app.close();
    },
  };
}

export { SEED } from './seed.js';
export { compileSite, SiteError, type CompiledSite, type SiteInput } from './site.js';
export type { SeedName } from './seed.js';
export { DEFAULT_KNOBS, SandboxKnobsController, type SandboxKnobs, type BucketConfig } from './knobs.js';
export { CallCounter, type CallRecord, type CallFilter } from './calls.js';
export { SandboxState } from './state.js';
export { toJqlIssue } from './jql-adapter.js';
export type { Flavour } from './model.js';
export type { SandboxApp } from './app.js';
export { SandboxOAuthServer, type OAuthCounters, type OAuthSettings } from './oauth/index.js';
