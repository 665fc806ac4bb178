import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { SEED } from '../../src/sandbox/seed.js';
import { sandboxConnectionYaml, startTestService, writeConfig } from '../helpers/service.js';

describe('mappings through the admin API: validated against Jira on save, persisted, live at once', () => {
  let sb: RunningSandbox;
  let svc: RunningService;
  const dir = mkdtempSync(join(tmpdir(), 'jb-map-'));
  const start = () => startTestService(dir);
  const api = (path: string, init?: RequestInit) => fetch(`${svc.url}${path}`, init);
  const put = (id: string, body: unknown) =>
    api(`/api/v1/mappings/${id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const ops = {
    connection: 'sb',
    scope: 'api-incidents',
    project: 'OPS',
    kinds: { incident: { issue_type: 'Incident' } },
    status: { out: { new: 'To Do', in_progress: 'In Progress' }, closed: ['resolved'] },
    priority: { out: { P1: 'Highest', P2: 'High' }, out_default: 'Medium' },
    close: { status: 'Done' },
  };

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    writeConfig(dir, [
      ...sandboxConnectionYaml(sb),
      'mappings:',
      '  - id: file-sec',
      '    connection: sb',
      '    scope: web',
      '    project: SEC',
      '    kinds: { vulnerability: { issue_type: Vulnerability } }',
    ]);
    svc = await start();
  });
  afterAll(async () => {
    await svc.stop();
    await sb.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the file’s mappings', async () => {
    const list = (await (await api('/api/v1/mappings')).json()) as { mappings: Array<{ id: string; source: string }> };
    expect(list.mappings.map((m) => [m.id, m.source])).toEqual([['file-sec', 'file']]);
  });

  it('refuses a bad shape naming the path, and a value Jira does not know naming the valid ones', async () => {
    const shape = await put('api-ops', { ...ops, kinds: {} });
    expect(shape.status).toBe(400);
    expect(((await shape.json()) as { error: { message: string } }).error.message).toMatch(/^body\.kinds: /);
    const bad = await put('api-ops', { ...ops, priority: { out: { P1: 'Hihgest' } } });
    expect(bad.status).toBe(400);
    const err = (await bad.json()) as { error: { message: string; details: { issues: Array<{ path: string }> } } };
    expect(err.error.message).toContain('body.priority.out.P1');
    expect(err.error.message).toContain('"Hihgest"');
    expect(err.error.message).toMatch(/Highest, High/);
    const scope = await put('api-dup', { ...ops, scope: 'web' });
    expect(scope.status).toBe(409);
    const conn = await put('api-x', { ...ops, connection: 'nope' });
    expect(conn.status).toBe(400);
    expect(((await conn.json()) as { error: { message: string } }).error.message).toContain('body.connection');
  });

  it('refuses a resolution table naming a resolution the site has not, and a closed status the workflow lacks, with the path and the valid choices', async () => {
    const bad = await put('api-close', {
      ...ops,
      scope: 'api-close',
      project: 'SEC',
      direction: 'to_jira', // (the file's mapping takes SEC's vulnerabilities from Jira)
      kinds: { vulnerability: { issue_type: 'Vulnerability' } },
      status: { out: { open: 'Open', risk_accepted: 'Done' }, closed: ['fixed', 'risk_accepted'] },
      priority: { out: {}, out_default: 'Medium' },
      close: { status: 'Resolved' },
      resolution: { risk_accepted: "Won't Fix", default: 'Fixed' },
    });
    expect(bad.status).toBe(400);
    const err = (await bad.json()) as {
      error: { message: string; details: { issues: Array<{ path: string; message: string }> } };
    };
    expect(err.error.details.issues.map((i) => i.path)).toEqual([
      'body.resolution.risk_accepted',
      'body.status.out.risk_accepted',
    ]);
    expect(err.error.details.issues[0]!.message).toBe(
      `"Won't Fix" is not a Jira resolution; known: Done, Won't Do, Duplicate, Cannot Reproduce, Fixed, False Positive, Risk Accepted`,
    );
    expect(err.error.details.issues[1]!.message).toMatch(
      /^"Done" is in no workflow of the mapping's issue types in SEC/,
    );
    // A key that is not a closed host status is refused before Jira is asked.
    const key = await put('api-close', { ...ops, scope: 'api-close', resolution: { resolvd: 'Done' } });
    expect(key.status).toBe(400);
    expect(((await key.json()) as { error: { message: string } }).error.message).toBe(
      'body.resolution.resolvd: "resolvd" is not a closed host status (status.closed); known: resolved, default',
    );
  });

  it('a saved mapping serves records at once, survives a restart, and deleting it stops new work', async () => {
    const saved = await put('api-ops', ops);
    expect(saved.status).toBe(201);
    expect(((await saved.json()) as { version: number }).version).toBe(1);
    const rec = await api('/api/v1/records/api-incidents/i-1', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'incident', title: 'Queue stuck', status: 'new', severity: 'P1' }),
    });
    expect(rec.status).toBeLessThan(300);
    let key: string | null = null;
    for (let i = 0; i < 400 && !key; i++) {
      key =
        (
          (await (await api('/api/v1/records/api-incidents/i-1')).json()) as {
            link: { issue_key: string | null } | null;
          }
        ).link?.issue_key ?? null;
      if (!key) await new Promise((r) => setTimeout(r, 20));
    }
    expect(key).toMatch(/^OPS-/);
    expect(sb.state.priority(sb.state.issue(key!)!.priorityId!)?.name).toBe('Highest');

    await svc.stop();
    svc = await start();
    const list = (await (await api('/api/v1/mappings')).json()) as { mappings: Array<{ id: string; source: string }> };
    expect(list.mappings.map((m) => [m.id, m.source])).toEqual([
      ['file-sec', 'file'],
      ['api-ops', 'api'],
    ]);
    const again = await put('api-ops', { ...ops, labels: ['ops-bridge'] });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { version: number }).version).toBe(2);

    expect((await api('/api/v1/mappings/api-ops', { method: 'DELETE' })).status).toBe(204);
    expect((await api('/api/v1/mappings/file-sec', { method: 'DELETE' })).status).toBe(409);
    const refused = await api('/api/v1/records/api-incidents/i-2', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'incident', title: 'Another', status: 'new' }),
    });
    expect(refused.status).toBe(422);
    const audit = await svc.store.db.selectFrom('audit_log').select('action').execute();
    expect(audit.map((a) => a.action)).toEqual(['mapping.created', 'mapping.updated', 'mapping.deleted']);
  });

  it('refuses field mappings Jira cannot take, a required create field left unmapped, and a bad host_link, naming each', async () => {
    // Outbound only: file-sec already takes SEC's vulnerabilities from Jira (one owner per issue).
    const sec = {
      connection: 'sb',
      scope: 'api-web',
      project: 'SEC',
      direction: 'to_jira',
      kinds: { vulnerability: { issue_type: 'Vulnerability' } },
    };
    const refused = async (body: unknown, path: string, message: RegExp) => {
      const res = await put('api-sec', body);
      expect(res.status).toBe(400);
      const err = (await res.json()) as { error: { message: string; details: { issues: Array<{ path: string }> } } };
      expect(err.error.message).toMatch(message);
      expect(err.error.details.issues[0]!.path).toBe(path);
    };
    await refused(
      { ...sec, fields: [{ host: 'asset_id', jira: 'Asset', values: { portal: 'web-portl' } }] },
      'body.fields[0].values.portal',
      /"web-portl" is not an option of Asset; known: web-portal, payments-api, customer-db, mobile-app/,
    );
    await refused(
      { ...sec, fields: [{ host: 'cvss', jira: 'CVSS Score', type: 'select' }] },
      'body.fields[0].type',
      /"select" does not fit CVSS Score, a number field/,
    );
    await refused(
      { ...sec, host_link: { url: 'https://p.example/{scope}/{id}' } },
      'body.host_link.url',
      /"\{id\}" is not a placeholder; known: \{scope\}, \{host_id\}, \{kind\}/,
    );
    await refused({ ...sec, reopen: { mode: 'rework' } }, 'body.reopen.rework_issue_type', /is required when/);
    await refused(
      { ...sec, reopen: { mode: 'rework', rework_issue_type: 'Task', rework_link_type: 'Relate' } },
      'body.reopen.rework_link_type',
      /"Relate" is not an issue link type of this site; known: .*Relates/,
    );

    // Jira's field configuration makes CVSS Score required on Vulnerability: a mapping that does
    // not set it would fail every create, so it is refused; mapping it is accepted.
    const cvss = sb.state.customFields.get(SEED.field.cvss)!;
    cvss.requiredFor = [SEED.issueType.vulnerability];
    try {
      await refused(
        sec,
        'body.kinds.vulnerability.issue_type',
        /"Vulnerability" in SEC requires the field "CVSS Score" \(customfield_10010\) on create.*map it: fields: \[\{ host: .*, jira: "CVSS Score" \}\]/,
      );
      const ok = await put('api-sec', {
        ...sec,
        fields: [
          { host: 'asset_id', jira: 'Asset', values: { portal: 'web-portal' } },
          { host: 'cvss', jira: 'CVSS Score' },
        ],
      });
      expect(ok.status).toBe(201);
    } finally {
      delete cvss.requiredFor;
    }
    expect((await api('/api/v1/mappings/api-sec', { method: 'DELETE' })).status).toBe(204);
  });
});
