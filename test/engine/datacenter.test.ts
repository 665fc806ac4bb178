import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED } from '../../src/sandbox/seed.js';
import { freshSqlite, type TestDb } from '../helpers/db.js';
import { startHarness, type Harness } from './harness.js';

describe('outbound engine on Jira Data Center (REST v2, wiki markup, PAT)', () => {
  let db: TestDb;
  let h: Harness;

  beforeAll(async () => {
    db = await freshSqlite();
    h = await startHarness(db, { flavour: 'datacenter' });
  });
  afterAll(async () => {
    await h.close();
    await db.cleanup();
  });

  it('creates with wiki-markup description, assigns by user name, resolves through the workflow, posts comments', async () => {
    await h.engine.records.upsertRecord({
      scope: 'astra-web',
      hostId: 'dc-1',
      kind: 'vulnerability',
      title: 'Weak TLS ciphers on api.example',
      description: 'Use **TLS 1.2+** only.\n\n- drop RC4\n- drop 3DES',
      status: 'open',
      severity: 'medium',
      assignee_email: 'alice@sandbox.example',
    });
    await h.engine.records.addComment('astra-web', 'dc-1', {
      author: 'Kim',
      body: 'Scanner: _sslyze_',
      hostCommentId: 'dc-c1',
    });
    await h.drain();
    const r = await h.engine.records.getRecord('astra-web', 'dc-1');
    expect(r.sync).toMatchObject({ state: 'synced', error: null });
    const issue = h.sandbox.state.issue(r.link!.issue_key!)!;
    expect(issue.assigneeId).toBe(SEED.users.alice);
    const text = JSON.stringify(issue.description);
    expect(text).toContain('TLS 1.2+');
    expect(text).toContain('strong'); // **bold** became wiki *bold*, stored as a strong mark
    expect(issue.comments).toHaveLength(1);
    expect(h.sandbox.calls.count({ route: '/rest/api/3/issue' })).toBe(0);

    await h.engine.records.upsertRecord({
      scope: 'astra-web',
      hostId: 'dc-1',
      kind: 'vulnerability',
      title: 'Weak TLS ciphers on api.example',
      description: 'Use **TLS 1.2+** only.\n\n- drop RC4\n- drop 3DES',
      status: 'resolved',
      severity: 'medium',
      assignee_email: 'alice@sandbox.example',
    });
    await h.drain();
    expect(issue.statusId).toBe(SEED.status.resolved);
    expect(issue.resolutionId).toBe(SEED.resolution.fixed);
  });
});
