/**
 * Structure comparison of sandbox webhook deliveries with real captures
 * (test/fixtures/jira-webhooks/, provenance in its README). For every captured fixture the same
 * action is performed against a running sandbox of the fixture's flavour (through REST, as a Jira
 * user would), the delivery is captured on a local receiver, and both bodies are compared
 * recursively: same keys and JSON types at every path, values aside. Differences the sandbox
 * deliberately does not model are listed in ALLOWED with a reason each.
 */
import { createHmac } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED, startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Flavour = 'cloud' | 'datacenter';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'jira-webhooks');

// --- structure comparison -------------------------------------------------------------------

export interface ShapeDiff {
  path: string;
  kind: 'missing' | 'extra' | 'type';
  detail: string;
}

function typeOf(v: Json): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** Keys of all elements of an array of objects, merged into one representative object. */
function mergeElements(items: Json[]): Json {
  const objects = items.filter(
    (x): x is { [k: string]: Json } => x !== null && typeof x === 'object' && !Array.isArray(x),
  );
  if (objects.length === 0) return items.find((x) => x !== null) ?? null;
  const merged: { [k: string]: Json } = {};
  for (const o of objects) {
    for (const [k, v] of Object.entries(o)) if (merged[k] === undefined || merged[k] === null) merged[k] = v;
  }
  return merged;
}

/**
 * Compares the structure of `actual` with `expected`. Paths use `.key` and `[]` for array
 * elements. A null on either side is compatible with any type (values aside: a field that happens
 * to be empty in one capture); empty arrays are compatible with any array. Site-specific custom
 * fields (`customfield_NNNNN` keys) are not compared by name.
 */
export function compareShape(expected: Json, actual: Json, path = '', diffs: ShapeDiff[] = []): ShapeDiff[] {
  const te = typeOf(expected);
  const ta = typeOf(actual);
  if (te === 'null' || ta === 'null') return diffs;
  if (te !== ta) {
    diffs.push({ path: path || '(root)', kind: 'type', detail: `expected ${te}, got ${ta}` });
    return diffs;
  }
  if (te === 'array') {
    const e = expected as Json[];
    const a = actual as Json[];
    if (e.length > 0 && a.length > 0) compareShape(mergeElements(e), mergeElements(a), `${path}[]`, diffs);
    return diffs;
  }
  if (te === 'object') {
    const e = expected as { [k: string]: Json };
    const a = actual as { [k: string]: Json };
    const custom = (k: string): boolean => /^customfield_\d+$/u.test(k);
    for (const k of Object.keys(e)) {
      if (custom(k)) continue;
      const p = path ? `${path}.${k}` : k;
      if (!(k in a)) diffs.push({ path: p, kind: 'missing', detail: `sandbox lacks '${k}' (${typeOf(e[k] as Json)})` });
      else compareShape(e[k] as Json, a[k] as Json, p, diffs);
    }
    for (const k of Object.keys(a)) {
      if (custom(k) || k in e) continue;
      diffs.push({
        path: path ? `${path}.${k}` : k,
        kind: 'extra',
        detail: `sandbox adds '${k}' (${typeOf(a[k] as Json)})`,
      });
    }
  }
  return diffs;
}

/**
 * Documented differences: `path` matches a diff path exactly, or as a prefix when it ends in
 * `.*`; `kind` narrows it. Each says why the difference is acceptable.
 */
interface Allowance {
  path: string;
  kind?: ShapeDiff['kind'];
  fixtures?: RegExp;
  reason: string;
}

const UNMODELED_ISSUE_FIELDS = [
  'timespent',
  'aggregatetimespent',
  'timeestimate',
  'aggregatetimeestimate',
  'timeoriginalestimate',
  'aggregatetimeoriginalestimate',
  'timetracking',
  'workratio',
  'progress',
  'aggregateprogress',
  'worklog',
  'lastViewed',
  'watches',
  'votes',
  'versions',
  'fixVersions',
  'components',
  'security',
  'statuscategorychangedate',
  'issuerestriction',
  'parent',
  'thumbnail',
];

