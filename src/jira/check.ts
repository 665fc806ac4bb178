/**
 * Connection check: who we are on Jira and which Jira it is, or precisely why not (bad URL, DNS,
 * TLS, credentials, permission, wrong base URL/context path, timeout), with the fix.
 */
import { isAppError } from '../core/errors.js';
import type { JiraClient } from './client.js';
import { credentialHint } from './errors.js';
import type { JiraConnection } from './transport.js';
import type { CheckResult, JiraServerInfo, JiraUser } from './types.js';

type Failure = Extract<CheckResult, { ok: false }>;

export function classifyCheckError(err: unknown, conn: JiraConnection, apiPath: string): Failure {
  if (!isAppError(err)) {
    return {
      ok: false,
      code: 'unexpected',
      message: err instanceof Error ? err.message : String(err),
      hint: 'see the service log',
    };
  }
  const d = (err.details ?? {}) as { kind?: string; hint?: string; status?: number };
  switch (err.code) {
    case 'CONFIG_INVALID':
      return {
        ok: false,
        code: 'bad_url',
        message: err.message,
        hint: 'set site_url to the Jira base URL, e.g. https://your-site.atlassian.net or https://jira.example.com',
      };
    case 'JIRA_TLS':
      return {
        ok: false,
        code: 'tls',
        message: err.message,
        hint: d.hint ?? 'set tls.ca_file (or tls.ca_pem) to the CA bundle that signed the Jira certificate',
      };
    case 'JIRA_NETWORK': {
      const code =
        d.kind === 'dns' ? 'dns' : d.kind === 'timeout' ? 'timeout' : d.kind === 'refused' ? 'refused' : 'network';
      return { ok: false, code, message: err.message, hint: d.hint ?? 'check the site URL and the network' };
    }
    case 'JIRA_UNAUTHORIZED':
      return {
        ok: false,
        code: 'unauthorized',
        message: err.message,
        hint: credentialHint(conn.flavour, conn.auth.type),
      };
    case 'JIRA_FORBIDDEN':
      return { ok: false, code: 'forbidden', message: err.message, hint: d.hint ?? 'the Jira user lacks a permission' };
    case 'JIRA_NOT_FOUND':
      return {
        ok: false,
        code: 'not_found',
        message: err.message,
        hint: `no Jira REST API at ${apiPath} under this site URL: check the base URL and its context path (e.g. https://jira.example.com/jira when Jira is installed under /jira)${conn.flavour === 'cloud' ? '' : ', and that the flavour is datacenter'}`,
      };
    case 'JIRA_RATE_LIMITED':
      return {
        ok: false,
        code: 'rate_limited',
        message: err.message,
        hint: 'Jira is rate limiting this account right now; try again shortly',
      };
    case 'JIRA_UNAVAILABLE':
      return {
        ok: false,
        code: 'unavailable',
        message: err.message,
        hint: 'Jira answered with a server error; try again later or check the Jira server',
      };
    default:
      return { ok: false, code: 'unexpected', message: err.message, hint: 'see the service log' };
  }
}

function looksLikeJson(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export async function checkConnection(client: JiraClient, conn: JiraConnection): Promise<CheckResult> {
  let me: JiraUser;
  let info: JiraServerInfo;
  try {
    me = await client.myself();
    if (!looksLikeJson(me) || typeof me.displayName !== 'string') {
      return {
        ok: false,
        code: 'not_found',
        message: `${client.baseUrl}${client.apiPath}/myself did not answer with a Jira user (an HTML page or a proxy answered instead)`,
        hint: 'check the base URL and its context path; it must be the URL you browse Jira at',
      };
    }
    info = await client.serverInfo();
  } catch (err) {
    return classifyCheckError(err, conn, client.apiPath);
  }
  const warnings: string[] = [];
  if (conn.tls?.verify === false)
    warnings.push(
      'TLS verification is disabled for this connection: anyone on the network path can impersonate Jira; set tls.ca_file or tls.ca_pem instead',
    );
  const deploymentType = String(info.deploymentType ?? '');
  if (conn.flavour === 'cloud' && deploymentType && deploymentType !== 'Cloud')
    warnings.push(
      `the connection says flavour cloud but Jira reports deploymentType ${deploymentType}: set flavour: datacenter`,
    );
  if (conn.flavour === 'datacenter' && deploymentType === 'Cloud')
    warnings.push('the connection says flavour datacenter but Jira reports Cloud: set flavour: cloud');
  return {
    ok: true,
    user: {
      displayName: me.displayName,
      ...(me.accountId ? { accountId: me.accountId } : {}),
      ...(me.name ? { name: me.name } : {}),
    },
    server: { baseUrl: String(info.baseUrl ?? ''), version: String(info.version ?? ''), deploymentType },
    warnings,
  };
}
