import type { AdfNode } from '../model.js';

/**
 * Rich-text conversions. Text is stored as ADF; REST v3 reads and writes ADF, REST v2 and
 * webhook bodies use wiki markup. The subset covered: paragraphs, hard breaks, headings, bullet and
 * ordered lists, code blocks, block quotes, rules, and the strong/em/code/strike/underline/subsup/link
 * marks.
 */

export function isAdfDoc(v: unknown): v is AdfNode {
  return typeof v === 'object' && v !== null && (v as AdfNode).type === 'doc' && Array.isArray((v as AdfNode).content);
}

export function emptyDoc(): AdfNode {
  return { type: 'doc', version: 1, content: [] };
}

// --- wiki markup → ADF -----------------------------------------------------------------------

type Mark = { type: string; attrs?: Record<string, unknown> };

/**
 * Jira's text effects. Like Jira's renderer, each applies only at word boundaries: the opening
 * character follows no letter or digit, the closing one is followed by none, and neither touches
 * whitespace inside — so issue keys (PROJ-12), part numbers (EB-L1500U), paths (dev-881),
 * snake_case and 2*3*4 stay text.
 */
const EFFECTS: Array<{ ch: string; mark: Mark }> = [
  { ch: '*', mark: { type: 'strong' } },
  { ch: '_', mark: { type: 'em' } },
  { ch: '-', mark: { type: 'strike' } },
  { ch: '+', mark: { type: 'underline' } },
  { ch: '^', mark: { type: 'subsup', attrs: { type: 'sup' } } },
  { ch: '~', mark: { type: 'subsup', attrs: { type: 'sub' } } },
];

function effectPattern(ch: string): string {
  const lit = /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
  const cls = ch === '-' || ch === '^' ? `\\${ch}` : ch;
  // `[~user]` is a mention, not the start of a subscript.
  const before = ch === '~' ? '[\\p{L}\\p{N}\\[]' : '[\\p{L}\\p{N}]';
  return `(?<!${before})${lit}([^\\s${cls}](?:[^${cls}\\n]*[^\\s${cls}])?)${lit}(?![\\p{L}\\p{N}])`;
}

const INLINE = new RegExp(
  [
    '\\{\\{([^}\\n]+)\\}\\}', // {{monospace}}
    '\\[([^|\\]\\n]+)\\|([^\\]\\n]+)\\]', // [text|url]
    ...EFFECTS.map((e) => effectPattern(e.ch)),
  ].join('|'),
  'gu',
);

function inline(text: string): AdfNode[] {
  const out: AdfNode[] = [];
  const re = new RegExp(INLINE);
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) out.push({ type: 'text', text: text.slice(last, m.index) });
    if (m[1] !== undefined) out.push({ type: 'text', text: m[1], marks: [{ type: 'code' }] });
    else if (m[2] !== undefined)
      out.push({ type: 'text', text: m[2], marks: [{ type: 'link', attrs: { href: m[3] ?? '' } }] });
    else {
      const i = EFFECTS.findIndex((_, k) => m[4 + k] !== undefined);
      const effect = EFFECTS[i]!;
      out.push({ type: 'text', text: m[4 + i] ?? '', marks: [structuredClone(effect.mark)] });
    }
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push({ type: 'text', text: text.slice(last) });
  return out;
}

function paragraph(lines: string[]): AdfNode {
  const content: AdfNode[] = [];
  lines.forEach((l, i) => {
    if (i > 0) content.push({ type: 'hardBreak' });
    content.push(...inline(l));
  });
  return { type: 'paragraph', content };
}

