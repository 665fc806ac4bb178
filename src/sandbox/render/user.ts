import type { SandboxUser } from '../model.js';
import { avatarUrls, type RenderContext } from './context.js';

/**
 * A user as each flavour shows it. Cloud: `accountId`, no name/key, email only when the profile
 * allows it. Data Center: `name`/`key`, always the email, no accountId.
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
    emailAddress: user.email,
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
