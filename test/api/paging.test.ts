import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { pageOf } from '../../src/http/paging.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { startTestService, writeConfig } from '../helpers/service.js';

describe('pageOf (pure): id order, no item twice, none missed', () => {
  it('the pages of any list, walked with any page size, are the list in id order', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 6 })),
        fc.integer({ min: 1, max: 7 }),
        (ids, limit) => {
          const items = ids.map((id) => ({ id }));
          const seen: string[] = [];
          let cursor: string | undefined;
          for (let i = 0; i <= ids.length + 1; i++) {
            const page = pageOf(items, { limit, ...(cursor !== undefined ? { cursor } : {}) });
            expect(page.items.length).toBeLessThanOrEqual(limit);
            seen.push(...page.items.map((x) => x.id));
            if (page.next_cursor === null) break;
            cursor = page.next_cursor;
          }
          expect(seen).toEqual([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
        },
      ),
    );
  });
  it('an item removed after a page was given does not shift the next one', () => {
    const items = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id }));
    const first = pageOf(items, { limit: 2 });
    expect(first.items.map((x) => x.id)).toEqual(['a', 'b']);
    const next = pageOf(
      items.filter((x) => x.id !== 'a'),
      { limit: 2, cursor: first.next_cursor! },
    );
    expect(next.items.map((x) => x.id)).toEqual(['c', 'd']);
  });
});

describe('listing connections and mappings by page, filtered (issue 17)', () => {
  const N = 25;
  let sb: RunningSandbox;
  let svc: RunningService;
  const dir = mkdtempSync(join(tmpdir(), 'jb-paging-'));
  const send = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${svc.url}${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  // Created out of id order: the unpaged list keeps the order as before, pages come by id.
  const ids = Array.from({ length: N }, (_, i) => `acme-${String((i * 7) % N).padStart(2, '0')}`);

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    writeConfig(dir, ['connections: []']);
    svc = await startTestService(dir);
    for (const [i, id] of ids.entries()) {
      const made = await send('POST', '/api/v1/connections', {
        id,
        name: i % 2 ? `Globex ${id}` : `Initech ${id}`,
        site_url: sb.baseUrl,
        flavour: 'cloud',
        auth: { type: 'basic', email: sb.credentials.email, api_token: sb.credentials.apiToken },
        enabled: i % 5 !== 0,
        sweep: { interval_seconds: 0 },
      });
      expect(made.status).toBe(201);
      if (i < 10) {
        const m = await send('PUT', `/api/v1/mappings/${id}-map`, {
          connection: id,
          scope: `scope-${id}`,
          project: i % 2 ? 'SEC' : 'OPS',
          enabled: i !== 3,
          kinds: i % 2 ? { vulnerability: { issue_type: 'Vulnerability' } } : { incident: { issue_type: 'Incident' } },
        });
        expect(m.status).toBe(201);
      }
    }
  });
  afterAll(async () => {
    await svc.stop();
    await sb.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const walk = async (path: string, key: 'connections' | 'mappings', limit: number): Promise<string[]> => {
    const out: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const sep = path.includes('?') ? '&' : '?';
      const page = await send('GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      const items = page.body[key] as Array<{ id: string }>;
      expect(items.length).toBeLessThanOrEqual(limit);
      out.push(...items.map((x) => x.id));
      cursor = page.body.next_cursor as string | null;
      if (cursor === null) return out;
    }
    throw new Error('never reached the last page');
  };

  it('without limit or cursor: the whole list as before (no next_cursor)', async () => {
    const all = await send('GET', '/api/v1/connections');
    expect((all.body.connections as Array<{ id: string }>).map((c) => c.id)).toEqual(ids);
    expect('next_cursor' in all.body).toBe(false);
    const maps = await send('GET', '/api/v1/mappings');
    expect((maps.body.mappings as unknown[]).length).toBe(10);
    expect('next_cursor' in maps.body).toBe(false);
  });

  it('pages of connections in id order, each once, the last with next_cursor null', async () => {
    expect(await walk('/api/v1/connections', 'connections', 7)).toEqual([...ids].sort());
    expect(await walk('/api/v1/mappings', 'mappings', 3)).toEqual(
      ids
        .slice(0, 10)
        .map((id) => `${id}-map`)
        .sort(),
    );
  });

  it('filters by name, enabled, flavour; mappings by project, connection, enabled — and pages the result', async () => {
    const globex = ids.filter((_, i) => i % 2);
    expect(await walk('/api/v1/connections?name=globex', 'connections', 4)).toEqual([...globex].sort());
    const off = ids.filter((_, i) => i % 5 === 0);
    expect(await walk('/api/v1/connections?enabled=false', 'connections', 2)).toEqual([...off].sort());
    const dc = await send('GET', '/api/v1/connections?flavour=datacenter');
    expect(dc.body.connections).toEqual([]);
    const sec = ids.slice(0, 10).filter((_, i) => i % 2);
    expect(await walk('/api/v1/mappings?project=sec', 'mappings', 2)).toEqual(sec.map((id) => `${id}-map`).sort());
    const one = await send('GET', `/api/v1/mappings?connection=${ids[4]}`);
    expect((one.body.mappings as Array<{ id: string }>).map((m) => m.id)).toEqual([`${ids[4]}-map`]);
    const disabled = await send('GET', '/api/v1/mappings?enabled=false');
    expect((disabled.body.mappings as Array<{ id: string }>).map((m) => m.id)).toEqual([`${ids[3]}-map`]);
  });

  it('refuses a cursor it did not give and a page size out of range, naming the parameter', async () => {
    type Refusal = { error: { code: string; message: string; details: { issues: Array<{ path: string }> } } };
    const bad = await send('GET', '/api/v1/connections?cursor=nonsense');
    expect(bad.status).toBe(400);
    const zero = await send('GET', '/api/v1/mappings?limit=0');
    expect(zero.status).toBe(400);
    const unknown = await send('GET', '/api/v1/connections?colour=red');
    expect(unknown.status).toBe(400);
    // Each names its parameter the same way: `querystring.<name>`, in the message and the details.
    for (const [res, param] of [
      [bad, 'cursor'],
      [zero, 'limit'],
      [unknown, 'colour'],
    ] as const) {
      const body = res.body as Refusal;
      expect(body.error.code).toBe('VALIDATION_FAILED');
      expect(body.error.message).toMatch(new RegExp(`^The request is invalid: querystring\\.${param}: `));
      expect(body.error.details.issues.map((i) => i.path)).toEqual([`querystring.${param}`]);
    }
  });
});