const ALLOWED: Allowance[] = [
  ...UNMODELED_ISSUE_FIELDS.map((f) => ({
    path: `issue.fields.${f}`,
    kind: 'missing' as const,
    reason: 'time tracking, versions, components, watchers, votes and issue security are not modelled by the sandbox',
  })),
  ...UNMODELED_ISSUE_FIELDS.map((f) => ({
    path: `issue.fields.${f}.*`,
    reason: 'sub-structure of a field the sandbox does not model',
  })),
  {
    path: 'level',
    kind: 'missing',
    fixtures: /jira-to-matrix/u,
    reason: 'added to the capture by the upstream project (SOURCES: EXTRA-KEYS)',
  },
  {
    path: 'message',
    kind: 'missing',
    fixtures: /jira-to-matrix/u,
    reason: 'added to the capture by the upstream project (SOURCES: EXTRA-KEYS)',
  },
  {
    path: 'label',
    kind: 'missing',
    fixtures: /jira-to-matrix/u,
    reason: 'added to the capture by the upstream project (SOURCES: EXTRA-KEYS)',
  },
  {
    path: 'user.name',
    kind: 'missing',
    fixtures: /mattermost-plugin-jira\/webhook-(cloud|issue)/u,
    reason:
      'pre-2019 Cloud captures still carried name/key; current Cloud omits them (GDPR deprecation; FACTS: "name/key absent or null")',
  },
  {
    path: 'user.key',
    kind: 'missing',
    fixtures: /mattermost-plugin-jira\/webhook-(cloud|issue)/u,
    reason: 'as user.name',
  },
  {
    path: '*.name',
    kind: 'missing',
    fixtures: /mattermost-plugin-jira\/webhook-(cloud|issue)/u,
    reason: 'nested Cloud user objects: as user.name',
  },
  {
    path: '*.key',
    kind: 'missing',
    fixtures: /mattermost-plugin-jira\/webhook-(cloud|issue)/u,
    reason: 'nested Cloud user objects: as user.name',
  },
  {
    path: '*.accountType',
    kind: 'extra',
    reason: 'newer Cloud user objects carry accountType; older captures predate it',
  },
  { path: 'user.accountType', kind: 'missing', reason: 'accountType appears on Cloud users; optional in captures' },
  {
    path: '*.emailAddress',
    kind: 'missing',
    reason: 'emails are hidden by profile privacy for some sandbox users, as on Cloud',
  },
  {
    path: '*.emailAddress',
    kind: 'extra',
    fixtures: /jira-to-matrix|webhook-cloud-comment/u,
    reason:
      "Cloud shows emailAddress only when the user's profile privacy allows it; the sandbox admin's is visible, these captured users' were hidden",
  },
  {
    path: 'timestamp',
    kind: 'type',
    fixtures: /jira-to-matrix/u,
    reason:
      'the upstream project rewrote timestamp as a date string; Jira sends epoch milliseconds (FACTS, every other capture)',
  },
  {
    path: 'comment.author.*',
    kind: 'extra',
    fixtures: /jira-to-matrix\/comment_created/u,
    reason: 'the upstream project anonymised the author (name/key/emailAddress removed, self still says ?username=)',
  },
  {
    path: 'comment.updateAuthor.*',
    kind: 'extra',
    fixtures: /jira-to-matrix\/comment_created/u,
    reason: 'as comment.author',
  },
  {
    path: 'issue.fields.issuetype.hierarchyLevel',
    kind: 'extra',
    fixtures: /jira-to-matrix|mattermost-plugin-jira\/webhook-(cloud|issue)/u,
    reason: 'current Cloud issue types carry hierarchyLevel (added 2021); the Cloud captures predate it',
  },
  {
    path: 'issue.fields.project.simplified',
    kind: 'extra',
    fixtures: /jira-to-matrix|mattermost-plugin-jira\/webhook-(cloud|issue)/u,
    reason:
      'present in the newer Cloud captures (e.g. webhook-cloud-issue-created-many-fields), absent from older ones',
  },
  {
    path: 'issue.fields.statuscategorychangedate',
    kind: 'extra',
    fixtures: /jira-to-matrix|mattermost-plugin-jira\/webhook-(cloud|issue)/u,
    reason:
      'present in the newer Cloud captures (e.g. webhook-cloud-issue-created-many-fields), absent from older ones',
  },
  {
    path: 'changelog.items[].tmpFromAccountId',
    kind: 'extra',
    fixtures: /mattermost-plugin-jira\/webhook-issue-/u,
    reason:
      'Cloud added tmpFromAccountId/tmpToAccountId to user change items during the 2019 GDPR migration; these captures predate it, the later ones (jira-to-matrix, webhook-cloud-issue-created-many-fields) carry them',
  },
  {
    path: 'changelog.items[].tmpToAccountId',
    kind: 'extra',
    fixtures: /mattermost-plugin-jira\/webhook-issue-/u,
    reason: 'as tmpFromAccountId',
  },
  {
    path: 'issue.fields.project.projectTypeKey',
    kind: 'extra',
    fixtures: /webhook-server/u,
    reason:
      'project types arrived in Jira Server 7.0; the older Server captures lack it, the newer one (webhook-server-updated-custom-field) has it',
  },
];

