/**
 * The attacker's suite (issue 15): every operation of the running service's `/openapi.json`, tried
 * by every caller (no, garbage, revoked and expired tokens, each role, a scoped and an unscoped
 * host token) under every spelling of its path, with malformed, mistyped and oversized bodies and
 * hostile query and path values. Asserted: the README's access decision (an oracle written from the
 * README, not src/core/access.ts), the documented status and error shape, no 5xx, and that the
 * data did not change (tables and attachment files snapshotted around every refused request class).
 *
 * Runs on SQLite, and on PostgreSQL when it answers (skipped with the reason printed otherwise).
 * Each test collects every failing case and fails once, listing them all; a summary of requests per
 * class and the statuses answered is printed at the end.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgUnreachableReason, TEST_DATABASE_URL, type Engine } from '../helpers/db.js';
import { CALLERS, expectedAccess, OTHER_SCOPE, type Caller, type Expected } from './oracle.js';
import {
  exampleBody,
  instancesOf,
  isRead,
  operationsOf,
  spellingsOf,
  type Operation,
  type Schema,
} from './operations.js';
import { diffSnapshots, startWorld, type Answer, type Snapshot, type World } from './world.js';

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv,
) => Ajv;

const pgReason = await pgUnreachableReason();
if (pgReason !== null) {
  console.warn(
    `\n*** PostgreSQL at ${TEST_DATABASE_URL.replace(/\/\/[^@]*@/, '//***@')} is unreachable (${pgReason}): ` +
      `the PostgreSQL half of the hostile-input suite is SKIPPED. ***\n`,
  );
}

const MiB = 1024 * 1024;
/**
 * What a spelling of a path may answer instead of the plain path's answer: a refusal. (A spelling
 * can land on another route — `/records/./counts` is the record "counts" in scope "." — whose own
 * decision is then a refusal; never data the plain path would refuse.)
 */
const REFUSALS = new Set([400, 401, 403, 404, 405, 414]);

/** Requests and answers per class, per engine, for the closing summary. */
const summary = new Map<string, Map<string, Map<number, number>>>();
function count(engine: Engine, cls: string, status: number): void {
  const e = summary.get(engine) ?? new Map<string, Map<number, number>>();
  summary.set(engine, e);
  const c = e.get(cls) ?? new Map<number, number>();
  e.set(cls, c);
  c.set(status, (c.get(status) ?? 0) + 1);
}

afterAll(() => {
  const lines: string[] = ['\nhostile-input suite: requests per class and the statuses answered'];
  for (const [engine, classes] of summary) {
    let total = 0;
    lines.push(`  [${engine}]`);
    for (const [cls, statuses] of [...classes].sort((a, b) => a[0].localeCompare(b[0]))) {
      const n = [...statuses.values()].reduce((a, b) => a + b, 0);
      total += n;
      const by = [...statuses]
        .sort((a, b) => a[0] - b[0])
        .map(([s, k]) => `${s}×${k}`)
        .join(' ');
      lines.push(`    ${cls.padEnd(44)} ${String(n).padStart(6)}  ${by}`);
    }
    lines.push(`    ${'total'.padEnd(44)} ${String(total).padStart(6)}`);
  }
  console.log(lines.join('\n'));
});

/** `{error: {code, message}}` and nothing else (no data beside it). */
function errorShape(a: Answer): string | null {
  let body: unknown;
  try {
    body = JSON.parse(a.text);
  } catch {
    return `not JSON: ${a.text.slice(0, 80)}`;
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return `not an object: ${a.text.slice(0, 80)}`;
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== 'error') return `keys ${keys.join(',')} beside/instead of error`;
  const err = (body as { error: unknown }).error as Record<string, unknown> | null;
  if (!err || typeof err.code !== 'string' || typeof err.message !== 'string') return 'error without code/message';
  return null;
}

/** An accepted long string must come back whole, never cut (issue 15, finding 5). */
function cutShort(a: Answer, sent: number): string | null {
  for (const m of a.text.matchAll(/"(a{100,})"/g)) {
    if (m[1]!.length < sent)
      return `accepted and CUT: ${sent} characters sent, ${m[1]!.length} came back (${a.status})`;
  }
  return null;
}

const short = (a: Answer) => `${a.status} ${a.text.replace(/\s+/g, ' ').slice(0, 140)}`;
const routerNotFound = (a: Answer) => a.status === 404 && /"No route /.test(a.text);
const polluted = () =>
  (({}) as Record<string, unknown>).polluted !== undefined || ({} as Record<string, unknown>).hostile !== undefined;

