import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ACCESS_LEVELS,
  authorize,
  isAccess,
  scopeDecision,
  ROLES,
  type Access,
  type AccessLevel,
  type Principal,
  type Role,
} from '../../src/core/access.js';

const who = (role: Role, scopes: string[] = []): Principal => ({ id: 't', name: 't', role, scopes });

/** The README's role table, level by level (host tokens only where a route adds `host: true`). */
const TABLE: Record<AccessLevel, Record<Role, boolean>> = {
  public: { admin: true, operator: true, viewer: true, host: true },
  any: { admin: true, operator: true, viewer: true, host: true },
  read: { admin: true, operator: true, viewer: true, host: false },
  operate: { admin: true, operator: true, viewer: false, host: false },
  admin: { admin: true, operator: false, viewer: false, host: false },
};

describe('authorize: a route declaration against each role', () => {
  for (const allow of ACCESS_LEVELS) {
    for (const role of ROLES) {
      it(`${role} ${TABLE[allow][role] ? 'may' : 'may not'} call a route declaring { allow: ${allow} }`, () => {
        expect(authorize(who(role), { allow }, 'web').ok).toBe(TABLE[allow][role]);
      });
    }
  }
  it('host: true lets host tokens in, and only them in addition', () => {
    for (const allow of ['read', 'operate', 'admin'] as const) {
      expect(authorize(who('host'), { allow, host: true }, 'web').ok).toBe(true);
      for (const role of ['operator', 'viewer'] as const)
        expect(authorize(who(role), { allow, host: true }, 'web').ok).toBe(TABLE[allow][role]);
    }
  });
  it('host tokens limited to scopes: only those scopes, and a scope must be named as one string', () => {
    const h = who('host', ['web']);
    const records: Access = { allow: 'admin', host: true };
    expect(authorize(h, records, 'web').ok).toBe(true);
    expect(authorize(h, records, 'payroll').ok).toBe(false);
    expect(authorize(h, records, undefined).ok).toBe(false);
    expect(authorize(h, records, ['web', 'payroll']).ok).toBe(false);
    expect(authorize(h, records, ['web']).ok).toBe(false);
    // Who am I needs no scope.
    expect(authorize(h, { allow: 'any' }, undefined).ok).toBe(true);
  });
  it('a route that declares nothing, or nonsense, refuses everyone — admins too', () => {
    for (const role of ROLES) {
      expect(authorize(who(role), undefined, 'web').ok).toBe(false);
      for (const bad of [
        { allow: 'everyone' },
        { allow: 'read', host: 'yes' },
        { allow: 'read', extra: 1 },
        'read',
        null,
      ])
        expect(authorize(who(role), bad as unknown as Access, 'web').ok).toBe(false);
    }
  });
  it('a refusal says why', () => {
    const d = authorize(who('operator'), { allow: 'admin' });
    expect(d.ok).toBe(false);
    expect(!d.ok && d.reason).toMatch(/admin tokens only/);
    const h = authorize(who('host'), { allow: 'read' });
    expect(!h.ok && h.reason).toMatch(/record API and the change feed/);
  });
  it('property: no role reaches more than its level admits; admin reaches every declared level', () => {
    const order: AccessLevel[] = ['public', 'any', 'read', 'operate', 'admin'];
    fc.assert(
      fc.property(
        fc.constantFrom(...ROLES),
        fc.constantFrom(...ACCESS_LEVELS),
        fc.boolean(),
        fc.array(fc.constantFrom('web', 'api', 'payroll'), { maxLength: 2 }),
        fc.option(fc.constantFrom('web', 'api', 'payroll'), { nil: undefined }),
        (role, allow, host, scopes, scope) => {
          const d = authorize(who(role, scopes), { allow, host }, scope);
          if (role === 'admin') return d.ok;
          if (role === 'host') {
            const scoped = scopes.length === 0 || (scope !== undefined && scopes.includes(scope));
            return d.ok === (allow === 'public' || allow === 'any' || (host && scoped));
          }
          const reach = role === 'operator' ? order.indexOf('operate') : order.indexOf('read');
          return d.ok === order.indexOf(allow) <= reach;
        },
      ),
    );
  });
  it("host: 'handler' lets host tokens past the door whatever the URL names; the handler's scopeDecision keeps them to their scopes", () => {
    const sync: Access = { allow: 'operate', host: 'handler' };
    for (const scope of ['web', 'payroll', undefined]) {
      expect(authorize(who('host', ['web']), sync, scope).ok).toBe(true);
      expect(authorize(who('viewer'), sync, scope).ok).toBe(false);
      expect(authorize(who('operator'), sync, scope).ok).toBe(true);
    }
    const h = who('host', ['web']);
    expect(scopeDecision(h, 'web').ok).toBe(true);
    const refused = scopeDecision(h, 'payroll');
    expect(!refused.ok && refused.reason).toBe('this token may not use scope "payroll"');
    expect(scopeDecision(h, undefined).ok).toBe(false);
    // Unscoped host tokens and the other roles are not limited by scope.
    expect(scopeDecision(who('host'), 'payroll').ok).toBe(true);
    expect(scopeDecision(who('operator'), 'payroll').ok).toBe(true);
    expect(scopeDecision(null, 'payroll').ok).toBe(true);
  });
  it('property: scopeDecision admits a scoped host token exactly within its scopes', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ROLES),
        fc.array(fc.constantFrom('web', 'api', 'payroll'), { maxLength: 2 }),
        fc.constantFrom('web', 'api', 'payroll'),
        (role, scopes, scope) =>
          scopeDecision(who(role, scopes), scope).ok === (role !== 'host' || !scopes.length || scopes.includes(scope)),
      ),
    );
  });
  it('isAccess accepts exactly the declared shapes', () => {
    expect(isAccess({ allow: 'read' })).toBe(true);
    expect(isAccess({ allow: 'read', host: true })).toBe(true);
    expect(isAccess({ allow: 'operate', host: 'handler' })).toBe(true);
    expect(isAccess({ allow: 'operate', host: 'body' })).toBe(false);
    expect(isAccess({ allow: 'root' })).toBe(false);
    expect(isAccess({})).toBe(false);
  });
});
