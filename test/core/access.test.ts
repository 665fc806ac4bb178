import { describe, expect, it } from 'vitest';
import { authorize, type Principal, type Role } from '../../src/core/access.js';

const who = (role: Role, scopes: string[] = []): Principal => ({ id: 't', name: 't', role, scopes });

const CASES: Array<[string, string, Record<Role, boolean>]> = [
  ['GET', '/api/v1/records', { admin: true, operator: true, viewer: true, host: true }],
  ['PUT', '/api/v1/records/:scope/:hostId', { admin: true, operator: false, viewer: false, host: true }],
  ['POST', '/api/v1/records/:scope/:hostId/comments', { admin: true, operator: false, viewer: false, host: true }],
  ['GET', '/api/v1/changes', { admin: true, operator: true, viewer: true, host: true }],
  ['GET', '/api/v1/jobs', { admin: true, operator: true, viewer: true, host: false }],
  ['POST', '/api/v1/jobs/:id/retry', { admin: true, operator: true, viewer: false, host: false }],
  ['POST', '/api/v1/jobs/retry-dead', { admin: true, operator: true, viewer: false, host: false }],
  ['POST', '/api/v1/sync', { admin: true, operator: true, viewer: false, host: false }],
  ['POST', '/api/v1/backfill', { admin: true, operator: true, viewer: false, host: false }],
  ['GET', '/api/v1/mappings', { admin: true, operator: true, viewer: true, host: false }],
  ['PUT', '/api/v1/mappings/:id', { admin: true, operator: false, viewer: false, host: false }],
  ['POST', '/api/v1/connections/:id/webhook/secret', { admin: true, operator: false, viewer: false, host: false }],
  ['GET', '/api/v1/webhooks/deliveries', { admin: true, operator: true, viewer: true, host: false }],
  ['GET', '/api/v1/tokens', { admin: true, operator: false, viewer: false, host: false }],
  ['POST', '/api/v1/tokens', { admin: true, operator: false, viewer: false, host: false }],
  ['GET', '/api/v1/audit', { admin: true, operator: false, viewer: false, host: false }],
  ['GET', '/api/v1/me', { admin: true, operator: true, viewer: true, host: true }],
  ['GET', '/api/v1/stats', { admin: true, operator: true, viewer: true, host: false }],
  ['GET', '/api/v1/host-webhooks/deliveries', { admin: true, operator: true, viewer: true, host: false }],
  ['POST', '/api/v1/mappings/preview', { admin: true, operator: false, viewer: false, host: false }],
  ['GET', '/api/v1/connections/:id/catalog', { admin: true, operator: true, viewer: true, host: false }],
  ['GET', '/api/v1/backfill/:id', { admin: true, operator: true, viewer: true, host: false }],
  ['POST', '/api/v1/connections/check', { admin: true, operator: false, viewer: false, host: false }],
];

describe('authorize: each role against each endpoint group', () => {
  for (const [method, route, expected] of CASES) {
    for (const role of Object.keys(expected) as Role[]) {
      it(`${role} ${expected[role] ? 'may' : 'may not'} ${method} ${route}`, () => {
        expect(authorize(who(role), method, route, 'web').ok).toBe(expected[role]);
      });
    }
  }
  it('host tokens limited to scopes: only those scopes, and a scope must be named', () => {
    const h = who('host', ['web']);
    expect(authorize(h, 'PUT', '/api/v1/records/:scope/:hostId', 'web').ok).toBe(true);
    expect(authorize(h, 'PUT', '/api/v1/records/:scope/:hostId', 'payroll').ok).toBe(false);
    expect(authorize(h, 'GET', '/api/v1/changes', undefined).ok).toBe(false);
  });
  it('a refusal says why', () => {
    const d = authorize(who('operator'), 'PUT', '/api/v1/mappings/:id');
    expect(d.ok).toBe(false);
    expect(!d.ok && d.reason).toMatch(/admin token/);
  });
});
