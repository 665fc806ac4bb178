import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkTemplate,
  checkTemplates,
  renderTemplate,
  TEMPLATE_VARIABLES,
  type TemplateRecord,
} from '../../src/core/templates.js';
import { markdownToJiraBody } from '../../src/engine/markup.js';

const record = (over: Partial<TemplateRecord> = {}): TemplateRecord => ({
  scope: 'xyte',
  host_id: 'inc-1',
  kind: 'incident',
  title: 'Projector offline',
  description: 'It stopped.',
  status: 'open',
  severity: 'high',
  assignee_email: null,
  labels: ['av', 'hq'],
  custom: { device: 'EPSON-4471', location: 'HQ / floor 4' },
  parent_host_id: null,
  ...over,
});

/** Templates that pass the check: conditionals, loops, filters, custom values, assigns. */
const VALID = [
  '{{ title }}',
  '[{{ kind | upcase }}] {{ title }} ({{ custom.device | default: "no device" }})',
  '**Device:** {{ custom.device }}\n**Location:** {{ custom.location }}\n\n{{ description | raw }}',
  '{% if custom.device %}Device {{ custom.device }}{% else %}No device{% endif %}',
  '{% for l in labels %}- {{ l }}\n{% endfor %}{{ labels | join: ", " }} ({{ labels.size }}, first {{ labels.first }})',
  '{% assign s = severity | default: "none" %}Severity: {{ s | capitalize }}',
  '{% case status %}{% when "open" %}Open{% else %}{{ status }}{% endcase %} {{ assignee_email }} {{ parent_host_id }}',
  '{{ custom.nested.deep }} {{ custom.list[0] }} {{ custom.n | plus: 1 }} {{ scope }}/{{ host_id }}',
  '{{ title | truncate: 20 }} {{ description | newline_to_br | strip_html }} {{ custom.when | date: "%Y" }}',
];

describe('template check at save', () => {
  it('accepts templates over the record fields and custom values', () => {
    for (const t of VALID) {
      expect(checkTemplate('description', t), t).toEqual([]);
      expect(checkTemplate('summary', t), t).toEqual([]);
    }
    expect(checkTemplate('comment_prefix', '**{{ comment.author }}** on {{ title }}:')).toEqual([]);
  });

  it('names an unknown variable and the valid ones', () => {
    const [p, ...more] = checkTemplate('description', 'Device {{ custom.device }} in {{ locaton.name }}');
    expect(more).toEqual([]);
    expect(p).toMatchObject({ template: 'description', variable: 'locaton' });
    expect(p!.message).toContain('unknown variable "locaton"');
    for (const v of TEMPLATE_VARIABLES) expect(p!.message).toContain(v);
    // A loop variable and an assigned one are the template's own.
    expect(
      checkTemplate('description', '{% for x in labels %}{{ x }}{% endfor %}{% assign y = title %}{{ y }}'),
    ).toEqual([]);
    // comment.* only in a comment prefix, and only its author.
    expect(checkTemplate('description', '{{ comment.author }}')[0]?.variable).toBe('comment');
    expect(checkTemplate('comment_prefix', '{{ comment.body }}')[0]?.variable).toBe('comment.body');
  });

  it('refuses an unknown filter, a syntax error and tags that read files', () => {
    expect(checkTemplate('summary', '{{ title | shout }}')[0]?.message).toContain('unknown filter "shout"');
    expect(checkTemplate('description', '{% if title %}open')[0]?.message).toContain('not a valid Liquid template');
    expect(checkTemplate('description', '{% include "secrets" %}')[0]?.message).toContain('{% include %}');
    expect(checkTemplate('description', '{% render "x" %}')[0]?.message).toContain('{% render %}');
  });

  it('reports each template by its key', () => {
    expect(
      checkTemplates({ summary: '{{ nope }}', description: '{{ title }}', comment_prefix: '{{ x | y }}' }).map(
        (p) => p.template,
      ),
    ).toEqual(['summary', 'comment_prefix']);
  });
});

describe('rendering', () => {
  it('renders conditionals, lists and custom values; a summary is one line', () => {
    expect(renderTemplate('description', VALID[3]!, record())).toBe('Device EPSON-4471');
    expect(renderTemplate('description', VALID[3]!, record({ custom: {} }))).toBe('No device');
    expect(renderTemplate('description', '{% for l in labels %}- {{ l }}\n{% endfor %}', record())).toBe(
      '- av\n- hq\n',
    );
    expect(renderTemplate('summary', '{{ title }}\n\n[{{ custom.device }}]', record())).toBe(
      'Projector offline [EPSON-4471]',
    );
    expect(
      renderTemplate('comment_prefix', '**{{ comment.author }}**:', record(), { comment: { author: 'Sam' } }),
    ).toBe('**Sam**:');
  });

  it('escapes record values so they cannot make markup; | raw keeps the host’s Markdown', () => {
    const evil = '*bold* [x](http://e) ![i](http://e/i.png) {color:red}x{color} [~admin] !http://e/i.png! # h | t';
    const md = renderTemplate('description', 'Device: {{ custom.device }}', record({ custom: { device: evil } }));
    const adf = markdownToJiraBody(md, 'cloud') as { content: Array<{ content: Array<Record<string, unknown>> }> };
    // One paragraph of plain text nodes: no mark, no link, no image, no heading.
    expect(adf.content).toHaveLength(1);
    expect(adf.content[0]!.content.every((n) => n.type === 'text' && n.marks === undefined)).toBe(true);
    expect(adf.content[0]!.content.map((n) => n.text).join('')).toBe(`Device: ${evil}`);
    const wiki = markdownToJiraBody(md, 'datacenter') as string;
    for (const c of ['[', '!', '{', '|', '#']) expect(wiki).not.toMatch(new RegExp(`(^|[^\\\\])\\${c}`));
    expect(renderTemplate('description', '{{ description | raw }}', record({ description: '**b**' }))).toBe('**b**');
  });

  it('property: a template that passed the check renders for any record, never throwing', () => {
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string()),
      fc.dictionary(fc.string(), fc.string()),
    );
    const arbRecord = fc.record({
      scope: fc.string(),
      host_id: fc.string(),
      kind: fc.string(),
      title: fc.string(),
      description: fc.string(),
      status: fc.string(),
      severity: fc.option(fc.string(), { nil: null }),
      assignee_email: fc.option(fc.string(), { nil: null }),
      labels: fc.array(fc.string()),
      custom: fc.dictionary(fc.constantFrom('device', 'location', 'nested', 'list', 'n', 'when', 'other'), value),
      parent_host_id: fc.option(fc.string(), { nil: null }),
    });
    // Templates too: any sequence of valid pieces is a valid template.
    const piece = fc.constantFrom(
      ...VALID,
      'text ',
      '{{ custom.other }}',
      '{% if labels.size > 1 %}many{% endif %}',
      '{{ custom.n | times: 2 | round }}',
    );
    const template = fc.array(piece, { minLength: 1, maxLength: 4 }).map((p) => p.join('\n'));
    fc.assert(
      fc.property(template, arbRecord, fc.string(), (t, r, author) => {
        for (const name of ['summary', 'description', 'comment_prefix'] as const) {
          expect(checkTemplate(name, t)).toEqual([]);
          const out = renderTemplate(name, t, r, { comment: { author } });
          expect(typeof out).toBe('string');
        }
      }),
      { numRuns: 200 },
    );
  });
});