/** OpenAPI 3.0's boolean exclusiveMinimum/Maximum and `nullable` as JSON Schema draft 7. */
function toDraft7(s: Schema): Schema {
  if (Array.isArray(s)) return s.map(toDraft7);
  if (!s || typeof s !== 'object') return s;
  const out: Schema = {};
  for (const [k, v] of Object.entries(s)) out[k] = typeof v === 'object' ? toDraft7(v as Schema) : v;
  for (const [ex, lim] of [
    ['exclusiveMinimum', 'minimum'],
    ['exclusiveMaximum', 'maximum'],
  ] as const) {
    if (out[ex] === true) {
      out[ex] = out[lim];
      delete out[lim];
    } else if (out[ex] === false) delete out[ex];
  }
  if (out.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  delete out.nullable;
  return out;
}

function ajvFor(): Ajv {
  const ajv = new Ajv({ coerceTypes: true, strict: false, allErrors: false });
  addFormats(ajv);
  return ajv;
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe.skipIf(engine === 'postgres' && pgReason !== null)(
    `hostile input against every operation [${engine}]`,
    () => {
      let w: World;
      let ops: Operation[] = [];
      let baseline: Snapshot;

      /** Compares with the last baseline; a change is a failure of `what`. Always re-baselines. */
      async function unchanged(what: string, failures: string[]): Promise<void> {
        const now = await w.snapshot();
        const diff = diffSnapshots(baseline, now);
        if (diff.length) failures.push(`${what}: DATA CHANGED (${diff.join('; ')})`);
        baseline = now;
      }
      /** After a request that may legitimately have changed data: let its jobs finish, re-baseline. */
      async function rebaseline(): Promise<void> {
        await w.quiesce();
        baseline = await w.snapshot();
      }
      const send = async (cls: string, method: string, path: string, opts: Parameters<World['send']>[2] = {}) => {
        const a = await w.send(method, path, opts);
        count(engine, cls, a.status);
        return a;
      };

      beforeAll(async () => {
        w = await startWorld(engine);
        const res = await w.send('GET', '/openapi.json');
        expect(res.status).toBe(200);
        ops = operationsOf(JSON.parse(res.text) as Schema);
        baseline = await w.snapshot();
      }, 120_000);
      afterAll(async () => {
        await w?.close();
      });

      it('enumerates every operation of /openapi.json, and has a valid example body for each that takes JSON', () => {
        expect(ops.length).toBeGreaterThan(40);
        const noExample = ops
          .filter((o) => o.jsonBody)
          .filter((o) => !exampleBody(w, o, instancesOf(w, o)[0]!.values))
          .map((o) => o.label);
        expect(noExample).toEqual([]);
      });

      it('access: every operation × every caller × every spelling of its path gets the README decision, nothing changes when refused', async () => {
        const failures: string[] = [];
        // Deleting routes last, so a hole in one does not take away what the others point at.
        const ordered = [...ops].sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
        for (const op of ordered) {
          for (const caller of CALLERS) {
            for (const [i, inst] of instancesOf(w, op).entries()) {
              const exp = expectedAccess(caller, op.method, op.template, inst.scope);
              const refused = exp.kind === 'deny' || exp.kind === 'signed';
              // Refused callers send what an attacker would (real ids, a valid body); allowed callers
              // of a writing operation send a harmless probe (ids that name nothing, a body the schema
              // refuses) that proves they got past access without changing anything.
              const probe = !refused && !isRead(op.method);
              const path = probe ? instancesOf(w, op, true)[i]!.path : inst.path;
              const opts: Parameters<World['send']>[2] = { caller };
              if (op.jsonBody) {
                opts.body = probe
                  ? JSON.stringify({ __hostile_probe__: true })
                  : JSON.stringify(exampleBody(w, op, inst.values)?.body ?? {});
              } else if (op.multipart && !probe) {
                const b = `----hostile${Math.random().toString(16).slice(2)}`;
                opts.contentType = `multipart/form-data; boundary=${b}`;
                opts.body = Buffer.from(
                  `--${b}\r\nContent-Disposition: form-data; name="file"; filename="evil.txt"\r\n` +
                    `Content-Type: text/plain\r\n\r\nattacker bytes\r\n--${b}--\r\n`,
                );
              } else if (!isRead(op.method) && op.template.startsWith('/webhooks/')) {
                opts.body = JSON.stringify({ webhookEvent: 'jira:issue_updated', issue: { id: '1', key: 'OPS-1' } });
              }
              const cls = `access: ${caller}`;
              const where = `${op.label}${inst.note ? ` [${inst.note}]` : ''} as ${caller}`;
              const plain = await send(cls, op.method, path, opts);
              const verdict = judge(exp, plain);
              if (verdict) failures.push(`${where}: ${verdict}`);
              const denied = (x: number) => x === 401 || x === 403;
              const t = w.tokens.admin!;
              const sep = path.includes('?') ? '&' : '?';
              const [spelled, extra] = await Promise.all([
                Promise.all(
                  spellingsOf(path).map(async (s) => ({
                    s,
                    a: await send(`path spelling: ${caller}`, op.method, s.path, opts),
                  })),
                ),
                Promise.all([
                  // HEAD of a read gets the same decision as its GET (fastify answers HEAD for every GET).
                  op.method !== 'GET'
                    ? null
                    : send(`HEAD: ${caller}`, 'HEAD', path, opts).then((head) => {
                        const same = refused
                          ? head.status === plain.status
                          : denied(head.status) === denied(plain.status);
                        if (head.status >= 500 || !same)
                          failures.push(`${where} as HEAD: answered ${head.status}, the GET ${plain.status}`);
                        return head;
                      }),
                  // An API token is taken from the Authorization header only, never from the query
                  // or as Basic credentials.
                  caller !== 'none'
                    ? null
                    : send(
                        'access: admin token in the query',
                        op.method,
                        `${path}${sep}access_token=${t}&token=${t}&api_key=${t}`,
                        opts,
                      ).then((a) => {
                        const v = judge(exp, a);
                        if (v) failures.push(`${where} with the admin token in the query: ${v}`);
                        return a;
                      }),
                  caller !== 'none'
                    ? null
                    : send('access: token as Basic credentials', op.method, path, {
                        ...opts,
                        headers: { authorization: `Basic ${Buffer.from(`x:${t}`).toString('base64')}` },
                      }).then((a) => {
                        const v = judge(exp, a);
                        if (v) failures.push(`${where} with the admin token as Basic credentials: ${v}`);
                        return a;
                      }),
                ]),
              ]);
              for (const { s, a } of spelled) {
                if (a.status >= 500) failures.push(`${where} spelled "${s.path}" (${s.name}): 5xx ${short(a)}`);
                else if (refused && a.status < 400)
                  failures.push(`${where} spelled "${s.path}" (${s.name}): DATA WITHOUT THE RIGHT ${short(a)}`);
                else if (!REFUSALS.has(a.status) && a.status !== plain.status)
                  failures.push(
                    `${where} spelled "${s.path}" (${s.name}): answered ${short(a)}, the plain path ${plain.status} (expected a refusal or the same)`,
                  );
                else if (a.status >= 400 && errorShape(a) && op.template.startsWith('/api/'))
                  failures.push(`${where} spelled "${s.path}" (${s.name}): error shape: ${errorShape(a)}`);
              }
              const answers = [plain, ...spelled.map((x) => x.a), ...extra.filter((a): a is Answer => a !== null)];
              if (refused || isRead(op.method) || answers.every((a) => a.status >= 400)) {
                await unchanged(where, failures);
              } else {
                await rebaseline();
              }
            }
          }
        }
        expect(failures).toEqual([]);
      }, 300_000);

      it('bodies: malformed, mistyped, incomplete, unknown fields, oversized, invalid UTF-8, deep: a 4xx naming the field, no 5xx, nothing changed', async () => {
        const failures: string[] = [];
        const jsonOps = ops.filter((o) => o.jsonBody);
        for (const op of jsonOps) {
          const inst = instancesOf(w, op)[0]!;
          const ex = exampleBody(w, op, inst.values);
          if (!ex) continue; // reported by the enumeration test
          const props = (op.jsonBody?.properties ?? {}) as Record<string, Schema>;
          const fields = [...new Set([...Object.keys(ex.body), ...Object.keys(props)])];
          type Case = {
            cls: string;
            what: string;
            body: string | Buffer;
            contentType?: string;
            expect: (a: Answer) => string | null;
          };
          const mustBe = (statuses: number[], names?: string | RegExp) => (a: Answer) => {
            if (!statuses.includes(a.status)) return `answered ${short(a)}, expected ${statuses.join('/')}`;
            const shape = errorShape(a);
            if (shape) return `error shape: ${shape}`;
            if (names !== undefined) {
              const err = JSON.stringify((JSON.parse(a.text) as { error: unknown }).error);
              const ok = typeof names === 'string' ? err.includes(names) : names.test(err);
              if (!ok) return `the error does not name ${String(names)}: ${short(a)}`;
            }
            return null;
          };
          const valid = JSON.stringify(ex.body);
          const cases: Case[] = [
            {
              cls: 'body: malformed JSON',
              what: 'truncated JSON',
              body: valid.slice(0, -3),
              expect: mustBe([400], /body/i),
            },
            {
              cls: 'body: malformed JSON',
              what: 'not JSON at all',
              body: 'hostile=1&x=2',
              expect: mustBe([400], /body/i),
            },
            { cls: 'body: malformed JSON', what: 'empty body', body: '', expect: mustBe([400]) },
            {
              cls: 'body: wrong content-type',
              what: 'text/plain',
              body: valid,
              contentType: 'text/plain',
              expect: mustBe([400, 415]),
            },
            {
              cls: 'body: wrong content-type',
              what: 'application/x-www-form-urlencoded',
              body: 'name=x&role=admin',
              contentType: 'application/x-www-form-urlencoded',
              expect: mustBe([400, 415]),
            },
            {
              cls: 'body: wrong content-type',
              what: 'application/xml',
              body: '<a/>',
              contentType: 'application/xml',
              expect: mustBe([400, 415]),
            },
            ...['[]', '[{}]', '1', '-1e999', 'null', '"string"', 'true'].map((b) => ({
              cls: 'body: wrong JSON type',
              what: `top-level ${b}`,
              body: b,
              expect: mustBe([400]),
            })),
            {
              cls: 'body: unknown field',
              what: 'unknown field __hostile_unknown',
              body: JSON.stringify({ ...ex.body, __hostile_unknown: 1 }),
              expect: mustBe([400], '__hostile_unknown'),
            },
            {
              cls: 'body: prototype pollution',
              what: '__proto__ field',
              body: `{"__proto__":{"polluted":1},${valid.slice(1)}`,
              // Refused as a whole (the body parser's own refusal) or naming the field.
              expect: mustBe([400], /__proto__|body/),
            },
            {
              cls: 'body: prototype pollution',
              what: 'constructor.prototype field',
              body: `{"constructor":{"prototype":{"polluted":1}},${valid.slice(1)}`,
              expect: mustBe([400], /constructor|body/),
            },
            ...ex.required.map((f) => {
              const { [f]: _gone, ...rest } = ex.body;
              return {
                cls: 'body: required field missing',
                what: `without ${f}`,
                body: JSON.stringify(rest),
                expect: mustBe([400], f),
              };
            }),
            ...fields.map((f) => {
              const v = ex.body[f] ?? (props[f]?.type === 'string' ? 'x' : undefined);
              const wrong =
                typeof v === 'string'
                  ? 12345
                  : typeof v === 'number'
                    ? 'not-a-number'
                    : typeof v === 'boolean'
                      ? 'yes'
                      : Array.isArray(v)
                        ? { not: 'an array' }
                        : v && typeof v === 'object'
                          ? 'not-an-object'
                          : 12345;
              return {
                cls: 'body: field mistyped',
                what: `${f}: ${JSON.stringify(wrong)}`,
                body: JSON.stringify({ ...ex.body, [f]: wrong }),
                expect: mustBe([400], f),
              };
            }),
            ...fields
              .filter((f) => typeof ex.body[f] === 'string')
              .flatMap((f) =>
                [201, 10_001].map((n) => {
                  const max = props[f]?.maxLength as number | undefined;
                  return {
                    cls: `body: string of ${n === 201 ? '201' : '10,001'} chars`,
                    what: `${f} of ${n} characters${max !== undefined ? ` (documented max ${max})` : ''}`,
                    body: JSON.stringify({ ...ex.body, [f]: 'a'.repeat(n) }),
                    expect:
                      max !== undefined && n > max
                        ? mustBe([400], f)
                        : (a: Answer) => (a.status >= 400 ? errorShape(a) : cutShort(a, n)),
                  };
                }),
              ),
            ...fields
              .filter((f) => typeof ex.body[f] === 'string')
              .map((f) => ({
                cls: 'body: string over 1 MiB',
                what: `${f} of 1 MiB + 1`,
                body: JSON.stringify({ ...ex.body, [f]: 'a'.repeat(MiB + 1) }),
                expect: mustBe([413]),
              })),
            ...fields
              .filter((f) => typeof ex.body[f] === 'string')
              .slice(0, 2)
              .map((f) => ({
                cls: 'body: invalid UTF-8',
                what: `bytes FF FE C3 28 in ${f}`,
                body: Buffer.concat([
                  Buffer.from(JSON.stringify({ ...ex.body, [f]: 'XX-HOSTILE-XX' }).split('XX-HOSTILE-XX')[0]!),
                  Buffer.from([0x61, 0xff, 0xfe, 0xc3, 0x28, 0x62]),
                  Buffer.from(JSON.stringify({ ...ex.body, [f]: 'XX-HOSTILE-XX' }).split('XX-HOSTILE-XX')[1]!),
                ]),
                expect: mustBe([400], /body|utf-?8/i),
              })),
            ...fields
              .filter((f) => typeof ex.body[f] === 'string')
              .map((f) => ({
                cls: 'body: NUL character',
                what: `\\u0000 in ${f}`,
                body: JSON.stringify({ ...ex.body, [f]: 'a\u0000b' }),
                // Stored as sent or refused naming the field; the same on both engines, never a 5xx.
                expect: (a: Answer) => (a.status >= 400 ? errorShape(a) : null),
              })),
            {
              cls: 'body: deeply nested',
              what: '10,000 nested arrays',
              body: '['.repeat(10_000) + ']'.repeat(10_000),
              expect: mustBe([400]),
            },
            {
              cls: 'body: deeply nested',
              what: '5,000 nested objects in a known field',
              body: JSON.stringify({ ...ex.body, [fields[0]!]: 'DEEP' }).replace(
                '"DEEP"',
                '{"a":'.repeat(5000) + '1' + '}'.repeat(5000),
              ),
              expect: mustBe([400]),
            },
            {
              cls: 'body: over the 1 MiB limit',
              what: '1.5 MiB of JSON',
              body: JSON.stringify({ ...ex.body, __padding: 'p'.repeat(MiB + MiB / 2) }),
              expect: mustBe([413]),
            },
          ];
          for (const c of cases) {
            const a = await send(c.cls, op.method, inst.path, {
              caller: 'admin',
              body: c.body,
              ...(c.contentType ? { contentType: c.contentType } : {}),
            });
            const where = `${op.label} [${c.cls}] ${c.what}`;
            if (a.status >= 500) failures.push(`${where}: 5xx ${short(a)}`);
            else {
              const v = c.expect(a);
              if (v) failures.push(`${where}: ${v}`);
            }
            if (polluted()) failures.push(`${where}: Object.prototype POLLUTED in the service's process`);
            if (a.status >= 400) await unchanged(where, failures);
            else await rebaseline();
          }
        }

        // Operations that take no body: whatever arrives is refused or ignored, never a 5xx, and a
        // refusal changes nothing. The webhook intake without a signature never accepts it.
        for (const op of ops.filter((o) => !o.jsonBody && !o.multipart && !isRead(o.method))) {
          const signed = op.template.startsWith('/webhooks/');
          const inst = signed ? instancesOf(w, op)[0]! : instancesOf(w, op, true)[0]!;
          const caller: Caller = signed ? 'none' : 'admin';
          const bodies: Array<[string, string | Buffer, string]> = [
            ['body: malformed JSON', '{"a":', 'application/json'],
            ['body: wrong JSON type', '[[[]]]', 'application/json'],
            ['body: invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), 'application/json'],
            ['body: deeply nested', '['.repeat(10_000) + ']'.repeat(10_000), 'application/json'],
            ['body: wrong content-type', 'a=1', 'application/x-www-form-urlencoded'],
            ['body: over the 1 MiB limit', JSON.stringify({ p: 'p'.repeat(MiB + MiB / 2) }), 'application/json'],
          ];
          for (const [cls, body, contentType] of bodies) {
            const a = await send(cls, op.method, inst.path, { caller, body, contentType });
            const where = `${op.label} [${cls}] (takes no body)`;
            if (a.status >= 500) failures.push(`${where}: 5xx ${short(a)}`);
            else if (signed && a.status < 400)
              failures.push(`${where}: an unsigned delivery was accepted: ${short(a)}`);
            else if (a.status >= 400 && op.template.startsWith('/api/')) {
              const shape = errorShape(a);
              if (shape) failures.push(`${where}: error shape: ${shape}`);
            }
            if (a.status >= 400) await unchanged(where, failures);
            else await rebaseline();
          }
        }
        expect(failures).toEqual([]);
      }, 300_000);

      it('multipart uploads: no boundary, truncated, no file, wrong type, missing record, over-long ids: a 4xx, nothing kept', async () => {
        const failures: string[] = [];
        for (const op of ops.filter((o) => o.multipart)) {
          const real = instancesOf(w, op)[0]!;
          const missing = instancesOf(w, op, true)[0]!;
          const b = '----hostileboundary1234';
          const part = (name: string, value: string | Buffer, filename?: string) =>
            Buffer.concat([
              Buffer.from(
                `--${b}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"` : ''}\r\n` +
                  `${filename ? 'Content-Type: application/octet-stream\r\n' : ''}\r\n`,
              ),
              Buffer.isBuffer(value) ? value : Buffer.from(value),
              Buffer.from('\r\n'),
            ]);
          const form = (...parts: Buffer[]) => Buffer.concat([...parts, Buffer.from(`--${b}--\r\n`)]);
          const file = part('file', 'hostile bytes', 'evil.txt');
          const ct = `multipart/form-data; boundary=${b}`;
          const cases: Array<{
            what: string;
            path: string;
            body: Buffer | string;
            contentType: string;
            ok: number[];
            names?: RegExp;
          }> = [
            { what: 'no boundary', path: real.path, body: form(file), contentType: 'multipart/form-data', ok: [400] },
            { what: 'truncated body', path: real.path, body: form(file).subarray(0, 60), contentType: ct, ok: [400] },
            {
              what: 'a field and no file',
              path: real.path,
              body: form(part('host_attachment_id', 'x')),
              contentType: ct,
              ok: [400],
            },
            {
              what: 'JSON instead of multipart',
              path: real.path,
              body: '{"file":"x"}',
              contentType: 'application/json',
              ok: [400, 415],
            },
            {
              what: 'to a record that does not exist',
              path: missing.path,
              body: form(file),
              contentType: ct,
              ok: [404],
            },
            ...[201, 10_001].map((n) => ({
              what: `host_attachment_id of ${n} characters`,
              path: real.path,
              body: form(part('host_attachment_id', 'h'.repeat(n)), file),
              contentType: ct,
              ok: [400],
              names: /host_attachment_id/,
            })),
            {
              what: 'host_attachment_id of 2 MB',
              path: real.path,
              body: form(part('host_attachment_id', 'h'.repeat(2_000_000)), file),
              contentType: ct,
              ok: [400, 413],
            },
            {
              what: 'host_attachment_id with invalid UTF-8',
              path: real.path,
              body: form(part('host_attachment_id', Buffer.from([0x68, 0xff, 0xfe, 0x68])), file),
              contentType: ct,
              ok: [400],
            },
            {
              what: 'a filename with path traversal and NUL',
              path: missing.path,
              body: form(part('file', 'x', '../../../etc/passwd\u0000.txt')),
              contentType: ct,
              ok: [400, 404],
            },
          ];
          for (const c of cases) {
            const a = await send('multipart', op.method, c.path, {
              caller: 'admin',
              body: c.body,
              contentType: c.contentType,
            });
            const where = `${op.label} [multipart] ${c.what}`;
            if (a.status >= 500) failures.push(`${where}: 5xx ${short(a)}`);
            else if (!c.ok.includes(a.status))
              failures.push(`${where}: answered ${short(a)}, expected ${c.ok.join('/')}`);
            else {
              const shape = errorShape(a);
              if (shape) failures.push(`${where}: error shape: ${shape}`);
              else if (c.names && !c.names.test(a.text))
                failures.push(`${where}: the error does not name ${String(c.names)}: ${short(a)}`);
            }
            if (a.status >= 400) await unchanged(where, failures);
            else await rebaseline();
          }
        }
        expect(failures).toEqual([]);
      }, 120_000);

      it('query and path values: arrays, huge, negative, NaN, unicode, __proto__: a 4xx naming the parameter when outside its schema, never a 5xx', async () => {
        const failures: string[] = [];
        const ajv = ajvFor();
        const hostile: Array<[string, string | string[]]> = [
          ['array', ['1', '2']],
          ['huge number', '99999999999999999999999'],
          ['negative', '-1'],
          ['NaN', 'NaN'],
          ['fraction', '1.5'],
          ['unicode', 'ü🙂\u202eevil'],
          ['NUL byte', 'a\u0000b'],
          ['__proto__', '__proto__'],
          ['10,000 characters', 'q'.repeat(10_000)],
        ];
        for (const op of ops.filter((o) => isRead(o.method))) {
          const inst = instancesOf(w, op)[0]!;
          const base = inst.path.split('?')[0]!;
          const api = op.template.startsWith('/api/');
          const caller: Caller = api ? 'admin' : 'none';
          const check = async (cls: string, what: string, path: string, expectNamed: string | null) => {
            const a = await send(cls, op.method, path, { caller });
            const where = `${op.label} [${cls}] ${what}`;
            if (a.status >= 500) failures.push(`${where}: 5xx ${short(a)}`);
            else if (expectNamed !== null) {
              if (a.status !== 400) failures.push(`${where}: answered ${short(a)}, expected 400 naming ${expectNamed}`);
              else if (api && errorShape(a)) failures.push(`${where}: error shape: ${errorShape(a)}`);
              else if (!a.text.includes(expectNamed))
                failures.push(`${where}: the error does not name ${expectNamed}: ${short(a)}`);
            } else if (a.status >= 400 && api && errorShape(a))
              failures.push(`${where}: error shape: ${errorShape(a)}`);
            if (polluted()) failures.push(`${where}: Object.prototype POLLUTED in the service's process`);
          };
          for (const p of op.params.filter((x) => x.in === 'query')) {
            const validate = ajv.compile({ type: 'object', properties: { v: toDraft7(p.schema) } });
            for (const [name, v] of hostile) {
              const qs = (Array.isArray(v) ? v : [v])
                .map((x) => `${encodeURIComponent(p.name)}=${encodeURIComponent(x)}`)
                .join('&');
              const inside = validate({ v: Array.isArray(v) ? [...v] : v });
              await check(
                `query: ${name}`,
                `${p.name}=${JSON.stringify(v).slice(0, 40)}`,
                `${base}?${qs}`,
                inside ? null : p.name,
              );
            }
          }
          for (const [what, qs] of [
            ['__proto__[polluted]', '__proto__[polluted]=1&__proto__.hostile=1'],
            ['constructor[prototype]', 'constructor[prototype][polluted]=1'],
            ['__proto__ key', '__proto__=1'],
            ['unknown parameter', 'hostile_unknown=1'],
          ] as const) {
            await check('query: prototype keys / unknown', what, `${base}?${qs}`, null);
          }
          for (const p of op.params.filter((x) => x.in === 'path')) {
            for (const [name, raw] of [
              ['201 characters', 'p'.repeat(201)],
              ['10,000 characters', 'p'.repeat(10_000)],
              ['NUL', '%00'],
              ['invalid UTF-8', '%FF%FE'],
              ['encoded dot-dot', '%2E%2E'],
              ['encoded slash', 'a%2Fb'],
              ['unicode', encodeURIComponent('ü🙂\u202e')],
              ['__proto__', '__proto__'],
              ['constructor', 'constructor'],
            ] as const) {
              const path = op.template
                .replace(`{${p.name}}`, raw)
                .replace(/\{(\w+)\}/g, (_m, n: string) => encodeURIComponent(inst.values[n] ?? 'x'));
              await check(`path parameter: ${name}`, `${p.name}=${raw.slice(0, 20)}`, path, null);
            }
          }
        }
        await unchanged('query and path values (all GET)', failures);
        expect(failures).toEqual([]);
      }, 300_000);

      it('over a real socket: a 10 MB body gets its 413 (not a reset), Expect: 100-continue gets the 413 instead of 100', async () => {
        const failures: string[] = [];
        const { port } = new URL(w.svc.url);
        const raw = (head: string, bodyBytes: number, opts: { waitForAnswerFirst?: boolean } = {}) =>
          new Promise<{ statusLine: string; error?: string }>((resolve) => {
            const sock = connect(Number(port), '127.0.0.1');
            let got = '';
            let error: string | undefined;
            const done = () =>
              resolve({
                // The first answer counts: a 100 Continue to a body that is over the limit is the bug.
                statusLine: got.split('\r\n')[0] ?? '',
                ...(error ? { error } : {}),
              });
            sock.setTimeout(15_000, () => {
              error = 'timeout';
              sock.destroy();
            });
            sock.on('data', (d) => {
              got += d.toString('latin1');
              if (/^HTTP\/1\.1 (?!100)\d{3}/m.test(got) && got.includes('\r\n\r\n')) sock.end();
            });
            sock.on('error', (e) => {
              error = (e as NodeJS.ErrnoException).code ?? e.message;
            });
            sock.on('close', done);
            sock.write(head);
            if (!opts.waitForAnswerFirst) {
              const chunk = Buffer.alloc(64 * 1024, 0x61);
              let sent = 0;
              const pump = () => {
                while (sent < bodyBytes && !sock.destroyed) {
                  sent += chunk.length;
                  if (!sock.write(chunk)) return void sock.once('drain', pump);
                }
              };
              pump();
            }
          });
        const targets = ops.filter((o) => o.jsonBody);
        for (const op of targets) {
          const path = instancesOf(w, op)[0]!.path;
          const head = (n: number, extra = '') =>
            `${op.method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${w.tokens.admin}\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${n}\r\n${extra}\r\n`;
          const ten = 10 * MiB;
          const cases = [
            { cls: 'socket: 10 MB body sent in full', r: () => raw(head(ten), ten) },
            {
              cls: 'socket: Expect: 100-continue, 10 MB',
              r: () => raw(head(ten, 'Expect: 100-continue\r\n'), 0, { waitForAnswerFirst: true }),
            },
          ];
          // Node's own HTTP client sending the whole 10 MB: it must read the 413, not die on a reset.
          const nodeClient = await new Promise<{ status: number; error: string }>((resolve) => {
            const req = request(
              {
                host: '127.0.0.1',
                port: Number(port),
                method: op.method,
                path,
                agent: false,
                headers: {
                  authorization: `Bearer ${w.tokens.admin}`,
                  'content-type': 'application/json',
                  'content-length': ten,
                },
              },
              (res) => {
                res.resume();
                res.on('end', () => resolve({ status: res.statusCode ?? 0, error: '' }));
              },
            );
            req.on('error', (e: NodeJS.ErrnoException) => resolve({ status: 0, error: e.code ?? e.message }));
            req.end(Buffer.alloc(ten, 0x61));
          });
          count(engine, 'socket: 10 MB body from node:http', nodeClient.status);
          if (nodeClient.status !== 413)
            failures.push(
              `${op.label} [socket: 10 MB body from node:http]: ${nodeClient.status ? `answered ${nodeClient.status}` : `no answer (${nodeClient.error})`}, expected 413`,
            );
          // An ordinary HTTP client sending the whole 10 MB: it must read the 413, not die on a reset.
          const client = await w
            .send(op.method, path, { caller: 'admin', body: Buffer.alloc(ten, 0x61) })
            .then((a) => ({ status: a.status, error: '' }))
            .catch((e: unknown) => ({ status: 0, error: String((e as { code?: string }).code ?? e) }));
          count(engine, 'socket: 10 MB body from an HTTP client', client.status);
          if (client.status !== 413)
            failures.push(
              `${op.label} [socket: 10 MB body from an HTTP client]: ${client.status ? `answered ${client.status}` : `no answer (${client.error})`}, expected 413`,
            );
          for (const c of cases) {
            const r = await c.r();
            const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(r.statusLine)?.[1] ?? 0);
            count(engine, c.cls, status);
            if (status !== 413)
              failures.push(
                `${op.label} [${c.cls}]: answered "${r.statusLine || '(nothing)'}"${r.error ? ` (${r.error})` : ''}, expected 413`,
              );
          }
          await unchanged(`${op.label} [socket]`, failures);
        }
        expect(failures).toEqual([]);
      }, 300_000);

      it('no refused caller ever sees another scope: the scoped host token gets nothing of scope payroll', async () => {
        const failures: string[] = [];
        for (const op of ops.filter(
          (o) => isRead(o.method) && (o.template.startsWith('/api/v1/records') || o.template === '/api/v1/changes'),
        )) {
          for (const inst of instancesOf(w, op)) {
            const a = await send('access: host-scoped (scope leak)', 'GET', inst.path, { caller: 'host-scoped' });
            if (a.status < 300 && (a.text.includes(w.seeded.payRecord) || a.text.includes(`"${OTHER_SCOPE}"`)))
              failures.push(
                `${op.label} [${inst.note}] as host-scoped: answered ${a.status} with scope ${OTHER_SCOPE}'s data`,
              );
          }
        }
        expect(failures).toEqual([]);
      });
    },
  );
}

/** Does an answer on the plain path match the README's decision? null when it does. */
function judge(exp: Expected, a: Answer): string | null {
  if (a.status >= 500) return `5xx ${short(a)}`;
  switch (exp.kind) {
    case 'deny': {
      if (a.status !== exp.status) return `answered ${short(a)}, expected ${exp.status}`;
      const shape = errorShape(a);
      return shape ? `error shape: ${shape}` : null;
    }
    case 'signed': {
      if (a.status !== 401 && a.status !== 403) return `unsigned delivery answered ${short(a)}, expected 401/403`;
      const shape = errorShape(a);
      return shape ? `error shape: ${shape}` : null;
    }
    case 'allow':
      if (a.status === 401 || a.status === 403) return `refused (${short(a)}) what the README allows`;
      if (routerNotFound(a)) return `no such route: ${short(a)}`;
      return null;
    case 'allow-within-scope':
      if (a.status === 401) return `answered ${short(a)}`;
      if (a.status === 403) return errorShape(a) ? `error shape: ${errorShape(a)}` : null;
      if (a.text.includes('hs-pay-1') || a.text.includes(`"${OTHER_SCOPE}"`))
        return `answered ${a.status} with another scope's data`;
      return null;
  }
}
