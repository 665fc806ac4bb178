/**
 * Attachments from Jira to the record: downloaded once (one content call each, nothing per
 * redelivery), over-cap ones recorded with a note, deletions reflected, our own uploads never
 * brought back; heard through the change feed and listed/downloaded through the record API.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordsRoutes } from '../../src/http/routes/records.js';
import { buildServer } from '../../src/http/server.js';
import { planAttachments, tooLargeNote, UPLOADING_MARKER } from '../../src/engine/inbound-attachments.js';
import type { JiraAttachmentState } from '../../src/engine/types.js';
import { createLogger } from '../../src/log/logger.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { JIRA_ACCEPTED_EVENTS } from '../../src/webhooks/parse.js';
import { sign } from '../../src/webhooks/verify.js';
import { describeEachEngine, type TestDb } from '../helpers/db.js';
import { opsMapping, inboundSettings } from './harness.js';
import { startInboundHarness, WEBHOOK_SECRET, type InboundHarness } from './inbound-harness.js';

const att = (id: string, over: Partial<JiraAttachmentState> = {}): JiraAttachmentState => ({
  id,
  filename: `f${id}.txt`,
  size: 10,
  mimeType: 'text/plain',
  author: { accountId: 'alice', displayName: 'Alice', email: null },
  created: 1,
  ...over,
});
const known = (id: string, jiraId: string | null, over: Record<string, unknown> = {}) => ({
  id,
  jiraAttachmentId: jiraId,
  filename: `f${jiraId}.txt`,
  size: 10,
  sha256: 'ab',
  origin: 'jira',
  deleted: false,
  ...over,
});
const me = { accountId: 'bridge', displayName: 'Bridge', email: null };

describe('planAttachments (pure)', () => {
  it('downloads the unknown, notes the over-cap, marks the vanished deleted', () => {
    const plan = planAttachments(
      [att('1'), att('2', { size: 500 }), att('3')],
      [known('a', '3'), known('b', '4'), known('c', '5', { deleted: true })],
      { maxBytes: 100, me },
    );
    expect(plan.download.map((a) => a.id)).toEqual(['1']);
    expect(plan.tooLarge.map((a) => a.id)).toEqual(['2']);
    expect(plan.deleted.map((k) => k.id)).toEqual(['b']);
    expect(plan.fill).toEqual([]);
  });

  it('never brings back our own: attachments by our account, or an upload still in flight', () => {
    const plan = planAttachments(
      [att('1', { author: me }), att('2', { filename: 'evidence.txt', size: 7, author: null })],
      [known('u', UPLOADING_MARKER, { origin: 'host', filename: 'evidence.txt', size: 7 })],
      { maxBytes: 100, me },
    );
    expect(plan.download).toEqual([]);
    expect(plan.waiting.map((a) => a.id)).toEqual(['2']);
    // The in-flight upload is not "deleted in Jira".
    expect(plan.deleted).toEqual([]);
  });

  it('a read without the attachment field proves nothing: no deletions', () => {
    const plan = planAttachments(null, [known('a', '3')], { maxBytes: 100, me });
    expect(plan).toEqual({ download: [], fill: [], tooLarge: [], deleted: [], waiting: [] });
  });

  it('an attachment recorded over the cap is downloaded once the cap allows it', () => {
    const row = known('a', '9', { sha256: null, size: 50 });
    const plan = planAttachments([att('9', { size: 50 })], [row], { maxBytes: 100, me });
    expect(plan.fill).toEqual([{ row, attachment: att('9', { size: 50 }) }]);
    expect(tooLargeNote(12 * 1024 * 1024, 10 * 1024 * 1024)).toMatch(/too large, not downloaded: 12\.0 MB .* 10\.0 MB/);
  });
});

describeEachEngine('attachments from Jira reach the record (sandbox)', ({ fresh }) => {
  describe.each(['cloud', 'datacenter'] as const)('%s', (flavour) => {
    let db: TestDb;
    let h: InboundHarness;
    let api: FastifyInstance;
    const SCOPE = 'stackflow-incidents';
    const CAP = 64;

    beforeAll(async () => {
      db = await fresh();
      h = await startInboundHarness(db, {
        flavour,
        events: [...JIRA_ACCEPTED_EVENTS],
        mappings: [
          opsMapping({
            inbound: inboundSettings({ onJiraCreate: 'create_record', attachments: { fromJira: true, maxBytes: CAP } }),
          }),
        ],
      });
      api = await buildServer({
        logger: createLogger({ level: 'silent' }),
        readiness: () => Promise.resolve({ ready: true, checks: {} }),
        metrics: createMetrics({ defaultMetrics: false }),
        version: 'test',
        routes: [recordsRoutes({ engine: h.engine })],
      });
    });
    afterAll(async () => {
      await api?.close();
      await h?.close();
    });

    const contentRoute =
      flavour === 'cloud' ? '/rest/api/3/attachment/content/:id' : '/secure/attachment/:id/:filename';
    const downloads = () => h.sandbox.calls.count({ method: 'GET', route: contentRoute });
    const aliceDelete = async (id: string) => {
      const a = h.sandbox.credentials.users.alice!;
      const auth =
        flavour === 'cloud'
          ? `Basic ${Buffer.from(`${a.loginEmail}:${a.apiToken}`).toString('base64')}`
          : `Bearer ${a.pat}`;
      const res = await fetch(`${h.sandbox.baseUrl}/rest/api/${flavour === 'cloud' ? 3 : 2}/attachment/${id}`, {
        method: 'DELETE',
        headers: { authorization: auth },
      });
      expect(res.status).toBe(204);
    };
    const list = async (hostId: string) => {
      const res = await api.inject({ method: 'GET', url: `/api/v1/records/${SCOPE}/${hostId}/attachments` });
      expect(res.statusCode).toBe(200);
      return (
        res.json() as {
          attachments: Array<{
            id: string;
            origin: string;
            filename: string;
            size: number;
            downloaded: boolean;
            note: string | null;
            deleted: boolean;
            jira_attachment_id: string | null;
            mime_type: string | null;
          }>;
        }
      ).attachments;
    };
    const linked = async (hostId: string) => {
      await h.engine.records.upsertRecord({
        scope: SCOPE,
        hostId,
        kind: 'incident',
        title: `Attachments ${hostId}`,
        status: 'new',
        severity: 'P3',
      });
      await h.settle();
      const r = await h.record(SCOPE, hostId);
      expect(r.link?.state).toBe('linked');
      return r;
    };

    it('an attachment added in Jira is downloaded once, listed, served, and published in the feed', async () => {
      const r = await linked('att-1');
      const key = r.link!.issue_key!;
      const before = downloads();
      const bytes = Buffer.from('stack trace: NullPointerException at line 42\n');
      const [added] = await h.alice.addAttachment(key, 'trace.log', bytes, 'text/plain');
      await h.settle();
      expect(downloads() - before).toBe(1);
      const atts = await list('att-1');
      expect(atts).toHaveLength(1);
      expect(atts[0]).toMatchObject({
        origin: 'jira',
        filename: 'trace.log',
        size: bytes.length,
        downloaded: true,
        note: null,
        deleted: false,
        jira_attachment_id: String(added!.id),
        mime_type: 'text/plain',
      });
      const content = await api.inject({
        method: 'GET',
        url: `/api/v1/records/${SCOPE}/att-1/attachments/${atts[0]!.id}/content`,
      });
      expect(content.statusCode).toBe(200);
      expect(content.rawPayload.equals(bytes)).toBe(true);
      expect(content.headers['content-disposition']).toContain('trace.log');
      const feed = await db.store.db
        .selectFrom('change_feed')
        .select('data')
        .where('record_id', '=', r.id)
        .where('event', '=', 'record.attachments')
        .execute();
      expect(feed).toHaveLength(1);
      expect(JSON.parse(feed[0]!.data!)).toMatchObject({
        origin: 'jira',
        issue_key: key,
        added: [{ id: atts[0]!.id, filename: 'trace.log', size: bytes.length }],
      });
      const log = await h.engine.records.getLog(SCOPE, 'att-1');
      expect(log.some((e) => e.direction === 'inbound' && e.action === 'attachments')).toBe(true);

      // Redelivery of everything Jira sent, a sweep and a manual run: nothing is downloaded again.
      const sent = h.sandbox.webhooks.deliveries().filter((d) => d.body.includes(key) || d.body.includes('trace.log'));
      expect(sent.length).toBeGreaterThan(0);
      for (const [j, d] of sent.entries()) {
        const res = await fetch(h.intakeUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-hub-signature': sign(WEBHOOK_SECRET, d.body),
            'x-atlassian-webhook-identifier': `replay-att-1-${j}`,
          },
          body: d.body,
        });
        expect(res.status).toBe(202);
      }
      await h.engine.sweep('sandbox');
      await h.engine.syncIssue({ connectionId: 'sandbox', issueId: r.link!.issue_id!, source: 'manual' });
      await h.settle();
      expect(downloads() - before).toBe(1);
      expect(await list('att-1')).toHaveLength(1);
    });

    it('our own uploads never come back, and cost no download', async () => {
      const r = await linked('att-2');
      const before = downloads();
      const writes = h.writes();
      await h.engine.records.addAttachment(SCOPE, 'att-2', {
        filename: 'report.pdf',
        bytes: Buffer.from('%PDF-1.4 host report'),
      });
      await h.settle();
      expect(h.writes() - writes).toBe(1); // the upload itself
      expect(h.sandbox.state.issue(r.link!.issue_key!)!.attachments.map((a) => a.filename)).toEqual(['report.pdf']);
      const atts = await list('att-2');
      expect(atts.map((a) => [a.origin, a.filename, a.downloaded])).toEqual([['host', 'report.pdf', true]]);
      expect(atts[0]!.jira_attachment_id).toBe(h.sandbox.state.issue(r.link!.issue_key!)!.attachments[0]!.id);
      expect(downloads()).toBe(before);
      // The deliveries the upload caused are echoes (or, unplaceable, ignored): none applied anything.
      const verdicts = await db.store.db
        .selectFrom('webhook_deliveries')
        .select(['event', 'verdict'])
        .where('body', 'like', '%report.pdf%')
        .execute();
      expect(verdicts.length).toBeGreaterThan(0);
      expect(verdicts.every((v) => v.verdict !== 'applied')).toBe(true);
    });

    it('an attachment over the mapping cap is listed with a visible note and not downloaded', async () => {
      const r = await linked('att-3');
      const before = downloads();
      await h.alice.addAttachment(r.link!.issue_key!, 'dump.bin', Buffer.alloc(CAP + 1, 7), 'application/octet-stream');
      await h.settle();
      expect(downloads()).toBe(before);
      const atts = await list('att-3');
      expect(atts).toHaveLength(1);
      expect(atts[0]).toMatchObject({ origin: 'jira', filename: 'dump.bin', size: CAP + 1, downloaded: false });
      expect(atts[0]!.note).toMatch(/too large, not downloaded/);
      const content = await api.inject({
        method: 'GET',
        url: `/api/v1/records/${SCOPE}/att-3/attachments/${atts[0]!.id}/content`,
      });
      expect(content.statusCode).toBe(404);
      expect(content.json().error.message).toMatch(/too large, not downloaded/);
      const feed = await db.store.db
        .selectFrom('change_feed')
        .select('data')
        .where('record_id', '=', r.id)
        .where('event', '=', 'record.attachments')
        .executeTakeFirstOrThrow();
      expect(JSON.parse(feed.data!).not_downloaded[0]).toMatchObject({ filename: 'dump.bin', size: CAP + 1 });
    });

    it('deletions in Jira mark the record attachment deleted (Jira and host origin alike)', async () => {
      const r = await linked('att-4');
      const key = r.link!.issue_key!;
      await h.engine.records.addAttachment(SCOPE, 'att-4', { filename: 'host.txt', bytes: Buffer.from('from host') });
      const [fromJira] = await h.alice.addAttachment(key, 'jira.txt', Buffer.from('from jira'), 'text/plain');
      await h.settle();
      expect((await list('att-4')).map((a) => [a.filename, a.deleted])).toEqual([
        ['host.txt', false],
        ['jira.txt', false],
      ]);
      const hostInJira = h.sandbox.state.issue(key)!.attachments.find((a) => a.filename === 'host.txt')!;
      await aliceDelete(String(fromJira!.id));
      await aliceDelete(hostInJira.id);
      await h.settle();
      const atts = await list('att-4');
      expect(atts.map((a) => [a.filename, a.deleted])).toEqual([
        ['host.txt', true],
        ['jira.txt', true],
      ]);
      // Still downloadable: deleted in Jira, kept (flagged) on the record.
      const jiraRow = atts.find((a) => a.filename === 'jira.txt')!;
      const content = await api.inject({
        method: 'GET',
        url: `/api/v1/records/${SCOPE}/att-4/attachments/${jiraRow.id}/content`,
      });
      expect(content.body).toBe('from jira');
      // The host's deleted upload is not uploaded again.
      const writes = h.writes();
      await h.engine.records.requestSync({ scope: SCOPE, hostId: 'att-4' });
      await h.settle();
      expect(h.sandbox.state.issue(key)!.attachments).toEqual([]);
      expect(h.writes() - writes).toBeLessThanOrEqual(1);
    });

    it('attachment events are accepted and typed; ones that name no known issue are recorded as such', async () => {
      const rows = await db.store.db
        .selectFrom('webhook_deliveries')
        .select(['event', 'verdict', 'detail', 'issue_id'])
        .where('event', 'in', ['attachment_created', 'attachment_deleted'])
        .execute();
      expect(rows.length).toBeGreaterThan(0);
      // A new attachment by a Jira user cannot be placed from its event alone (Jira sends no issue).
      expect(rows.some((r) => r.event === 'attachment_created' && r.verdict === 'ignored:event')).toBe(true);
      // A deleted attachment the record knew leads to its issue: the job gives it its verdict.
      expect(rows.some((r) => r.event === 'attachment_deleted' && r.issue_id !== null)).toBe(true);
      expect(rows.every((r) => r.verdict !== 'stored' && r.verdict !== 'failed')).toBe(true);
    });

    it('the sweep brings attachments added while webhooks were down', async () => {
      const r = await linked('att-5');
      h.sandbox.webhooks.setFaults({ dropRate: 1 });
      await h.alice.addAttachment(r.link!.issue_key!, 'late.txt', Buffer.from('late'), 'text/plain');
      await h.settle();
      h.sandbox.webhooks.setFaults({});
      expect(await list('att-5')).toEqual([]);
      const before = downloads();
      expect((await h.engine.sweep('sandbox')).queued).toBeGreaterThan(0);
      await h.settle();
      expect((await list('att-5')).map((a) => [a.filename, a.downloaded])).toEqual([['late.txt', true]]);
      expect(downloads() - before).toBe(1);
    });

    it('an issue created in Jira with attachments opens a record that has them', async () => {
      h.sandbox.webhooks.setFaults({ dropRate: 1 });
      const created = await h.alice.createIssue({
        fields: { project: { key: 'OPS' }, issuetype: { name: 'Incident' }, summary: 'Outage with screenshots' },
      });
      await h.alice.addAttachment(
        created.key,
        'screen.png',
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2]),
        'image/png',
      );
      await h.settle();
      h.sandbox.webhooks.setFaults({});
      await h.engine.syncIssue({ connectionId: 'sandbox', issueId: String(created.id), source: 'manual' });
      const atts = await list(`jira-sandbox-${created.id}`);
      expect(atts.map((a) => [a.filename, a.mime_type, a.size])).toEqual([['screen.png', 'image/png', 7]]);
    });
  });
});
