/**
 * Property-based fuzzing of everything that parses input from outside: the webhook parser, the
 * text converters (ADF, wiki markup, Markdown), the sandbox's JQL, and the HTTP API's record and
 * webhook endpoints. Bounded case counts so CI stays fast; the properties: no crash other than a
 * catalogued error, never a 500, output always of the promised type.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/core/errors.js';
import { markdownToJiraBody } from '../../src/engine/markup.js';
import { adfToMarkdown, canonicalMarkdown, jiraTextToMarkdown, wikiToMarkdown } from '../../src/engine/markup-in.js';
import { JqlError, parseJql } from '../../src/sandbox/jql/index.js';
import { sign } from '../../src/webhooks/verify.js';
import { parseDelivery } from '../../src/webhooks/parse.js';
import { freshSqlite, type TestDb } from '../helpers/db.js';
import { startInboundHarness, WEBHOOK_SECRET, type InboundHarness } from '../engine/inbound-harness.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

/** ADF-shaped trees with arbitrary node types, attrs and marks. */
const adfNode: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.record(
    {
      type: fc.oneof(
        fc.constantFrom(
          'doc',
          'paragraph',
          'text',
          'heading',
          'bulletList',
          'listItem',
          'codeBlock',
          'table',
          'mention',
          'status',
          'panel',
          'media',
          'emoji',
          'inlineCard',
        ),
        fc.string(),
      ),
      text: fc.string(),
      attrs: fc.dictionary(fc.string(), fc.jsonValue()),
      marks: fc.array(
        fc.record({ type: fc.constantFrom('strong', 'em', 'link', 'code', 'weird'), attrs: fc.object() }),
        { maxLength: 2 },
      ),
      content: fc.array(tie('node'), { maxLength: 4 }),
    },
    { requiredKeys: ['type'] },
  ),
})).node;

describe('fuzzing the parsers and converters', () => {
  it('parseDelivery: any bytes either parse or fail with a catalogued 400', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))),
        ),
        (raw) => {
          try {
            const d = parseDelivery(raw, {});
            expect(typeof d.rawEvent).toBe('string');
            expect(typeof d.identifier).toBe('string');
          } catch (err) {
            expect(isAppError(err)).toBe(true);
            expect((err as { status: number }).status).toBe(400);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('Jira text → Markdown never throws and always returns a string (ADF trees, wiki, junk)', () => {
    fc.assert(
      fc.property(fc.oneof(adfNode, fc.string(), fc.jsonValue()), (v) => {
        expect(typeof jiraTextToMarkdown(v, 'cloud')).toBe('string');
        expect(typeof adfToMarkdown({ type: 'doc', version: 1, content: [v] })).toBe('string');
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 400 }), (s) => {
        expect(typeof wikiToMarkdown(s)).toBe('string');
      }),
      { numRuns: RUNS },
    );
  });

  it('Markdown → Jira and back never throws, for both flavours', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.constantFrom('cloud' as const, 'datacenter' as const), (md, f) => {
        markdownToJiraBody(md, f);
        expect(typeof canonicalMarkdown(md, f)).toBe('string');
      }),
      { numRuns: RUNS },
    );
  });

  it('the sandbox JQL parser answers every string with a query or a JqlError', () => {
    const jqlish = fc.array(
      fc.oneof(
        fc.constantFrom(
          'project',
          '=',
          'AND',
          'OR',
          'NOT',
          '(',
          ')',
          '"SEC"',
          'in',
          ',',
          'updated',
          '>=',
          '-5m',
          'ORDER BY',
          'ASC',
          'labels',
          'EMPTY',
          'status',
          '~',
          'cf[10010]',
          '!=',
          'was',
          'now()',
        ),
        fc.string({ maxLength: 6 }),
      ),
      { maxLength: 12 },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 120 }),
          jqlish.map((t) => t.join(' ')),
        ),
        (q) => {
          try {
            parseJql(q);
          } catch (err) {
            expect(err).toBeInstanceOf(JqlError);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('fuzzing the HTTP API: never a 500', () => {
  let db: TestDb;
  let h: InboundHarness;
  beforeAll(async () => {
    db = await freshSqlite();
    h = await startInboundHarness(db, { events: [] });
  });
  afterAll(async () => {
    await h.close();
    await db.cleanup();
  });

  it('signed webhook bodies of any shape get 2xx or 400, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue(),
          fc.record({
            webhookEvent: fc.oneof(fc.constantFrom('jira:issue_updated', 'comment_created'), fc.string()),
            issue: fc.jsonValue(),
            comment: fc.jsonValue(),
            user: fc.jsonValue(),
          }),
        ),
        async (v) => {
          const raw = JSON.stringify(v) ?? 'null';
          const res = await fetch(h.intakeUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-hub-signature': sign(WEBHOOK_SECRET, raw) },
            body: raw,
          });
          expect(res.status === 200 || res.status === 202 || res.status === 400).toBe(true);
          await res.arrayBuffer();
        },
      ),
      { numRuns: Math.min(RUNS, 150) },
    );
    await h.drain();
    const dead = await db.store.db.selectFrom('jobs').select('id').where('state', '=', 'dead').execute();
    expect(dead).toEqual([]);
  });
});
