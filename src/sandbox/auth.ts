import { timingSafeEqual } from 'node:crypto';
import type { Flavour, SandboxUser } from './model.js';
import type { SandboxState } from './state.js';

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Who is calling, from the Authorization header, the way each flavour authenticates.
 * Cloud: Basic email:apiToken, or Bearer with an OAuth 2.0 access token.
 * Data Center: Bearer PAT, or Basic username:password (the user name, case-insensitive as Jira
 * compares it, or the email; the user's password — Data Center has no API tokens).
 * Cloud refuses a password over its API (Atlassian removed basic auth with passwords in 2019): a
 * Basic header whose secret is the account's password is a 401 there, like any other wrong secret.
 */
export interface Authenticated {
  user: SandboxUser;
  /** basic = email/API token (Cloud) or username/password (DC); bearer = OAuth token (Cloud) or PAT (DC). */
  scheme: 'basic' | 'bearer';
}

export function authenticate(state: SandboxState, flavour: Flavour, header: string | undefined): Authenticated | null {
  if (!header) return null;
  const [scheme, value] = header.split(/\s+/, 2);
  if (!scheme || !value) return null;
  const users = [...state.users.values()].filter((u) => u.active);
  if (scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) return null;
    const login = decoded.slice(0, i);
    const secret = decoded.slice(i + 1);
    if (flavour === 'cloud') {
      const user = users.find((u) => u.email.toLowerCase() === login.toLowerCase());
      return user && same(user.apiToken, secret) ? { user, scheme: 'basic' } : null;
    }
    const lower = login.toLowerCase();
    const user =
      users.find((u) => u.name.toLowerCase() === lower) ?? users.find((u) => u.email.toLowerCase() === lower);
    return user && same(user.password, secret) ? { user, scheme: 'basic' } : null;
  }
  if (scheme.toLowerCase() === 'bearer') {
    const user = users.find((u) => same(flavour === 'cloud' ? u.oauthToken : u.pat, value));
    return user ? { user, scheme: 'bearer' } : null;
  }
  return null;
}
