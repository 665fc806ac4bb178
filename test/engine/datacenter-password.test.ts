/**
 * A round trip through the whole service on Jira Data Center signed in with a username and
 * password (`auth: { type: basic, username, password }`, the password from an `${ENV}` reference):
 * a host record becomes an issue created by that Jira user, a change made in Jira comes back to
 * the record through the sweep, and the host's next change reaches the issue. No call is refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { startTestService, writeConfig } from '../helpers/service.js';
import { until } from '../helpers/wait.js';

describe('engine round trip on Data Center with username and password', () => {
  let sb: RunningSandbox;
  let svc: RunningService;
  const dir = mkdtempSync(join(tmpdir(), 'jb-dc-password-'));

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'datacenter', port: 0 });
    writeConfig(dir, [
      'connections:',
      '  - id: onprem',
      `    site_url: ${sb.baseUrl}`,
      '    flavour: datacenter',
      '    auth: { type: basic, username: admin, password: "${JIRA_PASSWORD}" }',
      '    sweep: { interval_seconds: 1 }',
      'mappings:',
      '  - { id: web, connection: onprem, scope: web, project: OPS, kinds: { incident: { issue_type: Incident } } }',
    ]);
    svc = await startTestService(dir, { JIRA_PASSWORD: sb.credentials.password });
  });
  afterAll(async () => {
    await svc?.stop();
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const record = async () =>
    (await (await fetch(`${svc.url}/api/v1/records/web/inc-1`)).json()) as {
      title: string;
      link: { issue_key: string | null } | null;
      sync: { state: string; error: unknown };
    };
  const put = (title: string) =>
    fetch(`${svc.url}/api/v1/records/web/inc-1`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'incident', title, status: 'new', severity: 'P2' }),
    });

  it('creates the issue as that user, takes Jira’s edit back through the sweep, and sends the host’s next change', async () => {
    expect((await put('Checkout is slow')).status).toBe(201);
    const key = await until('the record to be linked', async () => {
      const r = await record();
      return r.sync.state === 'synced' && r.link?.issue_key ? r.link.issue_key : undefined;
    });
    const issue = sb.state.issue(key)!;
    expect(issue.summary).toBe('Checkout is slow');
    expect(issue.creatorId).toBe(sb.state.adminAccountId);

    const edit = await fetch(`${sb.baseUrl}/_sandbox/issues/${key}/edit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ as: 'alice', fields: { summary: 'Checkout is slow (cache)' } }),
    });
    expect(edit.status).toBe(204);
    await until('Jira’s summary on the record', async () =>
      (await record()).title === 'Checkout is slow (cache)' ? true : undefined,
    );

    expect((await put('Checkout is slow (cache, fixed)')).status).toBe(200);
    await until('the host’s title in Jira', async () =>
      issue.summary === 'Checkout is slow (cache, fixed)' ? true : undefined,
    );
    expect(sb.calls.count({ status: 401 })).toBe(0);
    expect(sb.calls.count({ route: '/rest/api/2/issue', method: 'POST', status: 201 })).toBe(1);
  });
});
