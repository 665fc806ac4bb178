/**
 * Delivers sandbox webhook events to registered URLs over real HTTP, the way Jira does: in the
 * background (emit never blocks a REST call), signed with `X-Hub-Signature` when a secret is set,
 * identified by an `X-Atlassian-Webhook-Identifier` that stays the same across retries, retried
 * with backoff and `X-Atlassian-Webhook-Retry` on failure (Cloud), filtered by JQL, with URL
 * variables filled in, and shaped by fault knobs (drop, duplicate, delay, reorder) driven by a
 * seeded generator so tests are reproducible.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { compileJql } from '../jql/compile.js';
import { parseJql } from '../jql/parser.js';
import type { CompiledJql } from '../jql/types.js';
import { buildWebhookBody, substituteUrl } from './payload.js';
import type {
  DeliveryRecord,
  SandboxWebhookEvent,
  WebhookDispatcherOptions,
  WebhookFaults,
  WebhookInput,
  WebhookRegistration,
} from './types.js';
import { prng } from '../prng.js';

/** App (dynamic) webhooks live 30 days unless refreshed. */
export const APP_WEBHOOK_TTL_MS = 30 * 24 * 3_600_000;

/** Statuses Cloud retries on (besides timeouts and connection failures). */
const RETRY_STATUSES = new Set([408, 409, 425, 429]);

interface StoredRegistration extends WebhookRegistration {
  secret?: string;
  compiled?: CompiledJql;
}

interface PendingDelivery {
  reg: StoredRegistration;
  event: SandboxWebhookEvent;
  url: string;
  body: string;
  identifier: string;
  duplicate: boolean;
}

function validateInput(input: Partial<WebhookInput>, creating: boolean): void {
  if (creating || input.url !== undefined) {
    let ok = false;
    try {
      const u = new URL((input.url ?? '').replace(/\$\{[A-Za-z.]+\}/gu, 'x'));
      ok = u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      ok = false;
    }
    if (!ok) throw new TypeError(`Webhook url '${input.url ?? ''}' is not a valid http(s) URL.`);
  }
  if (creating || input.events !== undefined) {
    if (!Array.isArray(input.events) || input.events.length === 0 || input.events.some((e) => typeof e !== 'string')) {
      throw new TypeError('Webhook events must be a non-empty list of event names, e.g. ["jira:issue_created"].');
    }
  }
}