function allowed(d: ShapeDiff, fixture: string): Allowance | undefined {
  return ALLOWED.find((a) => {
    if (a.kind && a.kind !== d.kind) return false;
    if (a.fixtures && !a.fixtures.test(fixture)) return false;
    if (a.path.startsWith('*.')) return d.path.endsWith(a.path.slice(1));
    if (a.path.endsWith('.*')) return d.path.startsWith(a.path.slice(0, -1));
    return d.path === a.path;
  });
}

// --- fixtures ---------------------------------------------------------------------------------

interface Fixture {
  file: string;
  body: { [k: string]: Json };
  flavour: Flavour;
  event: string;
}

function flavourOf(body: { [k: string]: Json }): Flavour {
  const text = JSON.stringify(body.user ?? body.comment ?? body);
  return /"accountId"/u.test(text) ? 'cloud' : 'datacenter';
}

function loadFixtures(): Fixture[] {
  const out: Fixture[] = [];
  for (const dir of readdirSync(FIXTURES, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    for (const f of readdirSync(join(FIXTURES, dir.name))
      .filter((x) => x.endsWith('.json'))
      .sort()) {
      const body = JSON.parse(readFileSync(join(FIXTURES, dir.name, f), 'utf8')) as { [k: string]: Json };
      out.push({ file: `${dir.name}/${f}`, body, flavour: flavourOf(body), event: String(body.webhookEvent) });
    }
  }
  return out;
}

const ALL = loadFixtures();

// --- sandbox driving --------------------------------------------------------------------------

class Receiver {
  readonly got: Array<{ path: string; raw: Buffer; headers: Record<string, string | string[] | undefined> }> = [];
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.got.push({ path: req.url ?? '', raw: Buffer.concat(chunks), headers: req.headers });
        res.statusCode = 200;
        res.end();
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}

interface Site {
  sandbox: RunningSandbox;
  base: string;
  auth: string;
  flavour: Flavour;
}

async function startSite(flavour: Flavour): Promise<Site> {
  const sandbox = await startSandbox({ flavour, port: 0, host: '127.0.0.1' });
  const c = sandbox.credentials;
  const auth =
    flavour === 'cloud' ? `Basic ${Buffer.from(`${c.email}:${c.apiToken}`).toString('base64')}` : `Bearer ${c.pat}`;
  return { sandbox, base: sandbox.baseUrl, auth, flavour };
}

async function call(site: Site, method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${site.base}/rest/api/2${path}`, {
    method,
    headers: { authorization: site.auth, 'content-type': 'application/json', accept: 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status >= 400) throw new Error(`${method} ${path} -> ${res.status}: ${text}`);
  return { status: res.status, json: text === '' ? null : (JSON.parse(text) as Json) };
}

function userRef(site: Site, who: 'alice' | 'bob'): Json {
  return site.flavour === 'cloud' ? { accountId: SEED.users[who] } : { name: who };
}

async function createIssue(
  site: Site,
  project: 'OPS' | 'SEC' = 'OPS',
  extra: Record<string, Json> = {},
): Promise<string> {
  const issuetype = { id: project === 'OPS' ? SEED.issueType.task : SEED.issueType.vulnerability };
  const r = await call(site, 'POST', '/issue', {
    fields: {
      project: { key: project },
      issuetype,
      summary: 'Unit test summary',
      description: 'Unit test description, *not* that long',
      labels: ['test-label'],
      priority: { name: 'High' },
      ...extra,
    },
  });
  return (r.json as { key: string }).key;
}

async function transition(site: Site, key: string, id: string, fields?: Json): Promise<void> {
  await call(site, 'POST', `/issue/${key}/transitions`, { transition: { id }, ...(fields ? { fields } : {}) });
}

/** Performs the action a fixture captured, through REST as the site's admin. */
async function reproduce(site: Site, fx: Fixture): Promise<void> {
  const items = ((fx.body.changelog as { items?: Array<{ field: string }> } | undefined)?.items ?? []).map((i) =>
    i.field.toLowerCase(),
  );
  switch (fx.event) {
    case 'jira:issue_created':
      await createIssue(site, 'OPS', { assignee: userRef(site, 'alice') });
      return;
    case 'jira:issue_deleted': {
      const key = await createIssue(site);
      await call(site, 'DELETE', `/issue/${key}`);
      return;
    }
    case 'comment_created':
    case 'comment_updated':
    case 'comment_deleted': {
      const key = await createIssue(site);
      const c = await call(site, 'POST', `/issue/${key}/comment`, { body: 'Added a *comment*' });
      const id = (c.json as { id: string }).id;
      if (fx.event === 'comment_updated')
        await call(site, 'PUT', `/issue/${key}/comment/${id}`, { body: 'Edited comment' });
      if (fx.event === 'comment_deleted') await call(site, 'DELETE', `/issue/${key}/comment/${id}`);
      return;
    }
    case 'issuelink_created': {
      const from = await createIssue(site);
      const to = await createIssue(site);
      await call(site, 'POST', '/issueLink', {
        type: { name: 'Blocks' },
        inwardIssue: { key: to },
        outwardIssue: { key: from },
      });
      return;
    }
    case 'jira:issue_updated':
      break;
    default:
      throw new Error(`no reproduction for ${fx.event}`);
  }
  const type = String(fx.body.issue_event_type_name ?? '');
  if (type === 'issue_commented') {
    const key = await createIssue(site);
    await call(site, 'POST', `/issue/${key}/comment`, { body: 'A comment' });
    return;
  }
  if (items.length > 1 && !items.includes('status')) {
    // One edit changing several fields (a version the sandbox does not model, an assignee, a custom text field).
    const key = await createIssue(site);
    await call(site, 'PUT', `/issue/${key}`, {
      fields: { labels: ['v2'], assignee: userRef(site, 'bob'), [SEED.field.notes]: 'Make sure it does the thing.' },
    });
    return;
  }
  if (items.includes('assignee')) {
    const key = await createIssue(site);
    const nobody = fx.file.includes('assigned-nobody');
    if (nobody) await call(site, 'PUT', `/issue/${key}`, { fields: { assignee: userRef(site, 'alice') } });
    await call(site, 'PUT', `/issue/${key}`, { fields: { assignee: nobody ? null : userRef(site, 'bob') } });
    return;
  }
  if (items.includes('issuetype') || items.includes('project')) {
    const key = await createIssue(site);
    const issue = site.sandbox.state.issue(key);
    if (!issue) throw new Error('issue vanished');
    site.sandbox.ops.moveIssue(issue, 'SEC', SEED.issueType.vulnerability, SEED.users.admin);
    return;
  }
  if (items.includes('status') || items.includes('resolution')) {
    if (fx.flavour === 'datacenter') {
      // Security workflow: Open → Triaged → In Progress → In Review → Resolved (→ Closed).
      const key = await createIssue(site, 'SEC');
      const t = SEED.secTransition;
      await transition(site, key, t.triage);
      await transition(site, key, t.start);
      await transition(site, key, t.submitForReview);
      await transition(site, key, t.resolve, { resolution: { name: 'Fixed' } });
      if (fx.file.includes('closed')) await transition(site, key, t.close);
      return;
    }
    const key = await createIssue(site);
    if (items.includes('resolution'))
      await transition(site, key, SEED.opsTransition.done, { resolution: { name: 'Done' } });
    else await transition(site, key, SEED.opsTransition.start);
    return;
  }
  const key = await createIssue(site);
  if (items.includes('description')) {
    await call(site, 'PUT', `/issue/${key}`, { fields: { description: 'Unit test description, a little longer now' } });
  } else if (fx.body.changelog && JSON.stringify(fx.body.changelog).includes('"fieldtype":"custom"')) {
    await call(site, 'PUT', `/issue/${key}`, { fields: { [SEED.field.cvss]: 7.5 } });
  } else {
    // labels, and edits of fields the sandbox does not model (Fix Version, Sprint): a labels edit
    // produces the same envelope and changelog item structure.
    await call(site, 'PUT', `/issue/${key}`, { fields: { labels: ['sad', 'test-label'] } });
  }
}

/** The delivery to compare: the last one of the fixture's event (the action's final step). */
function wantedEvent(fx: Fixture): (body: { [k: string]: Json }) => boolean {
  // issue_event_type_name is a value (an open set that depends on the workflow), compared as structure only.
  return (b) => b.webhookEvent === fx.event;
}

// --- the tests ----------------------------------------------------------------------------------

const receiver = new Receiver();
const sites: Partial<Record<Flavour, Site>> = {};

beforeAll(async () => {
  await receiver.start();
  sites.cloud = await startSite('cloud');
  sites.datacenter = await startSite('datacenter');
});

afterAll(async () => {
  for (const s of Object.values(sites)) await s.sandbox.close();
  await receiver.stop();
});

describe('webhook deliveries have the structure of real captures', () => {
  it('knows the flavour of every fixture', () => {
    expect(ALL.length).toBeGreaterThanOrEqual(25);
    expect(ALL.filter((f) => f.flavour === 'cloud').length).toBeGreaterThan(5);
    expect(ALL.filter((f) => f.flavour === 'datacenter').length).toBeGreaterThan(5);
  });

  it('catches a structural difference (the comparator is not vacuous)', () => {
    const fx = ALL.find((f) => f.file.endsWith('webhook-issue-created.json')) as Fixture;
    const mutated = JSON.parse(JSON.stringify(fx.body)) as { [k: string]: Json };
    delete mutated.issue_event_type_name;
    (mutated.user as { [k: string]: Json }).active = 'yes';
    (mutated.issue as { [k: string]: Json }).extra = 1;
    expect(compareShape(fx.body, mutated).map((d) => `${d.kind} ${d.path}`)).toEqual([
      'missing issue_event_type_name',
      'type user.active',
      'extra issue.extra',
    ]);
  });

  for (const fx of ALL) {
    it(`${fx.file} (${fx.flavour}, ${fx.event}${fx.body.issue_event_type_name ? ` / ${String(fx.body.issue_event_type_name)}` : ''})`, async () => {
      const site = sites[fx.flavour] as Site;
      const hookPath = `/${encodeURIComponent(fx.file)}`;
      const reg = site.sandbox.webhooks.register({
        url: `${receiver.url}${hookPath}`,
        events: [fx.event],
        secret: 'fixture-secret',
      });
      try {
        await reproduce(site, fx);
        await site.sandbox.webhooks.drain();
      } finally {
        site.sandbox.webhooks.remove(reg.id);
      }
      const bodies = receiver.got.filter((g) => g.path === hookPath);
      const matching = bodies
        .map((g) => ({ g, body: JSON.parse(g.raw.toString('utf8')) as { [k: string]: Json } }))
        .filter((x) => wantedEvent(fx)(x.body));
      expect(matching.length, `no ${fx.event} delivery captured`).toBeGreaterThan(0);
      const { g, body } = matching[matching.length - 1] as (typeof matching)[number];
      // Signature of the exact bytes verifies with Node's crypto.
      expect(g.headers['x-hub-signature']).toBe(
        `sha256=${createHmac('sha256', 'fixture-secret').update(g.raw).digest('hex')}`,
      );
      // Top-level keys: same set, in any order.
      const diffs = compareShape(fx.body, body);
      const unexplained = diffs.filter((d) => !allowed(d, fx.file));
      // FIXTURE_DIFF_DUMP=/tmp/diffs.tsv collects unexplained differences across fixtures for review.
      if (process.env.FIXTURE_DIFF_DUMP) {
        for (const d of unexplained)
          appendFileSync(process.env.FIXTURE_DIFF_DUMP, `${fx.flavour}\t${d.kind}\t${d.path}\t${fx.file}\n`);
      }
      expect(unexplained, JSON.stringify(unexplained, null, 1)).toEqual([]);
    });
  }
});
