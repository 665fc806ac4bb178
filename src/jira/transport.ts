/**
 * The HTTP layer under the typed client: one undici Agent per connection (custom CA / verify off),
 * the auth header per flavour, per-connection pacing, error mapping and bounded retries.
 *
 * Retry policy: a 429 is retried for every method (Jira rejected it before doing anything), after
 * the connection's pause; 5xx, timeouts and connection failures are retried only for idempotent
 * requests (GET/PUT/DELETE, or a POST the caller marks idempotent such as a search). Creates are
 * never blindly retried: the engine's idempotency token handles them. Inside a queued job (see
 * withPutBack in ./pacer.ts) a call that would wait for the connection's budget throws JOB_PUT_BACK
 * before it is sent instead.
 */
import { Agent, fetch, FormData, type Dispatcher } from 'undici';
import { AppError, isAppError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { errorFromResponse, errorFromTransport } from './errors.js';
import { isScopeMismatch, missingScopesMessage, requiredScopes } from '../core/oauth-scopes.js';
import { pacerFor, putBackAcquireOptions, type Pacer } from './pacer.js';

/**
 * A queued job's Jira call unanswered after this long parks its job (see JobContext.park). Low, so
 * a slow site's jobs hold slots briefly (bench/tenants.ts, a 2 s site's neighbours: +18% p50 at
 * 1 s, none measurable at 250 ms); the worker's cap on loans bounds what that lets run at once.
 */
export const PARK_SLOW_CALL_MS = 250;

export type JiraAuth =
  | { type: 'basic'; email: string; apiToken: string }
  /** Data Center / Server basic auth with the Jira user name and its password. */
  | { type: 'password'; username: string; password: string }
  | { type: 'pat'; token: string }
  | {
      type: 'oauth';
      getAccessToken: () => Promise<string>;
      /** Jira refused this access token (401) before its expiry: get a new one before retrying. */
      invalidate?: (rejectedAccessToken: string) => void;
      cloudId?: string;
      apiBase?: string;
    };

export interface JiraConnection {
  id: string;
  siteUrl: string;
  flavour: 'cloud' | 'datacenter';
  auth: JiraAuth;
  tls?: { verify: boolean; ca?: string };
  userAgent?: string;
}

export interface CallEvent {
  connectionId: string;
  method: string;
  route: string;
  status: number;
  durationMs: number;
  retried: boolean;
}

export interface TransportOptions {
  logger?: Logger;
  onCall?: (e: CallEvent) => void;
  /** Defaults to pacerFor(`${conn.id}@${apiBase}`): one pacer per connection per process. */
  pacer?: Pacer;
  /** Per-attempt timeout (default 30 s). */
  timeoutMs?: number;
  /** Retries of transient failures (default 3). */
  maxRetries?: number;
  /** Backoff base for 5xx/network retries, ms (default 250; doubled per attempt, jittered). */
  backoffMs?: number;
  sleep?: (ms: number) => Promise<void>;
  clock?: () => number;
}

export interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Route template, e.g. `/rest/api/3/issue/{id}`; `{name}` parts come from `params`. */
  route: string;
  params?: Record<string, string | number>;
  query?: Record<string, string | number | boolean | undefined | null | Array<string | number>>;
  body?: unknown;
  form?: FormData;
  headers?: Record<string, string>;
  /** A POST that changes nothing (search) may be retried like a GET. */
  idempotent?: boolean;
  /** Statuses returned as `{status}` instead of thrown (e.g. 404 on a lookup). */
  allowStatus?: number[];
  /** A download: a successful answer's body is returned as bytes (a Buffer), not parsed. */
  binary?: boolean;
}

export interface RawResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

const realSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref?.();
  });

export function expandRoute(route: string, params: Record<string, string | number> = {}): string {
  return route.replace(/\{(\w+)\}/g, (_, k: string) => {
    const v = params[k];
    if (v === undefined) throw new AppError('INTERNAL', `Jira route ${route} needs the parameter ${k}`);
    return encodeURIComponent(String(v));
  });
}

