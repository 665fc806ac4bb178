/**
 * Every captured Jira delivery (test/fixtures/jira-webhooks/, real captures from other projects)
 * is accepted, parsed and applied to a linked record as its action implies.
 *
 * For each capture: a record is linked to a fresh sandbox issue; the capture's action is done in
 * the sandbox as a person would (Alice, through REST) so Jira's state is what the capture says;
 * then the capture itself — its issue id, key and comment links pointed at that issue — is signed
 * and posted to the webhook intake, the queue runs, and the record must show the action.
 * The sandbox sends no webhooks of its own here: the capture is the only delivery.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sign } from '../../src/webhooks/verify.js';
import { describeEachEngine, type TestDb } from '../helpers/db.js';
import { opsMapping, secMapping, inboundSettings } from './harness.js';
import { startInboundHarness, WEBHOOK_SECRET, type InboundHarness } from './inbound-harness.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'jira-webhooks');
const load = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Record<string, unknown>;

interface Ctx {
  h: InboundHarness;
  key: string;
  id: string;
  fixture: Record<string, unknown>;
  /** The record's view after the delivery was applied. */
  record(): Promise<Awaited<ReturnType<InboundHarness['record']>>>;
  comments(): Promise<Array<{ body: string; deleted: number; origin: string }>>;
}

interface Case {
  file: string;
  /** Done in the sandbox before the capture is delivered (Jira's state as the capture says). */
  act?(c: Ctx): Promise<void>;
  /** The verdict the delivery ends with. */
  verdict: string;
  expect(c: Ctx): Promise<void>;
}

interface ChangeItem {
  field: string;
  toString: string | null;
}
const changes = (f: Record<string, unknown>): ChangeItem[] =>
  ((f.changelog as { items?: ChangeItem[] } | undefined)?.items ?? []).filter(Boolean);
const commentBody = (f: Record<string, unknown>): string => String((f.comment as { body?: unknown }).body ?? '');
const toStatus = async (c: Ctx, name: string) => {
  for (let hop = 0; hop < 3; hop++) {
    const ts = await c.h.alice.getTransitions(c.key);
    const t = ts.find((x) => x.to.name === name) ?? ts.find((x) => x.to.name === 'In Progress');
    if (!t) throw new Error(`no way to ${name}`);
    await c.h.alice.transition(c.key, String(t.id));
    if (t.to.name === name) return;
  }
};
const aliceRef = (c: Ctx) =>
  c.h.port.flavour === 'cloud'
    ? { accountId: c.h.sandbox.credentials.users.alice!.accountId }
    : { name: c.h.sandbox.credentials.users.alice!.name };
const text = (c: Ctx, s: string): unknown =>
  c.h.port.flavour === 'cloud'
    ? { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: s }] }] }
    : s;
const firstLine = (s: string) => s.split('\n')[0]!.trim();

const statusCase = (file: string, host: string): Case => ({
  file,
  async act(c) {
    const to = changes(c.fixture).find((i) => i.field === 'status')!.toString!;
    await toStatus(c, /progress/i.test(to) ? 'In Progress' : 'Done');
  },
  verdict: 'applied',
  async expect(c) {
    expect((await c.record()).status).toBe(host);
  },
});

const commentCreated = (file: string): Case => ({
  file,
  async act(c) {
    await c.h.alice.addComment(c.key, text(c, firstLine(commentBody(c.fixture))) as never);
  },
  verdict: 'applied',
  async expect(c) {
    const cs = await c.comments();
    expect(cs.map((x) => x.body)).toContain(firstLine(commentBody(c.fixture)));
  },
});

const commentUpdated = (file: string): Case => ({
  file,
  async act(c) {
    const made = await c.h.alice.addComment(c.key, text(c, 'first version') as never);
    await c.h.settle();
    await c.h.alice.updateComment(c.key, String(made.id), text(c, firstLine(commentBody(c.fixture))) as never);
  },
  verdict: 'applied',
  async expect(c) {
    const cs = await c.comments();
    expect(cs.map((x) => x.body)).toEqual([firstLine(commentBody(c.fixture))]);
  },
});

