import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSecretBox, keyIdOf, parseMasterKey } from '../../src/security/secret-box.js';

describe('secrets at rest: AES-256-GCM secret box', () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  it('seals and opens; the sealed text holds no plaintext and differs each time', () => {
    const box = createSecretBox(k1);
    const a = box.seal('webhook-secret-value', 'webhook-secret:sb');
    const b = box.seal('webhook-secret-value', 'webhook-secret:sb');
    expect(a).not.toContain('webhook-secret-value');
    expect(a).not.toBe(b);
    expect(a.startsWith(`v1.${keyIdOf(k1)}.`)).toBe(true);
    expect(box.open(a, 'webhook-secret:sb')).toBe('webhook-secret-value');
  });
  it('refuses a tampered value, a value moved to another row, and a value under an unknown key', () => {
    const box = createSecretBox(k1);
    const sealed = box.seal('s3cret', 'row-a');
    const parts = sealed.split('.');
    const ct = Buffer.from(parts[4]!, 'base64url');
    ct[0] = ct[0]! ^ 1;
    parts[4] = ct.toString('base64url');
    expect(() => box.open(parts.join('.'), 'row-a')).toThrow(/integrity/);
    expect(() => box.open(sealed, 'row-b')).toThrow(/integrity/);
    expect(() => createSecretBox(k2).open(sealed, 'row-a')).toThrow(/unknown master key/);
  });
  it('after a rotation the previous key still opens old values; new values use the new key', () => {
    const old = createSecretBox(k1).seal('kept', 'row');
    const rotated = createSecretBox(k2, [k1]);
    expect(rotated.open(old, 'row')).toBe('kept');
    expect(rotated.seal('new', 'row').split('.')[1]).toBe(keyIdOf(k2));
  });
  it('reseal: a value under an old key is sealed again under the current one; a current one is left as is', () => {
    const old = createSecretBox(k1).seal('kept', 'row');
    const rotated = createSecretBox(k2, [k1]);
    const again = rotated.reseal(old, 'row')!;
    expect(again.split('.')[1]).toBe(keyIdOf(k2));
    expect(createSecretBox(k2).open(again, 'row')).toBe('kept');
    expect(rotated.reseal(again, 'row')).toBeNull();
    expect(() => rotated.reseal(old, 'other-row')).toThrow(/integrity/);
  });
  it('a master key of the wrong size is a configuration error that says how to make one', () => {
    expect(() => parseMasterKey('c2hvcnQ=', 'JIRA_BRIDGE_MASTER_KEY')).toThrow(/openssl rand -base64 32/);
  });
});
