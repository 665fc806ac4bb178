/**
 * Bad input at the webhook intake is refused and logged without side effects: no stored delivery
 * (a failed authentication leaves only a body-less rejected row for the delivery log), no job, no
 * change to any record, no Jira call. Replays are acknowledged and applied once.
 */
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { sign } from '../../src/webhooks/verify.js';
import { describeEachEngine, type TestDb } from '../helpers/db.js';
import { opsMapping } from './harness.js';
import { startInboundHarness, URL_TOKEN, WEBHOOK_SECRET, type InboundHarness } from './inbound-harness.js';

describeEachEngine('webhook intake refuses bad input without side effects (sandbox)', ({ fresh }) => {
  let db: TestDb;
  let h: InboundHarness;
  const lines: Array<Record<string, unknown>> = [];
  let key = '';
  let issueId = '';

  beforeAll(async () => {
    db = await fresh();
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
    });
    h = await startInboundHarness(db, {
      events: [],
      mappings: [opsMapping()],
      logger: createLogger({ level: 'info', destination: stream }),
    });
    await h.engine.records.upsertRecord({
      scope: 'stackflow-incidents',
      hostId: 'sec-1',
      kind: 'incident',
      title: 'Original title',
      status: 'new',
      severity: 'P3',
    });
    await h.settle();
    const r = await h.record('stackflow-incidents', 'sec-1');
    key = r.link!.issue_key!;
    issueId = r.link!.issue_id!;
    // Jira really changed: a valid delivery would apply this.
    await h.alice.editIssue(key, { fields: { summary: 'Changed in Jira' } });
  });
  afterAll(async () => {
    await h.close();
  });

  const body = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      timestamp: Date.now(),
      webhookEvent: 'jira:issue_updated',
      user: { accountId: 'someone-else' },
      issue: { id: issueId, key },
      ...extra,
    });
  const post = (raw: string, headers: Record<string, string>, query = '') =>
    fetch(`${h.intakeUrl}${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: raw,
    });
  const sideEffects = async () => ({
    // Rejected deliveries leave a body-less row for the delivery log (checked below), nothing else.
    deliveries: (
      await db.store.db
        .selectFrom('webhook_deliveries')
        .select('id')
        .where('verdict', 'not like', 'rejected:%')
        .execute()
    ).length,
    jobs: (await db.store.db.selectFrom('jobs').select('id').execute()).length,
    title: (await h.record('stackflow-incidents', 'sec-1')).title,
    calls: h.sandbox.calls.count(),
  });

  it.each([
    ['a wrong signature', () => post(body(), { 'x-hub-signature': sign('another-secret-0123456789', body()) }), 403],
    ['no signature and no token', () => post(body(), {}), 403],
    ['a malformed signature header', () => post(body(), { 'x-hub-signature': 'sha1=abc' }), 403],
    ['a wrong URL token', () => post(body(), {}, '?token=not-the-token-000000000'), 403],
    [
      'malformed JSON (signed)',
      () => post('{"webhookEvent": ', { 'x-hub-signature': sign(WEBHOOK_SECRET, '{"webhookEvent": ') }),
      400,
    ],
    [
      'a body over 1 MiB (signed)',
      () => {
        const big = body({ pad: 'x'.repeat(1024 * 1024) });
        return post(big, { 'x-hub-signature': sign(WEBHOOK_SECRET, big) });
      },
      413,
    ],
    [
      'a JSON body that is not a Jira delivery (signed)',
      () => post('[1,2]', { 'x-hub-signature': sign(WEBHOOK_SECRET, '[1,2]') }),
      400,
    ],
  ])('%s → %s, nothing stored, queued or changed', async (_name, send, status) => {
    const before = await sideEffects();
    const res = await send();
    expect(res.status).toBe(status);
    const err = (await res.json()) as { error: { code: string; message: string } };
    expect(err.error.code).toMatch(/SIGNATURE_MISMATCH|MALFORMED_JSON|BODY_TOO_LARGE|VALIDATION_FAILED/);
    await h.settle();
    expect(await sideEffects()).toEqual(before);
  });

  it('the rejections above are in the delivery log as body-less rows, one per address, verdict and 10 s', async () => {
    const rows = await db.store.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('verdict', 'like', 'rejected:%')
      .execute();
    // Four 403s from one address within the window (the connection takes a signature or a URL
    // token): two named the signature, two the token; one row each, the second counted on it.
    expect(rows.map((r) => [r.verdict, r.repeats]).sort()).toEqual([
      ['rejected:signature', 1],
      ['rejected:token', 1],
    ]);
    for (const r of rows)
      expect(r).toMatchObject({ body: '', event: null, issue_key: null, source_address: '127.0.0.1' });
    expect(JSON.stringify(rows)).not.toContain(WEBHOOK_SECRET);
    expect(JSON.stringify(rows)).not.toContain(issueId);
  });

  it('a rejected delivery leaves one log line that names the reason and never the secret', async () => {
    lines.length = 0;
    await post(body(), { 'x-hub-signature': sign('another-secret-0123456789', body()) });
    const rejected = lines.filter((l) => l.msg === 'webhook delivery rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.reason).toBe('signature_mismatch');
    expect(JSON.stringify(lines)).not.toContain(WEBHOOK_SECRET);
  });

  it('a URL token with Jira’s substituted variables is accepted; a replay is acknowledged and applied once', async () => {
    const raw = body();
    const q = `?token=${URL_TOKEN}&issue_key=${key}&project_key=OPS`;
    const first = await post(raw, { 'x-atlassian-webhook-identifier': 'replay-1' }, q);
    expect(first.status).toBe(202);
    await h.settle();
    expect((await h.record('stackflow-incidents', 'sec-1')).title).toBe('Changed in Jira');
    const before = await sideEffects();
    const version = (await h.record('stackflow-incidents', 'sec-1')).version;
    for (let i = 0; i < 3; i++) {
      const again = await post(
        raw,
        { 'x-atlassian-webhook-identifier': 'replay-1', 'x-atlassian-webhook-retry': String(i + 1) },
        q,
      );
      expect(again.status).toBe(200);
      expect(((await again.json()) as { verdict: string }).verdict).toBe('duplicate');
    }
    await h.settle();
    expect(await sideEffects()).toEqual(before);
    expect((await h.record('stackflow-incidents', 'sec-1')).version).toBe(version);
    const row = await db.store.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('identifier', '=', 'replay-1')
      .executeTakeFirstOrThrow();
    expect(row.verdict).toBe('applied');
    expect(row.headers).not.toContain(URL_TOKEN);
  });

  it('an address whose deliveries keep failing authentication gets 429s, without signature work', async () => {
    let last = 0;
    for (let i = 0; i < 35; i++) {
      const res = await post(body(), { 'x-hub-signature': sign('guessing-secret-000000000', body()) });
      last = res.status;
      await res.arrayBuffer();
    }
    expect(last).toBe(429);
    const limited = await post(body(), { 'x-hub-signature': sign(WEBHOOK_SECRET, body()) });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