export function wikiToAdf(wiki: string): AdfNode {
  const lines = wiki.replace(/\r\n?/g, '\n').split('\n');
  const content: AdfNode[] = [];
  let para: string[] = [];
  const flush = (): void => {
    if (para.length) content.push(paragraph(para));
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const heading = /^h([1-6])\.\s+(.*)$/.exec(line);
    const bullet = /^([*#])\s+(.*)$/.exec(line);
    if (line.trim() === '') {
      flush();
    } else if (heading) {
      flush();
      content.push({ type: 'heading', attrs: { level: Number(heading[1]) }, content: inline(heading[2] ?? '') });
    } else if (/^\{(code|noformat)(:[^}]*)?\}/.test(line)) {
      flush();
      const body: string[] = [];
      const lang = /^\{code:([^}|]+)\}/.exec(line)?.[1];
      for (i++; i < lines.length && !/^\{(code|noformat)\}/.test(lines[i] ?? ''); i++) body.push(lines[i] ?? '');
      content.push({
        type: 'codeBlock',
        ...(lang ? { attrs: { language: lang } } : {}),
        content: body.length ? [{ type: 'text', text: body.join('\n') }] : [],
      });
    } else if (line.trim() === '----') {
      flush();
      content.push({ type: 'rule' });
    } else if (/^bq\.\s/.test(line)) {
      flush();
      content.push({ type: 'blockquote', content: [paragraph([line.replace(/^bq\.\s+/, '')])] });
    } else if (bullet) {
      flush();
      const ordered = bullet[1] === '#';
      const items: AdfNode[] = [];
      for (; i < lines.length; i++) {
        const m = /^([*#])\s+(.*)$/.exec(lines[i] ?? '');
        if (!m || (m[1] === '#') !== ordered) break;
        items.push({ type: 'listItem', content: [paragraph([m[2] ?? ''])] });
      }
      i--;
      content.push({ type: ordered ? 'orderedList' : 'bulletList', content: items });
    } else {
      para.push(line);
    }
  }
  flush();
  return { type: 'doc', version: 1, content };
}

// --- ADF → wiki markup -----------------------------------------------------------------------

function markWiki(node: AdfNode): string {
  let t = node.text ?? '';
  for (const m of node.marks ?? []) {
    if (m.type === 'strong') t = `*${t}*`;
    else if (m.type === 'em') t = `_${t}_`;
    else if (m.type === 'code') t = `{{${t}}}`;
    else if (m.type === 'strike') t = `-${t}-`;
    else if (m.type === 'underline') t = `+${t}+`;
    else if (m.type === 'subsup') t = m.attrs?.type === 'sub' ? `~${t}~` : `^${t}^`;
    else if (m.type === 'link') t = `[${t}|${String(m.attrs?.href ?? '')}]`;
  }
  return t;
}

function inlineWiki(nodes: AdfNode[] | undefined): string {
  return (nodes ?? [])
    .map((n) => {
      if (n.type === 'text') return markWiki(n);
      if (n.type === 'hardBreak') return '\n';
      if (n.type === 'mention') return `[~accountid:${String(n.attrs?.id ?? '')}]`;
      if (n.type === 'inlineCard') return `[${String(n.attrs?.url ?? '')}]`;
      if (n.type === 'emoji') return String(n.attrs?.shortName ?? '');
      return inlineWiki(n.content);
    })
    .join('');
}

function blockWiki(node: AdfNode): string {
  switch (node.type) {
    case 'paragraph':
      return inlineWiki(node.content);
    case 'heading':
      return `h${Number(node.attrs?.level ?? 1)}. ${inlineWiki(node.content)}`;
    case 'bulletList':
    case 'orderedList': {
      const sym = node.type === 'bulletList' ? '*' : '#';
      return (node.content ?? []).map((li) => `${sym} ${(li.content ?? []).map(blockWiki).join(' ')}`).join('\n');
    }
    case 'codeBlock': {
      const lang = node.attrs?.language;
      return `{code${typeof lang === 'string' ? `:${lang}` : ''}}\n${inlineWiki(node.content)}\n{code}`;
    }
    case 'blockquote':
      return (node.content ?? []).map((c) => `bq. ${blockWiki(c)}`).join('\n');
    case 'rule':
      return '----';
    default:
      return node.content
        ? node.content.every((c) => c.type === 'text' || c.type === 'hardBreak')
          ? inlineWiki(node.content)
          : node.content.map(blockWiki).join('\n\n')
        : (node.text ?? '');
  }
}

export function adfToWiki(doc: AdfNode): string {
  return (doc.content ?? []).map(blockWiki).join('\n\n');
}

/** Plain text for JQL `~`, change-history strings and renderedFields. */
export function adfToPlain(doc: AdfNode): string {
  const parts: string[] = [];
  const walk = (n: AdfNode): void => {
    if (n.type === 'text') parts.push(n.text ?? '');
    else if (n.type === 'hardBreak') parts.push('\n');
    n.content?.forEach(walk);
    if (['paragraph', 'heading', 'listItem', 'codeBlock'].includes(n.type)) parts.push('\n');
  };
  walk(doc);
  return parts.join('').replace(/\n+$/, '');
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** HTML like Jira's renderedFields (simplified). */
export function adfToHtml(doc: AdfNode): string {
  const inl = (nodes: AdfNode[] | undefined): string =>
    (nodes ?? [])
      .map((n) => {
        if (n.type === 'hardBreak') return '<br/>';
        if (n.type !== 'text') return inl(n.content);
        let t = escapeHtml(n.text ?? '');
        for (const m of n.marks ?? []) {
          if (m.type === 'strong') t = `<b>${t}</b>`;
          else if (m.type === 'em') t = `<em>${t}</em>`;
          else if (m.type === 'code') t = `<tt>${t}</tt>`;
          else if (m.type === 'strike') t = `<del>${t}</del>`;
          else if (m.type === 'underline') t = `<ins>${t}</ins>`;
          else if (m.type === 'subsup') t = m.attrs?.type === 'sub' ? `<sub>${t}</sub>` : `<sup>${t}</sup>`;
          else if (m.type === 'link') t = `<a href="${escapeHtml(String(m.attrs?.href ?? ''))}">${t}</a>`;
        }
        return t;
      })
      .join('');
  const block = (n: AdfNode): string => {
    switch (n.type) {
      case 'paragraph':
        return `<p>${inl(n.content)}</p>`;
      case 'heading':
        return `<h${Number(n.attrs?.level ?? 1)}>${inl(n.content)}</h${Number(n.attrs?.level ?? 1)}>`;
      case 'bulletList':
        return `<ul>${(n.content ?? []).map((li) => `<li>${(li.content ?? []).map((c) => inl(c.content)).join('')}</li>`).join('')}</ul>`;
      case 'orderedList':
        return `<ol>${(n.content ?? []).map((li) => `<li>${(li.content ?? []).map((c) => inl(c.content)).join('')}</li>`).join('')}</ol>`;
      case 'codeBlock':
        return `<pre>${inl(n.content)}</pre>`;
      case 'rule':
        return '<hr/>';
      default:
        return (n.content ?? []).map(block).join('');
    }
  };
  return (doc.content ?? []).map(block).join('\n');
}

/** A plain-text string as an ADF document (one paragraph per blank-line block, hard breaks inside). */
export function plainToAdf(text: string): AdfNode {
  const content: AdfNode[] = text
    .split(/\n{2,}/)
    .filter((p) => p.length > 0)
    .map((p) => ({
      type: 'paragraph',
      content: p
        .split('\n')
        .flatMap((l, i): AdfNode[] => [
          ...(i > 0 ? [{ type: 'hardBreak' }] : []),
          ...(l ? [{ type: 'text', text: l }] : []),
        ]),
    }));
  return { type: 'doc', version: 1, content };
}
