/**
 * Secrets at rest: AES-256-GCM (authenticated encryption) under a 32-byte master key. Sealed
 * values look like `v1.<key id>.<iv>.<tag>.<ciphertext>` (base64url parts); the key id (first
 * bytes of the key's SHA-256) tells which key sealed it, so old keys can still open values while
 * a rotation re-seals them. `aad` binds a value to where it is stored (a value copied to another
 * row does not open).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { AppError } from '../core/errors.js';

export interface SecretBox {
  readonly keyId: string;
  seal(plaintext: string, aad: string): string;
  open(sealed: string, aad: string): string;
  /** For a key rotation: the value sealed again under the current key, or null when it already is. */
  reseal(sealed: string, aad: string): string | null;
}

const b64 = (b: Buffer): string => b.toString('base64url');
export const keyIdOf = (key: Buffer): string => b64(createHash('sha256').update(key).digest().subarray(0, 6));

export function parseMasterKey(text: string, source: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32) {
    throw new AppError(
      'CONFIG_INVALID',
      `${source}: the master key must be 32 bytes in base64 (generate one with: openssl rand -base64 32)`,
    );
  }
  return key;
}

/** `current` seals; `current` and `previous` open. */
export function createSecretBox(current: Buffer, previous: Buffer[] = []): SecretBox {
  const keys = new Map([current, ...previous].map((k) => [keyIdOf(k), k]));
  const keyId = keyIdOf(current);
  const box: SecretBox = {
    keyId,
    seal(plaintext, aad) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', current, iv);
      c.setAAD(Buffer.from(aad));
      const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
      return ['v1', keyId, b64(iv), b64(c.getAuthTag()), b64(ct)].join('.');
    },
    open(sealed, aad) {
      const [v, id, iv, tag, ct] = sealed.split('.');
      const key = id ? keys.get(id) : undefined;
      if (v !== 'v1' || !key || !iv || !tag || ct === undefined) {
        throw new AppError(
          'INTERNAL',
          `A stored secret cannot be opened${key ? '' : ' (sealed with an unknown master key)'}`,
          {
            retryable: false,
          },
        );
      }
      try {
        const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
        d.setAAD(Buffer.from(aad));
        d.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
      } catch {
        throw new AppError('INTERNAL', 'A stored secret failed its integrity check', { retryable: false });
      }
    },
    reseal(sealed, aad) {
      return sealed.split('.')[1] === keyId ? null : box.seal(box.open(sealed, aad), aad);
    },
  };
  return box;
}
