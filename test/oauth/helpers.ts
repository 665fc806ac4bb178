import { expect } from 'vitest';

/** Plays the admin's browser on the sandbox consent page: GET the authorize URL, then submit the form. */
export async function consent(
  authorizeUrl: string,
  opts: { decision?: 'accept' | 'deny'; accountId?: string } = {},
): Promise<URL> {
  const page = await fetch(authorizeUrl, { redirect: 'manual' });
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain('<form method="post" action="/authorize">');
  const fields = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields.set(m[1]!, unescapeHtml(m[2]!));
  }
  const selected = /<option value="([^"]+)" selected>/.exec(html)?.[1];
  fields.set('account_id', opts.accountId ?? selected ?? '');
  fields.set('decision', opts.decision ?? 'accept');
  const action = new URL('/authorize', authorizeUrl);
  const res = await fetch(action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: fields.toString(),
    redirect: 'manual',
  });
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location')!);
}

function unescapeHtml(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The fields tests read from token-endpoint and control answers. */
export interface JsonAnswer {
  error?: string;
  error_description?: string;
  access_token?: string;
  refresh_token?: string;
  expires_in?: number;
  token_type?: string;
  scope?: string;
  revoked?: number;
  [k: string]: unknown;
}

export async function postJson(url: string, body: unknown): Promise<{ status: number; body: JsonAnswer }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as JsonAnswer };
}
