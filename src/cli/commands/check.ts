import { readFileSync } from 'node:fs';
import { loadServiceConfig, type LoadedConfig } from '../../app/config-port.js';
import { jiraConnectionOf } from '../../app/engine-wiring.js';
import { checkConfigStructure, checkMappingAgainstCatalog } from '../../core/config-check.js';
import { createJiraClient, type JiraConnection } from '../../jira/client.js';
import { jqlFilterProblem } from '../../jira/jql-check.js';
import { createLogger } from '../../log/logger.js';
import {
  renderCheckReport,
  reportProblems,
  type CheckIssue,
  type CheckReport,
  type ConnectionResult,
} from '../check-report.js';
import { EXIT } from '../exit-codes.js';
import { describeError, line, printConfigError, type Out } from '../output.js';

export interface CheckOptions {
  configPath?: string;
  offline: boolean;
  env: NodeJS.ProcessEnv;
  out: Out;
}

/*
 * The config model is read through the small accessors below, which accept both the file's
 * snake_case keys and camelCase. They are the one place that knows the config's shape here.
 */
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
function get(o: unknown, ...keys: string[]): unknown {
  if (!isObj(o)) return undefined;
  for (const k of keys) if (o[k] !== undefined) return o[k];
  return undefined;
}
const s = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

interface NamedConnection {
  name: string;
  raw: Obj;
}

/** Connections as a list (`[{id|name, …}]`) or a map (`{name: {…}}`). */
function connectionsOf(config: unknown): NamedConnection[] {
  const c = get(config, 'connections');
  if (Array.isArray(c)) {
    return c.filter(isObj).map((raw, i) => ({ name: s(get(raw, 'id', 'name')) ?? `connections[${i}]`, raw }));
  }
  if (isObj(c)) return Object.entries(c).flatMap(([name, raw]) => (isObj(raw) ? [{ name, raw }] : []));
  return [];
}

function mappingsOf(config: unknown): Array<{ index: number; raw: Obj }> {
  const m = get(config, 'mappings');
  return Array.isArray(m) ? m.flatMap((raw, index) => (isObj(raw) ? [{ index, raw }] : [])) : [];
}

function mappingLabel(index: number, raw: Obj): string {
  const scope = s(get(raw, 'scope', 'host_scope', 'hostScope', 'id', 'name')) ?? '?';
  const project =
    s(get(get(raw, 'jira'), 'project', 'project_key', 'projectKey')) ??
    s(get(raw, 'project', 'project_key', 'projectKey'));
  return `mappings[${index}] ${scope}${project ? ` → ${project}` : ''}`;
}

function readCa(raw: Obj): string | undefined {
  const tls = get(raw, 'tls');
  const inline = s(get(tls, 'ca'));
  if (inline) return inline;
  const file = s(get(tls, 'ca_file', 'caFile'));
  return file ? readFileSync(file, 'utf8') : undefined;
}

/** The Jira client's connection from the (already validated, `${ENV}`-resolved) config entry. */
function toJiraConnection(name: string, raw: Obj): JiraConnection {
  const flavour = s(get(raw, 'flavour', 'flavor', 'type')) === 'datacenter' ? 'datacenter' : 'cloud';
  const auth = get(raw, 'auth', 'credentials') ?? raw;
  const email = s(get(auth, 'email'));
  const apiToken = s(get(auth, 'api_token', 'apiToken'));
  const pat = s(get(auth, 'pat', 'token', 'personal_access_token', 'personalAccessToken'));
  const username = s(get(auth, 'username'));
  const password = s(get(auth, 'password'));
  const verify = get(get(raw, 'tls'), 'verify') !== false;
  const ca = readCa(raw);
  return {
    id: name,
    siteUrl: s(get(raw, 'site_url', 'siteUrl', 'url', 'base_url', 'baseUrl')) ?? '',
    flavour,
    auth:
      username && password
        ? { type: 'password', username, password }
        : email && apiToken
          ? { type: 'basic', email, apiToken }
          : { type: 'pat', token: pat ?? apiToken ?? '' },
    tls: { verify, ...(ca ? { ca } : {}) },
  };
}

function asIssues(v: unknown): CheckIssue[] {
  if (!Array.isArray(v)) return [];
  return v.filter(isObj).map((i) => ({ path: String(i.path ?? ''), message: String(i.message ?? '') }));
}

