/**
 * Access by declaration, walked from the router: every route the server registered (not a list
 * kept here) must declare who may call it, the declaration must agree with the README's role
 * table, and the decision must hold for every spelling of its path — percent-encoded letters,
 * doubled slashes, a trailing slash, dot segments, mixed case, encoded slashes. Which route a
 * spelling reached is read from the service's own request log (the route the router matched), so
 * the decision is checked against the README for that route, whatever the URL's text said.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/app/service.js';
import { authorize, isAccess, type Principal, type Role } from '../../src/core/access.js';
import { registeredRoutes, type RegisteredRoute } from '../../src/http/server.js';
import { createLogger } from '../../src/log/logger.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { sandboxConnectionYaml, startTestService, WEB_AND_PAYROLL_MAPPINGS, writeConfig } from '../helpers/service.js';

type Who = 'none' | 'admin' | 'operator' | 'viewer' | 'host-web' | 'host-all';
const WHO: Who[] = ['none', 'admin', 'operator', 'viewer', 'host-web', 'host-all'];

/** The README's Access section, written out independently of the routes' declarations. */
const PUBLIC_PATHS = [
  /^\/healthz$/,
  /^\/readyz$/,
  /^\/metrics$/,
  /^\/openapi\.json$/,
  /^\/docs(\/|$)/,
  /^\/console(\/|$)/,
  /^\/webhooks\/jira\/:connectionId$/,
  /^\/oauth\/callback$/,
];
const OPERATOR_WRITES = [
  'POST /api/v1/jobs/:id/retry',
  'POST /api/v1/jobs/retry-dead',
  'POST /api/v1/sync',
  'POST /api/v1/backfill',
  'POST /api/v1/mappings/:id/apply',
  'POST /api/v1/mappings/:id/apply/:runId/cancel',
  'POST /api/v1/connections/:id/check',
];
function readme(method: string, route: string, who: Who, scope: unknown): boolean {
  if (PUBLIC_PATHS.some((r) => r.test(route))) return true;
  if (who === 'none') return false;
  const read = method === 'GET' || method === 'HEAD';
  if (read && route === '/api/v1/me') return true;
  if (who === 'admin') return true;
  if (/^\/api\/v1\/(tokens|audit)(\/|$)/.test(route)) return false;
  if (who === 'viewer') return read;
  if (who === 'operator') return read || OPERATOR_WRITES.includes(`${method} ${route}`);
  // host: the record API (records, comments, attachments, log, plan, counts) and the change feed;
  // host-web only within scope "web"
  // Manual sync: the scope is the record's (found from the body), so the handler decides it.
  if (method === 'POST' && route === '/api/v1/sync') return true;
  if (!/^\/api\/v1\/(records(\/|$)|changes$)/.test(route)) return false;
  return who === 'host-all' || scope === 'web';
}

const PARAMS: Record<string, string> = {
  scope: 'web',
  hostId: 'h-1',
  id: 'x',
  connectionId: 'sb',
  attachmentId: '1',
};
const QUERY_SCOPED = new Set(['/api/v1/records', '/api/v1/records/counts', '/api/v1/changes']);

/** Concrete paths for a route template (records routes also under another scope). */
function concrete(r: RegisteredRoute): string[] {
  const fill = (scope: string) =>
    r.url
      .replace(/:(\w+)/g, (_m, p: string) => (p === 'scope' ? scope : (PARAMS[p] ?? 'x')))
      .replace(/\*$/, r.url.startsWith('/console') ? 'app.js' : 'index.html');
  if (r.url.includes(':scope')) return [fill('web'), fill('payroll')];
  if (QUERY_SCOPED.has(r.url)) return [`${r.url}?scope=web`, `${r.url}?scope=payroll`, r.url];
  return [fill('web')];
}

