/**
 * Contract suite, the other direction: every JSON request body the bridge itself sends to Jira
 * (through the outbound engine and the Jira client, over real HTTP to the sandbox) is validated
 * against the request schema of the matching operation in Atlassian's OpenAPI description (Service
 * Management's servicedeskapi bodies against its own).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InspectedRequest } from '../../src/sandbox/index.js';
import { secMapping, startHarness, type Harness } from '../engine/harness.js';
import { freshSqlite, type TestDb } from '../helpers/db.js';
import { OpenApiContract } from '../helpers/openapi.js';

const contract = OpenApiContract.load();
const jsm = OpenApiContract.load(fileURLToPath(new URL('./fixtures/jsm-cloud.pruned.json', import.meta.url)));
const seen: InspectedRequest[] = [];

describe('request bodies the bridge sends match the Jira Cloud v3 contract', () => {
  let db: TestDb;
  let h: Harness;
  beforeAll(async () => {
    db = await freshSqlite();
    h = await startHarness(db, { sandbox: { inspect: (r) => seen.push(r) } });
  });
  afterAll(async () => {
    await h.close();
    await db.cleanup();
  });

  it('create (full details, sub-task, JSM request), edit, multi-hop transition with resolution, comment', async () => {
    const vuln = {
      scope: 'astra-web',
      hostId: 'C-1',
      kind: 'vulnerability',
      title: 'SQL injection in login',
      description: '## Impact\n\n**Critical**: `id` parameter, see [report](https://example.com/r/1).\n\n- one\n- two',
      status: 'open',
      severity: 'critical',
      labels: ['pci'],
      custom: {
        cvss: 9.8,
        asset_id: 'web-portal',
        url: 'https://shop.example/login',
        environments: ['Production'],
        due: '2026-12-31',
        notes: 'See *notes*',
        tags: ['edge'],
      },
    };
    await h.engine.records.upsertRecord(vuln);
    await h.engine.records.upsertRecord({
      scope: 'astra-web',
      hostId: 'C-1a',
      kind: 'finding',
      title: 'Finding under C-1',
      status: 'open',
      severity: 'high',
      parent_host_id: 'C-1',
    });
    await h.engine.records.upsertRecord({
      scope: 'xyte',
      hostId: 'X-1',
      kind: 'incident',
      title: 'Display offline',
      description: 'Room 4',
      status: 'open',
      severity: 'high',
    });
    await h.drain();
    await h.engine.records.upsertRecord({
      ...vuln,
      title: 'SQL injection in login form',
      severity: 'high',
      status: 'resolved',
    });
    await h.engine.records.addComment('astra-web', 'C-1', {
      hostCommentId: 'hc-1',
      author: 'ana@example.com',
      body: 'Fixed in **v2.3**',
    });
    await h.drain();
    expect((await h.engine.records.getRecord('astra-web', 'C-1')).sync.state).toBe('synced');
    // The bridge's searches (the sweep's, the link check's, a backfill's token lookup): the flow above
    // need not search at all (a create retried after its parent used to, depending on claim order).
    const key = (await h.engine.records.getRecord('astra-web', 'C-1')).link!.issue_key!;
    const id = h.sandbox.state.issue(key)!.id;
    for await (const stamp of h.port.updatedSince([{ projectKey: 'SEC', filter: 'labels = pci' }], 0)) void stamp;
    expect(await h.port.missingIssues([id])).toEqual([]);
    expect(await h.port.matchesJql(id, 'labels = pci')).toBe(true);
    await h.port.findByTokens('SEC', ['00000000-0000-4000-8000-000000000000']);

    const json = seen.filter(
      (r) => r.route.startsWith('/rest/api/3/') && r.body !== undefined && r.contentType?.includes('application/json'),
    );
    const operations = new Set<string>();
    const violations: string[] = [];
    for (const r of json) {
      const path = r.url.split('?')[0]!;
      const v = contract.validateRequest(r.method, path, r.body);
      if (v.template) operations.add(`${r.method} ${v.template}`);
      if (!v.ok) violations.push(`${r.method} ${path}: ${v.errors.join('; ')}`);
    }
    expect(violations).toEqual([]);
    // The bodies that matter were all seen and checked.
    for (const op of [
      'POST /rest/api/3/issue',
      'PUT /rest/api/3/issue/{issueIdOrKey}',
      'POST /rest/api/3/issue/{issueIdOrKey}/transitions',
      'POST /rest/api/3/issue/{issueIdOrKey}/comment',
      'POST /rest/api/3/search/jql',
    ]) {
      expect([...operations]).toContain(op);
    }
    // Service Management: the request bodies the bridge sends (the JSM request above, its comments)
    // against Atlassian's Service Management Cloud description.
    const jsmOps = new Set<string>();
    const jsmViolations: string[] = [];
    for (const r of seen.filter((x) => x.route.startsWith('/rest/servicedeskapi/') && x.body !== undefined)) {
      const path = r.url.split('?')[0]!;
      const v = jsm.validateRequest(r.method, path, r.body);
      if (v.template) jsmOps.add(`${r.method} ${v.template}`);
      if (!v.ok) jsmViolations.push(`${r.method} ${path}: ${v.errors.join('; ')}`);
    }
    expect(jsmViolations).toEqual([]);
    expect([...jsmOps]).toContain('POST /rest/servicedeskapi/request');
  });

  it('bulk create (backfill), comment edit, remote links back to the record and to a rework task', async () => {
    const db2 = await freshSqlite();
    const mine: InspectedRequest[] = [];
    const h2 = await startHarness(db2, {
      mappings: [
        secMapping({
          reopen: { mode: 'rework', reworkIssueType: 'Task' },
          hostLink: { url: 'https://astra.example/v/{host_id}' },
        }),
      ],
      sandbox: { inspect: (r) => mine.push(r) },
    });
    try {
      for (let n = 0; n < 3; n++) {
        await h2.engine.records.upsertRecord({
          scope: 'astra-web',
          hostId: `B-${n}`,
          kind: 'vulnerability',
          title: `Backfilled ${n}`,
          description: 'Found by the **nightly** scan',
          status: 'open',
          severity: 'high',
          custom: { cvss: 5.1, environments: ['Staging'] },
        });
      }
      const bf = await h2.engine.backfill.start({ scope: 'astra-web' });
      await h2.engine.backfill.run(bf.id);
      await h2.drain();
      const vuln = {
        scope: 'astra-web',
        hostId: 'B-0',
        kind: 'vulnerability',
        title: 'Backfilled 0',
        status: 'resolved',
      };
      await h2.engine.records.upsertRecord(vuln);
      await h2.engine.records.addComment('astra-web', 'B-0', {
        hostCommentId: 'e-1',
        author: 'a@x.example',
        body: 'first',
      });
      await h2.drain();
      await h2.engine.records.addComment('astra-web', 'B-0', {
        hostCommentId: 'e-1',
        author: 'a@x.example',
        body: '*edited*',
      });
      await h2.engine.records.upsertRecord({ ...vuln, status: 'open' }); // fails re-test: a rework task
      await h2.drain();
      expect((await h2.engine.records.getRecord('astra-web', 'B-0')).sync.state).toBe('synced');
    } finally {
      await h2.close();
      await db2.cleanup();
    }
    const operations = new Set<string>();
    const violations: string[] = [];
    for (const r of mine) {
      if (!r.route.startsWith('/rest/api/3/') || r.body === undefined || !r.contentType?.includes('application/json'))
        continue;
      const v = contract.validateRequest(r.method, r.url.split('?')[0]!, r.body);
      if (v.template) operations.add(`${r.method} ${v.template}`);
      if (!v.ok) violations.push(`${r.method} ${r.url}: ${v.errors.join('; ')}`);
    }
    expect(violations).toEqual([]);
    for (const op of [
      'POST /rest/api/3/issue/bulk',
      'PUT /rest/api/3/issue/{issueIdOrKey}/comment/{id}',
      'POST /rest/api/3/issue/{issueIdOrKey}/remotelink',
      'POST /rest/api/3/issueLink',
    ]) {
      expect([...operations]).toContain(op);
    }
  });

  it('every engine test checks its bodies too: a wrong one sent through a harness fails it at close', async () => {
    const db2 = await freshSqlite();
    const h2 = await startHarness(db2);
    try {
      const c = h2.sandbox.credentials;
      await fetch(`${h2.sandbox.baseUrl}/rest/api/3/issue/SEC-1/transitions`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${c.email}:${c.apiToken}`).toString('base64')}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ transition: 'not-an-object' }),
      });
      await expect(h2.close()).rejects.toThrow(
        /break Jira's v3 contract:\nPOST \/rest\/api\/3\/issue\/SEC-1\/transitions/,
      );
    } finally {
      await db2.cleanup();
    }
  });

  it('a deliberately wrong body is caught', () => {
    const v = contract.validateRequest('POST', '/rest/api/3/issue/SEC-1/transitions', { transition: 'not-an-object' });
    expect(v.ok).toBe(false);
  });
});
