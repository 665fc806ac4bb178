// A document tree (Atlassian Document Format, as the service converts Markdown for Jira Cloud)
// drawn as HTML: the mapping editor's readable preview of a rendered description. Every text is
// escaped; a link keeps its address only when it is http(s); unknown nodes show their content.
import { esc } from './lib.js';

const BLOCK = {
  paragraph: 'p',
  blockquote: 'blockquote',
  bulletList: 'ul',
  orderedList: 'ol',
  listItem: 'li',
  table: 'table',
  tableRow: 'tr',
  tableHeader: 'th',
  tableCell: 'td',
};

function marked(text, marks = []) {
  let html = esc(text);
  for (const m of marks) {
    if (m.type === 'strong') html = `<strong>${html}</strong>`;
    else if (m.type === 'em') html = `<em>${html}</em>`;
    else if (m.type === 'code') html = `<code>${html}</code>`;
    else if (m.type === 'strike') html = `<s>${html}</s>`;
    else if (m.type === 'underline') html = `<u>${html}</u>`;
    else if (m.type === 'link') {
      const href = String(m.attrs?.href ?? '');
      html = /^https?:\/\//i.test(href)
        ? `<a href="${esc(href)}" target="_blank" rel="noopener noreferrer">${html}</a>`
        : html;
    }
  }
  return html;
}

/** HTML of an ADF node (a document, or any node in it). */
export function adfToHtml(node) {
  if (!node || typeof node !== 'object') return '';
  const inner = () => (Array.isArray(node.content) ? node.content.map(adfToHtml).join('') : '');
  switch (node.type) {
    case 'text':
      return marked(node.text ?? '', node.marks);
    case 'hardBreak':
      return '<br/>';
    case 'rule':
      return '<hr/>';
    case 'heading': {
      const level = Math.min(6, Math.max(1, Number(node.attrs?.level) || 1));
      return `<h${level}>${inner()}</h${level}>`;
    }
    case 'codeBlock':
      return `<pre><code>${esc((node.content ?? []).map((c) => c.text ?? '').join(''))}</code></pre>`;
    case 'table':
      return `<table><tbody>${inner()}</tbody></table>`;
    case 'mention':
      return esc(node.attrs?.text ?? '@someone');
    case 'emoji':
      return esc(node.attrs?.text ?? node.attrs?.shortName ?? '');
    case 'inlineCard':
      return esc(node.attrs?.url ?? '');
    default: {
      const tag = BLOCK[node.type];
      return tag ? `<${tag}>${inner()}</${tag}>` : inner();
    }
  }
}