const commentDeleted = (file: string): Case => ({
  file,
  async act(c) {
    const made = await c.h.alice.addComment(c.key, text(c, firstLine(commentBody(c.fixture))) as never);
    await c.h.engine.syncIssue({ connectionId: 'sandbox', issueId: c.id, source: 'manual' });
    expect((await c.comments()).map((x) => x.deleted)).toEqual([0]);
    await c.h.alice.deleteComment(c.key, String(made.id));
  },
  verdict: 'applied',
  async expect(c) {
    expect((await c.comments()).map((x) => x.deleted)).toEqual([1]);
  },
});

const ignoredCase = (file: string, verdict: string): Case => ({
  file,
  verdict,
  async expect(c) {
    const r = await c.record();
    expect(r.title).toBe(`Fixture record for ${file}`);
  },
});

// Jira Cloud captures.
const CLOUD: Case[] = [
  commentCreated('mattermost-plugin-jira/webhook-cloud-comment-created.json'),
  commentUpdated('mattermost-plugin-jira/webhook-cloud-comment-updated.json'),
  commentDeleted('mattermost-plugin-jira/webhook-cloud-comment-deleted.json'),
  {
    file: 'mattermost-plugin-jira/webhook-cloud-issue-created-many-fields.json',
    verdict: 'applied',
    async act(c) {
      await c.h.alice.editIssue(c.key, {
        fields: {
          summary: 'Lots of fields selected',
          description: text(c, 'The good description'),
          priority: { name: 'Medium' },
        },
      });
    },
    async expect(c) {
      const r = await c.record();
      expect([r.title, r.description, r.severity]).toEqual(['Lots of fields selected', 'The good description', 'P3']);
    },
  },
  {
    file: 'mattermost-plugin-jira/webhook-issue-created.json',
    verdict: 'applied',
    async act(c) {
      await c.h.alice.editIssue(c.key, {
        fields: {
          summary: 'Unit test summary',
          description: text(c, 'Unit test description, not that long'),
          priority: { name: 'High' },
        },
      });
    },
    async expect(c) {
      const r = await c.record();
      expect([r.title, r.description, r.severity]).toEqual([
        'Unit test summary',
        'Unit test description, not that long',
        'P2',
      ]);
    },
  },
  {
    file: 'mattermost-plugin-jira/webhook-cloud-issue-updated-custom-field.json',
    verdict: 'no_change',
    async act(c) {
      // The capture's field (a number field) is not mapped: Jira changes it, the record does not.
      await c.h.alice.editIssue(c.key, { fields: { customfield_10010: 12 } });
    },
    async expect(c) {
      expect((await c.record()).title).toBe(`Fixture record for ${c.fixture.__file as string}`);
    },
  },
  {
    file: 'mattermost-plugin-jira/webhook-issue-deleted.json',
    verdict: 'applied',
    async act(c) {
      await c.h.alice.deleteIssue(c.key);
    },
    async expect(c) {
      const r = await c.record();
      expect([r.status, r.link?.state]).toEqual(['resolved', 'unlinked']);
    },
  },
  {
    file: 'mattermost-plugin-jira/webhook-issue-updated-assigned.json',
    verdict: 'applied',
    async act(c) {
      await c.h.alice.editIssue(c.key, { fields: { assignee: aliceRef(c) } });
    },
    async expect(c) {
      expect((await c.record()).assignee_email).toBe('alice@sandbox.example');
    },
  },
  {
    file: 'mattermost-plugin-jira/webhook-issue-updated-assigned-nobody.json',
    verdict: 'applied',
    async act(c) {
      await c.h.alice.editIssue(c.key, { fields: { assignee: aliceRef(c) } });
      await c.h.engine.syncIssue({ connectionId: 'sandbox', issueId: c.id, source: 'manual' });
      expect((await c.record()).assignee_email).toBe('alice@sandbox.example');
      await c.h.alice.editIssue(c.key, { fields: { assignee: null } });
    },
    async expect(c) {
      expect((await c.record()).assignee_email).toBeNull();
    },
  },
  {
    file: 'mattermost-plugin-jira/webhook-issue-updated-edited.json',
    verdict: 'applied',
    async act(c) {
      const to = changes(c.fixture).find((i) => i.field === 'description')!.toString!;
      await c.h.alice.editIssue(c.key, { fields: { description: text(c, to) } });
    },
    async expect(c) {
      expect((await c.record()).description).toBe('Unit test description, not that long, a little longer now');
    },
  },
  {
    file: 'mattermost-plugin-jira/webhook-issue-updated-labels.json',
    verdict: 'applied',
    async act(c) {
      const to = changes(c.fixture).find((i) => i.field === 'labels')!.toString!;
      await c.h.alice.editIssue(c.key, { fields: { labels: ['stackflow-sync', ...to.split(' ')] } });
    },
    async expect(c) {
      expect((await c.record()).labels).toEqual(['sad', 'test-label']);
    },
  },
  {
    file: 'mattermost-plugin-jira/webhook-issue-updated-multiple-values.json',
    verdict: 'applied',
    async act(c) {
      await c.h.alice.editIssue(c.key, { fields: { assignee: aliceRef(c) } });
    },
    async expect(c) {
      expect((await c.record()).assignee_email).toBe('alice@sandbox.example');
    },
  },
  statusCase('mattermost-plugin-jira/webhook-issue-updated-resolved.json', 'resolved'),
  statusCase('mattermost-plugin-jira/webhook-issue-updated-started-working.json', 'in_progress'),
  ignoredCase('mattermost-plugin-jira/webhook-issue-updated-sprint.json', 'no_change'),
];

