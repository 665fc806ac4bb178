/**
 * Crash survival: the real service runs as a child process (`jira-bridge serve`, SQLite file)
 * under load from both sides — the host upserting records and adding comments over HTTP, a person
 * in Jira editing, transitioning and commenting — and is killed with SIGKILL at random moments,
 * then restarted. Afterwards every record equals its issue per the mapping, no issue exists twice,
 * no comment is lost or doubled, and no job is left behind.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JiraClient } from '../../src/jira/client.js';
import { sandboxUserClient } from '../helpers/service.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { freePort, spawnCli, waitForStatus, type Spawned } from '../cli/helpers.js';
import { JIRA_EVENTS } from '../../src/webhooks/parse.js';
import { prng } from '../../src/sandbox/prng.js';

const SECRET = 'crash-webhook-secret-0123456789';
const PRIORITY: Record<string, string> = { P1: 'Highest', P2: 'High', P3: 'Medium', P4: 'Low' };
const STATUS_IN: Record<string, string> = { 'To Do': 'new', 'In Progress': 'in_progress', Done: 'resolved' };

describe('SIGKILL under load from both sides, then restart', () => {
  let sb: RunningSandbox;
  let alice: JiraClient;
  let proc: Spawned | undefined;
  let port = 0;
  const dir = mkdtempSync(join(tmpdir(), 'jb-crash-'));
  const base = () => `http://127.0.0.1:${port}`;

  const start = async (): Promise<void> => {
    proc = spawnCli(['serve', '--config', join(dir, 'jira-bridge.yaml')], {
      cwd: dir,
      env: { PORT: String(port), HOST: '127.0.0.1', DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'warn' },
    });
    await waitForStatus(`${base()}/readyz`, 200, proc);
  };
  const kill = async (): Promise<void> => {
    if (!proc) return;
    proc.child.kill('SIGKILL');
    await proc.exited;
    proc = undefined;
  };

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0, knobs: { latencyMs: 5, jitterMs: 3 } });
    port = await freePort();
    writeFileSync(
      join(dir, 'jira-bridge.yaml'),
      [
        'connections:',
        '  - id: sb',
        `    site_url: ${sb.baseUrl}`,
        '    flavour: cloud',
        `    auth: { type: basic, email: ${sb.credentials.email}, api_token: ${sb.credentials.apiToken} }`,
        `    webhook: { secret: ${SECRET} }`,
        '    sweep: { interval_seconds: 1 }',
        'mappings:',
        '  - id: ops',
        '    connection: sb',
        '    scope: crash',
        '    project: OPS',
        '    kinds: { incident: { issue_type: Incident } }',
        '    status: { out: { new: To Do, in_progress: In Progress }, closed: [resolved] }',
        '    priority: { out: { P1: Highest, P2: High, P3: Medium, P4: Low } }',
        '    close: { status: Done }',
        '',
      ].join('\n'),
    );
    sb.webhooks.register({
      url: `http://127.0.0.1:${port}/webhooks/jira/sb`,
      events: [...JIRA_EVENTS],
      secret: SECRET,
    });
    alice = sandboxUserClient(sb, 'alice');
    await start();
  });
  afterAll(async () => {
    await kill();
    await alice?.close();
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The host keeps trying until the service acknowledges (what a real host does). */
  const hostSend = async (path: string, body: unknown, method = 'PUT'): Promise<void> => {
    for (;;) {
      try {
        const res = await fetch(`${base()}${path}`, {
          method,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        if (res.status < 300) return;
        if (res.status < 500) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      } catch (err) {
        if (err instanceof Error && /: \d{3} /.test(err.message)) throw err;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const get = async <T>(path: string): Promise<T> => {
    for (;;) {
      try {
        const res = await fetch(`${base()}${path}`);
        if (res.ok) return (await res.json()) as T;
      } catch {
        /* down: retry */
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it(
    'ends converged: no duplicate issue, no lost or doubled comment, nothing stuck',
    { timeout: 240_000 },
    async () => {
      const rand = prng(Number(process.env.CRASH_SEED ?? 7));
      const N = 8;
      const host = Array.from({ length: N }, (_, i) => ({
        title: `Service ${i} degraded`,
        severity: 'P3',
        status: 'new',
      }));
      const hostComments: string[][] = Array.from({ length: N }, () => []);
      const jiraComments: string[][] = Array.from({ length: N }, () => []);
      for (let i = 0; i < N; i++) await hostSend(`/api/v1/records/crash/c-${i}`, { kind: 'incident', ...host[i] });

      let kills = 0;
      const killer = (async () => {
        for (let k = 0; k < 3; k++) {
          await new Promise((r) => setTimeout(r, 400 + rand() * 900));
          await kill();
          kills++;
          await new Promise((r) => setTimeout(r, 100 + rand() * 300));
          await start();
        }
      })();

      for (let step = 0; step < 60; step++) {
        const i = Math.floor(rand() * N);
        const roll = rand();
        if (roll < 0.35) {
          const h = host[i]!;
          const r = await get<{ title: string; severity: string | null; status: string }>(
            `/api/v1/records/crash/c-${i}`,
          );
          h.title = rand() < 0.5 ? `Service ${i} degraded (${step})` : r.title;
          h.severity =
            rand() < 0.5 ? (['P1', 'P2', 'P3', 'P4'][Math.floor(rand() * 4)] as string) : (r.severity ?? 'P3');
          h.status = rand() < 0.3 ? (['new', 'in_progress', 'resolved'][Math.floor(rand() * 3)] as string) : r.status;
          await hostSend(`/api/v1/records/crash/c-${i}`, { kind: 'incident', ...h });
        } else if (roll < 0.5) {
          const body = `host note n${i}-${step}x`;
          hostComments[i]!.push(body);
          await hostSend(
            `/api/v1/records/crash/c-${i}/comments`,
            { author: 'ops', body, host_comment_id: `hc-${i}-${step}` },
            'POST',
          );
        } else {
          const r = await get<{ link: { issue_key: string | null } | null }>(`/api/v1/records/crash/c-${i}`);
          const key = r.link?.issue_key;
          if (!key) continue;
          if (roll < 0.7) {
            await alice.editIssue(key, { fields: { summary: `Service ${i} degraded (Jira ${step})` } });
          } else if (roll < 0.85) {
            const body = `jira note n${i}-${step}x`;
            jiraComments[i]!.push(body);
            await alice.addComment(key, {
              type: 'doc',
              version: 1,
              content: [{ type: 'paragraph', content: [{ type: 'text', text: body }] }],
            } as never);
          } else {
            const ts = await alice.getTransitions(key);
            const t = ts[Math.floor(rand() * ts.length)];
            if (t) await alice.transition(key, String(t.id)).catch(() => undefined);
          }
        }
        await new Promise((r) => setTimeout(r, 10 + rand() * 30));
      }
      await killer;
      expect(kills).toBe(3);

      // Converged: every record equals its issue; nothing queued or running.
      const check = async (): Promise<string[]> => {
        const problems: string[] = [];
        for (let i = 0; i < N; i++) {
          const r = await get<{
            title: string;
            severity: string;
            status: string;
            sync: { state: string };
            link: { issue_key: string };
          }>(`/api/v1/records/crash/c-${i}`);
          const issue = sb.state.issue(r.link.issue_key)!;
          const status = sb.state.status(issue.statusId).name;
          const prio = issue.priorityId ? sb.state.priority(issue.priorityId)?.name : undefined;
          if (r.sync.state !== 'synced') problems.push(`c-${i}: ${r.sync.state}`);
          if (issue.summary !== r.title) problems.push(`c-${i}: summary "${issue.summary}" vs "${r.title}"`);
          if (PRIORITY[r.severity] !== prio) problems.push(`c-${i}: priority ${prio} vs ${r.severity}`);
          if (STATUS_IN[status] !== r.status) problems.push(`c-${i}: status ${status} vs ${r.status}`);
        }
        const jobs = await get<{ jobs: Array<{ state: string }> }>('/api/v1/jobs?limit=1000');
        const active = jobs.jobs.filter((j) => j.state === 'queued' || j.state === 'running' || j.state === 'dead');
        if (active.length) problems.push(`${active.length} jobs queued, running or dead`);
        return problems;
      };
      let problems: string[] = [];
      for (let i = 0; i < 300; i++) {
        await sb.webhooks.drain();
        problems = await check();
        if (!problems.length) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(problems).toEqual([]);

      // No issue twice: one issue per record.
      const issues = sb.state.allIssues().filter((x) => /^Service \d+ degraded/.test(x.summary));
      expect(issues).toHaveLength(N);
      // Comments: each exactly once on the other side.
      for (let i = 0; i < N; i++) {
        const r = await get<{ link: { issue_key: string } }>(`/api/v1/records/crash/c-${i}`);
        const issue = sb.state.issue(r.link.issue_key)!;
        const texts = issue.comments.map((c) => JSON.stringify(c.body));
        for (const c of hostComments[i]!)
          expect(
            texts.filter((t) => t.includes(c)),
            c,
          ).toHaveLength(1);
        const rec = await get<{ comments: Array<{ origin: string; body: string }> }>(
          `/api/v1/records/crash/c-${i}/comments`,
        );
        for (const c of jiraComments[i]!)
          expect(
            rec.comments.filter((x) => x.origin === 'jira' && x.body === c),
            c,
          ).toHaveLength(1);
        expect(rec.comments.filter((x) => x.origin === 'jira')).toHaveLength(jiraComments[i]!.length);
      }
    },
  );
});
