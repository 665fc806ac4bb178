import type { Kysely } from 'kysely';
import type { Logger } from '../log/logger.js';
import type { Database } from '../store/schema.js';
import type { Store } from '../store/index.js';
import { newId } from '../store/ids.js';
import { parseDelivery, type ParsedDelivery } from './parse.js';
import type { RejectionLog } from './rejections.js';
import { authenticateDelivery, type DeliveryCredentials } from './verify.js';

export interface ReceiveDeps {
  store: Store;
  logger?: Logger | undefined;
  /** The delivery credentials of a connection, or undefined when no such connection exists. */
  credentials(connectionId: string): DeliveryCredentials | undefined | Promise<DeliveryCredentials | undefined>;
  now?: () => number;
  /** Keeps a bounded, body-less row per rejected delivery for the delivery log (none when absent). */
  rejections?: RejectionLog | undefined;
  /**
   * Called in the transaction that stores a new delivery, so the work it implies (a queued job)
   * commits with it or not at all. May return a final verdict (e.g. an event that needs no work).
   */
  route?:
    | ((
        trx: Kysely<Database>,
        delivery: ParsedDelivery & { id: string; connectionId: string },
      ) => Promise<RouteResult | void>)
    | undefined;
}

export interface RouteResult {
  verdict: string;
  detail?: string | undefined;
}

export interface ReceiveInput {
  connectionId: string;
  rawBody: Buffer;
  headers: Record<string, string | string[] | undefined>;
  query: Record<string, string | undefined>;
  /** The client address (the forwarded one behind a trusted proxy), for rejected deliveries. */
  sourceAddress?: string | undefined;
}

export type ReceiveResult =
  | { status: 200 | 202; verdict: 'stored' | 'duplicate'; deliveryId: string; identifier: string }
  | { status: 403; verdict: 'rejected'; reason: string }
  | { status: 404; verdict: 'unknown_connection'; reason: string };

/** Headers worth keeping with a delivery; nothing that could carry a credential. */
export const KEPT_HEADERS = [
  'content-type',
  'user-agent',
  'x-atlassian-webhook-identifier',
  'x-atlassian-webhook-retry',
  'x-atlassian-webhook-flow',
];

/**
 * Takes one Jira delivery: authenticate over the raw bytes before parsing (403, a log line and,
 * with `rejections`, a bounded body-less row for the delivery log on mismatch), parse (400 via AppError), then store it durably — once per
 * `X-Atlassian-Webhook-Identifier` per connection — and answer only after the commit. A
 * redelivery is acknowledged as a duplicate and stored no second time.
 */
export async function receiveDelivery(deps: ReceiveDeps, input: ReceiveInput): Promise<ReceiveResult> {
  const creds = await deps.credentials(input.connectionId);
  const idHeader = input.headers['x-atlassian-webhook-identifier'];
  const log = deps.logger?.child({
    connectionId: input.connectionId,
    deliveryId: Array.isArray(idHeader) ? idHeader[0] : idHeader,
  });
  if (!creds) return { status: 404, verdict: 'unknown_connection', reason: `no connection "${input.connectionId}"` };
  const sig = input.headers['x-hub-signature'];
  const auth = authenticateDelivery(creds, input.rawBody, Array.isArray(sig) ? sig[0] : sig, input.query.token);
  const headers: Record<string, string> = {};
  for (const h of KEPT_HEADERS) {
    const v = input.headers[h];
    if (v !== undefined) headers[h] = Array.isArray(v) ? v.join(', ') : v;
  }
  if (!auth.ok) {
    log?.warn({ reason: auth.reason, bytes: input.rawBody.length }, 'webhook delivery rejected');
    // A row for the delivery log (no body, no signature), at most one per address and window.
    await deps.rejections?.record(deps.store, {
      connectionId: input.connectionId,
      sourceAddress: input.sourceAddress,
      reason: auth.reason,
      headers,
      at: (deps.now ?? Date.now)(),
    });
    return { status: 403, verdict: 'rejected', reason: auth.reason };
  }
  const d: ParsedDelivery = parseDelivery(input.rawBody, input.headers, input.query);
  const id = newId();
  const inserted = await deps.store.transaction(async (trx) => {
    const r = await trx
      .insertInto('webhook_deliveries')
      .values({
        id,
        connection_id: input.connectionId,
        identifier: d.identifier,
        received_at: (deps.now ?? Date.now)(),
        event: d.rawEvent,
        issue_id: d.issueId,
        issue_key: d.issueKey,
        headers: JSON.stringify(headers),
        body: input.rawBody.toString('utf8'),
        verdict: 'stored',
        detail: `authenticated by ${auth.method}`,
      })
      .onConflict((oc) => oc.columns(['connection_id', 'identifier']).doNothing())
      .executeTakeFirst();
    if (Number(r.numInsertedOrUpdatedRows ?? 0n) > 0 && deps.route) {
      const routed = await deps.route(trx, { ...d, id, connectionId: input.connectionId });
      if (routed) {
        await trx
          .updateTable('webhook_deliveries')
          .set({ verdict: routed.verdict, detail: routed.detail ?? null })
          .where('id', '=', id)
          .execute();
      }
    }
    return r;
  });
  const fresh = Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0;
  const dlog = log?.child({ deliveryId: d.identifier, event: d.rawEvent, issueKey: d.issueKey });
  if (!fresh) {
    dlog?.info({ retry: d.retry }, 'duplicate webhook delivery acknowledged');
    return { status: 200, verdict: 'duplicate', deliveryId: id, identifier: d.identifier };
  }
  dlog?.info({ retry: d.retry }, 'webhook delivery stored');
  return { status: 202, verdict: 'stored', deliveryId: id, identifier: d.identifier };
}
