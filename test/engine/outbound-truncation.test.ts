import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { desiredFields, fitText, JIRA_TEXT_LIMIT, overflowFilename, TEXT_BUDGET } from '../../src/engine/desired.js';
import { toRecordData } from '../../src/engine/record-data.js';
import { adfToWiki } from '../../src/sandbox/render/text.js';
import { describeEachEngine, type TestDb } from '../helpers/db.js';
import { CONNECTION_ID, secMapping, startHarness, type Harness } from './harness.js';

const ISSUE_ROUTE = '/rest/api/3/issue/:issueIdOrKey';
const ATTACH_ROUTE = '/rest/api/3/issue/:issueIdOrKey/attachments';

describe('fitting texts to Jira’s limit (pure)', () => {
  it('a text that fits is unchanged; a longer one is cut with a notice naming the attachment, length and hash', () => {
    expect(fitText('short', 'description.md')).toEqual({ text: 'short' });
    const exact = 'x'.repeat(TEXT_BUDGET);
    expect(fitText(exact, 'description.md')).toEqual({ text: exact });
    const long = 'a'.repeat(TEXT_BUDGET + 1);
    const fit = fitText(long, 'description.md');
    expect(fit.text.length).toBeLessThanOrEqual(TEXT_BUDGET);
    expect(fit.text.length).toBeLessThan(JIRA_TEXT_LIMIT);
    expect(fit.text).toMatch(
      /Truncated by jira-bridge: the full text \(31768 characters, sha256 [0-9a-f]{12}\) is attached as description\.md/,
    );
    expect(fit.overflow).toEqual({ filename: 'description.md', text: long });
  });

  it('two full texts that differ only after the cut give two different cut texts', () => {
    const head = 'h'.repeat(TEXT_BUDGET);
    expect(fitText(`${head}tail one`, 'd.md').text).not.toBe(fitText(`${head}tail two`, 'd.md').text);
  });

  it('never cuts a surrogate pair in half', () => {
    const text = '😀'.repeat(TEXT_BUDGET); // two UTF-16 units each
    const cut = fitText(text, 'd.md').text.split('\n\n_[')[0]!;
    expect(cut.length % 2).toBe(0);
    expect(cut.endsWith('😀')).toBe(true);
  });

  it('the desired description and textarea fields carry the cut text as their value and the full text apart', () => {
    const long = 'N'.repeat(40_000);
    const desired = desiredFields(
      toRecordData({
        scope: 's',
        hostId: 'h',
        kind: 'vulnerability',
        title: 't',
        status: 'open',
        description: long,
        custom: { notes: long },
      }),
      secMapping(),
    );
    const d = desired.get('description')!;
    expect(d.value).not.toBe(long);
    expect(d.overflow).toEqual({ filename: 'description.md', text: long });
    expect(desired.get('custom:notes')!.overflow).toEqual({ filename: 'notes.md', text: long });
    expect(overflowFilename('comment-c 1/2')).toBe('comment-c_1_2.md');
  });
});

