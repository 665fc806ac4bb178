import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Authentication of Jira webhook deliveries, framework-free. Jira signs with HMAC-SHA256 over the
 * exact body bytes (`X-Hub-Signature: sha256=<hex>`); Jira versions that cannot sign put a token
 * in the URL instead. Both are compared in constant time. During a secret rotation the current
 * and the previous secret are both accepted. `sha1=` is refused: Jira never sends it and
 * accepting it would downgrade the check.
 */

export function sign(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  // Compare equal-length buffers so the time does not depend on where they differ.
  if (ab.length !== bb.length) {
    timingSafeEqual(ab, ab);
    return false;
  }
  return timingSafeEqual(ab, bb);
}

export function verifySignature(secret: string, rawBody: Buffer, header: string | undefined): boolean {
  if (!header || !header.startsWith('sha256=')) return false;
  return constantTimeEqual(sign(secret, rawBody), header.trim());
}

export function verifyUrlToken(expected: string, given: string | undefined): boolean {
  if (!given) return false;
  return constantTimeEqual(expected, given);
}

export interface DeliveryCredentials {
  /** Current and, during a rotation, previous HMAC secrets. */
  secrets: string[];
  /** Accepted URL tokens (`?token=`), for Jira versions that cannot sign. */
  urlTokens: string[];
}

export type AuthResult =
  | { ok: true; method: 'signature' | 'url_token' }
  | { ok: false; reason: 'no_credentials_configured' | 'signature_missing' | 'signature_mismatch' | 'token_mismatch' };

/** Accepts a delivery signed with any configured secret or carrying any configured URL token. */
export function authenticateDelivery(
  creds: DeliveryCredentials,
  rawBody: Buffer,
  signatureHeader: string | undefined,
  urlToken: string | undefined,
): AuthResult {
  if (creds.secrets.length === 0 && creds.urlTokens.length === 0)
    return { ok: false, reason: 'no_credentials_configured' };
  if (signatureHeader !== undefined && creds.secrets.length > 0) {
    // Every secret is tried so the time does not tell which one matched.
    let match = false;
    for (const s of creds.secrets) match = verifySignature(s, rawBody, signatureHeader) || match;
    if (match) return { ok: true, method: 'signature' };
    if (creds.urlTokens.length === 0) return { ok: false, reason: 'signature_mismatch' };
  }
  if (creds.urlTokens.length > 0) {
    let match = false;
    for (const t of creds.urlTokens) match = verifyUrlToken(t, urlToken) || match;
    if (match) return { ok: true, method: 'url_token' };
    // Name what was actually wrong: a signature that did not verify, else the token.
    if (signatureHeader !== undefined && creds.secrets.length > 0 && urlToken === undefined)
      return { ok: false, reason: 'signature_mismatch' };
    return { ok: false, reason: 'token_mismatch' };
  }
  return { ok: false, reason: 'signature_missing' };
}
