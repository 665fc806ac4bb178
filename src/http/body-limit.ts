import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../core/errors.js';

/** A body over its limit is read and thrown away up to this many bytes so the client reads its 413. */
export const MIN_DRAIN_CAP_BYTES = 16 * 1024 * 1024;
/** …and for at most this long (a client that stalls half-way is not waited for). */
export const DRAIN_TIMEOUT_MS = 10_000;

export interface BodyLimitGuard {
  /**
   * Before a 413 is sent for a request whose body is still arriving: reads and discards the rest
   * (up to the cap and the timeout), so the client, still writing, is not reset before it reads
   * the answer. Returns at once when there is nothing to wait for.
   */
  drain(req: FastifyRequest): Promise<void>;
}

const expectsContinue = (raw: IncomingMessage): boolean => /\b100-continue\b/i.test(raw.headers.expect ?? '');

/**
 * Bodies over their route's limit get their 413:
 * - `Expect: 100-continue` is answered by the route, not by node: 413 when Content-Length is over
 *   the route's limit (no 100, so the client never sends the body), else 100 right before the
 *   body is read, after routing and the onRequest hooks (a 401 also goes out without a 100);
 * - a Content-Length over the limit is refused before a byte is read, without waiting for it;
 * - a client already sending is let finish (see BodyLimitGuard.drain) before the answer.
 */
export function installBodyLimitGuard(app: FastifyInstance, opts: { bodyLimit: number }): BodyLimitGuard {
  const continued = new WeakSet<IncomingMessage>();
  const limitOf = (req: FastifyRequest): number => req.routeOptions.bodyLimit ?? opts.bodyLimit;

  // With a listener here node no longer answers 100 by itself; the request goes through fastify.
  app.server.on('checkContinue', (req: IncomingMessage, res) => {
    app.server.emit('request', req, res);
  });

  app.addHook('preParsing', async (req, reply, payload) => {
    const limit = limitOf(req);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      if (expectsContinue(req.raw) && !continued.has(req.raw)) reply.header('connection', 'close');
      throw new AppError('BODY_TOO_LARGE', `The request body is larger than the limit of ${limit} bytes`, {
        details: { limit_bytes: limit },
      });
    }
    if (expectsContinue(req.raw) && !continued.has(req.raw) && !reply.raw.headersSent) {
      continued.add(req.raw);
      reply.raw.writeContinue();
    }
    return payload;
  });

  return {
    async drain(req) {
      const raw = req.raw;
      if (raw.complete || raw.destroyed || raw.readableEnded) return;
      // A client that asked first and got no 100 is not sending: nothing to wait for.
      if (expectsContinue(raw) && !continued.has(raw)) return;
      const cap = Math.max(4 * limitOf(req), MIN_DRAIN_CAP_BYTES);
      const declared = Number(raw.headers['content-length']);
      if (Number.isFinite(declared) && declared > cap) return; // too much to read: answered at once
      await new Promise<void>((resolve) => {
        let seen = 0;
        const finish = (): void => {
          clearTimeout(timer);
          raw.off('data', onData);
          raw.off('end', finish);
          raw.off('close', finish);
          raw.off('error', finish);
          resolve();
        };
        const onData = (chunk: Buffer): void => {
          seen += chunk.length;
          if (seen > cap) finish();
        };
        const timer = setTimeout(finish, DRAIN_TIMEOUT_MS);
        raw.on('data', onData);
        raw.once('end', finish);
        raw.once('close', finish);
        raw.once('error', finish);
        raw.resume();
      });
    },
  };
}
