import type { ApiVersion, Flavour } from '../model.js';
import type { SandboxState } from '../state.js';

/** What a renderer needs to know: the site, its flavour, and the API version the caller speaks. */
export interface RenderContext {
  state: SandboxState;
  flavour: Flavour;
  version: ApiVersion;
  /** Site base URL, no trailing slash (e.g. http://127.0.0.1:4123). */
  baseUrl: string;
}

export function apiUrl(ctx: RenderContext, path: string): string {
  return `${ctx.baseUrl}/rest/api/${ctx.version}/${path}`;
}

export function avatarUrls(ctx: RenderContext, kind: string, id: string | number): Record<string, string> {
  const u = (size: string): string => `${ctx.baseUrl}/secure/viewavatar?size=${size}&avatarId=${id}&avatarType=${kind}`;
  return { '48x48': u('large'), '24x24': u('small'), '16x16': u('xsmall'), '32x32': u('medium') };
}

/** Jira's timestamp format: 2024-05-01T10:00:00.000+0000. */
export function jiraTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}
