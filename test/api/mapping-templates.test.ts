/**
 * Issue 18 item 4 through the admin API: a template with an unknown placeholder is refused at
 * body.templates.<name> naming it and the valid ones; the mapping preview renders one record by
 * the templates (the console editor's live preview): Markdown, and the body Jira is sent (ADF on
 * Cloud, wiki markup on Data Center).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { sandboxConnectionYaml, startTestService, writeConfig } from '../helpers/service.js';

interface ErrorBody {
  error: { code: string; message: string; details: { issues: Array<{ path: string; message: string }> } };
}

describe.each(['cloud', 'datacenter'] as const)('mapping templates, admin API (%s)', (flavour) => {
  let sb: RunningSandbox;
  let svc: RunningService;
  const dir = mkdtempSync(join(tmpdir(), 'jb-templates-'));
  const send = (method: string, path: string, body: unknown) =>
    fetch(`${svc.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const xyte = {
    connection: 'sb',
    scope: 'xyte-api',
    project: 'OPS',
    kinds: { incident: { issue_type: 'Incident' } },
    status: { out: { new: 'To Do' }, closed: ['resolved'] },
    priority: { out: { P1: 'Highest' }, out_default: 'Medium' },
  };

  beforeAll(async () => {
    sb = await startSandbox({ flavour, port: 0 });
    writeConfig(dir, [
      ...(flavour === 'cloud'
        ? sandboxConnectionYaml(sb)
        : [
            'connections:',
            '  - id: sb',
            `    site_url: ${sb.baseUrl}`,
            '    flavour: datacenter',
            `    auth: { type: pat, token: ${sb.credentials.pat} }`,
            '    sweep: { interval_seconds: 0 }',
          ]),
    ]);
    svc = await startTestService(dir);
  });
  afterAll(async () => {
    await svc?.stop();
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an unknown placeholder is a 400 at body.templates.description naming it and the valid ones; nothing is saved', async () => {
    const r = await send('PUT', '/api/v1/mappings/xyte-bad', {
      ...xyte,
      templates: { description: 'Device {{ custom.device }} at {{ locaton }}' },
    });
    expect(r.status).toBe(400);
    const e = (await r.json()) as ErrorBody;
    const issue = e.error.details.issues.find((i) => i.path === 'body.templates.description');
    expect(issue?.message).toMatch(/unknown variable "locaton"; valid: title, description, status, severity/);
    expect((await fetch(`${svc.url}/api/v1/mappings/xyte-bad`)).status).toBe(404);
  });

  it('the mapping preview renders one record by the templates: Markdown and the body Jira is sent', async () => {
    const r = await send('POST', '/api/v1/mappings/preview', {
      ...xyte,
      templates: {
        summary: '[{{ custom.device }}] {{ title }}',
        description: '**Location:** {{ custom.location }}{% if custom.site %} ({{ custom.site }}){% endif %}',
        comment_prefix: '_{{ comment.author }}:_',
      },
      sample_record: {
        title: 'Projector offline',
        custom: { device: 'EPSON-4471', location: 'HQ [floor 4]' },
        comment_author: 'Sam',
      },
    });
    expect(r.status).toBe(200);
    const p = (await r.json()) as {
      rendered: { summary: string; description: string; description_body: unknown; comment_prefix: string };
    };
    expect(p.rendered.summary).toBe('[EPSON-4471] Projector offline');
    expect(p.rendered.description).toBe('**Location:** HQ \\[floor 4\\]');
    expect(p.rendered.comment_prefix).toBe('_Sam:_');
    if (flavour === 'cloud')
      expect(JSON.stringify(p.rendered.description_body)).toContain('"text":"Location:","marks":[{"type":"strong"}]');
    else expect(p.rendered.description_body).toBe('*Location:* HQ \\[floor 4\\]');
  });

  it('search: false renders the sample record without a Jira call (the live preview), the project not needed', async () => {
    sb.calls.reset();
    const { project: _project, ...noProject } = xyte;
    const r = await send('POST', '/api/v1/mappings/preview', {
      ...noProject,
      search: false,
      templates: {
        summary: '{{ severity | upcase }}: {{ title }}',
        description: '- {{ custom.device }}\n- *{{ scope }}*',
      },
      sample_record: { title: 'Projector offline', severity: 'p1', custom: { device: 'EPSON-4471' } },
    });
    expect(r.status).toBe(200);
    const p = (await r.json()) as {
      total: number | null;
      issues: unknown[];
      rendered: { summary: string; description: string; description_body: unknown; description_doc: unknown };
    };
    expect(p.total).toBeNull();
    expect(p.issues).toEqual([]);
    expect(p.rendered.summary).toBe('P1: Projector offline');
    expect(p.rendered.description).toBe('- EPSON-4471\n- *xyte-api*');
    // The document tree to show, whatever the flavour: a bullet list with an emphasised item.
    expect(JSON.stringify(p.rendered.description_doc)).toMatch(/"type":"bulletList".*"marks":\[\{"type":"em"\}\]/);
    if (flavour === 'datacenter') expect(p.rendered.description_body).toBe('- EPSON-4471\n- _xyte-api_');
    else expect(p.rendered.description_body).toEqual(p.rendered.description_doc);
    expect(sb.calls.count({})).toBe(0);
    // A search needs the project.
    const bad = await send('POST', '/api/v1/mappings/preview', { ...noProject, sample_record: { title: 'x' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as ErrorBody).error.details.issues.map((i) => i.path)).toContain('body.project');
  });
});
