import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJiraClient, type JiraClient } from '../../src/jira/client.js';
import { freshSqlite, type TestDb } from '../helpers/db.js';
import { connectionFor } from '../jira/helpers.js';
import { issuesOf, jsmMapping, secMapping, startHarness, type Harness } from './harness.js';

/**
 * Issue 18 item 7: no visible marker on the issues jira-bridge creates. The creation token is the
 * issue's `jira-bridge` entity property, set in the create call; after an interrupted create the
 * retry searches the project for issues the connection's account created since the journaled
 * create intent and confirms the candidate by that property. Both flavours (the create and search
 * bodies differ: v3 + ADF + /search/jql on Cloud, v2 + wiki + /search on Data Center).
 */
describe.each(['cloud', 'datacenter'] as const)('creation without a visible marker (%s)', (flavour) => {
  let db: TestDb;
  let h: Harness;
  let alice: JiraClient;
  const crashOnce = new Set<string>();
  const propertyLost = new Set<string>();
  /** JQL of the searches the bridge sent. */
  const searches: string[] = [];

  beforeAll(async () => {
    db = await freshSqlite();
    h = await startHarness(db, {
      flavour,
      mappings: [secMapping(), jsmMapping()],
      hooks: {
        // The process "dies" right after Jira's create answered, before the link is written.
        afterCreate(recordId, ref) {
          // A request killed before its property call: Jira holds it without the property.
          if (propertyLost.delete(recordId)) h.sandbox.state.issue(ref.key)!.properties.delete('jira-bridge');
          if (crashOnce.delete(recordId)) throw new Error('simulated crash between Jira create and link write');
        },
      },
      sandbox: {
        inspect: (r) => {
          if (r.route.includes('/search') && r.body && typeof (r.body as { jql?: unknown }).jql === 'string')
            searches.push((r.body as { jql: string }).jql);
        },
      },
    });
    alice = createJiraClient(connectionFor(h.sandbox, 'alice'));
  });
  afterAll(async () => {
    await alice.close();
    await h.close();
    await db.cleanup();
  });

  const vuln = (hostId: string, title = `SQL injection (${hostId})`) =>
    h.engine.records.upsertRecord({
      scope: 'astra-web',
      hostId,
      kind: 'vulnerability',
      title,
      status: 'open',
      severity: 'high',
    });
  const linkOf = (scope: string, hostId: string) =>
    db.store.db
      .selectFrom('links')
      .innerJoin('records', 'records.id', 'links.record_id')
      .select(['links.issue_id', 'links.issue_key', 'links.create_token', 'links.state'])
      .where('records.scope', '=', scope)
      .where('records.host_id', '=', hostId)
      .executeTakeFirstOrThrow();
  const tokenOf = (key: string): unknown =>
    (h.sandbox.state.issue(key)!.properties.get('jira-bridge') as { token?: unknown } | undefined)?.token;

  it('a created issue carries no jb- label: its creation token is the jira-bridge entity property, set in the create call', async () => {
    await vuln('v-mark-warm'); // the site catalogue is read once, by the first job
    await h.drain();
    h.sandbox.calls.reset();
    searches.length = 0;
    await vuln('v-mark-1');
    await h.drain();
    const link = await linkOf('astra-web', 'v-mark-1');
    expect(link.state).toBe('linked');
    const issue = h.sandbox.state.issue(link.issue_key!)!;
    expect(issue.labels.filter((l) => l.startsWith('jb-'))).toEqual([]);
    expect(issue.properties.get('jira-bridge')).toEqual({
      token: link.create_token,
      record: { scope: 'astra-web', host_id: 'v-mark-1' },
    });
    // One create (the property rides on it) and one read; no search for a fresh token.
    expect(h.sandbox.calls.count({ method: 'POST' })).toBe(1);
    expect(h.sandbox.calls.count()).toBe(2);
    expect(searches).toEqual([]);
  });

  it('an interrupted create is adopted once: a search by project, creator and creation time, confirmed by the property', async () => {
    // Decoys in the search window: a Jira user's issue with the same summary (not ours), and
    // another issue the bridge created (ours, another token).
    await alice.createIssue({
      fields: {
        project: { key: 'SEC' },
        issuetype: { name: 'Vulnerability' },
        summary: 'SQL injection (v-mark-crash)',
      },
    });
    await vuln('v-mark-other', 'SQL injection (v-mark-crash)');
    await h.drain();
    searches.length = 0;
    const { record } = await vuln('v-mark-crash');
    crashOnce.add(record.id);
    await h.drain();
    expect(crashOnce.has(record.id)).toBe(false);
    const r = await h.engine.records.getRecord('astra-web', 'v-mark-crash');
    expect(r.sync.state).toBe('synced');
    const link = await linkOf('astra-web', 'v-mark-crash');
    expect(tokenOf(link.issue_key!)).toBe(link.create_token);
    // Three issues carry the summary: the Jira user's, the other record's and this one's — one each.
    const same = issuesOf(h.sandbox, 'SEC').filter((x) => x.summary === 'SQL injection (v-mark-crash)');
    expect(same).toHaveLength(3);
    expect(same.filter((x) => tokenOf(x.key) === link.create_token)).toHaveLength(1);
    expect((await h.engine.records.getLog('astra-web', 'v-mark-crash')).map((e) => e.action)).toContain('adopted');
    expect(searches).toEqual([
      expect.stringMatching(
        /^project = "SEC" AND creator = currentUser\(\) AND created >= -\d+m ORDER BY created ASC$/,
      ),
    ]);
  });

  it('a Service Management request takes no properties at creation: it gets its property by a second call, and one left without it by a crash is adopted by its summary', async () => {
    const incident = (hostId: string) =>
      h.engine.records.upsertRecord({
        scope: 'xyte',
        hostId,
        kind: 'incident',
        title: `Projector offline (${hostId})`,
        status: 'open',
        severity: 'high',
      });
    await incident('x-mark-1');
    await h.drain();
    const link = await linkOf('xyte', 'x-mark-1');
    const issue = h.sandbox.state.issue(link.issue_key!)!;
    expect(issue.labels.filter((l) => l.startsWith('jb-'))).toEqual([]);
    expect(tokenOf(issue.key)).toBe(link.create_token);

    // Killed between the request's create and its property: the retry finds it by project,
    // creator, time and the journaled summary, sets the property and links it.
    const { record } = await incident('x-mark-crash');
    crashOnce.add(record.id);
    propertyLost.add(record.id);
    await h.drain();
    expect(crashOnce.has(record.id)).toBe(false);
    const key = issuesOf(h.sandbox, 'ITSD').find((x) => x.summary === 'Projector offline (x-mark-crash)')?.key;
    const after = await linkOf('xyte', 'x-mark-crash');
    expect(after).toMatchObject({ state: 'linked', issue_key: key });
    expect(issuesOf(h.sandbox, 'ITSD').filter((x) => x.summary === 'Projector offline (x-mark-crash)')).toHaveLength(1);
    expect(tokenOf(key!)).toBe(after.create_token);
  });
});
