/**
 * Attachment content and events as Jira serves them: Cloud's content route redirects (303)
 * unless `redirect=false`; Data Center's attachments point at `/secure/attachment/{id}/{name}`;
 * attachment_created / attachment_deleted deliveries name the attachment only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toWebhookEvent } from '../../src/sandbox/webhook-events.js';
import { buildWebhookBody } from '../../src/sandbox/webhooks/payload.js';
import { createIssue, sandboxClient, type Client } from './helpers.js';

async function upload(c: Client, key: string, name: string, bytes: Buffer): Promise<{ id: string; content: string }> {
  const boundary = 'sbtest' + Math.random().toString(16).slice(2);
  const payload = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: text/plain\r\n\r\n`,
    ),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const res = await c.call('POST', `issue/${key}/attachments`, payload, {
    'content-type': `multipart/form-data; boundary=${boundary}`,
    'x-atlassian-token': 'no-check',
  });
  expect(res.statusCode).toBe(200);
  return (res.json() as Array<{ id: string; content: string }>)[0]!;
}

describe.each(['cloud', 'datacenter'] as const)('sandbox attachments (%s)', (flavour) => {
  let c: Client;
  beforeAll(async () => {
    c = await sandboxClient({ flavour });
  });
  afterAll(async () => {
    await c.sb.app.close();
  });

  it('serves the bytes where Jira does, with the calls Jira would need', async () => {
    const issue = await createIssue(c, { project: { key: 'OPS' }, issuetype: { name: 'Task' } });
    const bytes = Buffer.from('log line 1\nlog line 2\n');
    const a = await upload(c, issue.key, 'app log.txt', bytes);
    if (flavour === 'cloud') {
      expect(a.content).toMatch(new RegExp(`^http://[^/]+/rest/api/3/attachment/content/${a.id}$`));
      const redirected = await c.call('GET', `attachment/content/${a.id}`);
      expect(redirected.statusCode).toBe(303);
      expect(redirected.headers.location).toMatch(
        new RegExp(`^http://[^/]+/secure/attachment/${a.id}/app%20log\\.txt$`),
      );
      const direct = await c.call('GET', `attachment/content/${a.id}?redirect=false`);
      expect(direct.statusCode).toBe(200);
      expect(direct.rawPayload.equals(bytes)).toBe(true);
      expect(direct.headers['content-type']).toContain('text/plain');
    } else {
      expect(a.content).toMatch(new RegExp(`^http://[^/]+/secure/attachment/${a.id}/app%20log\\.txt$`));
    }
    const web = await c.call('GET', `/secure/attachment/${a.id}/app%20log.txt`);
    expect(web.statusCode).toBe(200);
    expect(web.rawPayload.equals(bytes)).toBe(true);
    const meta = await c.call('GET', `attachment/${a.id}`);
    expect(meta.json()).toMatchObject({ id: Number(a.id), filename: 'app log.txt', size: bytes.length });
    // Content needs the same credentials as the API.
    const anonymous = await c.sb.app.inject({ method: 'GET', url: `/secure/attachment/${a.id}/x` });
    expect(anonymous.statusCode).toBe(401);
    expect((await c.call('GET', `/secure/attachment/99999/x`)).statusCode).toBe(404);
  });

  it('attachment events carry the attachment and no issue, like Jira Cloud', () => {
    const issue = c.sb.state.allIssues()[0]!;
    const attachment = issue.attachments[0]!;
    for (const kind of ['attachment_created', 'attachment_deleted'] as const) {
      const event = toWebhookEvent(c.sb.state, flavour, 'http://jira.test', {
        kind,
        issue,
        actorId: attachment.authorId,
        attachment,
      });
      const body = buildWebhookBody(event, flavour);
      expect(Object.keys(body).sort()).toEqual(['attachment', 'timestamp', 'webhookEvent']);
      expect(body).toMatchObject({ webhookEvent: kind, attachment: { id: attachment.id, filename: 'app log.txt' } });
    }
  });
});