export class WebhookDispatcher {
  private readonly regs = new Map<number, StoredRegistration>();
  private nextId = 1;
  private faults: WebhookFaults = {};
  private random: () => number;
  private readonly records: DeliveryRecord[] = [];
  private readonly inflight = new Set<Promise<void>>();
  /** Pending backoff/delay sleeps: close() cancels them by resolving early. */
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  /** Per-registration chain so first attempts leave in emit order (absent reorder/delay faults). */
  private readonly chains = new Map<number, Promise<void>>();
  private held: PendingDelivery[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly agent = new Agent({ keepAliveTimeout: 1_000, connections: 16 });
  private closed = false;
  private readonly now: () => number;
  private readonly maxRetries: number;
  private readonly retryBaseDelayMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly opts: WebhookDispatcherOptions) {
    this.random = prng(opts.seed ?? 1);
    this.now = opts.now ?? Date.now;
    this.maxRetries = opts.maxRetries ?? (opts.flavour === 'cloud' ? 5 : 0);
    this.retryBaseDelayMs = opts.retryBaseDelayMs ?? 250;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  // --- registrations ------------------------------------------------------------------------

  /** Registers a webhook. Throws TypeError for a bad url/events and JqlError for a bad filter. */
  register(input: WebhookInput): WebhookRegistration {
    validateInput(input, true);
    const compiled = this.compileFilter(input.jqlFilter);
    const at = this.now();
    const id = this.nextId++;
    const reg: StoredRegistration = {
      id,
      name: input.name ?? `webhook-${id}`,
      url: input.url,
      events: [...input.events],
      hasSecret: input.secret !== undefined && input.secret !== '',
      excludeBody: input.excludeBody ?? false,
      enabled: input.enabled ?? true,
      createdAt: at,
      updatedAt: at,
    };
    if (input.jqlFilter !== undefined && input.jqlFilter.trim() !== '') reg.jqlFilter = input.jqlFilter;
    if (compiled) reg.compiled = compiled;
    if (reg.hasSecret) reg.secret = input.secret;
    if (input.expiresAt !== undefined) reg.expiresAt = input.expiresAt;
    if (input.owner !== undefined) reg.owner = input.owner;
    if (input.description !== undefined) reg.description = input.description;
    this.regs.set(id, reg);
    return this.view(reg);
  }

  list(): WebhookRegistration[] {
    return [...this.regs.values()].map((r) => this.view(r));
  }

  get(id: number): WebhookRegistration | undefined {
    const r = this.regs.get(id);
    return r ? this.view(r) : undefined;
  }

  /** Updates the given attributes; `secret: ''` removes the secret. Returns undefined for an unknown id. */
  update(id: number, input: Partial<WebhookInput>): WebhookRegistration | undefined {
    const reg = this.regs.get(id);
    if (!reg) return undefined;
    validateInput(input, false);
    if (input.jqlFilter !== undefined) {
      const compiled = this.compileFilter(input.jqlFilter);
      if (compiled && input.jqlFilter.trim() !== '') {
        reg.compiled = compiled;
        reg.jqlFilter = input.jqlFilter;
      } else {
        delete reg.compiled;
        delete reg.jqlFilter;
      }
    }
    if (input.name !== undefined) reg.name = input.name;
    if (input.url !== undefined) reg.url = input.url;
    if (input.events !== undefined) reg.events = [...input.events];
    if (input.excludeBody !== undefined) reg.excludeBody = input.excludeBody;
    if (input.enabled !== undefined) reg.enabled = input.enabled;
    if (input.expiresAt !== undefined) reg.expiresAt = input.expiresAt;
    if (input.owner !== undefined) reg.owner = input.owner;
    if (input.description !== undefined) reg.description = input.description;
    if (input.secret !== undefined) {
      if (input.secret === '') {
        delete reg.secret;
        reg.hasSecret = false;
      } else {
        reg.secret = input.secret;
        reg.hasSecret = true;
      }
    }
    reg.updatedAt = this.now();
    return this.view(reg);
  }

  remove(id: number): boolean {
    return this.regs.delete(id);
  }

  /** Extends the given (app) webhooks by 30 days from now; unknown ids are ignored, as Jira does. */
  refresh(ids: number[]): { expirationDate: number } {
    const expirationDate = this.now() + APP_WEBHOOK_TTL_MS;
    for (const id of ids) {
      const reg = this.regs.get(id);
      if (reg) {
        reg.expiresAt = expirationDate;
        reg.updatedAt = this.now();
      }
    }
    return { expirationDate };
  }

  setFaults(f: WebhookFaults): void {
    for (const rate of [f.dropRate, f.duplicateRate]) {
      if (rate !== undefined && !(rate >= 0 && rate <= 1))
        throw new RangeError('dropRate and duplicateRate must be between 0 and 1.');
    }
    if (f.delayMs && !(f.delayMs[0] >= 0 && f.delayMs[1] >= f.delayMs[0])) {
      throw new RangeError('delayMs must be [min, max] with 0 <= min <= max.');
    }
    this.faults = { ...f };
  }

  /** Resets the fault generator, e.g. between test scenarios. */
  reseed(seed: number): void {
    this.random = prng(seed);
  }

  // --- delivery -------------------------------------------------------------------------------

  /** Queues deliveries of `event` to every matching registration; returns at once. */
  emit(event: SandboxWebhookEvent): void {
    if (this.closed) return;
    try {
      this.enqueue(event);
    } catch (e) {
      // A webhook problem must never fail the REST call that caused the event.
      this.opts.logger?.error(
        { err: (e as Error).message, event: event.webhookEvent },
        'webhook event could not be queued',
      );
    }
  }

  private enqueue(event: SandboxWebhookEvent): void {
    const now = this.now();
    const bodyObject = buildWebhookBody(event, this.opts.flavour);
    const bodyText = JSON.stringify(bodyObject);
    for (const reg of this.regs.values()) {
      if (!reg.enabled) continue;
      if (reg.expiresAt !== undefined && reg.expiresAt <= now) continue;
      if (!reg.events.includes(event.webhookEvent) && !reg.events.includes('*')) continue;
      if (reg.compiled && !this.filterMatches(reg, event)) continue;
      const pending: PendingDelivery = {
        reg,
        event,
        url: substituteUrl(reg.url, event),
        body: reg.excludeBody ? '' : bodyText,
        identifier: randomUUID(),
        duplicate: false,
      };
      if (this.faults.dropRate !== undefined && this.random() < this.faults.dropRate) {
        this.record(pending, 0, 0, {}, 'dropped by the webhook fault knob', 'dropped');
        continue;
      }
      const copies = [pending];
      if (this.faults.duplicateRate !== undefined && this.random() < this.faults.duplicateRate) {
        copies.push({ ...pending, duplicate: true });
      }
      for (const copy of copies) this.schedule(copy);
    }
  }

  /** Resolves once every queued, delayed, held and retried delivery has finished. */
  async drain(): Promise<void> {
    for (;;) {
      if (this.held.length > 0) this.flushHeld();
      if (this.inflight.size === 0) return;
      await Promise.allSettled([...this.inflight]);
    }
  }

  /** Every attempt so far (including dropped ones, marked `fault: 'dropped'`), oldest first. */
  deliveries(): DeliveryRecord[] {
    return this.records.map((r) => ({ ...r, headers: { ...r.headers } }));
  }

  clearDeliveries(): void {
    this.records.length = 0;
  }

  /** Stops timers, forgets held deliveries and closes connections. Further emits are ignored. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [t, wake] of this.timers) {
      clearTimeout(t);
      wake(); // continuations see `closed` and send nothing
    }
    this.timers.clear();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.held = [];
    await Promise.allSettled([...this.inflight]);
    await this.agent.close();
  }

  // --- internals ------------------------------------------------------------------------------

  private compileFilter(jql: string | undefined): CompiledJql | undefined {
    if (jql === undefined || jql.trim() === '') return undefined;
    return compileJql(parseJql(jql), { now: this.now() });
  }

  private filterMatches(reg: StoredRegistration, event: SandboxWebhookEvent): boolean {
    try {
      // Recompile so relative dates ("-1d") are evaluated against the delivery time.
      const compiled = compileJql(parseJql(reg.jqlFilter as string), { now: this.now() });
      return compiled.matches(event.matchIssue);
    } catch (e) {
      this.opts.logger?.warn(
        { webhookId: reg.id, err: (e as Error).message },
        'webhook JQL filter failed; delivery skipped',
      );
      return false;
    }
  }

  private view(r: StoredRegistration): WebhookRegistration {
    const { secret: _secret, compiled: _compiled, ...rest } = r;
    return { ...rest, events: [...rest.events] };
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.set(t, resolve);
    });
  }

  private schedule(d: PendingDelivery): void {
    if (this.faults.reorder) {
      // Hold briefly so a burst of events is shuffled together; drain() flushes at once.
      this.held.push(d);
      if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flushHeld(), 20);
      return;
    }
    this.dispatch(d);
  }

  private flushHeld(): void {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    const original = this.held;
    this.held = [];
    const batch = [...original];
    // Fisher–Yates with the seeded generator; a batch of two or more never keeps its order.
    for (let i = batch.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [batch[i], batch[j]] = [batch[j] as PendingDelivery, batch[i] as PendingDelivery];
    }
    if (batch.length > 1 && batch.every((d, k) => d === original[k])) {
      [batch[0], batch[1]] = [batch[1] as PendingDelivery, batch[0] as PendingDelivery];
    }
    // Send the shuffled batch strictly one after another so the receiver sees that order.
    const chain = batch.reduce<Promise<void>>((prev, d) => prev.then(() => this.send(d, 0)), Promise.resolve());
    this.track(chain);
  }

  private dispatch(d: PendingDelivery): void {
    const delay = this.faults.delayMs;
    if (delay) {
      const ms = delay[0] + Math.floor(this.random() * (delay[1] - delay[0] + 1));
      this.track(this.sleep(ms).then(() => (this.closed ? undefined : this.send(d, 0))));
      return;
    }
    const prev = this.chains.get(d.reg.id) ?? Promise.resolve();
    const next = prev.then(() => (this.closed ? undefined : this.send(d, 0)));
    this.chains.set(d.reg.id, next);
    this.track(next);
    void next.finally(() => {
      if (this.chains.get(d.reg.id) === next) this.chains.delete(d.reg.id);
    });
  }

  /** One attempt; on a retryable failure the next attempt is scheduled in the background. */
  private async send(d: PendingDelivery, n: number): Promise<void> {
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=UTF-8',
      'user-agent': this.opts.flavour === 'cloud' ? 'Atlassian Webhook HTTP Client' : 'JIRA',
      'x-atlassian-webhook-identifier': d.identifier,
    };
    if (this.opts.flavour === 'cloud') headers['x-atlassian-webhook-flow'] = n === 0 ? 'Primary' : 'Secondary';
    if (n > 0) headers['x-atlassian-webhook-retry'] = String(n);
    if (d.reg.secret !== undefined) {
      headers['x-hub-signature'] = `sha256=${createHmac('sha256', d.reg.secret).update(d.body, 'utf8').digest('hex')}`;
    }
    let status = 0;
    let error: string | undefined;
    let fault: DeliveryRecord['fault'];
    const failFirst = this.faults.failFirstAttempts ?? 0;
    if (n < failFirst) {
      error = 'connection refused (webhook fault knob)';
      fault = 'failed-attempt';
    } else {
      try {
        const res = await request(d.url, {
          method: 'POST',
          headers,
          body: d.body,
          dispatcher: this.agent,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        status = res.statusCode;
        await res.body.dump();
      } catch (e) {
        error = (e as Error).message;
      }
    }
    this.record(d, n, status, headers, error, fault ?? (d.duplicate ? 'duplicate' : undefined));
    const ok = status >= 200 && status < 300;
    if (!ok) {
      this.opts.logger?.debug({ webhookId: d.reg.id, status, attempt: n, error }, 'webhook delivery failed');
    }
    const retryable = status === 0 || status >= 500 || RETRY_STATUSES.has(status);
    if (!ok && retryable && n < this.maxRetries && !this.closed) {
      const wait = this.retryBaseDelayMs * 2 ** n;
      this.track(this.sleep(wait).then(() => (this.closed ? undefined : this.send(d, n + 1))));
    }
  }

  private record(
    d: PendingDelivery,
    attempt: number,
    status: number,
    headers: Record<string, string>,
    error: string | undefined,
    fault: DeliveryRecord['fault'],
  ): void {
    const rec: DeliveryRecord = {
      webhookId: d.reg.id,
      url: d.url,
      identifier: d.identifier,
      attempt,
      status,
      body: d.body,
      headers: { ...headers },
      event: d.event.webhookEvent,
      at: this.now(),
    };
    if (error !== undefined) rec.error = error;
    if (fault !== undefined) rec.fault = fault;
    this.records.push(rec);
    const max = this.opts.maxRecords ?? 10_000;
    if (this.records.length > max) this.records.splice(0, this.records.length - max);
  }
}
