import type { SandboxUser } from '../model.js';
import { avatarUrls, type RenderContext } from './context.js';

/** The emailAddress Data Center shows for a user under the site's email visibility (none when hidden). */
export function dataCenterEmail(ctx: RenderContext, user: SandboxUser): string | undefined {
  const v = ctx.state.emailVisibility;
  if (v === 'hide') return undefined;
  if (v === 'mask') return user.email.replace(/@/g, ' at ').replace(/\./g, ' dot ');
  return user.email;
}

/**
 * A user as each flavour shows it. Cloud: `accountId`, no name/key, email only when the profile
 * allows it. Data Center: `name`/`key`, the email as the site's email visibility shows it, no accountId.
 */
export function renderUser(ctx: RenderContext, user: SandboxUser): Record<string, unknown> {
  const avatars = avatarUrls(ctx, 'user', user.key.replace(/\D/g, '') || '10000');
  if (ctx.flavour === 'cloud') {
    return {
      self: `${ctx.baseUrl}/rest/api/${ctx.version}/user?accountId=${user.accountId}`,
      accountId: user.accountId,
      ...(user.emailVisible ? { emailAddress: user.email } : {}),
      avatarUrls: avatars,
      displayName: user.displayName,
      active: user.active,
      timeZone: user.timeZone,
      accountType: user.accountType,
    };
  }
  return {
    self: `${ctx.baseUrl}/rest/api/${ctx.version}/user?username=${user.name}`,
    name: user.name,
    key: user.key,
    ...(dataCenterEmail(ctx, user) !== undefined ? { emailAddress: dataCenterEmail(ctx, user) } : {}),
    avatarUrls: avatars,
    displayName: user.displayName,
    active: user.active,
    timeZone: user.timeZone,
  };
}

export function renderUserById(
  ctx: RenderContext,
  accountId: string | null | undefined,
): Record<string, unknown> | null {
  if (!accountId) return null;
  const user = ctx.state.user(accountId);
  return user ? renderUser(ctx, user) : null;
}

/** `myself` adds locale and groups/applicationRoles wrappers. */
export function renderMyself(ctx: RenderContext, user: SandboxUser): Record<string, unknown> {
  return {
    ...renderUser(ctx, user),
    ...(ctx.flavour === 'cloud' && !user.emailVisible ? { emailAddress: user.email } : {}),
    locale: 'en_US',
    groups: { size: user.admin ? 2 : 1, items: [] },
    applicationRoles: { size: 1, items: [] },
    expand: 'groups,applicationRoles',
  };
}
