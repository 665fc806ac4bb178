/**
 * Rejected deliveries in the delivery log: body-less rows with the verdict and the fix, at most
 * one per connection and address per window (the rest counted on it), at most N per connection.
 * On both engines.
 */
import { expect, it } from 'vitest';
import { rejectionVerdict, RejectionLog } from '../../src/webhooks/rejections.js';
import { describeEachEngine } from '../helpers/db.js';

it('each reason has its verdict and a fix an operator can follow', () => {
  expect(rejectionVerdict('signature_mismatch', 'acme')).toMatchObject({ verdict: 'rejected:signature' });
  expect(rejectionVerdict('signature_mismatch', 'acme').detail).toMatch(
    /the secret in Jira does not match.*generate a new secret.*POST \/api\/v1\/connections\/acme\/webhook\/secret/,
  );
  expect(rejectionVerdict('signature_missing', 'acme').detail).toMatch(/no signature.*\?token=/);
  expect(rejectionVerdict('no_credentials_configured', 'acme').detail).toMatch(/no webhook secret or URL token/);
  expect(rejectionVerdict('token_mismatch', 'acme')).toMatchObject({ verdict: 'rejected:token' });
  expect(rejectionVerdict('token_mismatch', 'acme').detail).toMatch(
    /URL token.*GET \/api\/v1\/connections\/acme\/webhook/,
  );
});

describeEachEngine('rejected deliveries are bounded', ({ fresh }) => {
  const rows = async (db: Awaited<ReturnType<typeof fresh>>, conn: string) =>
    db.store.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('connection_id', '=', conn)
      .orderBy('received_at')
      .execute();

  it('one row per connection, address and cause per 10 s; the rest are counted on it', async () => {
    const db = await fresh();
    const log = new RejectionLog();
    const t0 = 1_700_000_000_000;
    const rec = (conn: string, addr: string, at: number, reason: 'signature_mismatch' | 'token_mismatch') =>
      log.record(db.store, {
        connectionId: conn,
        sourceAddress: addr,
        reason,
        headers: { 'x-atlassian-webhook-identifier': `id-${at}` },
        at,
      });
    expect(await rec('a', '198.51.100.1', t0, 'signature_mismatch')).toBe('stored');
    for (let i = 1; i <= 7; i++)
      expect(await rec('a', '198.51.100.1', t0 + i * 1000, 'signature_mismatch')).toBe('counted');
    // Another address, another connection: rows of their own.
    expect(await rec('a', '198.51.100.2', t0 + 500, 'signature_mismatch')).toBe('stored');
    expect(await rec('b', '198.51.100.1', t0 + 600, 'token_mismatch')).toBe('stored');
    // Another verdict from the same address: its own row.
    expect(await rec('a', '198.51.100.1', t0 + 700, 'token_mismatch')).toBe('stored');
    // After the window, a new row.
    expect(await rec('a', '198.51.100.1', t0 + 10_000, 'signature_mismatch')).toBe('stored');
    // Another cause of the same verdict within the window: its own row, with its own fix.
    const other = (reason: 'signature_missing' | 'no_credentials_configured', at: number) =>
      log.record(db.store, { connectionId: 'a', sourceAddress: '198.51.100.1', reason, headers: {}, at });
    expect(await other('signature_missing', t0 + 10_100)).toBe('stored');
    expect(await other('signature_missing', t0 + 10_200)).toBe('counted');
    const a = await rows(db, 'a');
    expect(a.map((r) => [r.source_address, r.repeats, r.verdict])).toEqual([
      ['198.51.100.1', 7, 'rejected:signature'],
      ['198.51.100.2', 0, 'rejected:signature'],
      ['198.51.100.1', 0, 'rejected:token'],
      ['198.51.100.1', 0, 'rejected:signature'],
      ['198.51.100.1', 1, 'rejected:signature'],
    ]);
    expect(a.map((r) => r.detail)).toEqual([
      rejectionVerdict('signature_mismatch', 'a').detail,
      rejectionVerdict('signature_mismatch', 'a').detail,
      rejectionVerdict('token_mismatch', 'a').detail,
      rejectionVerdict('signature_mismatch', 'a').detail,
      rejectionVerdict('signature_missing', 'a').detail,
    ]);
    expect(a.every((r) => r.body === '' && r.identifier === null)).toBe(true);
    expect(JSON.parse(a[0]!.headers)).toEqual({ 'x-atlassian-webhook-identifier': `id-${t0}` });
    expect((await rows(db, 'b')).map((r) => r.verdict)).toEqual(['rejected:token']);
  });

  it('a flood from many addresses keeps only the newest rows of the connection', async () => {
    const db = await fresh();
    const log = new RejectionLog({ keepPerConnection: 5 });
    const t0 = 1_700_000_000_000;
    for (let i = 0; i < 40; i++) {
      await log.record(db.store, {
        connectionId: 'a',
        sourceAddress: `203.0.113.${i}`,
        reason: 'signature_mismatch',
        headers: {},
        at: t0 + i,
      });
    }
    await log.record(db.store, {
      connectionId: 'other',
      sourceAddress: '203.0.113.1',
      reason: 'signature_mismatch',
      headers: {},
      at: t0,
    });
    const a = await rows(db, 'a');
    expect(a.map((r) => r.source_address)).toEqual([35, 36, 37, 38, 39].map((i) => `203.0.113.${i}`));
    // Another connection's rows, and accepted deliveries, are not touched.
    expect(await rows(db, 'other')).toHaveLength(1);
  });
});
