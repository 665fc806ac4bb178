import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoConfig } from '../../src/config/demo.js';
import { ConfigError, loadConfig, parseConfigText } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { toOutboundMapping } from '../../src/config/to-engine.js';
import { fieldWriteType, type JiraCatalog } from '../../src/core/catalog.js';
import { checkConfigStructure, checkMappingAgainstCatalog } from '../../src/core/config-check.js';
import { createJiraClient } from '../../src/jira/client.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';

const dir = mkdtempSync(join(tmpdir(), 'jb-config-'));
let n = 0;
function file(text: string): string {
  const p = join(dir, `c${n++}.yaml`);
  writeFileSync(p, text);
  return p;
}

const CONN = `connections:
  - id: acme
    site_url: https://acme.atlassian.net
    flavour: cloud
    auth: { type: basic, email: bot@acme.example, api_token: s3cr3t-token-value }
`;
const MAPPING = (extra = '') => `mappings:
  - id: web
    connection: acme
    scope: web-portal
    project: SEC
    kinds: { vulnerability: { issue_type: Vulnerability } }
${extra}`;

async function issuesOf(text: string, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  try {
    await loadConfig({ path: file(text), env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected the configuration to be rejected');
}

describe('loadConfig: invalid files name the exact path and the fix', () => {
  it('YAML syntax error with its line', async () => {
    const issues = await issuesOf('server:\n  port: 8080\n connections: [\n');
    expect(issues[0]).toMatch(/^line \d+, column \d+: YAML syntax error/);
  });

  it('unknown key with a suggestion and the allowed keys', async () => {
    const issues = await issuesOf(CONN + MAPPING('    directon: both\n'));
    expect(issues).toContainEqual(
      expect.stringMatching(/^mappings\[0\]\.directon: unknown key 'directon' — did you mean 'direction'\?/),
    );
  });

  it('wrong type', async () => {
    const issues = await issuesOf('server:\n  port: "eighty"\n');
    expect(issues).toEqual([
      expect.stringMatching(/^server\.port: expected number, got the string "eighty" \(line 2\)$/),
    ]);
  });

  it('missing required field', async () => {
    const issues = await issuesOf(CONN.replace('    flavour: cloud\n', ''));
    expect(issues).toEqual([expect.stringMatching(/^connections\[0\]\.flavour: is required/)]);
  });

  it('bad enum value with a suggestion', async () => {
    const issues = await issuesOf(CONN.replace('flavour: cloud', 'flavour: clod'));
    expect(issues[0]).toMatch(
      /^connections\[0\]\.flavour: "clod" is not allowed; expected one of "cloud", "datacenter" — did you mean "cloud"\?/,
    );
  });

  it('missing environment variable', async () => {
    const issues = await issuesOf(CONN.replace('s3cr3t-token-value', '"${JIRA_TOKEN}"'));
    expect(issues).toEqual([
      expect.stringMatching(/^connections\[0\]\.auth\.api_token: environment variable JIRA_TOKEN is not set/),
    ]);
  });

  it('bad URL', async () => {
    const issues = await issuesOf(CONN.replace('https://acme.atlassian.net', 'acme.atlassian.net'));
    expect(issues[0]).toMatch(/^connections\[0\]\.site_url: must be an absolute http\(s\) URL/);
  });

  it('a host webhook naming a change type that does not exist', async () => {
    const issues = await issuesOf(
      'host_webhooks:\n  - { url: "https://h.example/x", secret: "0123456789abcdef", events: [record.created, record.updatd] }\n',
    );
    expect(issues[0]).toMatch(
      /^host_webhooks\[0\]\.events: "record\.updatd" is not a change type; known: record\.created, .*record\.updated.*, or \* for all/,
    );
  });

  it('bad email in basic auth', async () => {
    const issues = await issuesOf(CONN.replace('bot@acme.example', 'bot'));
    expect(issues[0]).toMatch(/^connections\[0\]\.auth\.email: must be an email address/);
  });

  describe('Data Center basic auth with a username and password', () => {
    const DC = (auth: string) => `connections:
  - id: onprem
    site_url: https://jira.example.com/jira
    flavour: datacenter
    auth: ${auth}
`;

    it('takes username and password on Data Center, the password from an ${ENV} reference', async () => {
      const c = parseConfigText(DC('{ type: basic, username: jira-bot, password: "${JIRA_PASSWORD}" }'), {
        JIRA_PASSWORD: 'pa:ss wörd',
      });
      expect(c.connections[0]!.auth).toEqual({ type: 'basic', username: 'jira-bot', password: 'pa:ss wörd' });
    });

    it('keeps Cloud basic auth with email and api_token', async () => {
      const c = parseConfigText(CONN, {});
      expect(c.connections[0]!.auth).toEqual({
        type: 'basic',
        email: 'bot@acme.example',
        api_token: 's3cr3t-token-value',
      });
    });

    it('refuses a username and password on Cloud, naming the field and the fix', async () => {
      const issues = await issuesOf(
        CONN.replace(
          '{ type: basic, email: bot@acme.example, api_token: s3cr3t-token-value }',
          '{ type: basic, username: bot, password: hunter2-secret }',
        ),
      );
      expect(issues).toEqual([
        expect.stringMatching(
          /^connections\[0\]\.auth\.username: Jira Cloud refuses a username and password over its API: use email and api_token .*id\.atlassian\.com.* or type: oauth; username \+ password is for flavour: datacenter/,
        ),
      ]);
      expect(issues.join('\n')).not.toContain('hunter2-secret');
    });

    it('a username without its password, and the two forms mixed, name the field', async () => {
      expect(await issuesOf(DC('{ type: basic, username: jira-bot }'))).toEqual([
        expect.stringMatching(/^connections\[0\]\.auth\.password: is required with username/),
      ]);
      expect(await issuesOf(DC('{ type: basic, password: x }'))).toEqual([
        expect.stringMatching(/^connections\[0\]\.auth\.username: is required with password/),
      ]);
      expect(
        await issuesOf(DC('{ type: basic, email: bot@example.com, api_token: t, username: bot, password: p }')),
      ).toEqual([
        expect.stringMatching(/^connections\[0\]\.auth\.username: cannot be combined with email/),
        expect.stringMatching(/^connections\[0\]\.auth\.password: cannot be combined with email/),
      ]);
      expect(await issuesOf(DC('{ type: basic }'))).toEqual([
        expect.stringMatching(
          /^connections\[0\]\.auth\.email: is required \(basic auth: email \+ api_token on Cloud, or username \+ password on Data Center\)/,
        ),
        expect.stringMatching(/^connections\[0\]\.auth\.api_token: is required/),
      ]);
      expect(await issuesOf(DC('{ type: basic, username: bot, pasword: x }'))).toContainEqual(
        expect.stringMatching(/^connections\[0\]\.auth\.pasword: unknown key 'pasword'/),
      );
    });
  });

  it('explicit file that does not exist', async () => {
    await expect(loadConfig({ path: join(dir, 'nope.yaml'), env: {} })).rejects.toThrow(ConfigError);
  });

  it('never puts a secret in a message', async () => {
    const issues = await issuesOf(CONN.replace('flavour: cloud', 'flavour: 42') + 'bogus: 1\n');
    expect(issues.join('\n')).not.toContain('s3cr3t-token-value');
  });
});

describe('structure checks', () => {
  const parse = (t: string): Config => parseConfigText(t, {});
  it('duplicate connection id', () => {
    const c = parse(CONN + CONN.replace('connections:\n', '').replace(/^/, ''));
    const twice = parse(
      `${CONN}  - id: acme\n    site_url: https://b.atlassian.net\n    flavour: cloud\n    auth: { type: pat, token: x }\n`,
    );
    expect(c.connections).toHaveLength(2);
    expect(checkConfigStructure(twice)).toContainEqual({
      path: 'connections[1].id',
      message: 'duplicate connection id "acme"',
    });
  });
  it('mapping referencing an unknown connection', () => {
    const c = parse(CONN + MAPPING().replace('connection: acme', 'connection: acne'));
    expect(checkConfigStructure(c)).toContainEqual({
      path: 'mappings[0].connection',
      message: '"acne" is not a connection; known: acme',
    });
  });
  it('the same scope mapped twice on one connection', () => {
    const two = MAPPING() + MAPPING().replace('mappings:\n', '').replace('id: web', 'id: web2');
    expect(checkConfigStructure(parse(CONN + two))).toContainEqual(
      expect.objectContaining({
        path: 'mappings[1].scope',
        message: expect.stringMatching(/already mapped .* by mappings\[0\]/),
      }),
    );
  });
  it('subtask_of naming a kind that does not exist', () => {
    const c = parse(
      CONN +
        MAPPING().replace(
          '{ vulnerability: { issue_type: Vulnerability } }',
          '{ finding: { issue_type: Finding, subtask_of: vuln } }',
        ),
    );
    expect(checkConfigStructure(c)).toContainEqual({
      path: 'mappings[0].kinds.finding.subtask_of',
      message: '"vuln" is not a kind of this mapping; known: finding',
    });
  });
  it('rework without an issue type', () => {
    const c = parse(CONN + MAPPING('    reopen: { mode: rework }\n'));
    expect(checkConfigStructure(c)[0]?.path).toBe('mappings[0].reopen.rework_issue_type');
  });
});

/** A running Cloud sandbox and the catalogue the bridge reads from it. */
async function sandboxCatalog(): Promise<{ sb: RunningSandbox; catalog: JiraCatalog }> {
  const sb = await startSandbox({ flavour: 'cloud', port: 0 });
  const client = createJiraClient({
    id: 'sb',
    siteUrl: sb.baseUrl,
    flavour: 'cloud',
    auth: { type: 'basic', email: sb.credentials.email, apiToken: sb.credentials.apiToken },
  });
  const catalog = await client.fetchCatalog();
  await client.close();
  return { sb, catalog };
}

describe('mappings against the catalogue of a real (sandbox) Jira', () => {
  let sb: RunningSandbox;
  let catalog: JiraCatalog;
  beforeAll(async () => {
    ({ sb, catalog } = await sandboxCatalog());
  });
  afterAll(async () => sb.close());

  const check = (extra: string, kinds?: string) => {
    let text = CONN + MAPPING(extra);
    if (kinds) text = text.replace('{ vulnerability: { issue_type: Vulnerability } }', kinds);
    const c = parseConfigText(text, {});
    return checkMappingAgainstCatalog(c.mappings[0]!, catalog, 1);
  };

  it('unknown priority, listing the known ones', () => {
    expect(check('    priority: { out: { Critical: Hihgest } }\n')).toEqual([
      {
        path: 'mappings[1].priority.out.Critical',
        message: '"Hihgest" is not a Jira priority; known: Highest, High, Medium, Low, Lowest',
      },
    ]);
  });
  it('unknown status', () => {
    const [issue] = check('    status: { out: { open: Opne } }\n');
    expect(issue?.path).toBe('mappings[1].status.out.open');
    expect(issue?.message).toMatch(/^"Opne" is not a Jira status; known: .*Open/);
  });
  it('unknown status category', () => {
    expect(check("    status: { in: { 'category:finished': closed } }\n")[0]?.message).toBe(
      '"finished" is not a status category; known: new, indeterminate, done',
    );
  });
  it('unknown field', () => {
    const [issue] = check('    fields: [{ host: cvss, jira: CVSS Scor }]\n');
    expect(issue?.path).toBe('mappings[1].fields[0].jira');
    expect(issue?.message).toMatch(/"CVSS Scor" is not a Jira field; known custom fields: .*CVSS Score/);
  });
  it('unknown issue type', () => {
    const [issue] = check('', '{ vulnerability: { issue_type: Vuln } }');
    expect(issue?.path).toBe('mappings[1].kinds.vulnerability.issue_type');
    expect(issue?.message).toMatch(/"Vuln" is not an issue type of SEC; known: .*Vulnerability/);
  });
  it('sub-task type used for a top-level kind', () => {
    const [issue] = check('', '{ finding: { issue_type: Finding } }');
    expect(issue?.message).toMatch(/"Finding" is a sub-task type: set subtask_of/);
  });
  it('unknown project', () => {
    const c = parseConfigText(CONN + MAPPING().replace('project: SEC', 'project: SECC'), {});
    expect(checkMappingAgainstCatalog(c.mappings[0]!, catalog, 0)[0]?.message).toMatch(
      /"SECC" is not a Jira project .* known: .*SEC/,
    );
  });
  it('unknown resolution and request type', () => {
    expect(check('    resolution: Fixd\n')[0]?.path).toBe('mappings[1].resolution');
    const c = parseConfigText(
      CONN +
        MAPPING()
          .replace('project: SEC', 'project: ITSD')
          .replace(
            '{ vulnerability: { issue_type: Vulnerability } }',
            '{ incident: { service_desk: ITSD, request_type: Report a fire } }',
          ),
      {},
    );
    expect(checkMappingAgainstCatalog(c.mappings[0]!, catalog, 0)).toEqual([
      expect.objectContaining({
        path: 'mappings[0].kinds.incident.request_type',
        message: expect.stringMatching(/known: Report an incident/),
      }),
    ]);
  });
  describe('how records close (issue 18 item 2): resolutions by host status, a Jira status per closed host status', () => {
    const closing = (extra: string) =>
      check(
        '    status: { out: { open: Open, risk_accepted: Closed }, closed: [fixed, risk_accepted, false_positive] }\n' +
          '    close: { status: Resolved }\n' +
          extra,
      );
    it('a resolution table by closed host status with a default is valid', () => {
      expect(
        closing(`    resolution: { risk_accepted: "Won't Do", false_positive: False Positive, default: Fixed }\n`),
      ).toEqual([]);
    });
    it('a resolution the site has not is reported at its host status, with the valid choices', () => {
      expect(closing(`    resolution: { risk_accepted: "Won't Fix", default: Fixed }\n`)).toEqual([
        {
          path: 'mappings[1].resolution.risk_accepted',
          message: `"Won't Fix" is not a Jira resolution; known: Done, Won't Do, Duplicate, Cannot Reproduce, Fixed, False Positive, Risk Accepted`,
        },
      ]);
    });
    it('a table key that is not a closed host status is reported with the closed ones', () => {
      const c = parseConfigText(
        CONN +
          MAPPING(
            '    status: { closed: [fixed, risk_accepted] }\n    resolution: { risk_acepted: Risk Accepted, default: Fixed }\n',
          ),
        {},
      );
      expect(checkConfigStructure(c)).toEqual([
        {
          path: 'mappings[0].resolution.risk_acepted',
          message: '"risk_acepted" is not a closed host status (status.closed); known: fixed, risk_accepted, default',
        },
      ]);
    });
    it('a closed host status whose Jira status is not a done status is reported at status.out', () => {
      expect(
        check(
          '    status: { out: { risk_accepted: In Review }, closed: [risk_accepted] }\n    close: { status: Resolved }\n',
        ),
      ).toEqual([
        {
          path: 'mappings[1].status.out.risk_accepted',
          message: expect.stringMatching(
            /^"In Review" is not a done status \(its category is indeterminate\), and "risk_accepted" is a closed host status \(status.closed\).*done statuses: Resolved, Closed, Done/,
          ),
        },
      ]);
    });
    it("a close status outside every workflow of the mapping's issue types is reported with the workflow's statuses", () => {
      expect(check('    status: { closed: [resolved] }\n    close: { status: Done }\n')).toEqual([
        {
          path: 'mappings[1].close.status',
          message: expect.stringMatching(
            /^"Done" is in no workflow of the mapping's issue types in SEC \(Vulnerability\), and the closed host status "resolved" falls back to close.status: its records could never reach it; statuses of those workflows: Open, Triaged, In Progress, In Review, Resolved, Closed$/,
          ),
        },
      ]);
    });
    it('a resolution that is not a string or a table is refused by the schema', async () => {
      const issues = await issuesOf(CONN + MAPPING('    resolution: []\n'));
      expect(issues.some((i) => i.startsWith('mappings[0].resolution'))).toBe(true);
    });
  });
  it('the demo configuration and the example file are valid against the sandbox', async () => {
    const demo = demoConfig(sb.baseUrl, sb.credentials);
    expect(checkConfigStructure(demo)).toEqual([]);
    demo.mappings.forEach((m, i) => expect(checkMappingAgainstCatalog(m, catalog, i)).toEqual([]));
    const example = await loadConfig({
      path: join(import.meta.dirname, '../../examples/jira-bridge.example.yaml'),
      env: { JIRA_API_TOKEN: 'x', JIRA_WEBHOOK_SECRET: 'a-webhook-secret-of-length' },
    });
    expect(checkConfigStructure(example.config)).toEqual([]);
    example.config.mappings.forEach((m, i) => expect(checkMappingAgainstCatalog(m, catalog, i)).toEqual([]));
    // field names resolve to ids and types through the catalogue
    const sec = toOutboundMapping(example.config.mappings[0]!, catalog);
    expect(sec.fields[0]).toMatchObject({ host: 'cvss', jira: 'customfield_10010', type: 'number' });
    expect(sec.closeStatus).toBe('Resolved');
  });
});

describe('field mappings, required create fields and host_link against the catalogue', () => {
  let sb: RunningSandbox;
  let catalog: JiraCatalog;
  beforeAll(async () => {
    ({ sb, catalog } = await sandboxCatalog());
  });
  afterAll(async () => sb.close());

  const mapping = (extra: string) => parseConfigText(CONN + MAPPING(extra), {}).mappings[0]!;
  const check = (extra: string, cat: JiraCatalog = catalog) => checkMappingAgainstCatalog(mapping(extra), cat, 0);

  it('a value table naming an option Jira does not have is an error naming it and listing the valid ones', () => {
    expect(
      check('    fields: [{ host: asset_id, jira: Asset, values: { portal: web-portl, api: payments-api } }]\n'),
    ).toEqual([
      {
        path: 'mappings[0].fields[0].values.portal',
        message: '"web-portl" is not an option of Asset; known: web-portal, payments-api, customer-db, mobile-app',
      },
    ]);
    // multi-select too; and an option must be written as Jira's value (not its id, not another case)
    const issues = check(
      '    fields: [{ host: envs, jira: customfield_10013, values: { prod: production, stage: "10111", dev: Development } }]\n',
    );
    expect(issues).toEqual([
      {
        path: 'mappings[0].fields[0].values.prod',
        message: `"production" must be written as Jira's option value: "Production"`,
      },
      {
        path: 'mappings[0].fields[0].values.stage',
        message: `"10111" must be written as Jira's option value: "Staging"`,
      },
    ]);
    expect(check('    fields: [{ host: asset_id, jira: Asset, values: { portal: web-portal } }]\n')).toEqual([]);
  });

  it('a value table on a field that has no options is an error, in the file and against Jira', () => {
    expect(check('    fields: [{ host: cvss, jira: CVSS Score, values: { high: "9" } }]\n')[0]).toMatchObject({
      path: 'mappings[0].fields[0].values',
      message: expect.stringMatching(/CVSS Score is a number field, not a select or multi-select; remove values/),
    });
    const c = parseConfigText(
      CONN + MAPPING('    fields: [{ host: cvss, jira: CVSS Score, type: number, values: { high: "9" } }]\n'),
      {},
    );
    expect(checkConfigStructure(c)).toContainEqual(
      expect.objectContaining({
        path: 'mappings[0].fields[0].values',
        message: expect.stringMatching(/declared "number"/),
      }),
    );
  });

  it('a field name two Jira fields share is an error listing both ids (the demo maps Environment by id for this)', () => {
    expect(check('    fields: [{ host: envs, jira: Environment }]\n')).toEqual([
      {
        path: 'mappings[0].fields[0].jira',
        message:
          '"Environment" names 2 Jira fields: environment (system, string), customfield_10013 (custom, multiselect); use the id of the one meant',
      },
    ]);
    expect(check('    fields: [{ host: envs, jira: customfield_10013 }]\n')).toEqual([]);
  });

  it('a declared field type that does not fit the Jira field is an error naming both', () => {
    expect(check('    fields: [{ host: cvss, jira: CVSS Score, type: select }]\n')).toEqual([
      {
        path: 'mappings[0].fields[0].type',
        message: expect.stringMatching(/^"select" does not fit CVSS Score, a number field in Jira .*use type: number/),
      },
    ]);
    expect(check('    fields: [{ host: notes, jira: Notes, type: string }]\n')[0]?.message).toMatch(
      /a textarea field in Jira/,
    );
    // a URL field takes a plain string and a text field a URL: no error
    expect(check('    fields: [{ host: url, jira: Affected URL, type: string }]\n')).toEqual([]);
    expect(check('    fields: [{ host: token, jira: Sync Token, type: url }]\n')).toEqual([]);
  });

  it('a field mapped without a type is written as the core’s field write type says', () => {
    for (const f of catalog.fields) {
      const m = parseConfigText(CONN + MAPPING(`    fields: [{ host: x, jira: "${f.id}" }]\n`), {}).mappings[0]!;
      expect([f.id, toOutboundMapping(m, catalog).fields[0]!.type]).toEqual([f.id, fieldWriteType(f)]);
    }
  });

  it('a field the issue type requires on create and the mapping does not set is an error naming it and how to map it', () => {
    const requiring = structuredClone(catalog);
    const vuln = requiring.projects.find((p) => p.key === 'SEC')!.issueTypes.find((t) => t.name === 'Vulnerability')!;
    vuln.fields.find((f) => f.name === 'CVSS Score')!.required = true;
    expect(check('', requiring)).toEqual([
      {
        path: 'mappings[0].kinds.vulnerability.issue_type',
        message:
          '"Vulnerability" in SEC requires the field "CVSS Score" (customfield_10010) on create, and the mapping does not set it: map it: fields: [{ host: <your value\'s name>, jira: "CVSS Score" }], or make it optional in Jira',
      },
    ]);
    expect(check('    fields: [{ host: cvss, jira: CVSS Score }]\n', requiring)).toEqual([]);
    expect(check('    fields: [{ host: cvss, jira: customfield_10010 }]\n', requiring)).toEqual([]);
    // a field that only comes from Jira does not set it; a mapping that creates nothing needs none
    expect(check('    fields: [{ host: cvss, jira: CVSS Score, direction: from_jira }]\n', requiring)).toHaveLength(1);
    expect(check('    direction: from_jira\n', requiring)).toEqual([]);
    // a required field Jira fills by default is fine
    vuln.fields.find((f) => f.name === 'CVSS Score')!.hasDefault = true;
    expect(check('', requiring)).toEqual([]);
    // a required priority is covered by a default priority, required labels by the mapping's labels
    for (const f of vuln.fields) {
      if (f.id === 'priority' || f.id === 'labels') Object.assign(f, { required: true, hasDefault: false });
    }
    expect(check('', requiring).map((i) => i.message)).toEqual([
      expect.stringMatching(/requires the field "Priority" \(priority\).*set priority.out_default/),
      expect.stringMatching(/requires the field "Labels" \(labels\).*add labels/),
    ]);
    expect(check('    priority: { out_default: Medium }\n    labels: [security]\n', requiring)).toEqual([]);
  });

  it('rework: a link type the site does not have is an error listing the known ones', () => {
    expect(catalog.linkTypes?.map((t) => t.name)).toEqual(expect.arrayContaining(['Blocks', 'Relates']));
    expect(check('    reopen: { mode: rework, rework_issue_type: Task, rework_link_type: Relate }\n')).toEqual([
      {
        path: 'mappings[0].reopen.rework_link_type',
        message: expect.stringMatching(/^"Relate" is not an issue link type of this site; known: .*Blocks.*Relates/),
      },
    ]);
    expect(check('    reopen: { mode: rework, rework_issue_type: Task, rework_link_type: blocks }\n')).toEqual([]);
    expect(check('    reopen: { mode: rework, rework_issue_type: Task }\n')).toEqual([]);
    // A site with issue linking off (no link types): nothing to check against.
    const { linkTypes: _off, ...noLinks } = catalog;
    expect(check('    reopen: { mode: rework, rework_issue_type: Task, rework_link_type: Relate }\n', noLinks)).toEqual(
      [],
    );
  });

  it('templates: an unknown placeholder or filter is an error at its path, naming it and the valid ones', async () => {
    const messages = await issuesOf(
      CONN +
        MAPPING(
          "    templates:\n      summary: '{{ title | shout }}'\n      description: '**Device:** {{ custom.device }} at {{ locaton }}'\n      comment_prefix: '{{ comment.author }}:'\n",
        ),
    );
    expect(messages).toEqual([
      expect.stringMatching(/^mappings\[0\]\.templates\.summary: unknown filter "shout"/),
      expect.stringMatching(
        /^mappings\[0\]\.templates\.description: unknown variable "locaton"; valid: title, description, status, severity, assignee_email, labels, custom, kind, scope, host_id, parent_host_id/,
      ),
    ]);
    const good = parseConfigText(
      CONN +
        MAPPING(
          "    templates:\n      description: '{% if custom.device %}Device {{ custom.device }}{% endif %}{% for l in labels %} {{ l }}{% endfor %}'\n",
        ),
      {},
    );
    expect(good.mappings[0]!.templates?.description).toContain('custom.device');
  });

  it('host_link: an unknown placeholder is an error listing the known ones', () => {
    const bad = parseConfigText(
      CONN + MAPPING("    host_link: { url: 'https://p.example/{scope}/{id}', title: '{kind} {name}' }\n"),
      {},
    );
    expect(checkConfigStructure(bad)).toEqual([
      { path: 'mappings[0].host_link.url', message: '"{id}" is not a placeholder; known: {scope}, {host_id}, {kind}' },
      {
        path: 'mappings[0].host_link.title',
        message: '"{name}" is not a placeholder; known: {scope}, {host_id}, {kind}',
      },
    ]);
    const good = parseConfigText(
      CONN + MAPPING("    host_link: { url: 'https://p.example/{scope}/findings/{host_id}?k={kind}' }\n"),
      {},
    );
    expect(checkConfigStructure(good)).toEqual([]);
  });
});

describe('loading', () => {
  it('resolves ${VAR} references and $${ escapes', async () => {
    const { config } = await loadConfig({
      path: file(
        CONN.replace('s3cr3t-token-value', '"${TOKEN}"') + 'server: { public_url: "https://x.example/$${not}" }\n',
      ),
      env: { TOKEN: 'from-env' },
    });
    const auth = config.connections[0]!.auth;
    expect(auth.type === 'basic' && auth.api_token).toBe('from-env');
    expect(config.server.public_url).toBe('https://x.example/${not}');
  });
  it('no file at the default path means demo mode (source null)', async () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect((await loadConfig({ env: {} })).source).toBeNull();
    } finally {
      process.chdir(cwd);
    }
  });
  it('JIRA_BRIDGE_CONFIG chooses the file', async () => {
    const p = file(CONN);
    expect((await loadConfig({ env: { JIRA_BRIDGE_CONFIG: p } })).source).toBe(p);
  });
});
