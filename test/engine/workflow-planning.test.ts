import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshSqlite, type TestDb } from '../helpers/db.js';
import { secMapping, startHarness, type Harness } from './harness.js';

const TRANSITIONS = '/rest/api/3/issue/:issueIdOrKey/transitions';

describe('status by planning: the shortest path over the learnt workflow (SQLite, sandbox)', () => {
  let db: TestDb;
  let h: Harness;
  beforeAll(async () => {
    db = await freshSqlite();
    h = await startHarness(db, { mappings: [secMapping()] });
  });
  afterAll(async () => {
    await h.close();
    await db.cleanup();
  });

  const vuln = (hostId: string, status: string) =>
    h.engine.records.upsertRecord({
      scope: 'astra-web',
      hostId,
      kind: 'vulnerability',
      title: `Open redirect (${hostId})`,
      status,
      severity: 'high',
    });

  it('the first walk explores and learns; the next one follows the shortest path with one call per hop', async () => {
    await vuln('wf-1', 'open');
    await vuln('wf-2', 'open');
    await h.drain();
    h.sandbox.calls.reset();
    await vuln('wf-1', 'resolved');
    await h.drain();
    const explored = {
      lists: h.sandbox.calls.count({ method: 'GET', route: TRANSITIONS }),
      moves: h.sandbox.calls.count({ method: 'POST', route: TRANSITIONS }),
    };
    expect(explored.moves).toBe(4); // Open → Triaged → In Progress → In Review → Resolved
    expect(explored.lists).toBeGreaterThanOrEqual(4);

    h.sandbox.calls.reset();
    await vuln('wf-2', 'resolved');
    await h.drain();
    expect(h.sandbox.calls.count({ method: 'POST', route: TRANSITIONS })).toBe(4);
    expect(h.sandbox.calls.count({ method: 'GET', route: TRANSITIONS })).toBe(0);
    const r = await h.engine.records.getRecord('astra-web', 'wf-2');
    expect(r.sync.state).toBe('synced');
    const issue = h.sandbox.state.issue(r.link!.issue_key!)!;
    expect(h.sandbox.state.status(issue.statusId).name).toBe('Resolved');
    expect(issue.resolutionId).not.toBeNull(); // the required resolution is still filled
    const log = await h.engine.records.getLog('astra-web', 'wf-2');
    expect(JSON.stringify(log.at(-1)!.fields)).toContain('"path":["Triaged","In Progress","In Review","Resolved"]');
  });

  it('someone moved the issue in Jira meanwhile: the plan starts from where it really is', async () => {
    await vuln('wf-3', 'open');
    await h.drain();
    const key = (await h.engine.records.getRecord('astra-web', 'wf-3')).link!.issue_key!;
    const alice = h.sandbox.credentials.users.alice!.accountId;
    const issue = h.sandbox.state.issue(key)!;
    const toTriaged = h.sandbox.state
      .workflowFor(issue)
      .transitions.find((t) => h.sandbox.state.status(t.to).name === 'Triaged')!;
    h.sandbox.ops.transitionIssue(issue, { transition: { id: toTriaged.id } }, alice, 'wiki');
    await new Promise((r) => setTimeout(r, 5));
    await vuln('wf-3', 'in_progress');
    await h.drain();
    const r = await h.engine.records.getRecord('astra-web', 'wf-3');
    expect(r.sync.state).toBe('synced');
    expect(h.sandbox.state.status(issue.statusId).name).toBe('In Progress');
  });
});
