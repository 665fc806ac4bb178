/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): `webhook-id`,
 * `webhook-timestamp` (seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
 * "id.timestamp.body">`, through the reference library so hosts can verify with any of its ports.
 * A configured secret in the standard form (`whsec_<base64>`) is used as such; any other string is
 * the key itself (its UTF-8 bytes).
 */
import { Webhook } from 'standardwebhooks';

export function webhookFor(secret: string): Webhook {
  return secret.startsWith('whsec_')
    ? new Webhook(secret)
    : new Webhook(Buffer.from(secret, 'utf8').toString('base64'));
}

export function signedHeaders(
  secret: string,
  id: string,
  at: Date,
  body: string,
): { 'webhook-id': string; 'webhook-timestamp': string; 'webhook-signature': string } {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': webhookFor(secret).sign(id, at, body),
  };
}
