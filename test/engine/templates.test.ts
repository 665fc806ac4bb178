import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plainText } from '../../src/engine/markup.js';
import { freshSqlite, type TestDb } from '../helpers/db.js';
import { secMapping } from './harness.js';
import { startInboundHarness, type InboundHarness } from './inbound-harness.js';

const SCOPE = 'astra-web';

/**
 * Issue 18 item 4: the issue's summary, description and the comment prefix rendered from the
 * record by the mapping's templates (Liquid) — ADF on Cloud, wiki markup on Data Center — with the
 * three-way compare on the rendered text.
 */
describe.each(['cloud', 'datacenter'] as const)('issue content from templates (%s)', (flavour) => {
  let db: TestDb;
  let h: InboundHarness;

  beforeAll(async () => {
    db = await freshSqlite();
    h = await startInboundHarness(db, {
      flavour,
      mappings: [
        secMapping({
          templates: {
            summary: '[{{ custom.asset | default: "no asset" }}] {{ title }}',
            description: [
              '**Asset:** {{ custom.asset }}',
              '{% if custom.location %}**Location:** {{ custom.location }}{% endif %}',
              '',
              '{% for l in labels %}* {{ l }}',
              '{% endfor %}',
              '{{ description | raw }}',
            ].join('\n'),
            comment_prefix: '_{{ comment.author }} on {{ host_id }}:_',
          },
        }),
      ],
    });
  });
  afterAll(async () => {
    await h?.close();
    await db?.cleanup();
  });

  const upsert = (hostId: string, over: Record<string, unknown> = {}) =>
    h.engine.records.upsertRecord({
      scope: SCOPE,
      hostId,
      kind: 'vulnerability',
      title: 'SQL injection in login',
      description: 'Found by the **nightly** scan.',
      status: 'open',
      severity: 'high',
      labels: ['web', 'auth'],
      custom: { asset: 'portal', location: 'eu-1' },
      ...over,
    });
  const linked = async (hostId: string, over: Record<string, unknown> = {}): Promise<string> => {
    await upsert(hostId, over);
    await h.settle();
    const r = await h.record(SCOPE, hostId);
    expect(r.sync.state, JSON.stringify(r.sync)).toBe('synced');
    return r.link!.issue_key!;
  };
  /** The description as Jira answers it: ADF (as JSON) on Cloud, the wiki markup string on Data Center. */
  const description = async (key: string): Promise<string> => {
    const d = (await h.alice.getIssue(key, { fields: ['description'] })).fields.description;
    return typeof d === 'string' ? d : JSON.stringify(d);
  };
  /** Its plain text (Cloud: the ADF's text). */
  const text = async (key: string): Promise<string> => {
    const d = (await h.alice.getIssue(key, { fields: ['description'] })).fields.description;
    return plainText(d);
  };

  it('a templated summary and description carry the record’s fields, custom values and labels in the flavour’s body format', async () => {
    const key = await linked('t-1');
    const issue = h.sandbox.state.issue(key)!;
    expect(issue.summary).toBe('[portal] SQL injection in login');
    const d = await description(key);
    if (flavour === 'cloud') {
      expect(d).toContain('"text":"Asset:","marks":[{"type":"strong"}]');
      expect(d).toContain('"type":"bulletList"');
      expect(d).toContain('"text":"nightly","marks":[{"type":"strong"}]'); // | raw: the host's Markdown
    } else {
      expect(d).toContain('*Asset:* portal');
      expect(d).toContain('*Location:* eu-1');
      expect(d).toMatch(/\* auth\n\* web/);
      expect(d).toContain('*nightly*');
    }
  });

  it('a record value cannot inject markup into the rendered description', async () => {
    const evil = '[click](http://evil.example) !http://evil.example/x.png! {color:red}x{color}';
    const key = await linked('t-evil', { custom: { asset: evil } });
    const d = await description(key);
    if (flavour === 'cloud') {
      expect(d).not.toContain('"type":"link"');
      expect(d).not.toContain('"type":"mediaSingle"');
      expect(d).toContain('"text":"click"');
    } else {
      expect(d).toContain('\\[click\\]\\(http\\://evil.example\\) \\!http\\://evil.example/x.png\\!');
      expect(d).toContain('\\{color:red\\}x\\{color\\}');
    }
  });

  it('a change that renders the same text writes nothing; one that changes it writes the description once', async () => {
    const key = await linked('t-same');
    const before = h.writes();
    // Severity is not in the templates: the rendered texts are the same (priority changes only).
    await upsert('t-same', { severity: 'low' });
    await h.settle();
    expect(h.sandbox.state.issue(key)!.changelog.some((c) => c.items.some((i) => i.field === 'description'))).toBe(
      false,
    );
    expect(h.writes() - before).toBe(1); // the priority edit
    await upsert('t-same', { severity: 'low', custom: { asset: 'portal', location: 'us-2' } });
    await h.settle();
    expect(await text(key)).toMatch(/Location:\*? us-2/);
    expect(
      h.sandbox.state.issue(key)!.changelog.filter((c) => c.items.some((i) => i.field === 'description')),
    ).toHaveLength(1);
  });

  it('a Jira edit of the rendered description is a Jira change: the record keeps its fields and says so, and Jira’s text stays', async () => {
    const key = await linked('t-jira');
    const rec0 = await h.record(SCOPE, 't-jira');
    const edited =
      flavour === 'cloud'
        ? {
            type: 'doc',
            version: 1,
            content: [{ type: 'paragraph', content: [{ type: 'text', text: 'Triaged: false positive' }] }],
          }
        : 'Triaged: false positive';
    await h.alice.editIssue(key, { fields: { description: edited as never } });
    await h.settle();
    const rec = await h.record(SCOPE, 't-jira');
    expect(rec.description).toBe(rec0.description);
    expect(rec.custom).toEqual(rec0.custom);
    expect(JSON.stringify(await h.engine.records.getLog(SCOPE, 't-jira'))).toContain(
      "rendered from the mapping's template (templates.description)",
    );
    expect(await text(key)).toContain('Triaged: false positive');
    // The host changes something the template does not show: Jira's edit is not overwritten.
    await upsert('t-jira', { severity: 'low' });
    await h.settle();
    expect(await text(key)).toContain('Triaged: false positive');
  });

  it('a host comment is posted under the mapping’s comment prefix', async () => {
    const key = await linked('t-comment');
    await h.engine.records.addComment(SCOPE, 't-comment', {
      author: 'Sam',
      body: 'Fixed in build 4711',
      hostCommentId: 'c1',
    });
    await h.settle();
    const comments = h.sandbox.state.issue(key)!.comments.map((c) => JSON.stringify(c.body));
    expect(comments).toHaveLength(1);
    expect(comments[0]).toContain('Sam on t-comment:');
    expect(comments[0]).toContain('Fixed in build 4711');
  });
});