describeEachEngine('texts over Jira’s limit reach Jira cut, the full text attached once', ({ fresh }) => {
  let db: TestDb;
  let h: Harness;
  const crashAfterUpload = new Set<string>();
  const crashAfterComment = new Set<string>();

  beforeAll(async () => {
    db = await fresh();
    h = await startHarness(db, {
      hooks: {
        afterAttachment(recordId) {
          if (crashAfterUpload.delete(recordId)) throw new Error('simulated crash after an upload');
        },
        afterComment(recordId) {
          if (crashAfterComment.delete(recordId)) throw new Error('simulated crash after a comment post');
        },
      },
    });
  });
  afterAll(async () => {
    await h.close();
  });

  const vuln = (hostId: string, over: Record<string, unknown> = {}) =>
    h.engine.records.upsertRecord({
      scope: 'astra-web',
      hostId,
      kind: 'vulnerability',
      title: `Long report (${hostId})`,
      status: 'open',
      severity: 'high',
      ...over,
    });
  const issueOf = async (hostId: string) => {
    const r = await h.engine.records.getRecord('astra-web', hostId);
    return { record: r, issue: h.sandbox.state.issue(r.link!.issue_key!)! };
  };
  const files = (issue: { attachments: Array<{ filename: string; content: Buffer }> }, name: string) =>
    issue.attachments.filter((a) => a.filename === name).map((a) => a.content.toString('utf8'));

  const long = (mark: string) => `${mark}\n\n${'A'.repeat(20_000)}\n\n${'B'.repeat(20_000)}\n\nend of ${mark}`;

  it('update of an unchanged long description attaches nothing new; a changed one attaches the new full text once', async () => {
    const first = long('first');
    await vuln('v-long-upd', { description: first });
    await h.drain();
    let { record, issue } = await issueOf('v-long-upd');
    expect(record.sync.state).toBe('synced');
    expect(JSON.stringify(issue.description)).toContain('Truncated by jira-bridge');
    expect(files(issue, 'description.md')).toEqual([first]);
    expect(record.description).toBe(first);

    // A change elsewhere: the description is not sent again, nothing is attached.
    h.sandbox.calls.reset();
    await vuln('v-long-upd', { description: first, title: 'Long report, renamed' });
    await h.drain();
    ({ record, issue } = await issueOf('v-long-upd'));
    expect(issue.summary).toBe('Long report, renamed');
    expect(h.sandbox.calls.count({ method: 'POST', route: ATTACH_ROUTE })).toBe(0);
    expect(h.sandbox.calls.count({ method: 'PUT', route: ISSUE_ROUTE })).toBe(1);
    expect(issue.changelog.at(-1)!.items.map((i) => i.field)).toEqual(['summary']);
    expect(files(issue, 'description.md')).toEqual([first]);

    // Changed only after the cut: what Jira shows is the same text, but the notice (and the
    // attachment) are of the new full text.
    const second = first.replace('end of first', 'end of first, amended');
    h.sandbox.calls.reset();
    await vuln('v-long-upd', { description: second, title: 'Long report, renamed' });
    await h.drain();
    ({ record, issue } = await issueOf('v-long-upd'));
    expect(record.sync.state).toBe('synced');
    expect(h.sandbox.calls.count({ method: 'POST', route: ATTACH_ROUTE })).toBe(1);
    expect(files(issue, 'description.md')).toEqual([first, second]);

    // A manual re-sync and a reading of the issue back attach nothing more, and the record keeps
    // its full text (Jira's cut text is what was agreed, not a Jira edit).
    h.sandbox.calls.reset();
    await h.engine.records.requestSync({ scope: 'astra-web', hostId: 'v-long-upd' });
    await h.drain();
    await h.engine.syncIssue({ connectionId: CONNECTION_ID, issueId: issue.id, source: 'manual' });
    await h.drain();
    expect(h.sandbox.calls.count({ method: 'POST', route: ATTACH_ROUTE })).toBe(0);
    ({ record, issue } = await issueOf('v-long-upd'));
    expect(record.description).toBe(second);
    expect(files(issue, 'description.md')).toEqual([first, second]);
  });

  it('a crash right after the full text was uploaded: recognised on retry, never attached twice', async () => {
    const { record } = await vuln('v-long-crash');
    await h.drain();
    crashAfterUpload.add(record.id);
    const text = long('crash');
    await vuln('v-long-crash', { description: text });
    await h.drain();
    const { record: r, issue } = await issueOf('v-long-crash');
    expect(r.sync.state).toBe('synced');
    expect(crashAfterUpload.has(record.id)).toBe(false);
    expect(files(issue, 'description.md')).toEqual([text]);
    expect((await h.engine.records.getLog('astra-web', 'v-long-crash')).map((e) => e.action)).toContain('retry');
  });

  it('a textarea custom field over the limit is cut the same way, its full text attached under the field’s name', async () => {
    const notes = long('notes');
    await vuln('v-long-notes', { custom: { notes } });
    await h.drain();
    const { record, issue } = await issueOf('v-long-notes');
    expect(record.sync.state).toBe('synced');
    expect(JSON.stringify(issue.custom['customfield_10016'])).toContain('attached as notes.md');
    expect(files(issue, 'notes.md')).toEqual([notes]);
  });

  it('a comment over the limit is posted cut with a notice, the full text attached as comment-<id>.md; an edit attaches its new text once', async () => {
    await vuln('v-long-comment');
    await h.drain();
    const body = long('comment');
    await h.engine.records.addComment('astra-web', 'v-long-comment', {
      author: 'scanner',
      body,
      hostCommentId: 'c-1',
    });
    await h.drain();
    let { record, issue } = await issueOf('v-long-comment');
    expect(record.sync.state).toBe('synced');
    expect(issue.comments).toHaveLength(1);
    const posted = adfToWiki(issue.comments[0]!.body);
    expect(posted.length).toBeLessThanOrEqual(JIRA_TEXT_LIMIT);
    expect(posted).toContain('attached as comment-c-1.md');
    expect(files(issue, 'comment-c-1.md')).toEqual([`**scanner** wrote:\n\n${body}`]);
    expect(record.sync.warnings.join(' ')).toMatch(/comment c-1 is longer than Jira's 32767-character limit/);

    const edited = body.replace('end of comment', 'end of comment (edited)');
    await h.engine.records.addComment('astra-web', 'v-long-comment', {
      author: 'scanner',
      body: edited,
      hostCommentId: 'c-1',
    });
    await h.drain();
    ({ record, issue } = await issueOf('v-long-comment'));
    expect(issue.comments).toHaveLength(1);
    expect(files(issue, 'comment-c-1.md')).toEqual([
      `**scanner** wrote:\n\n${body}`,
      `**scanner** wrote:\n\n${edited}`,
    ]);
    // Nothing else to do: no upload on a re-sync.
    h.sandbox.calls.reset();
    await h.engine.records.requestSync({ scope: 'astra-web', hostId: 'v-long-comment' });
    await h.drain();
    expect(h.sandbox.calls.count({ method: 'POST', route: ATTACH_ROUTE })).toBe(0);
  });

  it('a long comment posted just before a crash is recognised on retry: one comment, one attachment', async () => {
    const { record } = await vuln('v-long-comment-crash');
    await h.drain();
    crashAfterComment.add(record.id);
    const body = long('crashing comment');
    await h.engine.records.addComment('astra-web', 'v-long-comment-crash', {
      author: 'scanner',
      body,
      hostCommentId: 'c-9',
    });
    await h.drain();
    const { record: r, issue } = await issueOf('v-long-comment-crash');
    expect(r.sync.state).toBe('synced');
    expect(crashAfterComment.has(record.id)).toBe(false);
    expect(issue.comments).toHaveLength(1);
    expect(files(issue, 'comment-c-9.md')).toEqual([`**scanner** wrote:\n\n${body}`]);
  });

  it('backfill: a long description is created cut and its full text attached by the record’s job, once', async () => {
    const text = long('backfill');
    await vuln('v-long-bf', { description: text });
    // Claim the record for the backfill before its own job runs (drain runs both, in any order).
    const started = await h.engine.backfill.start({ scope: 'astra-web' });
    await h.engine.backfill.run(started.id);
    expect((await h.engine.backfill.get(started.id))!.done).toBeGreaterThanOrEqual(1);
    await h.drain();
    const { record, issue } = await issueOf('v-long-bf');
    expect(record.sync.state).toBe('synced');
    expect(JSON.stringify(issue.description)).toContain('Truncated by jira-bridge');
    expect(files(issue, 'description.md')).toEqual([text]);
    const log = await h.engine.records.getLog('astra-web', 'v-long-bf');
    expect(log.map((e) => e.action)).toContain('backfilled');
  });
});
