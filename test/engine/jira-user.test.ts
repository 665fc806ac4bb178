/**
 * Who changed it (issue 19, item 6), the pure choice: the author of the newest change, else the
 * newest delivery's user, never our own account; the email kept where any source shows it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jiraUserView, whoChanged } from '../../src/engine/jira-user.js';
import type { JiraPerson } from '../../src/engine/types.js';

const alice: JiraPerson = { accountId: 'a-1', displayName: 'Alice', email: null };
const aliceMail: JiraPerson = { ...alice, email: 'alice@example.com' };
const bob: JiraPerson = { accountId: 'b-2', displayName: 'Bob', email: null };
const me: JiraPerson = { accountId: 'bridge', displayName: 'jira-bridge', email: 'bridge@example.com' };
const dc: JiraPerson = { name: 'carol', key: 'JIRAUSER1', displayName: 'Carol', email: 'carol@example.com' };

describe('whoChanged', () => {
  it('names the author of the newest change, else the newest delivery user, never jira-bridge', () => {
    expect(
      whoChanged(
        [
          { person: alice, at: 1 },
          { person: bob, at: 5 },
          { person: me, at: 9 },
        ],
        [alice],
        me,
      ),
    ).toEqual({ account_id: 'b-2', display_name: 'Bob' });
    expect(whoChanged([{ person: null, at: 3 }], [bob, alice, me], me)).toEqual({
      account_id: 'a-1',
      display_name: 'Alice',
    });
    expect(whoChanged([], [me], me)).toBeNull();
    expect(whoChanged([], [], null)).toBeNull();
  });

  it('keeps the email another source shows for the same user; Data Center users by name and key', () => {
    expect(whoChanged([{ person: alice, at: 1 }], [aliceMail], me)).toEqual({
      account_id: 'a-1',
      display_name: 'Alice',
      email_address: 'alice@example.com',
    });
    expect(whoChanged([{ person: alice, at: 1 }], [{ ...bob, email: 'bob@example.com' }], me)?.email_address).toBe(
      undefined,
    );
    expect(jiraUserView(dc)).toEqual({
      name: 'carol',
      key: 'JIRAUSER1',
      display_name: 'Carol',
      email_address: 'carol@example.com',
    });
    // A person Jira does not identify is nobody the host could act on.
    expect(jiraUserView({ displayName: 'Anonymous', email: null })).toBeNull();
  });

  it('the user named is always one of the sources, and never jira-bridge', () => {
    const person = fc.constantFrom<JiraPerson | null>(alice, aliceMail, bob, me, dc, null);
    fc.assert(
      fc.property(
        fc.array(fc.record({ person, at: fc.integer({ min: 0, max: 100 }) })),
        fc.array(person),
        (changes, deliveries) => {
          const u = whoChanged(changes, deliveries, me);
          const all = [...changes.map((c) => c.person), ...deliveries].filter((p) => p && p !== me);
          if (!all.length) return u === null;
          if (u === null) return false;
          if (u.account_id === 'bridge') return false;
          return all.some((p) => (p!.accountId ?? p!.name) === (u.account_id ?? u.name));
        },
      ),
    );
  });
});