/**
 * `jira-bridge check`: the file's schema (exit 2 with each `path: message` when invalid), its
 * structure, then per connection: can we log in (who, which server), and does each mapping match
 * that Jira's catalog (statuses, priorities, fields, options). Exit 3 when anything fails.
 */
export async function checkCommand(opts: CheckOptions): Promise<number> {
  const logger = createLogger({ level: opts.env.LOG_LEVEL ?? 'warn', destination: opts.out.stderr });
  let loaded: LoadedConfig;
  try {
    loaded = await loadServiceConfig({
      ...(opts.configPath !== undefined ? { path: opts.configPath } : {}),
      env: opts.env,
    });
  } catch (err) {
    if (printConfigError(err, opts.out)) return EXIT.CONFIG_INVALID;
    line(opts.out.stderr, `jira-bridge check: ${describeError(err)}`);
    return EXIT.FAILURE;
  }
  if (loaded.source === null) {
    line(
      opts.out.stderr,
      'jira-bridge check: no configuration file found (looked for ./jira-bridge.yaml; pass --config <path>). ' +
        'Copy examples/jira-bridge.example.yaml to jira-bridge.yaml to start. (`jira-bridge serve` without one runs the demo.)',
    );
    return EXIT.CONFIG_INVALID;
  }
  const { config } = loaded;
  const report: CheckReport = {
    configSource: loaded.source,
    structureIssues: asIssues(checkConfigStructure(config)),
    connections: [],
  };
  const mappings = mappingsOf(config);
  for (const conn of connectionsOf(config)) {
    const typed = config.connections.find((c) => c.id === conn.name);
    const jc = typed ? jiraConnectionOf(typed) : toJiraConnection(conn.name, conn.raw);
    const own = mappings.filter(
      (m) => (s(get(m.raw, 'connection', 'connection_id', 'connectionId')) ?? conn.name) === conn.name,
    );
    const result: ConnectionResult = {
      name: conn.name,
      url: jc.siteUrl,
      tlsInsecure: jc.tls?.verify === false,
      ok: true,
      detail: '',
      mappings: [],
    };
    report.connections.push(result);
    if (opts.offline) {
      result.skipped = true;
      result.detail = 'not contacted (--offline)';
      result.mappings = own.map((m) => ({
        label: mappingLabel(m.index, m.raw),
        ok: true,
        issues: [],
        skipped: '--offline',
      }));
      continue;
    }
    const client = createJiraClient(jc, { logger, maxRetries: 1, timeoutMs: 15_000 });
    try {
      const check = await client.checkConnection();
      if (!check.ok) {
        result.ok = false;
        result.detail = `${check.message} — ${check.hint}`;
        result.mappings = own.map((m) => ({
          label: mappingLabel(m.index, m.raw),
          ok: false,
          issues: [],
          skipped: 'the connection failed',
        }));
        continue;
      }
      const who =
        check.user.displayName +
        (check.user.accountId ? ` (${check.user.accountId})` : check.user.name ? ` (${check.user.name})` : '');
      result.detail =
        `connected as ${who} to Jira ${check.server.deploymentType || jc.flavour} ${check.server.version}`.trim();
      for (const w of check.warnings) result.detail += `\n    ! ${w}`;
      const catalog = await client.fetchCatalog();
      for (const m of own) {
        const typed = config.mappings[m.index]!;
        const issues = asIssues(checkMappingAgainstCatalog(typed, catalog, m.index));
        // The JQL filter as the service runs it: Jira's own message when it refuses it.
        if (typed.filter !== undefined && !issues.some((i) => i.path === `mappings[${m.index}].project`)) {
          const bad = await jqlFilterProblem(client, typed.project, typed.filter);
          if (bad) issues.push({ path: `mappings[${m.index}].filter`, message: bad });
        }
        result.mappings.push({ label: mappingLabel(m.index, m.raw), ok: issues.length === 0, issues });
      }
    } catch (err) {
      result.ok = false;
      result.detail = `could not read the Jira catalog: ${describeError(err)}`;
    } finally {
      await client.close().catch(() => undefined);
    }
  }
  opts.out.stdout.write(renderCheckReport(report));
  return reportProblems(report) === 0 ? EXIT.OK : EXIT.CHECK_FAILED;
}
