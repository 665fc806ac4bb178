import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeText } from '../../src/engine/desired.js';
import { markdownToJiraBody } from '../../src/engine/markup.js';
import { adfToMarkdown, canonicalMarkdown, jiraTextToMarkdown, wikiToMarkdown } from '../../src/engine/markup-in.js';

describe('Jira text → Markdown (the return path)', () => {
  it('ADF with nodes Markdown lacks becomes readable text, never an exception', () => {
    const doc = {
      type: 'doc',
      version: 1,
      content: [
        {
          type: 'panel',
          attrs: { panelType: 'info' },
          content: [
            {
              type: 'paragraph',
              content: [
                { type: 'status', attrs: { text: 'DONE' } },
                { type: 'text', text: ' by ' },
                { type: 'mention', attrs: { id: 'x', text: '@Alice' } },
                { type: 'text', text: ' ' },
                { type: 'emoji', attrs: { shortName: ':tada:', text: '🎉' } },
                { type: 'text', text: ' see ' },
                { type: 'inlineCard', attrs: { url: 'https://example.com/x' } },
              ],
            },
          ],
        },
        { type: 'mediaSingle', content: [{ type: 'media', attrs: { id: '1', type: 'file' } }] },
        { type: 'someFutureNode', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'kept' }] }] },
      ],
    };
    const md = adfToMarkdown(doc);
    expect(md).toContain('DONE by @Alice 🎉 see <https://example.com/x>');
    expect(md).toContain('kept');
    for (const junk of [null, undefined, '', 42, [], { type: 'doc' }, { type: 'doc', content: 'x' }]) {
      expect(() => jiraTextToMarkdown(junk, 'cloud')).not.toThrow();
    }
  });

  it('wiki markup (Data Center, webhook bodies) → Markdown', () => {
    expect(
      wikiToMarkdown('h1. Title\n*bold* _it_ {{code}}\n* a\n* b\n{code:java}\nint x;\n{code}\n[link|http://x.y]'),
    ).toBe('# Title\n**bold** _it_ `code`\n* a\n* b\n```java\nint x;\n```\n[link](http://x.y)');
    expect(jiraTextToMarkdown('plain', 'cloud')).toBe('plain');
  });

  const samples = [
    'p99 over **2 s**\n\n- item one\n- item two',
    '# Title\n\nSome _em_ and `code` and [a link](https://x.y/z)',
    '1. one\n2. two\n\n```js\nconst a = 1;\n```',
    '> quote\n\n---\n\ntext',
    '| a | b |\n|---|---|\n| 1 | 2 |',
  ];
  it.each(samples)('the round trip through both flavours is stable: %j', (md) => {
    for (const f of ['cloud', 'datacenter'] as const) {
      const once = canonicalMarkdown(md, f);
      expect(canonicalMarkdown(once, f)).toBe(once);
      expect(normalizeText(jiraTextToMarkdown(markdownToJiraBody(md, f), f))).toBe(once);
    }
  });

  it('property: canonical form is a fixed point for generated documents (no sync loops on text)', () => {
    const word = fc.constantFrom('alpha', 'beta', 'gamma', 'x1', 'deploy', 'cache');
    const inline = fc.oneof(
      word,
      word.map((w) => `**${w}**`),
      word.map((w) => `_${w}_`),
      word.map((w) => `\`${w}\``),
      word.map((w) => `[${w}](https://example.com/${w})`),
    );
    const para = fc.array(inline, { minLength: 1, maxLength: 6 }).map((ws) => ws.join(' '));
    const block = fc.oneof(
      para,
      fc.array(para, { minLength: 1, maxLength: 3 }).map((ps) => ps.map((p) => `- ${p}`).join('\n')),
      fc.array(para, { minLength: 1, maxLength: 3 }).map((ps) => ps.map((p, i) => `${i + 1}. ${p}`).join('\n')),
      para.map((p) => `## ${p}`),
      word.map((w) => '```\n' + `const ${w} = 1;` + '\n```'),
    );
    const doc = fc.array(block, { minLength: 1, maxLength: 5 }).map((bs) => bs.join('\n\n'));
    fc.assert(
      fc.property(doc, fc.constantFrom('cloud' as const, 'datacenter' as const), (md, f) => {
        const once = canonicalMarkdown(md, f);
        expect(canonicalMarkdown(once, f)).toBe(once);
      }),
      { numRuns: 200 },
    );
  });
});
