import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshSqlite, type TestDb } from '../helpers/db.js';
import { opsMapping, startHarness, type Harness } from './harness.js';

describe('host_link: each issue links back to its record on the platform', () => {
  let db: TestDb;
  let h: Harness;

  beforeAll(async () => {
    db = await freshSqlite();
    h = await startHarness(db, {
      mappings: [
        opsMapping({
          hostLink: {
            url: 'https://ops.example/incidents/{host_id}?scope={scope}',
            title: 'StackFlow {kind} {host_id}',
          },
        }),
      ],
    });
  });
  afterAll(async () => {
    await h.close();
    await db.cleanup();
  });

  const remoteLinkCalls = (): number =>
    h.sandbox.calls
      .snapshot()
      .filter((c) => c.method === 'POST' && c.route.endsWith('/remotelink'))
      .reduce((n, c) => n + c.count, 0);
  const upsert = (title: string) =>
    h.engine.records.upsertRecord({
      scope: 'stackflow-incidents',
      hostId: 'inc 7/a',
      kind: 'incident',
      title,
      status: 'new',
    });

  it('is added once when the issue is created (URL-encoded values), not again on later syncs', async () => {
    await upsert('Queue backlog');
    await h.drain();
    const r = await h.engine.records.getRecord('stackflow-incidents', 'inc 7/a');
    const issue = h.sandbox.state.issue(r.link!.issue_key!)!;
    expect(issue.remoteLinks.map((l) => [l.object.url, l.object.title])).toEqual([
      ['https://ops.example/incidents/inc%207%2Fa?scope=stackflow-incidents', 'StackFlow incident inc 7/a'],
    ]);
    const before = remoteLinkCalls();
    expect(before).toBe(1);
    await upsert('Queue backlog (growing)');
    await h.drain();
    expect(issue.summary).toBe('Queue backlog (growing)');
    expect(remoteLinkCalls()).toBe(before);
    expect(issue.remoteLinks).toHaveLength(1);
  });
});