// Jira Server / Data Center captures (see each directory's SOURCES.txt), run against the Data Center sandbox.
const SERVER: Case[] = [
  commentCreated('jira-to-matrix/comment_created.json'),
  {
    file: 'jira-to-matrix/issue_updated_issue-assigned.json',
    verdict: 'applied',
    async act(c) {
      await c.h.alice.editIssue(c.key, { fields: { assignee: aliceRef(c) } });
    },
    async expect(c) {
      expect((await c.record()).assignee_email).toBe('alice@sandbox.example');
    },
  },
  statusCase('jira-to-matrix/issue_updated_status-changed.json', 'in_progress'),
  ignoredCase('jira-to-matrix/issuelink_created.json', 'ignored:event'),
  {
    file: 'jira-to-matrix/issue_updated_move-issue.json',
    verdict: 'applied',
    async act(c) {
      c.h.sandbox.ops.moveIssue(
        c.h.sandbox.state.issue(c.key)!,
        'SEC',
        'Task',
        c.h.sandbox.credentials.users.alice!.accountId,
      );
    },
    async expect(c) {
      const r = await c.record();
      expect(r.link?.issue_key).toMatch(/^SEC-/);
      expect(r.link?.issue_id).toBe(c.id);
    },
  },
  commentCreated('mattermost-plugin-jira/webhook-server-comment-created.json'),
  commentUpdated('mattermost-plugin-jira/webhook-server-comment-updated.json'),
  commentDeleted('mattermost-plugin-jira/webhook-server-comment-deleted.json'),
  statusCase('mattermost-plugin-jira/webhook-server-issue-updated-closed.json', 'resolved'),
  statusCase('mattermost-plugin-jira/webhook-server-issue-updated-resolved.json', 'resolved'),
  {
    file: 'mattermost-plugin-jira/webhook-server-issue-updated-commented-2.json',
    verdict: 'applied',
    async act(c) {
      await c.h.alice.addComment(c.key, text(c, firstLine(commentBody(c.fixture))) as never);
    },
    async expect(c) {
      expect((await c.comments()).map((x) => x.body)).toEqual([firstLine(commentBody(c.fixture))]);
    },
  },
  {
    file: 'mattermost-plugin-jira/webhook-server-updated-custom-field.json',
    verdict: 'no_change',
    async expect(c) {
      expect((await c.record()).title).toBe(`Fixture record for ${c.fixture.__file as string}`);
    },
  },
];

/** Every capture under the fixtures directory, as paths relative to it. */
function capturesOnDisk(dir = FIXTURES, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? capturesOnDisk(dir, join(prefix, e.name))
      : e.name.endsWith('.json')
        ? [join(prefix, e.name)]
        : [],
  );
}

/** Where a capture comes from: its directory's SOURCES.txt, its name, or its actor (accountId: Cloud). */
function flavourOf(file: string): 'cloud' | 'datacenter' {
  const sources = join(FIXTURES, dirname(file), 'SOURCES.txt');
  if (existsSync(sources) && /Jira Server captures/i.test(readFileSync(sources, 'utf8'))) return 'datacenter';
  if (/webhook-server-/.test(file)) return 'datacenter';
  const f = load(file);
  const actor = (f.user ?? (f.comment as { author?: unknown } | undefined)?.author ?? {}) as Record<string, unknown>;
  return typeof actor.accountId === 'string' ? 'cloud' : 'datacenter';
}

