/**
 * Rejected Jira deliveries, kept so an operator can see them (the console's delivery log): one
 * body-less row per rejection — verdict `rejected:signature` or `rejected:token`, the connection,
 * the time, the client address, Jira's delivery identifier and the fix — never the body, never
 * the signature or token that failed. Bounded: at most one row per connection, address and cause
 * per window (10 s; the others in the window only add to that row's `repeats`), and at most
 * `keepPerConnection` rejected rows per connection (the oldest go). The window is per process: N
 * replicas write at most N rows per window.
 */
import type { Logger } from '../log/logger.js';
import { newId } from '../store/ids.js';
import type { Store } from '../store/store.js';
import type { AuthResult } from './verify.js';

export type RejectReason = Extract<AuthResult, { ok: false }>['reason'];

export interface RejectionVerdict {
  verdict: 'rejected:signature' | 'rejected:token';
  /** What is wrong and what to do, in words an operator can act on. */
  detail: string;
}

/** The verdict and the fix for a failed authentication (pure). */
export function rejectionVerdict(reason: RejectReason, connectionId: string): RejectionVerdict {
  const generate = `generate a new secret (console: Webhook → Generate a secret, or POST /api/v1/connections/${connectionId}/webhook/secret) and paste it into the Jira webhook`;
  switch (reason) {
    case 'signature_mismatch':
      return {
        verdict: 'rejected:signature',
        detail: `The signature does not match: the secret in Jira does not match this connection's. Fix: ${generate}.`,
      };
    case 'signature_missing':
      return {
        verdict: 'rejected:signature',
        detail: `The delivery carries no signature (X-Hub-Signature): the Jira webhook has no secret. Fix: ${generate}; Jira versions that cannot sign use the URL with ?token= instead.`,
      };
    case 'no_credentials_configured':
      return {
        verdict: 'rejected:signature',
        detail: `Connection "${connectionId}" has no webhook secret or URL token, so no delivery can be trusted. Fix: ${generate}.`,
      };
    case 'token_mismatch':
      return {
        verdict: 'rejected:token',
        detail: `The URL token is missing or wrong. Fix: copy the webhook URL with its ?token= again from GET /api/v1/connections/${connectionId}/webhook (or the connection's webhook.url_token) into the Jira webhook.`,
      };
  }
}

export interface RejectionInput {
  connectionId: string;
  sourceAddress: string | undefined;
  reason: RejectReason;
  /** Headers already stripped of anything that could carry a credential. */
  headers: Record<string, string>;
  at: number;
}

export class RejectionLog {
  readonly #recent = new Map<string, { since: number; written: Promise<string | undefined> }>();
  constructor(
    private readonly opts: { windowMs?: number; keepPerConnection?: number; logger?: Logger | undefined } = {},
  ) {}

  /** Stores a row, or counts the rejection on the row of its window: 'stored' | 'counted'. */
  async record(store: Store, r: RejectionInput): Promise<'stored' | 'counted'> {
    const windowMs = this.opts.windowMs ?? 10_000;
    // Folded only into a row of the same cause: a row's fix text is its cause's (issue 19). One
    // verdict has several causes (no secret configured, no signature, a wrong one): a wrong
    // signature after "no secret configured" gets its own row and its own fix.
    const key = `${r.connectionId}\u0000${r.sourceAddress ?? ''}\u0000${r.reason}`;
    const open = this.#recent.get(key);
    if (open && r.at - open.since < windowMs) {
      const id = await open.written;
      if (id) {
        await store.db
          .updateTable('webhook_deliveries')
          .set((eb) => ({ repeats: eb('repeats', '+', 1) }))
          .where('id', '=', id)
          .execute();
      }
      return 'counted';
    }
    const written = this.#insert(store, r);
    this.#recent.set(key, { since: r.at, written });
    if (this.#recent.size > 10_000) {
      for (const [k, v] of this.#recent) if (r.at - v.since >= windowMs) this.#recent.delete(k);
    }
    await written;
    return 'stored';
  }

  async #insert(store: Store, r: RejectionInput): Promise<string | undefined> {
    const { verdict, detail } = rejectionVerdict(r.reason, r.connectionId);
    const id = newId(r.at);
    const keep = this.opts.keepPerConnection ?? 500;
    try {
      await store.transaction(async (trx) => {
        await trx
          .insertInto('webhook_deliveries')
          .values({
            id,
            connection_id: r.connectionId,
            // Jira's identifier stays in the headers: a retry signed with the right secret must
            // not be taken for a duplicate of this rejected one.
            identifier: null,
            received_at: r.at,
            event: null,
            issue_id: null,
            issue_key: null,
            headers: JSON.stringify(r.headers),
            body: '',
            verdict,
            detail,
            source_address: r.sourceAddress ?? null,
          })
          .execute();
        // The oldest rejected rows of the connection beyond `keep` go.
        const cutoff = await trx
          .selectFrom('webhook_deliveries')
          .select(['received_at', 'id'])
          .where('connection_id', '=', r.connectionId)
          .where('verdict', 'like', 'rejected:%')
          .orderBy('received_at', 'desc')
          .orderBy('id', 'desc')
          .offset(keep)
          .limit(1)
          .executeTakeFirst();
        if (cutoff) {
          await trx
            .deleteFrom('webhook_deliveries')
            .where('connection_id', '=', r.connectionId)
            .where('verdict', 'like', 'rejected:%')
            .where((eb) =>
              eb.or([
                eb('received_at', '<', cutoff.received_at),
                eb.and([eb('received_at', '=', cutoff.received_at), eb('id', '<=', cutoff.id)]),
              ]),
            )
            .execute();
        }
      });
      return id;
    } catch (err) {
      // The 403 is answered all the same; only the operator's view misses this one.
      this.opts.logger?.error(
        { err: err instanceof Error ? err.message : String(err), connectionId: r.connectionId },
        'could not store a rejected webhook delivery',
      );
      return undefined;
    }
  }
}
