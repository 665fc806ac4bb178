/**
 * The service the hostile-input suite attacks: the real service (real store on SQLite or
 * PostgreSQL, the built-in sandbox as Jira, real HTTP on loopback), tokens for every caller, and
 * seeded data whose ids the suite puts into path parameters. Requests go over keep-alive
 * loopback sockets with the path sent exactly as written (no client-side normalisation of dot
 * segments or percent-encoding). The service trusts X-Forwarded-For from loopback
 * (`TRUST_PROXY=loopback`), so each request can come from its own client address and the
 * failed-sign-in limit (20 unknown tokens a minute per address) does not turn the suite's thousands
 * of bad tokens into 429s.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { Pool } from 'undici';
import type { RunningService } from '../../src/app/service.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { TEST_DATABASE_URL, type Engine } from '../helpers/db.js';
import { sandboxConnectionYaml, startTestService, writeConfig } from '../helpers/service.js';
import { HOST_SCOPE, OTHER_SCOPE, type Caller } from './oracle.js';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface SendOptions {
  caller?: Caller;
  headers?: Record<string, string>;
  body?: string | Buffer;
  contentType?: string;
}

export interface Seeded {
  webRecord: string;
  payRecord: string;
  attachmentId: string;
  jobId: string;
  backfillId: string;
  connectionId: string;
  mappingId: string;
  hostWebhookId: string;
  /** A token nobody uses: the target of DELETE /api/v1/tokens/{id}. */
  victimTokenId: string;
}

export interface World {
  engine: Engine;
  svc: RunningService;
  sb: RunningSandbox;
  dataDir: string;
  tokens: Record<Caller, string | undefined>;
  seeded: Seeded;
  send(method: string, path: string, opts?: SendOptions): Promise<Answer>;
  /** Waits until the queue has nothing queued or running (jobs the seeding or an accepted request made). */
  quiesce(): Promise<void>;
  /** Row counts and a hash of every table (minus what legitimately changes), plus the attachment files. */
  snapshot(): Promise<Snapshot>;
  close(): Promise<void>;
}

export type Snapshot = Record<string, string>;

/** A fresh client address per request (10.x.y.z), so no address reaches the failed-sign-in limit. */
let addr = 0;
const nextAddress = () => {
  addr++;
  return `10.${(addr >> 16) & 255}.${(addr >> 8) & 255}.${addr & 255}`;
};

const IGNORED_TABLES = /^kysely_migration/;

function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'bigint') return x.toString();
    if (x instanceof Uint8Array) return Buffer.from(x).toString('base64');
    if (x instanceof Date) return x.toISOString();
    return x;
  });
}

function listFiles(dir: string, root = dir): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...listFiles(p, root));
    else out.push(`${relative(root, p)}:${st.size}`);
  }
  return out.sort();
}

export function diffSnapshots(a: Snapshot, b: Snapshot): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.filter((k) => a[k] !== b[k]).map((k) => `${k}: ${a[k] ?? '-'} → ${b[k] ?? '-'}`);
}

