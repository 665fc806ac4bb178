/**
 * Mapping edits reaching linked records (issue 19, item 2), end to end against the sandbox: a
 * re-sync applies a changed severity → priority table (the host's mapped value wins even when the
 * issue's priority maps back to the record's severity through `priority.in`), and "apply to
 * linked records" re-syncs every linked record of a mapping as one durable run with progress and
 * its Jira calls counted, writing only what differs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import type { JiraClient } from '../../src/jira/client.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { JIRA_EVENTS } from '../../src/webhooks/parse.js';
import { sandboxConnectionYaml, sandboxUserClient, startTestService, writeConfig } from '../helpers/service.js';
import { until } from '../helpers/wait.js';

const SECRET = 'apply-linked-webhook-secret-0123456789';

interface RecordBody {
  severity: string;
  link: { issue_key: string | null; state: string } | null;
  sync: { state: string; error: { code: string } | null };
}

/** The SEC mapping as the file has it: Informational → Lowest, and Lowest → informational back. */
const SEC = {
  connection: 'sb',
  scope: 'astra',
  project: 'SEC',
  kinds: { vulnerability: { issue_type: 'Vulnerability' } },
  status: { out: { open: 'Open' } },
  priority: {
    out: { critical: 'Highest', high: 'High', medium: 'Medium', low: 'Low', informational: 'Lowest' },
    in: { Lowest: 'informational' },
  },
};
const OPS = {
  connection: 'sb',
  scope: 'fleet',
  project: 'OPS',
  kinds: { incident: { issue_type: 'Incident' } },
  status: { out: { new: 'To Do' } },
  priority: { out: { P1: 'Highest', P3: 'Medium', P5: 'Lowest' }, in: { Lowest: 'P5' } },
};
/** A mapping line of jira-bridge.yaml (JSON is YAML). */
const yamlOf = (id: string, m: typeof SEC | typeof OPS): string => `  - ${JSON.stringify({ id, ...m })}`;

describe('apply to linked records: mapping edits reach the records already linked', () => {
  let sb: RunningSandbox;
  let svc: RunningService;
  let alice: JiraClient;
  const dir = mkdtempSync(join(tmpdir(), 'jb-apply-'));

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    writeConfig(dir, [
      ...sandboxConnectionYaml(sb, { webhookSecret: SECRET }),
      'mappings:',
      yamlOf('sec', SEC),
      yamlOf('ops', OPS),
    ]);
    svc = await startTestService(dir);
    sb.webhooks.register({ url: `${svc.url}/webhooks/jira/sb`, events: [...JIRA_EVENTS], secret: SECRET });
    alice = sandboxUserClient(sb, 'alice');
  });
  afterAll(async () => {
    await alice?.close();
    await svc?.stop();
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers of many shapes, checked by the assertions
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> => {
    const r = await fetch(`${svc.url}${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : null };
  };
  const record = async (scope: string, hostId: string): Promise<RecordBody> =>
    (await api('GET', `/api/v1/records/${scope}/${hostId}`)).json as RecordBody;
  const upsert = async (scope: string, hostId: string, body: Record<string, unknown>) => {
    const r = await api('PUT', `/api/v1/records/${scope}/${hostId}`, body);
    expect(r.status).toBeLessThan(300);
  };
  const linked = async (scope: string, hostId: string): Promise<string> => {
    await until(`${hostId} linked`, async () => {
      const r = await record(scope, hostId);
      return r.link?.state === 'linked' && r.sync.state === 'synced';
    });
    return (await record(scope, hostId)).link!.issue_key!;
  };
  const quiet = () =>
    until('the queue to be idle', async () => {
      await sb.webhooks.drain();
      const s = await svc.queue.stats();
      return s.byState.queued === 0 && s.byState.running === 0;
    });
  const priorityOf = async (key: string): Promise<string> =>
    ((await alice.getIssue(key, { fields: ['priority'] })).fields.priority as { name: string }).name;

  it('a re-sync applies a changed severity table', async () => {
    await upsert('fleet', 'i-1', { kind: 'incident', title: 'Log volume low', status: 'new', severity: 'P5' });
    const key = await linked('fleet', 'i-1');
    await quiet();
    expect(await priorityOf(key)).toBe('Lowest');

    // The table changes: P5 → Low. Lowest still maps back to P5 through priority.in.
    const edited = await api('PUT', '/api/v1/mappings/ops', {
      ...OPS,
      priority: { ...OPS.priority, out: { ...OPS.priority.out, P5: 'Low' } },
    });
    expect(edited.status).toBe(200);
    expect((await api('POST', '/api/v1/sync', { scope: 'fleet', host_id: 'i-1' })).status).toBe(202);
    await until('the re-sync to write the new priority', async () => (await priorityOf(key)) === 'Low');
    await quiet();
    const r = await record('fleet', 'i-1');
    expect(r.severity).toBe('P5');
    expect(r.sync.state).toBe('synced');
    const log = (await api('GET', '/api/v1/records/fleet/i-1/log')).json.entries as Array<{
      action: string;
      fields: { changed?: string[] } | null;
    }>;
    expect(log.some((e) => e.action === 'updated' && e.fields?.changed?.includes('priority'))).toBe(true);
  });
});
