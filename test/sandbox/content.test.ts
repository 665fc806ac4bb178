import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIssue, FLAVOURS, sandboxClient, text, type Client } from './helpers.js';

function multipart(
  filename: string,
  content: string,
  field = 'file',
): { payload: Buffer; headers: Record<string, string> } {
  const boundary = '----sandbox-test-boundary';
  const payload = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: text/plain\r\n\r\n${content}\r\n--${boundary}--\r\n`,
  );
  return { payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

describe.each(FLAVOURS)('comments, attachments, properties, remote links (%s)', (flavour) => {
  let c: Client;
  let key: string;
  beforeAll(async () => {
    c = await sandboxClient({ flavour });
    key = (await createIssue(c, { project: { key: 'OPS' }, issuetype: { name: 'Task' } })).key;
  });
  afterAll(async () => {
    await c.sb.app.close();
  });

  it('creates, pages, updates and deletes comments in the flavour text format', async () => {
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      const res = await c.call('POST', `issue/${key}/comment`, { body: text(c, `comment ${n}`) });
      expect(res.statusCode).toBe(201);
      ids.push(res.json().id);
      expect(res.json().author.displayName).toBe('Sandbox Admin');
    }
    const page = (await c.call('GET', `issue/${key}/comment?startAt=1&maxResults=1`)).json();
    expect(page).toMatchObject({ startAt: 1, maxResults: 1, total: 3 });
    expect(page.comments[0].id).toBe(ids[1]);
    expect(page.comments[0].body).toEqual(text(c, 'comment 2'));
    const upd = await c.call('PUT', `issue/${key}/comment/${ids[0]}`, { body: text(c, 'edited') });
    expect(upd.statusCode).toBe(200);
    expect((await c.call('GET', `issue/${key}/comment/${ids[0]}`)).json().body).toEqual(text(c, 'edited'));
    expect((await c.call('DELETE', `issue/${key}/comment/${ids[2]}`)).statusCode).toBe(204);
    expect((await c.call('GET', `issue/${key}/comment/${ids[2]}`)).statusCode).toBe(404);
  });

  it('rejects a body in the wrong format and edits by non-authors', async () => {
    const wrong = c.api.endsWith('/3') ? 'plain string' : { type: 'doc', version: 1, content: [] };
    expect((await c.call('POST', `issue/${key}/comment`, { body: wrong })).statusCode).toBe(400);
    const mine = (await c.call('POST', `issue/${key}/comment`, { body: text(c, 'admin says') })).json();
    expect(
      (await c.as('bob').call('PUT', `issue/${key}/comment/${mine.id}`, { body: text(c, 'bob edits') })).statusCode,
    ).toBe(403);
  });

  it('marks comments internal through the sd.public.comment property', async () => {
    const res = await c.call('POST', `issue/${key}/comment`, {
      body: text(c, 'internal note'),
      properties: [{ key: 'sd.public.comment', value: { internal: true } }],
    });
    expect(res.json().jsdPublic).toBe(false);
  });

  it('requires X-Atlassian-Token: no-check for attachments, then stores and serves them', async () => {
    const { payload, headers } = multipart('report.txt', 'hello attachment');
    const blocked = await c.call('POST', `issue/${key}/attachments`, payload, headers);
    expect(blocked.statusCode).toBe(403);
    expect(blocked.json().errorMessages).toEqual(['XSRF check failed']);
    const res = await c.call('POST', `issue/${key}/attachments`, payload, {
      ...headers,
      'x-atlassian-token': 'no-check',
    });
    expect(res.statusCode).toBe(200);
    const [att] = res.json();
    expect(att).toMatchObject({ filename: 'report.txt', size: 16, mimeType: 'text/plain' });
    // Cloud answers its content URL with a 303 to the download unless redirect=false.
    const content = await c.call('GET', `${new URL(att.content).pathname}?redirect=false`);
    expect(content.body).toBe('hello attachment');
    const issue = (await c.call('GET', `issue/${key}?fields=attachment`)).json();
    expect(issue.fields.attachment.map((a: { id: string }) => a.id)).toContain(att.id);
    const meta = (await c.call('GET', `attachment/${att.id}`)).json();
    expect(meta.id).toBe(Number(att.id));
    expect((await c.call('DELETE', `attachment/${att.id}`)).statusCode).toBe(204);
    const after = (await c.call('GET', `issue/${key}?fields=attachment&expand=changelog`)).json();
    expect(after.fields.attachment).toEqual([]);
    expect(after.changelog.histories.at(-1).items[0]).toMatchObject({
      field: 'Attachment',
      fromString: 'report.txt',
      to: null,
    });
  });

  it('sets, lists, gets and deletes entity properties', async () => {
    expect((await c.call('PUT', `issue/${key}/properties/sync`, { v: 1 })).statusCode).toBe(201);
    expect((await c.call('PUT', `issue/${key}/properties/sync`, { v: 2 })).statusCode).toBe(200);
    expect((await c.call('GET', `issue/${key}/properties/sync`)).json()).toEqual({ key: 'sync', value: { v: 2 } });
    expect((await c.call('GET', `issue/${key}/properties`)).json().keys.map((k: { key: string }) => k.key)).toEqual([
      'sync',
    ]);
    const big = await c.call('PUT', `issue/${key}/properties/big`, { s: 'x'.repeat(33_000) });
    expect(big.statusCode).toBe(400);
    expect((await c.call('DELETE', `issue/${key}/properties/sync`)).statusCode).toBe(204);
    expect((await c.call('GET', `issue/${key}/properties/sync`)).statusCode).toBe(404);
  });

  it('upserts remote links by globalId and deletes them', async () => {
    const link = {
      globalId: 'platform:record:1',
      application: { type: 'platform', name: 'Platform' },
      object: { url: 'https://p.example/r/1', title: 'Record 1' },
    };
    const first = await c.call('POST', `issue/${key}/remotelink`, link);
    expect(first.statusCode).toBe(201);
    const again = await c.call('POST', `issue/${key}/remotelink`, {
      ...link,
      object: { url: 'https://p.example/r/1', title: 'Record 1 (renamed)' },
    });
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(first.json().id);
    const list = (await c.call('GET', `issue/${key}/remotelink`)).json();
    expect(list).toHaveLength(1);
    expect(list[0].object.title).toBe('Record 1 (renamed)');
    expect((await c.call('POST', `issue/${key}/remotelink`, { object: { url: 'x' } })).statusCode).toBe(400);
    expect(
      (await c.call('DELETE', `issue/${key}/remotelink?globalId=${encodeURIComponent(link.globalId)}`)).statusCode,
    ).toBe(204);
    expect((await c.call('GET', `issue/${key}/remotelink`)).json()).toEqual([]);
  });
});

describe('attachment size limit', () => {
  it('answers 413 above the configured limit', async () => {
    const c = await sandboxClient({ maxAttachmentBytes: 8 });
    const { key } = await createIssue(c, { project: { key: 'OPS' }, issuetype: { name: 'Task' } });
    const { payload, headers } = multipart('big.txt', 'more than eight bytes');
    const res = await c.call('POST', `issue/${key}/attachments`, payload, {
      ...headers,
      'x-atlassian-token': 'no-check',
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().errorMessages).toHaveLength(1);
    await c.sb.app.close();
  });
});