describe('the capture tables', () => {
  it('list every capture in the fixtures directory exactly once, in the table of its flavour', () => {
    const onDisk = capturesOnDisk().sort();
    expect(onDisk.length).toBeGreaterThan(20);
    const listed = [...CLOUD, ...SERVER].map((c) => c.file);
    // No capture skipped silently, none listed twice, none listed that is not there.
    expect([...listed].sort()).toEqual(onDisk);
    const misplaced = [
      ...CLOUD.filter((c) => flavourOf(c.file) !== 'cloud').map(
        (c) => `${c.file} is a Server capture in the Cloud table`,
      ),
      ...SERVER.filter((c) => flavourOf(c.file) !== 'datacenter').map(
        (c) => `${c.file} is a Cloud capture in the Data Center table`,
      ),
    ];
    expect(misplaced).toEqual([]);
  });
});

/** Points the capture at our issue: ids and keys in the issue, comment links and URL variables. */
function retarget(f: Record<string, unknown>, id: string, key: string): Record<string, unknown> {
  const out = structuredClone(f);
  const issue = out.issue as Record<string, unknown> | undefined;
  if (issue) {
    issue.id = id;
    issue.key = key;
  }
  const comment = out.comment as Record<string, unknown> | undefined;
  if (comment && typeof comment.self === 'string') {
    comment.self = comment.self.replace(/\/issue\/\d+\/comment\//, `/issue/${id}/comment/`);
  }
  delete out.__file;
  return out;
}

describeEachEngine('captured Jira deliveries are applied', ({ fresh }) => {
  describe.each([
    { flavour: 'cloud' as const, cases: CLOUD },
    { flavour: 'datacenter' as const, cases: SERVER },
  ])('$flavour', ({ flavour, cases }) => {
    let db: TestDb;
    let h: InboundHarness;
    let n = 0;

    beforeAll(async () => {
      db = await fresh();
      h = await startInboundHarness(db, {
        flavour,
        events: [],
        mappings: [
          secMapping(),
          opsMapping({
            inbound: inboundSettings({ onJiraDelete: 'resolve' }),
          }),
        ],
      });
    });
    afterAll(async () => {
      await h?.close();
    });

    it.each(cases)('$file', async (tc) => {
      const hostId = `fx-${++n}`;
      await h.engine.records.upsertRecord({
        scope: 'stackflow-incidents',
        hostId,
        kind: 'incident',
        title: `Fixture record for ${tc.file}`,
        description: 'Before',
        status: 'new',
        severity: 'P4',
      });
      await h.settle();
      const linked = await h.record('stackflow-incidents', hostId);
      const key = linked.link!.issue_key!;
      const id = linked.link!.issue_id!;
      const fixture = { ...load(tc.file), __file: tc.file };
      const ctx: Ctx = {
        h,
        key,
        id,
        fixture,
        record: () => h.record('stackflow-incidents', hostId),
        comments: async () =>
          db.store.db
            .selectFrom('record_comments')
            .select(['body', 'deleted', 'origin'])
            .where('record_id', '=', linked.id)
            .orderBy('created_at')
            .execute(),
      };
      await tc.act?.(ctx);
      const raw = JSON.stringify(retarget(fixture, id, key));
      /** Posts the capture to the intake, signed, under its delivery identifier. */
      const deliver = () =>
        fetch(h.intakeUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-hub-signature': sign(WEBHOOK_SECRET, raw),
            'x-atlassian-webhook-identifier': `fixture-${hostId}`,
          },
          body: raw,
        });
      const res = await deliver();
      expect(res.status).toBe(202);
      await h.settle();
      const row = await db.store.db
        .selectFrom('webhook_deliveries')
        .select(['verdict', 'detail', 'event'])
        .where('identifier', '=', `fixture-${hostId}`)
        .executeTakeFirstOrThrow();
      expect(row.event).toBe((fixture as Record<string, unknown>).webhookEvent);
      expect(row.verdict).toBe(tc.verdict);
      await tc.expect(ctx);
      // A redelivery of the same capture is acknowledged and applies nothing more.
      const again = await deliver();
      expect(again.status).toBe(200);
      expect(((await again.json()) as { verdict: string }).verdict).toBe('duplicate');
    });
  });
});