export class JiraTransport {
  readonly conn: JiraConnection;
  readonly base: string;
  readonly pacer: Pacer;
  /** Made on the first call: a service with thousands of connections builds none at start-up (issue 17). */
  private agentMade: Dispatcher | undefined;
  private readonly opts: TransportOptions;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(conn: JiraConnection, opts: TransportOptions = {}) {
    this.conn = conn;
    this.opts = opts;
    this.sleep = opts.sleep ?? realSleep;
    let base = conn.siteUrl.replace(/\/+$/, '');
    if (conn.auth.type === 'oauth') {
      if (conn.auth.apiBase) base = conn.auth.apiBase.replace(/\/+$/, '');
      else if (conn.auth.cloudId) base = `https://api.atlassian.com/ex/jira/${encodeURIComponent(conn.auth.cloudId)}`;
    }
    try {
      const u = new URL(base);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    } catch {
      throw new AppError(
        'CONFIG_INVALID',
        `connection ${conn.id}: site_url "${conn.siteUrl}" is not an http(s) URL; use e.g. https://your-site.atlassian.net`,
        {
          details: { field: 'site_url', kind: 'bad_url' },
        },
      );
    }
    this.base = base;
    // Default: the process-wide pacer of this connection (id + API base, so a connection whose site
    // changes starts afresh), shared by every client and job using it.
    this.pacer = opts.pacer ?? pacerFor(`${conn.id}@${base}`);
    const verify = conn.tls?.verify ?? true;
    if (!verify) opts.logger?.warn({ connectionId: conn.id }, 'TLS verification is disabled for this Jira connection');
  }

  private get agent(): Dispatcher {
    const verify = this.conn.tls?.verify ?? true;
    return (this.agentMade ??= new Agent({
      connect: { rejectUnauthorized: verify, ...(this.conn.tls?.ca ? { ca: this.conn.tls.ca } : {}) },
      keepAliveTimeout: 10_000,
    }));
  }

  get host(): string {
    return new URL(this.base).host;
  }

  private async authHeader(): Promise<string> {
    const a = this.conn.auth;
    switch (a.type) {
      case 'basic':
        return `Basic ${Buffer.from(`${a.email}:${a.apiToken}`).toString('base64')}`;
      case 'password':
        return `Basic ${Buffer.from(`${a.username}:${a.password}`).toString('base64')}`;
      case 'pat':
        return `Bearer ${a.token}`;
      case 'oauth':
        return `Bearer ${await a.getAccessToken()}`;
    }
  }

