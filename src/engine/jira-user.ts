/**
 * Who changed it (issue 19 item 6): the Jira user behind a Jira-origin change of a record, as the
 * feed, the host webhooks and the sync log carry it. Pure: it picks from what the inbound run
 * already has — the changelog's author per field (a read of the issue, so the sweep's changes
 * have it too), the authors of the comments it brought, and the `user` of the deliveries that
 * asked for the run (comment events: the comment's author or updateAuthor).
 */
import type { JiraPerson } from './types.js';

/**
 * A Jira user as the host hears of it: `account_id` on Cloud, `name`/`key` on Data Center,
 * `display_name`, and `email_address` only where Jira shows it (Cloud hides it unless the user
 * allows it).
 */
export interface JiraUserView {
  account_id?: string;
  name?: string;
  key?: string;
  display_name: string;
  email_address?: string;
}

export function jiraUserView(p: JiraPerson | null | undefined): JiraUserView | null {
  if (!p) return null;
  if (!p.accountId && !p.name && !p.key) return null;
  return {
    ...(p.accountId ? { account_id: p.accountId } : {}),
    ...(p.name ? { name: p.name } : {}),
    ...(p.key ? { key: p.key } : {}),
    display_name: p.displayName || p.name || p.accountId || p.key || 'unknown',
    ...(p.email ? { email_address: p.email } : {}),
  };
}

const same = (a: JiraPerson, b: JiraPerson): boolean =>
  (a.accountId !== undefined && a.accountId === b.accountId) ||
  (a.key !== undefined && a.key === b.key) ||
  (a.name !== undefined && a.name === b.name);

/** A change with its author and when Jira made it (epoch ms). */
export interface AuthoredChange {
  person: JiraPerson | null;
  at: number;
}

/**
 * The user behind an event: the author of its newest change (changelog entries of the changed
 * fields, or comments), else the newest delivery's user; never jira-bridge's own account. An
 * email the other sources show for the same user is kept (a delivery's `user` may carry it where
 * the changelog's author does not).
 */
export function whoChanged(
  changes: readonly AuthoredChange[],
  deliveryUsers: ReadonlyArray<JiraPerson | null>,
  me: JiraPerson | null,
): JiraUserView | null {
  const notMe = (p: JiraPerson | null): p is JiraPerson => p !== null && !(me !== null && same(p, me));
  let pick: JiraPerson | undefined;
  let at = -Infinity;
  for (const c of changes) {
    if (notMe(c.person) && c.at >= at) {
      pick = c.person;
      at = c.at;
    }
  }
  const fromDeliveries = deliveryUsers.filter(notMe);
  pick ??= fromDeliveries[fromDeliveries.length - 1];
  if (!pick) return null;
  const who: JiraPerson = pick;
  if (who.email) return jiraUserView(who);
  const email = [...fromDeliveries, ...changes.map((c) => c.person).filter(notMe)].find(
    (p) => p.email && same(p, who),
  )?.email;
  return jiraUserView(email ? { ...who, email } : who);
}
