import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { readTokens, resealOAuthTokens, saveConnectedTokens, swapTokens } from '../../src/app/oauth-tokens.js';
import { createSecretBox } from '../../src/security/secret-box.js';
import { describeEachEngine } from '../helpers/db.js';

describeEachEngine('OAuth token rows', ({ fresh }) => {
  it('compare-and-swap on version; a rotation of the master key re-seals both tokens', async () => {
    const t = await fresh();
    const oldKey = randomBytes(32);
    const oldBox = createSecretBox(oldKey);
    const tokens = { accessToken: 'at-1', refreshToken: 'rt-1', expiresAt: 1000, scope: 'offline_access' };
    expect(
      await saveConnectedTokens(t.store.db, oldBox, { connectionId: 'c', cloudId: 'x', siteUrl: 'https://s', tokens }),
    ).toBe(1);

    // A writer holding an old version loses; the current one wins, once.
    const next = { ...tokens, accessToken: 'at-2', refreshToken: 'rt-2' };
    expect(await swapTokens(t.store.db, oldBox, 'c', 0, next)).toBe(false);
    expect(await swapTokens(t.store.db, oldBox, 'c', 1, next)).toBe(true);
    expect(await swapTokens(t.store.db, oldBox, 'c', 1, next)).toBe(false);
    expect(await readTokens(t.store.db, oldBox, 'c')).toMatchObject({
      accessToken: 'at-2',
      refreshToken: 'rt-2',
      version: 2,
    });

    const newBox = createSecretBox(randomBytes(32), [oldKey]);
    expect(await resealOAuthTokens(t.store.db, newBox)).toEqual({ resealed: 1, current: 0 });
    expect(await resealOAuthTokens(t.store.db, newBox)).toEqual({ resealed: 0, current: 1 });
    const row = await t.store.db.selectFrom('oauth_tokens').selectAll().executeTakeFirstOrThrow();
    expect(row.access_enc.split('.')[1]).toBe(newBox.keyId);
    expect(row.refresh_enc!.split('.')[1]).toBe(newBox.keyId);
    expect(await readTokens(t.store.db, newBox, 'c')).toMatchObject({ accessToken: 'at-2', refreshToken: 'rt-2' });
    // Bound to the row: a sealed token copied to another connection does not open.
    await t.store.db
      .insertInto('oauth_tokens')
      .values({ ...row, connection_id: 'other' })
      .execute();
    await expect(readTokens(t.store.db, newBox, 'other')).rejects.toThrow(/integrity/);
  });
});
