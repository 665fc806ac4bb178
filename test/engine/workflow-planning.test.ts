import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshSqlite, type TestDb } from '../helpers/db.js';
import { secMapping, startHarness, type Harness } from './harness.js';

const TRANSITIONS = '/rest/api/3/issue/:issueIdOrKey/transitions';

/** A vulnerability of the SEC mapping at a host status. */
const upsertVuln = (h: Harness, hostId: string, status: string) =>
  h.engine.records.upsertRecord({
    scope: 'astra-web',
    hostId,
    kind: 'vulnerability',
    title: `Open redirect (${hostId})`,
    status,
    severity: 'high',
  });

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

  const vuln = (hostId: string, status: string) => upsertVuln(h, hostId, status);

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

describe('a concurrent move during a status walk (SQLite, sandbox)', () => {
  let db: TestDb;
  let h: Harness;
  /** Runs once, just before the next transition request reaches the sandbox (a concurrent move). */
  let armed: (() => void) | null = null;
  beforeAll(async () => {
    db = await freshSqlite();
    h = await startHarness(db, {
      mappings: [secMapping()],
      sandbox: {
        inspect: (r) => {
          if (armed && r.method === 'POST' && r.route.endsWith('/transitions')) {
            const go = armed;
            armed = null;
            go();
          }
        },
      },
    });
  });
  afterAll(async () => {
    await h.close();
    await db.cleanup();
  });
  const vuln = (hostId: string, status: string) => upsertVuln(h, hostId, status);

  for (const learnt of [false, true]) {
    it(`someone moves the issue while the walk is under way (${learnt ? 'known workflow' : 'first walk, exploring'}): a retry on a fresh read, never a failed record`, async () => {
      const id = `wf-race-${learnt}`;
      await vuln(id, 'open');
      await h.drain();
      const key = (await h.engine.records.getRecord('astra-web', id)).link!.issue_key!;
      const issue = h.sandbox.state.issue(key)!;
      const alice = h.sandbox.credentials.users.alice!.accountId;
      // The first transition the bridge sends finds the issue already moved on by Alice.
      armed = () => {
        for (const to of ['Triaged', 'In Progress']) {
          const t = h.sandbox.state
            .workflowFor(issue)
            .transitions.find(
              (x) =>
                (x.from === 'global' || x.from.includes(issue.statusId)) && h.sandbox.state.status(x.to).name === to,
            )!;
          h.sandbox.ops.transitionIssue(issue, { transition: { id: t.id } }, alice, 'wiki');
        }
      };
      await vuln(id, 'resolved');
      await h.drain();
      expect(armed).toBeNull(); // the race happened
      const r = await h.engine.records.getRecord('astra-web', id);
      expect(r.sync.state).toBe('synced');
      // Record and issue agree again, whichever side the newest-wins rule chose.
      const jiraStatus = h.sandbox.state.status(issue.statusId).name;
      expect({ 'In Progress': 'in_progress', Resolved: 'resolved' }[jiraStatus]).toBe(r.status);
      if (!learnt) {
        const log = await h.engine.records.getLog('astra-web', id);
        expect(JSON.stringify(log)).toContain('JIRA_MOVED_CONCURRENTLY');
      }
    });
  }
});

describe('a first walk inside one status category (SQLite, sandbox)', () => {
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

  it('Open → In Review with nothing learnt: sideways steps within "in progress" (Triaged → In Progress → In Review)', async () => {
    await upsertVuln(h, 'wf-review', 'open');
    await h.drain();
    await upsertVuln(h, 'wf-review', 'review');
    await h.drain();
    const r = await h.engine.records.getRecord('astra-web', 'wf-review');
    expect(r.sync.state).toBe('synced');
    const issue = h.sandbox.state.issue(r.link!.issue_key!)!;
    expect(h.sandbox.state.status(issue.statusId).name).toBe('In Review');
    const log = await h.engine.records.getLog('astra-web', 'wf-review');
    expect(JSON.stringify(log.at(-1)!.fields)).toContain('"path":["Triaged","In Progress","In Review"]');
  });
});