const enc = (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
/** Other spellings of a path (query kept aside), each named. */
function spellings(full: string): Array<[string, string]> {
  const [path, query] = full.split('?') as [string, string | undefined];
  const q = query !== undefined ? `?${query}` : '';
  const segs = path.split('/').slice(1);
  const last = segs.length - 1;
  const withSeg = (i: number, s: string) => `/${segs.map((x, j) => (j === i ? s : x)).join('/')}`;
  const out: Array<[string, string]> = [
    ['first letter encoded', withSeg(0, enc(segs[0]![0]!) + segs[0]!.slice(1))],
    ['every letter of the first segment encoded', withSeg(0, [...segs[0]!].map(enc).join(''))],
    ['last segment encoded', withSeg(last, [...segs[last]!].map(enc).join(''))],
    ['lower-case escapes', withSeg(0, enc(segs[0]![0]!).toLowerCase() + segs[0]!.slice(1))],
    ['leading double slash', `/${path}`],
    ['inner double slash', path.replace(/\/(?=[^/]*$)/, '//')],
    ['trailing slash', `${path}/`],
    ['dot segment', `/${segs.slice(0, last).join('/')}/./${segs[last]}`.replace(/^\/\.\//, '/./')],
    ['dot-dot segment', `/${segs[0]}/zz/../${segs.slice(1).join('/')}`],
    ['upper case', path.toUpperCase()],
    ['mixed case', withSeg(0, segs[0]![0]!.toUpperCase() + segs[0]!.slice(1))],
    ['encoded slash', `/${segs.join('%2F')}`],
    ['encoded dot-dot', `/${segs[0]}/%2E%2E/${segs.join('/')}`],
  ];
  if (segs.length > 1) out.push(['second segment encoded', withSeg(1, [...segs[1]!].map(enc).join(''))]);
  return out.map(([n, p]) => [n, p + q]);
}

interface Answer {
  status: number;
  code: string | undefined;
  route: string | undefined;
}

describe('access by declaration, walked from the router, for every spelling of every path', () => {
  let sb: RunningSandbox;
  let svc: RunningService;
  const dir = mkdtempSync(join(tmpdir(), 'jb-route-access-'));
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  /** req_id → the route the router matched, from the service's own request log. */
  const matched = new Map<string, string>();
  const logs = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.includes('"request completed"')) continue;
        const l = JSON.parse(line) as { req_id?: string; route?: string };
        if (l.req_id && l.route) matched.set(l.req_id, l.route);
      }
      done();
    },
  });
  const tokens: Partial<Record<Who, string>> = {};
  let seq = 0;
  const counts = { requests: 0, byStatus: new Map<number, number>() };

  /** A raw request: the path goes on the wire exactly as written (no URL normalisation). */
  function send(method: string, path: string, who: Who): Promise<Answer> {
    const id = `walk-${++seq}`;
    const body = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method) ? '{}' : undefined;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: svc.port,
          method,
          path,
          agent,
          headers: {
            'x-request-id': id,
            ...(tokens[who] ? { authorization: `Bearer ${tokens[who]}` } : {}),
            ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': body.length } : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            counts.requests++;
            counts.byStatus.set(res.statusCode!, (counts.byStatus.get(res.statusCode!) ?? 0) + 1);
            let code: string | undefined;
            try {
              code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
            } catch {
              code = undefined;
            }
            resolve({ status: res.statusCode!, code, route: undefined });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    }).then(async (a) => {
      // The log line is written in onResponse, after the answer: wait for it (with a deadline).
      const t0 = Date.now();
      while (!matched.has(id) && Date.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 2));
      return { ...(a as Answer), route: matched.get(id) };
    });
  }
  // A HEAD answer has no body to name the code: its status alone tells.
  const denied = (a: Answer, method: string) =>
    method === 'HEAD'
      ? a.status === 401 || a.status === 403
      : (a.status === 401 && a.code === 'UNAUTHENTICATED') || (a.status === 403 && a.code === 'FORBIDDEN');
  const scopeOf = (path: string, route: string): unknown => {
    const [p, q] = path.split('?') as [string, string | undefined];
    if (route.includes(':scope')) {
      const i = route.split('/').indexOf(':scope');
      return decodeURIComponent(p.split('/')[i] ?? '');
    }
    const all = new URLSearchParams(q ?? '').getAll('scope');
    return all.length === 1 ? all[0] : all.length ? all : undefined;
  };
  const principal = (who: Who): Principal | undefined =>
    who === 'none'
      ? undefined
      : {
          id: who,
          name: who,
          role: (who.startsWith('host') ? 'host' : who) as Role,
          scopes: who === 'host-web' ? ['web'] : [],
        };

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    writeConfig(dir, [...sandboxConnectionYaml(sb), ...WEB_AND_PAYROLL_MAPPINGS]);
    svc = await startTestService(dir, {}, createLogger({ level: 'info', destination: logs }));
  });
  afterAll(async () => {
    agent.destroy();
    await svc.stop();
    await sb.close();
    rmSync(dir, { recursive: true, force: true });
    // The closing note's numbers: how many requests, what they were answered.
    console.log(
      `route-access walk: ${counts.requests} requests; statuses ${JSON.stringify(Object.fromEntries(counts.byStatus))}`,
    );
  });

  it('every registered route declares its access, and the declaration is the README role table', () => {
    const routes = registeredRoutes(svc.server);
    // The walk covers what the router has: the API, the system routes, the console, the docs.
    expect(routes.length).toBeGreaterThan(60);
    for (const url of ['/api/v1/tokens', '/api/v1/records/:scope/:hostId', '/healthz', '/webhooks/jira/:connectionId'])
      expect(routes.some((r) => r.url === url)).toBe(true);
    expect(routes.some((r) => r.url.startsWith('/console/'))).toBe(true);
    expect(routes.some((r) => r.url.startsWith('/docs'))).toBe(true);
    const undeclared = routes.filter((r) => !isAccess(r.access)).map((r) => `${r.method} ${r.url}`);
    expect(undeclared).toEqual([]);
    const disagree: string[] = [];
    for (const r of routes)
      for (const who of WHO)
        for (const scope of ['web', 'payroll', undefined]) {
          const p = principal(who);
          const declared = r.access?.allow === 'public' || (p !== undefined && authorize(p, r.access, scope).ok);
          if (declared !== readme(r.method, r.url, who, scope))
            disagree.push(`${who} ${r.method} ${r.url} scope=${String(scope)}: declared ${declared}`);
        }
    expect(disagree).toEqual([]);
  });

  it('while no token exists the declared routes are open; then every spelling of every path is decided by the route it matched', async () => {
    // Open API: the first admin token is minted without one.
    const open = await send('GET', '/api/v1/jobs', 'none');
    expect(open.status).toBe(200);
    const mint = async (name: string, role: string, scopes?: string[]) => {
      const r = await fetch(`${svc.url}/api/v1/tokens`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(tokens.admin ? { authorization: `Bearer ${tokens.admin}` } : {}),
        },
        body: JSON.stringify({ name, role, ...(scopes ? { scopes } : {}) }),
      });
      expect(r.status).toBe(201);
      return ((await r.json()) as { token: string }).token;
    };
    tokens.admin = await mint('admin', 'admin');
    tokens.operator = await mint('operator', 'operator');
    tokens.viewer = await mint('viewer', 'viewer');
    tokens['host-web'] = await mint('host-web', 'host', ['web']);
    tokens['host-all'] = await mint('host-all', 'host');

    const wrong: string[] = [];
    const fivexx: string[] = [];
    let spelled = 0;
    let reached = 0;
    for (const r of registeredRoutes(svc.server)) {
      for (const plain of concrete(r)) {
        for (const [name, path] of [['plain', plain] as [string, string], ...spellings(plain)]) {
          const answers = await Promise.all(WHO.map((who) => send(r.method, path, who)));
          answers.forEach((a, i) => {
            const who = WHO[i]!;
            const what = `${who} ${r.method} ${path} (${name} of ${r.url})`;
            if (a.status >= 500) fivexx.push(`${what}: ${a.status} ${a.code}`);
            if (a.route === undefined || a.route === '(unmatched)') {
              // Reached no route: nothing but "no such route" (or a refused URL).
              if (a.status !== 404 && a.status !== 400) wrong.push(`${what}: unmatched but answered ${a.status}`);
              if (name === 'plain') wrong.push(`${what}: the plain path matched no route`);
              return;
            }
            if (name !== 'plain') spelled++;
            reached++;
            const expectAllowed = readme(r.method === 'HEAD' ? 'HEAD' : r.method, a.route, who, scopeOf(path, a.route));
            if (expectAllowed === denied(a, r.method))
              wrong.push(
                `${what}: matched ${a.route}, README says ${expectAllowed ? 'allowed' : 'denied'}, answered ${a.status} ${a.code ?? ''}`,
              );
          });
        }
      }
    }
    expect(fivexx).toEqual([]);
    expect(wrong).toEqual([]);
    // The spellings did reach routes (the router decodes them): the walk tested real decisions.
    expect(spelled).toBeGreaterThan(500);
    expect(reached).toBeGreaterThan(spelled);
  }, 240_000);
});