export async function startWorld(engine: Engine): Promise<World> {
  const sb = await startSandbox({ flavour: 'cloud', port: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'jb-hostile-'));
  const dataDir = join(dir, 'data');
  const schema = `hostile_${process.pid}_${randomBytes(3).toString('hex')}`;
  writeConfig(dir, [
    ...sandboxConnectionYaml(sb, { webhookSecret: 'hostile-suite-webhook-secret-0123456789' }),
    'mappings:',
    `  - { id: web, connection: sb, scope: ${HOST_SCOPE}, project: OPS, kinds: { incident: { issue_type: Incident } } }`,
    `  - { id: pay, connection: sb, scope: ${OTHER_SCOPE}, project: SEC, kinds: { vulnerability: { issue_type: Vulnerability } } }`,
  ]);
  const svc = await startTestService(dir, {
    TRUST_PROXY: 'loopback',
    JIRA_BRIDGE_MASTER_KEY: randomBytes(32).toString('base64'),
    ...(engine === 'postgres' ? { DATABASE_URL: `${TEST_DATABASE_URL}?schema=${schema}` } : {}),
  });
  const pool = new Pool(svc.url, { connections: 8, keepAliveTimeout: 30_000 });
  const tokens: Record<Caller, string | undefined> = {
    none: undefined,
    garbage: undefined,
    revoked: undefined,
    expired: undefined,
    admin: undefined,
    operator: undefined,
    viewer: undefined,
    'host-scoped': undefined,
    'host-all': undefined,
  };

  async function send(method: string, path: string, opts: SendOptions = {}): Promise<Answer> {
    const caller = opts.caller ?? 'none';
    const token = caller === 'garbage' ? `jb_${randomBytes(24).toString('base64url')}` : tokens[caller];
    const headers: Record<string, string> = {
      'x-forwarded-for': nextAddress(),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': opts.contentType ?? 'application/json' } : {}),
      ...opts.headers,
    };
    const res = await pool.request({
      method: method as 'GET',
      path,
      headers,
      ...(opts.body !== undefined ? { body: opts.body } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text };
  }
  const json = async (method: string, path: string, caller: Caller | undefined, body?: unknown) => {
    const r = await send(method, path, {
      ...(caller ? { caller } : {}),
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    if (r.status >= 300) throw new Error(`seeding: ${method} ${path} → ${r.status} ${r.text}`);
    return (r.text ? JSON.parse(r.text) : null) as Record<string, unknown>;
  };

  async function quiesce(): Promise<void> {
    // Everything done; or, after 10 s, nothing due (a job retrying with backoff waits its turn).
    const started = Date.now();
    while (Date.now() - started < 30_000) {
      const s = await svc.queue.stats();
      if (s.byState.running === 0 && (s.byState.queued === 0 || (Date.now() - started > 10_000 && s.ready === 0)))
        return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the queue did not settle in 30 s');
  }

  async function snapshot(): Promise<Snapshot> {
    const db = svc.store.db;
    // This store's own tables only (kysely's introspection walks every schema, and other suites
    // create and drop schemas in the same PostgreSQL database meanwhile).
    const listed =
      engine === 'postgres'
        ? await sql<{ name: string }>`select table_name as name from information_schema.tables
            where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db)
        : await sql<{ name: string }>`select name from sqlite_master where type = 'table'
            and name not like 'sqlite_%'`.execute(db);
    const tables = listed.rows.map((t) => t.name).filter((n) => !IGNORED_TABLES.test(n));
    const out: Snapshot = {};
    const hashes = await Promise.all(
      tables.sort().map(async (t) => {
        let rows = (await db
          .selectFrom(t as 'jobs')
          .selectAll()
          .execute()) as unknown as Array<Record<string, unknown>>;
        // Using a valid token records when it was last used; that is not a change of data.
        if (t === 'api_tokens') rows = rows.map(({ last_used_at: _ignored, ...r }) => r);
        // A webhook delivery that fails authentication is logged body-less by design (README).
        if (t === 'webhook_deliveries') rows = rows.filter((r) => !String(r.verdict).startsWith('rejected:'));
        const lines = rows.map(stableJson).sort();
        return [t, `${lines.length} rows ${createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16)}`];
      }),
    );
    for (const [t, h] of hashes) out[t!] = h!;
    const files = listFiles(join(dataDir, 'attachments'));
    out['files:data/attachments'] =
      `${files.length} files ${createHash('sha256').update(files.join('\n')).digest('hex').slice(0, 16)}`;
    return out;
  }

  // --- seeding: tokens first (the API is open until the first one exists) ---
  const mint = async (name: string, role: string, extra: Record<string, unknown> = {}) =>
    (await json('POST', '/api/v1/tokens', tokens.admin ? 'admin' : undefined, { name, role, ...extra })) as {
      token: string;
      info: { id: string };
    };
  tokens.admin = (await mint('hostile admin', 'admin')).token;
  tokens.operator = (await mint('hostile operator', 'operator')).token;
  tokens.viewer = (await mint('hostile viewer', 'viewer')).token;
  tokens['host-scoped'] = (await mint('hostile host (web)', 'host', { scopes: [HOST_SCOPE] })).token;
  tokens['host-all'] = (await mint('hostile host (all)', 'host')).token;
  const revoked = await mint('hostile revoked admin', 'admin');
  tokens.revoked = revoked.token;
  await json('DELETE', `/api/v1/tokens/${revoked.info.id}`, 'admin');
  const expired = await mint('hostile expired admin', 'admin', { expires_in_days: 1 });
  tokens.expired = expired.token;
  await svc.store.db
    .updateTable('api_tokens')
    .set({ expires_at: Date.now() - 60_000 })
    .where('id', '=', expired.info.id)
    .execute();
  const victim = await mint('hostile victim', 'viewer');

  // --- records (one in the scoped host's scope, one outside), comments, an attachment ---
  const webRecord = 'hs-web-1';
  const payRecord = 'hs-pay-1';
  await json('PUT', `/api/v1/records/${HOST_SCOPE}/${webRecord}`, 'admin', {
    kind: 'incident',
    title: 'Disk full on web-1',
    status: 'new',
  });
  await json('PUT', `/api/v1/records/${OTHER_SCOPE}/${payRecord}`, 'admin', {
    kind: 'vulnerability',
    title: 'Payroll secret record',
    status: 'open',
  });
  for (const [scope, id] of [
    [HOST_SCOPE, webRecord],
    [OTHER_SCOPE, payRecord],
  ] as const) {
    await json('POST', `/api/v1/records/${scope}/${id}/comments`, 'admin', {
      author: 'Priya',
      body: `seeded comment on ${id}`,
      host_comment_id: `hc-${id}`,
    });
  }
  const boundary = `----hostile${randomBytes(6).toString('hex')}`;
  const up = await send('POST', `/api/v1/records/${HOST_SCOPE}/${webRecord}/attachments`, {
    caller: 'admin',
    contentType: `multipart/form-data; boundary=${boundary}`,
    body: Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="seed.txt"\r\n` +
        `Content-Type: text/plain\r\n\r\nseeded attachment\r\n--${boundary}--\r\n`,
    ),
  });
  if (up.status >= 300) throw new Error(`seeding: attachment upload → ${up.status} ${up.text}`);
  const attachmentId = (JSON.parse(up.text) as { id: string }).id;

  // --- an API-made connection (its secret sealed in the store), an API mapping, a host webhook ---
  const connectionId = 'hs-api';
  await json('POST', '/api/v1/connections', 'admin', {
    id: connectionId,
    name: 'Hostile suite (API)',
    site_url: sb.baseUrl,
    flavour: 'cloud',
    auth: { type: 'basic', email: sb.credentials.email, api_token: sb.credentials.apiToken },
    sweep: { interval_seconds: 0 },
  });
  const mappingId = 'hs-map';
  await json('PUT', `/api/v1/mappings/${mappingId}`, 'admin', {
    connection: connectionId,
    scope: 'hs-scope',
    project: 'OPS',
    kinds: { incident: { issue_type: 'Incident' } },
  });
  const hook = (await json('POST', '/api/v1/host-webhooks', 'admin', {
    url: 'http://127.0.0.1:9/hostile-suite',
    active: false,
  })) as { subscription: { id: string } };
  const backfill = (await json('POST', '/api/v1/backfill', 'admin', { scope: HOST_SCOPE })) as { id: string };
  await quiesce();
  const jobs = (await json('GET', '/api/v1/jobs?limit=1', 'admin')) as { jobs: Array<{ id: string }> };
  const jobId = jobs.jobs[0]?.id;
  if (!jobId) throw new Error('seeding: no job to point /api/v1/jobs/{id} at');

  return {
    engine,
    svc,
    sb,
    dataDir,
    tokens,
    seeded: {
      webRecord,
      payRecord,
      attachmentId,
      jobId,
      backfillId: backfill.id,
      connectionId,
      mappingId,
      hostWebhookId: hook.subscription.id,
      victimTokenId: victim.info.id,
    },
    send,
    quiesce,
    snapshot,
    async close() {
      await pool.close();
      await svc.stop();
      await sb.close();
      rmSync(dir, { recursive: true, force: true });
      if (engine === 'postgres') {
        const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
        await c.connect();
        try {
          await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        } finally {
          await c.end();
        }
      }
    },
  };
}
