import { createRequire } from 'node:module';
import { fromADF } from 'mdast-util-from-adf';
import { gfmToMarkdown } from 'mdast-util-gfm';
import { toMarkdown } from 'mdast-util-to-markdown';
import { normalizeText } from './desired.js';
import { markdownToJiraBody, plainText } from './markup.js';

const require = createRequire(import.meta.url);
const J2M = require('jira2md') as { to_markdown(wiki: string): string };

type Node = { type: string; text?: string; attrs?: Record<string, unknown>; content?: Node[]; marks?: unknown[] };

/** Nodes mdast-util-from-adf converts; anything else is reduced to text first. */
const KNOWN = new Set([
  'doc',
  'paragraph',
  'text',
  'hardBreak',
  'heading',
  'bulletList',
  'orderedList',
  'listItem',
  'codeBlock',
  'blockquote',
  'rule',
  'table',
  'tableRow',
  'tableHeader',
  'tableCell',
  'taskList',
  'taskItem',
]);

function simplify(n: Node): Node | Node[] | null {
  if (!n || typeof n !== 'object' || typeof n.type !== 'string') return null;
  const attrs = n.attrs ?? {};
  switch (n.type) {
    case 'mention':
      return { type: 'text', text: `@${String(attrs.text ?? attrs.displayName ?? attrs.id ?? '').replace(/^@/, '')}` };
    case 'emoji':
      return { type: 'text', text: String(attrs.text ?? attrs.shortName ?? '') };
    case 'status':
      return { type: 'text', text: String(attrs.text ?? '') };
    case 'date':
      return {
        type: 'text',
        text: attrs.timestamp ? new Date(Number(attrs.timestamp)).toISOString().slice(0, 10) : '',
      };
    case 'inlineCard':
    case 'blockCard':
    case 'embedCard': {
      const url = String(attrs.url ?? '');
      const t: Node = { type: 'text', text: url, marks: [{ type: 'link', attrs: { href: url } }] };
      return n.type === 'inlineCard' ? t : { type: 'paragraph', content: [t] };
    }
    case 'mediaSingle':
    case 'mediaGroup':
    case 'media':
    case 'mediaInline':
      return null;
    default:
      break;
  }
  const content = (n.content ?? []).flatMap((c) => {
    const s = simplify(c);
    return s === null ? [] : Array.isArray(s) ? s : [s];
  });
  if (KNOWN.has(n.type)) return { ...n, content: n.content ? content : undefined } as Node;
  // Panels, expands and unknown containers: their content, in place.
  return content;
}

/** ADF → Markdown. Never throws: a document it cannot convert becomes its plain text. */
export function adfToMarkdown(doc: unknown): string {
  if (!doc || typeof doc !== 'object') return '';
  try {
    const simple = simplify(doc as Node) as Node;
    const tree = fromADF(simple as never);
    return toMarkdown(tree as never, { extensions: [gfmToMarkdown()], bullet: '-', emphasis: '_', rule: '-' });
  } catch {
    return plainText(doc);
  }
}

const OPEN = '\uE000';
const CLOSE = '\uE001';
const BOLD = /(^|[\s([{>|])\*(\S(?:[^*\n]*?\S)?)\*(?=$|[\s).,;:!?\]}<|])/gm;
const ITALIC = /(^|[\s([{>|*])_(\S(?:[^_\n]*?\S)?)_(?=$|[\s).,;:!?\]}<|*])/gm;

/**
 * Jira wiki markup → Markdown. Block structure (headings, lists, code, quotes, links, tables) goes
 * through jira2md; bold and italics are converted first by a stricter tokenizer (jira2md's own
 * regexes pair the wrong markers in text like `_a_ *b* _c_`), outside code and noformat blocks.
 */
export function wikiToMarkdown(wiki: string): string {
  if (!wiki) return '';
  const marks: string[] = [];
  const keep = (md: string): string => `${OPEN}${marks.push(md) - 1}${CLOSE}`;
  const italics = (t: string): string => t.replace(ITALIC, (_m, pre: string, x: string) => `${pre}${keep(`_${x}_`)}`);
  const inline = (t: string): string =>
    italics(t.replace(BOLD, (_m, pre: string, x: string) => `${pre}${keep(`**${restore(italics(x))}**`)}`));
  const restore = (t: string): string =>
    t.replace(new RegExp(`${OPEN}(\\d+)${CLOSE}`, 'g'), (_m, i: string) => restore(marks[Number(i)] ?? ''));
  try {
    // Code and noformat blocks keep their text as it is.
    const parts = wiki.split(/(\{(?:code|noformat)(?::[^}]*)?\}[\s\S]*?\{(?:code|noformat)\})/);
    const pre = parts.map((part, i) => (i % 2 === 1 ? part : inline(part))).join('');
    return restore(J2M.to_markdown(pre));
  } catch {
    return wiki;
  }
}

/** A Jira text value (ADF on Cloud v3, wiki markup on v2 and in webhook bodies) → Markdown. */
export function jiraTextToMarkdown(body: unknown, _flavour: 'cloud' | 'datacenter'): string {
  if (typeof body === 'string') return wikiToMarkdown(body);
  if (body && typeof body === 'object') return adfToMarkdown(body);
  return '';
}

/** The comparable form of Markdown after a round trip through Jira. */
export function canonicalMarkdown(md: string, flavour: 'cloud' | 'datacenter'): string {
  return normalizeText(jiraTextToMarkdown(markdownToJiraBody(md, flavour), flavour));
}
