import { createRequire } from 'node:module';
import { markdownToAdf } from 'marklassian';

const require = createRequire(import.meta.url);
const J2M = require('jira2md') as { to_jira(md: string): string };

/** Markdown → the body format of a flavour: ADF for Cloud (REST v3), wiki markup for Data Center (v2). */
export function markdownToJiraBody(md: string, flavour: 'cloud' | 'datacenter'): unknown {
  return flavour === 'cloud' ? markdownToAdf(md) : J2M.to_jira(md);
}

/** Plain text of an ADF document or a wiki string (for matching our own comments on retry). */
export function plainText(body: unknown): string {
  if (typeof body === 'string') return body;
  const out: string[] = [];
  const walk = (n: unknown): void => {
    if (!n || typeof n !== 'object') return;
    const node = n as { text?: unknown; content?: unknown[] };
    if (typeof node.text === 'string') out.push(node.text);
    if (Array.isArray(node.content)) {
      for (const c of node.content) walk(c);
      out.push(' ');
    }
  };
  walk(body);
  return out.join('');
}

/** Whitespace-insensitive, markup-light comparison key. */
export function textKey(s: string): string {
  return s
    .replace(/[*_`~>#[\]()!|{}-]/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();
}