  private url(spec: RequestSpec): string {
    const path = expandRoute(spec.route, spec.params);
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(spec.query ?? {})) {
      if (v === undefined || v === null) continue;
      qs.set(k, Array.isArray(v) ? v.join(',') : String(v));
    }
    const q = qs.toString();
    return `${this.base}${path}${q ? `?${q}` : ''}`;
  }

  async request<T>(spec: RequestSpec): Promise<RawResponse<T>> {
    const maxRetries = this.opts.maxRetries ?? 3;
    const idempotent = spec.idempotent ?? spec.method !== 'POST';
    const timeoutMs = this.opts.timeoutMs ?? 30_000;
    const clock = this.opts.clock ?? Date.now;
    const url = this.url(spec);
    let attempt = 0;
    let reauthorized = false;
    // In a queued job: no long wait for budget, the job is put back instead (JOB_PUT_BACK, thrown
    // here before the request is sent, also before a retry after a 429).
    const acquireOpts = putBackAcquireOptions();
    for (;;) {
      const release = await this.pacer.acquire(acquireOpts);
      const started = clock();
      let status = 0;
      let authorization = '';
      try {
        authorization = await this.authHeader();
        const headers: Record<string, string> = {
          accept: 'application/json',
          authorization,
          'user-agent': this.conn.userAgent ?? 'jira-bridge',
          ...(spec.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...spec.headers,
        };
        let res: Awaited<ReturnType<typeof fetch>>;
        // A queued job's call still unanswered after PARK_SLOW_CALL_MS parks the job (a slow Jira
        // site): its worker lends the slot to another job until the answer comes (issue 17).
        const park = acquireOpts.onWait;
        let parked = false;
        const slow = park
          ? setTimeout(() => {
              parked = true;
              park(true);
            }, PARK_SLOW_CALL_MS)
          : undefined;
        try {
          res = await fetch(url, {
            method: spec.method,
            headers,
            body: spec.form ?? (spec.body !== undefined ? JSON.stringify(spec.body) : undefined),
            dispatcher: this.agent,
            signal: AbortSignal.timeout(timeoutMs),
          });
        } catch (err) {
          throw errorFromTransport(err, { method: spec.method, route: spec.route, host: this.host, timeoutMs });
        } finally {
          clearTimeout(slow);
          if (parked) park?.(false);
        }
        status = res.status;
        this.pacer.observe(res);
        const bytes = Buffer.from(
          await res.arrayBuffer().catch((err: unknown) => {
            throw errorFromTransport(err, { method: spec.method, route: spec.route, host: this.host, timeoutMs });
          }),
        );
        const text = spec.binary && res.ok ? '' : new TextDecoder().decode(bytes);
        let body: unknown = spec.binary && res.ok ? bytes : undefined;
        if (text) {
          try {
            body = JSON.parse(text);
          } catch {
            body = text;
          }
        }
        this.emit(spec, status, clock() - started, attempt > 0);
        if (res.ok || spec.allowStatus?.includes(status))
          return { status, body: body as T, headers: res.headers as unknown as Headers };
        if (this.conn.auth.type === 'oauth' && isScopeMismatch(status, body)) {
          // Atlassian refuses an OAuth token without the operation's scopes: say which, not a raw 401.
          const needed = requiredScopes(spec.method, spec.route) ?? [];
          throw new AppError(
            'JIRA_UNAUTHORIZED',
            `${spec.method} ${spec.route}: ${missingScopesMessage(needed.length ? needed : ['a scope this operation requires'])}`,
            { details: { status, route: spec.route, method: spec.method, jira: body, kind: 'scope', scopes: needed } },
          );
        }
        throw errorFromResponse({
          method: spec.method,
          route: spec.route,
          status,
          body,
          headers: res.headers,
          flavour: this.conn.flavour,
          authType: this.conn.auth.type,
          now: clock(),
        });
      } catch (err) {
        release();
        if (status === 0) this.emit(spec, 0, clock() - started, attempt > 0);
        if (!isAppError(err)) throw err;
        // OAuth: an access token revoked before its expiry is replaced once, then the call retried.
        const a = this.conn.auth;
        const scopeRefused = (err.details as { kind?: unknown } | undefined)?.kind === 'scope';
        if (
          err.code === 'JIRA_UNAUTHORIZED' &&
          status === 401 &&
          a.type === 'oauth' &&
          a.invalidate &&
          !reauthorized &&
          !scopeRefused
        ) {
          reauthorized = true;
          a.invalidate(authorization.replace(/^Bearer /, ''));
          continue;
        }
        const transient =
          err.code === 'JIRA_RATE_LIMITED' ||
          ((err.code === 'JIRA_UNAVAILABLE' || err.code === 'JIRA_NETWORK') && idempotent);
        if (!transient || attempt >= maxRetries) throw err;
        attempt++;
        // 429/503 with Retry-After: the pacer already paused the whole connection; the next acquire waits.
        if (err.code !== 'JIRA_RATE_LIMITED' && err.retryAfterMs === undefined) {
          const base = (this.opts.backoffMs ?? 250) * 2 ** (attempt - 1);
          await this.sleep(base / 2 + Math.random() * (base / 2));
        }
        this.opts.logger?.debug(
          { connectionId: this.conn.id, route: spec.route, code: err.code, attempt },
          'retrying Jira call',
        );
      } finally {
        release();
      }
    }
  }

  private emit(spec: RequestSpec, status: number, durationMs: number, retried: boolean): void {
    this.opts.onCall?.({
      connectionId: this.conn.id,
      method: spec.method,
      route: spec.route,
      status,
      durationMs,
      retried,
    });
  }

  async close(): Promise<void> {
    // Closed for good (a later call fails as before), though it may never have called.
    await this.agent.close();
  }
}

export { FormData };
