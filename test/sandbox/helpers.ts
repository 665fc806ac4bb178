import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildSandboxApp, type SandboxOptions } from '../../src/sandbox/index.js';

export type Built = Awaited<ReturnType<typeof buildSandboxApp>>;

export interface Client {
  sb: Built;
  /** REST version prefix used by the helpers: /rest/api/3 on Cloud, /rest/api/2 on DC. */
  api: string;
  call(
    method: InjectOptions['method'],
    url: string,
    payload?: unknown,
    headers?: Record<string, string>,
  ): Promise<LightMyRequestResponse>;
  as(user: string): Client;
}

/** Authorization header for a seeded user, the way the flavour authenticates. */
export function authHeader(sb: Built, user = 'admin'): string {
  const u = sb.credentials.users[user];
  if (!u) throw new Error(`no user ${user}`);
  return sb.flavour === 'cloud'
    ? `Basic ${Buffer.from(`${u.loginEmail}:${u.apiToken}`).toString('base64')}`
    : `Bearer ${u.pat}`;
}

function clientFor(sb: Built, user: string): Client {
  const api = sb.flavour === 'cloud' ? '/rest/api/3' : '/rest/api/2';
  return {
    sb,
    api,
    call: (method, url, payload, headers = {}) =>
      sb.app.inject({
        method,
        url: url.startsWith('/') ? url : `${api}/${url}`,
        headers: { authorization: authHeader(sb, user), ...headers },
        ...(payload !== undefined ? { payload: payload as InjectOptions['payload'] } : {}),
      }),
    as: (other) => clientFor(sb, other),
  };
}

export async function sandboxClient(opts: SandboxOptions = {}): Promise<Client> {
  const sb = await buildSandboxApp(opts);
  return clientFor(sb, 'admin');
}

/** A text body in the flavour's format: ADF on Cloud v3, wiki markup on DC v2. */
export function text(c: Client, s: string): unknown {
  return c.api.endsWith('/3')
    ? { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: s }] }] }
    : s;
}

export async function createIssue(c: Client, fields: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const res = await c.call('POST', 'issue', { fields: { summary: 'An issue', ...fields } });
  if (res.statusCode !== 201) throw new Error(`create failed: ${res.statusCode} ${res.body}`);
  return res.json();
}

export const FLAVOURS = ['cloud', 'datacenter'] as const;
