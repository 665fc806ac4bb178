import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDelivery } from '../../src/webhooks/parse.js';
import { authenticateDelivery, sign, verifySignature, verifyUrlToken } from '../../src/webhooks/verify.js';

const body = Buffer.from('{"webhookEvent":"jira:issue_updated"}');

describe('webhook signature verification', () => {
  it('accepts the HMAC-SHA256 of the exact bytes and nothing else', () => {
    const header = sign('s3cret-s3cret-s3cret', body);
    expect(header).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifySignature('s3cret-s3cret-s3cret', body, header)).toBe(true);
    expect(verifySignature('other-secret-value!!', body, header)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', Buffer.from(`${body.toString()} `), header)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', body, header.slice(0, -2))).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', body, undefined)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', body, header.replace('sha256=', 'sha1='))).toBe(false);
  });

  it('accepts the previous secret during a rotation, and URL tokens', () => {
    const creds = { secrets: ['new-secret-0123456789', 'old-secret-0123456789'], urlTokens: [] };
    expect(authenticateDelivery(creds, body, sign('old-secret-0123456789', body), undefined)).toEqual({
      ok: true,
      method: 'signature',
    });
    expect(authenticateDelivery(creds, body, sign('bad-secret-0123456789', body), undefined)).toEqual({
      ok: false,
      reason: 'signature_mismatch',
    });
    expect(authenticateDelivery(creds, body, undefined, undefined)).toEqual({ ok: false, reason: 'signature_missing' });
    const tok = { secrets: [], urlTokens: ['tok-0123456789abcdef'] };
    expect(authenticateDelivery(tok, body, undefined, 'tok-0123456789abcdef')).toEqual({
      ok: true,
      method: 'url_token',
    });
    expect(authenticateDelivery(tok, body, undefined, 'tok-0123456789abcdeX')).toEqual({
      ok: false,
      reason: 'token_mismatch',
    });
    expect(authenticateDelivery({ secrets: [], urlTokens: [] }, body, sign('x', body), 'x')).toEqual({
      ok: false,
      reason: 'no_credentials_configured',
    });
    expect(verifyUrlToken('abc', 'abcd')).toBe(false);
  });
});

describe('parseDelivery on every captured Jira delivery', () => {
  const root = join(import.meta.dirname, '../fixtures/jira-webhooks');
  const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json'));
  it.each(files)('%s', (f) => {
    const raw = readFileSync(join(root, f));
    const json = JSON.parse(raw.toString()) as {
      webhookEvent: string;
      issue?: { id?: unknown; key?: string };
      comment?: { id?: string; self?: string };
    };
    const d = parseDelivery(raw, {});
    expect(d.rawEvent).toBe(json.webhookEvent);
    expect(d.issueKey).toBe(json.issue?.key ?? null);
    // Data Center comment events carry no issue: its id comes from the comment's self link.
    const fromSelf = /\/issue\/(\d+)\/comment\//.exec(String(json.comment?.self ?? ''))?.[1] ?? null;
    expect(d.issueId).toBe(json.issue?.id === undefined ? fromSelf : String(json.issue.id));
    expect(d.commentId).toBe(json.comment?.id ?? null);
    expect(d.identifier).toMatch(/^sha256:[0-9a-f]{64}$/); // captures carry no identifier header
  });

  it('takes the identifier and retry from the headers and fills gaps from URL variables', () => {
    const d = parseDelivery(
      Buffer.from('{"webhookEvent":"jira:issue_deleted"}'),
      {
        'x-atlassian-webhook-identifier': 'abc-123',
        'x-atlassian-webhook-retry': '2',
      },
      { issue_key: 'SEC-9', project_key: 'SEC' },
    );
    expect(d).toMatchObject({
      identifier: 'abc-123',
      retry: 2,
      issueKey: 'SEC-9',
      projectKey: 'SEC',
      event: 'jira:issue_deleted',
    });
  });

  it('rejects what is not a Jira delivery with a clear error', () => {
    expect(() => parseDelivery(Buffer.from('{"webhookEvent":'), {})).toThrow(/not valid JSON/);
    expect(() => parseDelivery(Buffer.from('[1]'), {})).toThrow(/must be a JSON object/);
    expect(() => parseDelivery(Buffer.from('{"issue":{}}'), {})).toThrow(/no "webhookEvent"/);
  });
});
