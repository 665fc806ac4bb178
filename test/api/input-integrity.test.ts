/**
 * Hostile input is a 4xx that names the field, and changes nothing (issue 15, findings 3–6 and 8),
 * against the real service over HTTP on loopback: malformed multipart, uploads to records that do
 * not exist and aborted uploads (no bytes left on disk), unreferenced blobs collected, invalid
 * UTF-8, ids over their limits, field-naming errors, strict preview/check bodies, and a 413 that
 * reaches a client still sending its body. Every bad request leaves the store as it was.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { fileAttachmentStore } from '../../src/engine/attachment-store.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { waitFor } from '../queue/helpers.js';
import { sandboxConnectionEntry, startTestService, writeConfig } from '../helpers/service.js';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** Whether the server sent `100 Continue`. */
  continued: boolean;
  json(): { error?: { code: string; message: string; details?: { issues?: Array<{ path: string }> } } } & Record<
    string,
    unknown
  >;
}

describe('hostile input: a 4xx naming the field, and nothing changed', () => {
  let sb: RunningSandbox;
  let svc: RunningService;
  const dir = mkdtempSync(join(tmpdir(), 'jb-integrity-'));
  const attachmentsDir = () => join(dir, 'data', 'attachments');

  /** Every file under data/attachments (blobs and temporary files), relative. */
  const files = (): string[] => {
    const root = attachmentsDir();
    if (!existsSync(root)) return [];
    const out: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else out.push(relative(root, join(d, e.name)));
      }
    };
    walk(root);
    return out.sort();
  };

  /** Every row of every table (row counts for the busy bookkeeping ones). */
  const snapshot = async (): Promise<Record<string, unknown>> => {
    const out: Record<string, unknown> = {};
    const full = ['records', 'attachment_links', 'record_comments', 'links', 'api_connections', 'api_mappings'];
    for (const t of await svc.store.db.introspection.getTables()) {
      if (full.includes(t.name)) {
        out[t.name] = await sql`select * from ${sql.table(t.name)} order by 1`
          .execute(svc.store.db)
          .then((r) => r.rows);
      } else {
        const r = await sql<{ n: number }>`select count(*) as n from ${sql.table(t.name)}`.execute(svc.store.db);
        out[t.name] = Number(r.rows[0]!.n);
      }
    }
    return out;
  };

  /** The worker is idle (syncs of earlier tests' records would change rows under a snapshot). */
  const settled = () =>
    waitFor(async () => {
      const s = await svc.queue.stats();
      return s.byState.queued === 0 && s.byState.running === 0;
    }, 'the queue to drain');

  /** One request over a fresh loopback connection; `body` written as given (or by `write`). */
  const send = (opts: {
    method: string;
    path: string;
    headers?: Record<string, string | number>;
    body?: Buffer | string;
    /** Writes the body itself (e.g. in chunks, or waiting for 100 Continue). */
    write?: (req: ReturnType<typeof httpRequest>) => void;
  }): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const url = new URL(opts.path, svc.url);
      let continued = false;
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname + url.search,
          method: opts.method,
          headers: opts.headers,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              text,
              continued,
              json: () => JSON.parse(text),
            });
          });
          res.on('error', reject);
        },
      );
      req.on('continue', () => (continued = true));
      req.on('error', reject);
      if (opts.write) opts.write(req);
      else req.end(opts.body);
    });

  const json = (method: string, path: string, body: unknown) =>
    send({
      method,
      path,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify(body)),
    });

  function multipart(parts: Array<{ name: string; value?: string; filename?: string; content?: Buffer }>) {
    const boundary = '----jbintegrity' + Math.random().toString(16).slice(2);
    const chunks: Buffer[] = [];
    for (const p of parts) {
      const disp = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
      chunks.push(
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: ${disp}\r\n${p.filename !== undefined ? 'Content-Type: application/octet-stream\r\n' : ''}\r\n`,
        ),
        p.content ?? Buffer.from(p.value ?? ''),
        Buffer.from('\r\n'),
      );
    }
    chunks.push(Buffer.from(`--${boundary}--\r\n`));
    return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
  }

  const upload = (hostId: string, mp: { body: Buffer; contentType: string }) =>
    send({
      method: 'POST',
      path: `/api/v1/records/stackflow/${hostId}/attachments`,
      headers: { 'content-type': mp.contentType, 'content-length': mp.body.length },
      body: mp.body,
    });

  /** Asserts a 400 VALIDATION_FAILED naming `path` (and matching `message`), the store and the disk unchanged. */
  async function refused(
    run: () => Promise<Answer>,
    expected: { status?: number; path: string; message: RegExp; code?: string },
  ): Promise<Answer> {
    await settled();
    const before = await snapshot();
    const filesBefore = files();
    const res = await run();
    expect(res.status, res.text).toBe(expected.status ?? 400);
    const err = res.json().error!;
    expect(err.code).toBe(expected.code ?? 'VALIDATION_FAILED');
    expect(err.message).toMatch(expected.message);
    expect(err.message).toContain(expected.path);
    if ((expected.code ?? 'VALIDATION_FAILED') === 'VALIDATION_FAILED') {
      expect(err.details?.issues?.map((i) => i.path)).toContain(expected.path);
    }
    expect(await snapshot()).toEqual(before);
    expect(files()).toEqual(filesBefore);
    return res;
  }

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    writeConfig(dir, [
      'connections:',
      ...sandboxConnectionEntry(sb),
      'mappings:',
      '  - id: ops',
      '    connection: sb',
      '    scope: stackflow',
      '    project: OPS',
      '    kinds: { incident: { issue_type: Incident } }',
    ]);
    svc = await startTestService(dir);
    const put = await json('PUT', '/api/v1/records/stackflow/r-1', { kind: 'incident', title: 'Disk', status: 'new' });
    expect(put.status).toBe(201);
  });
  afterAll(async () => {
    await svc?.stop();
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('multipart (finding 3)', () => {
    it('multipart/form-data without a boundary is a 400 naming the body', async () => {
      await refused(
        () =>
          send({
            method: 'POST',
            path: '/api/v1/records/stackflow/r-1/attachments',
            headers: { 'content-type': 'multipart/form-data' },
            body: 'hello',
          }),
        { path: 'body', message: /boundary/ },
      );
    });

    it('a truncated multipart body is a 400 naming the body', async () => {
      const mp = multipart([{ name: 'file', filename: 'a.txt', content: Buffer.alloc(4096, 'a') }]);
      const cut = mp.body.subarray(0, mp.body.length - 200);
      await refused(() => upload('r-1', { body: cut, contentType: mp.contentType }), {
        path: 'body',
        message: /ended before|truncated/,
      });
    });

    it('a part other than file and host_attachment_id, or no file, is refused naming it', async () => {
      await refused(
        () =>
          upload(
            'r-1',
            multipart([
              { name: 'colour', value: 'red' },
              { name: 'file', filename: 'a.txt', content: Buffer.from('x') },
            ]),
          ),
        { path: 'body.colour', message: /unknown/ },
      );
      await refused(() => upload('r-1', multipart([{ name: 'host_attachment_id', value: 'a' }])), {
        path: 'body.file',
        message: /no file/,
      });
    });
  });

  describe('uploads check first and leave nothing behind (finding 4)', () => {
    it('uploads to records that do not exist are 404 and write no byte', async () => {
      const before = files();
      for (let i = 0; i < 5; i++) {
        const mp = multipart([{ name: 'file', filename: `f${i}.bin`, content: Buffer.alloc(64 * 1024, i) }]);
        await settled();
        const before1 = await snapshot();
        const res = await upload(`missing-${i}`, mp);
        expect(res.status).toBe(404);
        expect(res.json().error!.code).toBe('NOT_FOUND');
        expect(await snapshot()).toEqual(before1);
      }
      expect(files()).toEqual(before);
    });

    it('an aborted upload removes its temporary file', async () => {
      const before = files();
      for (let i = 0; i < 3; i++) {
        const mp = multipart([{ name: 'file', filename: 'big.bin', content: Buffer.alloc(4 * 1024 * 1024, 7) }]);
        const req = httpRequest({
          host: '127.0.0.1',
          port: svc.port,
          method: 'POST',
          path: '/api/v1/records/stackflow/r-1/attachments',
          headers: { 'content-type': mp.contentType, 'content-length': mp.body.length },
          agent: false,
        });
        req.on('error', () => undefined);
        req.write(mp.body.subarray(0, 1024 * 1024));
        // The upload is under way once its temporary file exists; then the client goes away.
        await waitFor(() => files().length > before.length, 'the upload’s temporary file');
        req.destroy();
        await waitFor(() => files().length === before.length, 'the aborted upload’s temporary file removed');
      }
      expect(files()).toEqual(before);
    });

    it('a good upload is stored once; blobs nothing references are collected, young ones and referenced ones kept', async () => {
      const mp = multipart([
        { name: 'host_attachment_id', value: 'att-1' },
        { name: 'file', filename: 'report.txt', content: Buffer.from('the report') },
      ]);
      const ok = await upload('r-1', mp);
      expect(ok.status, ok.text).toBe(201);
      const kept = files();
      expect(kept).toHaveLength(1);

      // Orphans: as an interrupted process would leave them (a blob no row names, a temp file).
      const store = fileAttachmentStore(attachmentsDir());
      await store.put('a'.repeat(64), Buffer.from('orphan'));
      await store.put('b'.repeat(64), Buffer.from('young orphan'));
      const old = new Date(Date.now() - 2 * 3600_000);
      const orphan = join(attachmentsDir(), 'aa', 'a'.repeat(64));
      utimesSync(orphan, old, old);
      for (const f of kept) utimesSync(join(attachmentsDir(), f), old, old);
      const removed = await svc.engine.collectAttachmentGarbage({ minAgeMs: 3600_000 });
      expect(removed).toBe(1);
      expect(files()).toEqual([...kept, join('bb', 'b'.repeat(64))].sort());
      expect(statSync(join(attachmentsDir(), kept[0]!)).isFile()).toBe(true);
      // The young one goes once it is old enough.
      expect(await svc.engine.collectAttachmentGarbage({ minAgeMs: 0 })).toBe(1);
      expect(files()).toEqual(kept);
    });
  });

  describe('input is refused, never repaired or cut (finding 5)', () => {
    it('invalid UTF-8 in a JSON body is a 400 naming the byte', async () => {
      const good = Buffer.from('{"kind":"incident","title":"caf', 'utf8');
      const body = Buffer.concat([good, Buffer.from([0xc3, 0x28]), Buffer.from('","status":"new"}')]);
      await refused(
        () =>
          send({
            method: 'PUT',
            path: '/api/v1/records/stackflow/r-utf8',
            headers: { 'content-type': 'application/json' },
            body,
          }),
        { path: 'body', message: new RegExp(`not valid UTF-8 at byte ${good.length}\\b`) },
      );
      // A real U+FFFD in the text is not mistaken for a broken byte.
      const fffd = await json('PUT', '/api/v1/records/stackflow/r-fffd', {
        kind: 'incident',
        title: 'a \uFFFD b',
        status: 'new',
      });
      expect(fffd.status).toBe(201);
      expect(fffd.json().title).toBe('a \uFFFD b');
    });

    it('an id or a file name over its limit is refused naming the field and the limit, never cut', async () => {
      const file = { name: 'file', filename: 'a.txt', content: Buffer.from('x') };
      await refused(
        () => upload('r-1', multipart([{ name: 'host_attachment_id', value: 'x'.repeat(2_000_000) }, file])),
        {
          path: 'body.host_attachment_id',
          message: /200 characters/,
        },
      );
      await refused(() => upload('r-1', multipart([{ name: 'host_attachment_id', value: 'x'.repeat(201) }, file])), {
        path: 'body.host_attachment_id',
        message: /200 characters/,
      });
      await refused(() => upload('r-1', multipart([file, { name: 'host_attachment_id', value: 'y'.repeat(300) }])), {
        path: 'body.host_attachment_id',
        message: /200 characters/,
      });
      await refused(() => upload('r-1', multipart([{ ...file, filename: `${'n'.repeat(300)}.txt` }])), {
        path: 'body.file',
        message: /255 characters/,
      });
      const exact = await upload('r-1', multipart([{ name: 'host_attachment_id', value: 'z'.repeat(200) }, file]));
      expect(exact.status, exact.text).toBe(201);
    });
  });

  describe('errors name the field (finding 6)', () => {
    it('POST /sync with a missing or mistyped scope/host_id names the field and the forms it takes', async () => {
      const missing = await refused(() => json('POST', '/api/v1/sync', { scope: 'stackflow' }), {
        path: 'body.host_id',
        message: /jira_issue_key/,
      });
      expect(missing.json().error!.message).toMatch(
        /send \{"jira_issue_key"\} \(optionally with "connection"\) or \{"scope","host_id"\}/,
      );
      const typed = await refused(() => json('POST', '/api/v1/sync', { scope: 'stackflow', host_id: 3 }), {
        path: 'body.host_id',
        message: /host_id: expected a string/,
      });
      expect(typed.json().error!.message).not.toContain('Invalid input');
      await refused(() => json('POST', '/api/v1/sync', {}), { path: 'body', message: /jira_issue_key/ });
    });

    it('the mapping preview refuses unknown fields and wrong types, and takes what the console sends', async () => {
      await refused(() => json('POST', '/api/v1/mappings/preview', { connection: 'sb', project: 'OPS', colour: 1 }), {
        path: 'body.colour',
        message: /unknown field/,
      });
      await refused(() => json('POST', '/api/v1/mappings/preview', { connection: 'sb', project: 'OPS', kinds: 'x' }), {
        path: 'body.kinds',
        message: /body\.kinds/,
      });
      await refused(
        () =>
          json('POST', '/api/v1/mappings/preview', {
            connection: 'sb',
            project: 'OPS',
            kinds: { incident: { issue_type: 'Incident', colour: 'red' } },
          }),
        { path: 'body.kinds.incident.colour', message: /unknown field/ },
      );
      // The console's mapping editor sends the whole mapping (console/mapping-editor.js bodyOf).
      const consoleBody = {
        connection: 'sb',
        scope: 'stackflow',
        project: 'OPS',
        direction: 'both',
        kinds: { incident: { issue_type: 'Incident' } },
        status: { out: { new: 'To Do' }, in: {}, closed: [] },
        priority: { out: {}, in: {} },
        fields: [],
        sync: {},
        labels: [],
        close: { never: true },
        reopen: { mode: 'reopen', allow_from_jira: true },
        comments: { enabled: true, direction: 'both' },
        on_jira_delete: 'unlink',
        on_jira_create: 'ignore',
        attachments: { from_jira: true, max_bytes: 10485760 },
      };
      const ok = await json('POST', '/api/v1/mappings/preview', consoleBody);
      expect(ok.status, ok.text).toBe(200);
    });

    it('the connection check refuses unknown fields and wrong types, and takes what the console sends', async () => {
      const base = {
        id: 'new1',
        site_url: sb.baseUrl,
        flavour: 'cloud',
        auth: { type: 'basic', email: sb.credentials.email, api_token: sb.credentials.apiToken },
        tls: { verify: true },
      };
      await refused(() => json('POST', '/api/v1/connections/check', { ...base, colour: 1 }), {
        path: 'body.colour',
        message: /unknown field/,
      });
      await refused(() => json('POST', '/api/v1/connections/check', { ...base, id: 5 }), {
        path: 'body.id',
        message: /body\.id/,
      });
      await refused(() => json('POST', '/api/v1/connections/check', { ...base, tls: { verify: 'yes' } }), {
        path: 'body.tls.verify',
        message: /body\.tls\.verify/,
      });
      const ok = await json('POST', '/api/v1/connections/check', { ...base, name: 'New' });
      expect(ok.status, ok.text).toBe(200);
      expect(ok.json().ok).toBe(true);
    });
  });

  describe('a body over the limit gets its 413 (finding 8)', () => {
    const big = Buffer.alloc(10 * 1024 * 1024, 0x20);

    it('Expect: 100-continue over the limit is answered 413 without a 100', async () => {
      await settled();
      const before = await snapshot();
      for (const [path, type] of [
        ['/api/v1/records/stackflow/r-big', 'application/json'],
        ['/api/v1/records/stackflow/r-1/attachments', 'multipart/form-data; boundary=x'],
      ] as const) {
        const res = await send({
          method: path.endsWith('attachments') ? 'POST' : 'PUT',
          path,
          headers: { 'content-type': type, 'content-length': 30 * 1024 * 1024, expect: '100-continue' },
          // Headers only: a client that honours Expect waits for the 100 before sending.
          write: (req) => req.flushHeaders(),
        });
        expect(res.status, res.text).toBe(413);
        expect(res.continued).toBe(false);
        expect(res.json().error!.code).toBe('BODY_TOO_LARGE');
      }
      expect(await snapshot()).toEqual(before);
    });

    it('Expect: 100-continue within the limit still gets its 100', async () => {
      const body = Buffer.from(JSON.stringify({ kind: 'incident', title: 'Continue', status: 'new' }));
      const res = await send({
        method: 'PUT',
        path: '/api/v1/records/stackflow/r-continue',
        headers: { 'content-type': 'application/json', 'content-length': body.length, expect: '100-continue' },
        write: (req) => {
          req.flushHeaders();
          req.on('continue', () => req.end(body));
        },
      });
      expect(res.continued).toBe(true);
      expect(res.status, res.text).toBe(201);
    });

    it('a client that keeps sending 10 MB reads its 413, not a reset', async () => {
      await settled();
      const before = await snapshot();
      for (let i = 0; i < 5; i++) {
        const res = await send({
          method: 'PUT',
          path: '/api/v1/records/stackflow/r-big',
          headers: { 'content-type': 'application/json', 'content-length': big.length },
          body: big,
        });
        expect(res.status, res.text).toBe(413);
        expect(res.json().error!.code).toBe('BODY_TOO_LARGE');
        // Chunked, with no length announced.
        const chunked = await send({
          method: 'PUT',
          path: '/api/v1/records/stackflow/r-big',
          headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
          write: (req) => {
            for (let off = 0; off < big.length; off += 256 * 1024) req.write(big.subarray(off, off + 256 * 1024));
            req.end();
          },
        });
        expect(chunked.status, chunked.text).toBe(413);
      }
      const file = multipart([{ name: 'file', filename: 'huge.bin', content: Buffer.alloc(11 * 1024 * 1024, 1) }]);
      const up = await upload('r-1', file);
      expect(up.status, up.text).toBe(413);
      expect(await snapshot()).toEqual(before);
    });
  });
});
