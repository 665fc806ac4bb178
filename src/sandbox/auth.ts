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
 * Data Center: Bearer PAT, or Basic username:password (the API token stands in for the password).
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
    const user = users.find((u) => (flavour === 'cloud' ? u.email === login : u.name === login || u.email === login));
    return user && same(user.apiToken, secret) ? { user, scheme: 'basic' } : null;
  }
  if (scheme.toLowerCase() === 'bearer') {
    const user = users.find((u) => same(flavour === 'cloud' ? u.oauthToken : u.pat, value));
    return user ? { user, scheme: 'bearer' } : null;
  }
  return null;
}
