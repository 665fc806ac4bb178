import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { CallCounter } from '../calls.js';
import { badRequest, issueNotFound, unauthorized } from '../errors.js';
import type { TextFormat } from '../fields.js';
import type { SandboxKnobsController } from '../knobs.js';
import type { ApiVersion, Flavour, SandboxIssue, SandboxUser } from '../model.js';
import type { IssueOperations } from '../operations.js';
import type { RenderContext } from '../render/context.js';
import type { CompiledSite } from '../site.js';
import type { SandboxState } from '../state.js';
import type { WebhookDispatcher } from '../webhooks/dispatcher.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated Jira user (null before auth or on anonymous routes). */
    jiraUser: SandboxUser | null;
    /** How the caller authenticated. */
    jiraAuthScheme: 'basic' | 'bearer' | null;
  }
}

/** What every route group needs. */
export interface SandboxDeps {
  state: SandboxState;
  ops: IssueOperations;
  knobs: SandboxKnobsController;
  calls: CallCounter;
  webhooks: WebhookDispatcher;
  flavour: Flavour;
  /** REST versions this flavour serves: Cloud 2 and 3, Data Center 2. */
  versions: ApiVersion[];
  /** Route templates by method, for 405 answers. */
  routes: RouteRegistry;
  /** The OAuth authorization server (reset with the rest of the sandbox). */
  oauth?: { reset(): void };
  /** The declared site a reset returns to (none: the seeded site). */
  site?: CompiledSite;
}

export type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown> | unknown;

/** Remembers registered templates so a known path with the wrong method answers 405, as Jira does. */
export class RouteRegistry {
  private readonly entries: Array<{ re: RegExp; method: string }> = [];

  add(method: string, url: string): void {
    const re = new RegExp(`^${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z]+/g, '[^/]+')}/?$`);
    this.entries.push({ re, method });
  }

  /** Methods allowed on a concrete path ([] when the path is unknown). */
  allowed(path: string): string[] {
    const p = path.split('?')[0] ?? path;
    return [...new Set(this.entries.filter((e) => e.re.test(p)).map((e) => e.method))];
  }
}

/** The version `/rest/api/latest` stands for: the newest the flavour serves (Cloud 3, Data Center 2). */
export function latestVersion(flavour: Flavour): ApiVersion {
  return flavour === 'cloud' ? '3' : '2';
}

/** `/rest/api/latest/…` is served as the newest version, as Jira does (clients default to it). */
export function rewriteLatestUrl(url: string, flavour: Flavour): string {
  return url.startsWith('/rest/api/latest/') || url === '/rest/api/latest'
    ? `/rest/api/${latestVersion(flavour)}${url.slice('/rest/api/latest'.length)}`
    : url;
}

/** Registers a handler under /rest/api/{v} for every version the flavour serves. */
export function api(
  app: FastifyInstance,
  deps: SandboxDeps,
  method: HTTPMethods,
  path: string,
  handler: Handler,
  versions = deps.versions,
): void {
  for (const v of versions) route(app, deps, method, `/rest/api/${v}${path}`, handler);
}

export function route(
  app: FastifyInstance,
  deps: SandboxDeps,
  method: HTTPMethods,
  url: string,
  handler: Handler,
): void {
  deps.routes.add(method, url);
  app.route({ method, url, handler });
}

export function versionOf(req: FastifyRequest): ApiVersion {
  return (req.routeOptions.url ?? req.url).startsWith('/rest/api/3') ? '3' : '2';
}

export function formatOf(req: FastifyRequest): TextFormat {
  return versionOf(req) === '3' ? 'adf' : 'wiki';
}

export function baseUrlOf(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}`;
}

export function renderCtx(deps: SandboxDeps, req: FastifyRequest, version: ApiVersion = versionOf(req)): RenderContext {
  return { state: deps.state, flavour: deps.flavour, version, baseUrl: baseUrlOf(req) };
}

export function actor(req: FastifyRequest): SandboxUser {
  if (!req.jiraUser) throw unauthorized();
  return req.jiraUser;
}

export function loadIssue(deps: SandboxDeps, idOrKey: string): SandboxIssue {
  const issue = deps.state.issue(idOrKey);
  if (!issue) throw issueNotFound();
  return issue;
}

export function params(req: FastifyRequest): Record<string, string> {
  return req.params as Record<string, string>;
}

export function query(req: FastifyRequest): Record<string, string | string[] | undefined> {
  return req.query as Record<string, string | string[] | undefined>;
}

/** Comma-separated (or repeated) query parameter → list. */
export function csv(v: string | string[] | undefined | unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const parts = (Array.isArray(v) ? v : [v]).flatMap((x) => String(x).split(','));
  return parts.map((s) => s.trim()).filter((s) => s.length > 0);
}

export function intParam(v: unknown, fallback: number, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined || v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw badRequest(`The '${name}' parameter must be an integer >= ${min}.`);
  }
  return Math.min(n, max);
}

export function bodyObject(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  return typeof b === 'object' && b !== null && !Array.isArray(b) ? (b as Record<string, unknown>) : {};
}
