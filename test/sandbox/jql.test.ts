import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compileJql,
  JqlError,
  parseAppWebhookJql,
  parseJql,
  searchJql,
  type JqlContext,
  type JqlIssue,
  type JqlUser,
} from '../../src/sandbox/jql/index.js';

const NOW = Date.UTC(2026, 0, 10, 12, 0); // 2026-01-10 12:00 UTC
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const alice: JqlUser = { accountId: 'acc-alice', displayName: 'Alice Admin', emailAddress: 'alice@example.com' };
const bob: JqlUser = { name: 'bob', key: 'JIRAUSER10001', displayName: 'Bob Builder', emailAddress: null };

function issue(n: number, over: Partial<JqlIssue>): JqlIssue {
  return {
    id: String(10000 + n),
    key: `SEC-${n}`,
    projectKey: 'SEC',
    projectId: '10100',
    projectName: 'Security',
    issueType: 'Bug',
    issueTypeId: '10004',
    status: 'Open',
    statusId: '1',
    statusCategory: 'new',
    priority: 'Medium',
    labels: [],
    assignee: null,
    reporter: alice,
    creator: alice,
    summary: '',
    descriptionText: '',
    created: NOW - n * DAY,
    updated: NOW - n * HOUR,
    resolution: null,
    custom: {},
    ...over,
  };
}

const ISSUES: JqlIssue[] = [
  issue(1, {
    summary: 'SQL injection in login form',
    labels: ['security', 'sync-managed'],
    assignee: alice,
    priority: 'Highest',
    custom: {
      customfield_10010: { name: 'Sync Token', type: 'text', value: 'tok-abc-123' },
      customfield_10020: { name: 'Risk Score', type: 'number', value: 9.1 },
    },
  }),
  issue(2, {
    summary: 'Outdated TLS ciphers',
    descriptionText: 'The server still accepts RC4 ciphers.',
    status: 'In Progress',
    statusId: '3',
    statusCategory: 'indeterminate',
    assignee: bob,
    priority: 'High',
    labels: ['tls'],
    custom: { customfield_10020: { name: 'Risk Score', type: 'number', value: 5 } },
  }),
  issue(3, {
    summary: 'Login page typo',
    issueType: 'Task',
    issueTypeId: '10002',
    status: 'Done',
    statusId: '10001',
    statusCategory: 'done',
    resolution: 'Fixed',
    priority: 'Low',
    key: 'OPS-3',
    previousKeys: ['SEC-3'],
    projectKey: 'OPS',
    projectId: '10200',
    projectName: 'Operations',
  }),
  issue(4, { summary: 'Unassigned login crash', priority: null, reporter: bob, creator: bob }),
];

const ctx: JqlContext = {
  now: NOW,
  currentUser: alice,
  fieldIdByName: (name) =>
    ({ 'sync token': 'customfield_10010', 'risk score': 'customfield_10020' })[name.toLowerCase()],
};

function keys(jql: string, c: JqlContext = ctx): string[] {
  return searchJql(jql, ISSUES, c).map((i) => i.key);
}

describe('JQL evaluation', () => {
  const table: Array<[string, string[]]> = [
    ['', ['SEC-1', 'SEC-2', 'OPS-3', 'SEC-4']],
    ['project = SEC', ['SEC-1', 'SEC-2', 'SEC-4']],
    ['project = "operations"', ['OPS-3']],
    ['project = 10200', ['OPS-3']],
    ['PROJECT in (sec, OPS) and key != SEC-1', ['SEC-2', 'OPS-3', 'SEC-4']],
    ['key = SEC-2', ['SEC-2']],
    ['issuekey = sec-3', ['OPS-3']], // old key of a moved issue
    ['key in (SEC-1, OPS-3)', ['SEC-1', 'OPS-3']],
    ['key > SEC-1', ['SEC-2', 'SEC-4']],
    ['id = 10002', ['SEC-2']],
    ['id >= 10003', ['OPS-3', 'SEC-4']],
    ['issuetype = task', ['OPS-3']],
    ['type != Task', ['SEC-1', 'SEC-2', 'SEC-4']],
    ['status = "in progress"', ['SEC-2']],
    ['status in (Open, Done)', ['SEC-1', 'OPS-3', 'SEC-4']],
    ['status not in (Open)', ['SEC-2', 'OPS-3']],
    ['statusCategory = "To Do"', ['SEC-1', 'SEC-4']],
    ['statusCategory = indeterminate', ['SEC-2']],
    ['statusCategory != Done', ['SEC-1', 'SEC-2', 'SEC-4']],
    ['labels = security', ['SEC-1']],
    ['labels in (tls, sync-managed)', ['SEC-1', 'SEC-2']],
    ['labels is EMPTY', ['OPS-3', 'SEC-4']],
    ['labels is not empty', ['SEC-1', 'SEC-2']],
    ['labels != tls', ['SEC-1']], // != never matches an empty field
    ['priority = highest', ['SEC-1']],
    ['priority in (High, Low)', ['SEC-2', 'OPS-3']],
    ['priority is EMPTY', ['SEC-4']],
    ['assignee = currentUser()', ['SEC-1']],
    ['assignee = bob', ['SEC-2']],
    ['assignee = "alice@example.com"', ['SEC-1']],
    ['assignee is EMPTY', ['OPS-3', 'SEC-4']],
    ['assignee = EMPTY', ['OPS-3', 'SEC-4']],
    ['assignee in (EMPTY, bob)', ['SEC-2', 'OPS-3', 'SEC-4']],
    ['assignee != currentUser()', ['SEC-2']],
    ['reporter = JIRAUSER10001', ['SEC-4']],
    ['creator = JIRAUSER10001', ['SEC-4']],
    ['creator = currentUser() AND created >= -1500m', ['SEC-1']],
    ['resolution = Unresolved', ['SEC-1', 'SEC-2', 'SEC-4']],
    ['resolution != Unresolved', ['OPS-3']],
    ['resolution in (Unresolved, Fixed)', ['SEC-1', 'SEC-2', 'OPS-3', 'SEC-4']],
    ['resolution is EMPTY', ['SEC-1', 'SEC-2', 'SEC-4']],
    ['resolution = fixed', ['OPS-3']],
    ['summary ~ login', ['SEC-1', 'OPS-3', 'SEC-4']],
    ['summary ~ "login crash"', ['SEC-4']],
    ['summary ~ "\\"login form\\""', ['SEC-1']],
    ['summary ~ "form login"', ['SEC-1']],
    ['summary ~ "\\"form login\\""', []],
    ['summary ~ log*', ['SEC-1', 'OPS-3', 'SEC-4']],
    ['summary !~ login', ['SEC-2']],
    ['description ~ RC4', ['SEC-2']],
    ['text ~ rc4', ['SEC-2']],
    ['text ~ "tok-abc-123"', ['SEC-1']],
    ['"Sync Token" ~ "tok-abc-123"', ['SEC-1']],
    ['cf[10010] ~ "tok-abc-123"', ['SEC-1']],
    ['cf[10010] ~ "tok-abc-999"', []],
    ['"Sync Token" is EMPTY', ['SEC-2', 'OPS-3', 'SEC-4']],
    ['"Risk Score" > 5', ['SEC-1']],
    ['"Risk Score" >= 5', ['SEC-1', 'SEC-2']],
    ['cf[10020] < 9', ['SEC-2']],
    ['cf[10020] = 5', ['SEC-2']],
    ['customfield_10020 <= 9.1 and customfield_10020 > 5.0', ['SEC-1']],
  ];
  it.each(table)('%s', (jql, expected) => {
    expect(keys(jql).sort()).toEqual([...expected].sort());
  });

  describe('dates', () => {
    const dates: Array<[string, string[]]> = [
      // created = NOW - n days; updated = NOW - n hours
      ['created >= "2026-01-08"', ['SEC-1', 'SEC-2']],
      ['created >= 2026-01-08', ['SEC-1', 'SEC-2']],
      ['created < "2026/01/08"', ['OPS-3', 'SEC-4']],
      ['created > "2026/01/08 11:59"', ['SEC-1', 'SEC-2']],
      ['created > "2026/01/08 12:01"', ['SEC-1']],
      ['created >= -2d', ['SEC-1', 'SEC-2']],
      ['created >= "-3d"', ['SEC-1', 'SEC-2', 'OPS-3']],
      ['created > -1w', ['SEC-1', 'SEC-2', 'OPS-3', 'SEC-4']],
      ['created < -2w', []],
      ['updated >= -90m', ['SEC-1']],
      ['updated > -150m', ['SEC-1', 'SEC-2']],
      ['updated >= -3h', ['SEC-1', 'SEC-2', 'OPS-3']],
      ['created >= "-1w 4d"', ['SEC-1', 'SEC-2', 'OPS-3', 'SEC-4']],
      ['updated >= startOfDay()', ['SEC-1', 'SEC-2', 'OPS-3', 'SEC-4']],
      ['created >= startOfDay(-2d)', ['SEC-1', 'SEC-2']],
      ['created >= startOfDay("-1d") and created <= endOfDay("-1d")', ['SEC-1']],
      ['updated <= now()', ['SEC-1', 'SEC-2', 'OPS-3', 'SEC-4']],
    ];
    it.each(dates)('%s', (jql, expected) => {
      expect(keys(jql).sort()).toEqual([...expected].sort());
    });
  });

  describe('boolean logic', () => {
    const logic: Array<[string, string[]]> = [
      // AND binds tighter than OR.
      ['project = OPS OR project = SEC AND status = "In Progress"', ['SEC-2', 'OPS-3']],
      ['(project = OPS OR project = SEC) AND status = "In Progress"', ['SEC-2']],
      ['NOT project = SEC', ['OPS-3']],
      ['not (status = Open or status = Done)', ['SEC-2']],
      ['project = SEC and not labels = tls and not priority is EMPTY', ['SEC-1']],
      ['project = SEC && status = Open || key = OPS-3', ['SEC-1', 'OPS-3', 'SEC-4']],
      ['! (project = SEC)', ['OPS-3']],
      ['project = SEC AnD (labels = security oR labels = tls)', ['SEC-1', 'SEC-2']],
    ];
    it.each(logic)('%s', (jql, expected) => {
      expect(keys(jql).sort()).toEqual([...expected].sort());
    });
  });

  describe('ORDER BY', () => {
    it('orders by one key ascending and descending', () => {
      expect(keys('order by created')).toEqual(['SEC-4', 'OPS-3', 'SEC-2', 'SEC-1']);
      expect(keys('project = SEC ORDER BY created DESC')).toEqual(['SEC-1', 'SEC-2', 'SEC-4']);
    });
    it('orders by several keys with empty values last', () => {
      // Priorities sort by importance: DESC puts Highest first; empty values go last.
      expect(keys('order by priority desc, key desc')).toEqual(['SEC-1', 'SEC-2', 'OPS-3', 'SEC-4']);
      expect(keys('order by priority asc')).toEqual(['OPS-3', 'SEC-2', 'SEC-1', 'SEC-4']);
      expect(keys('ORDER BY "Risk Score" DESC, id ASC')).toEqual(['SEC-1', 'SEC-2', 'OPS-3', 'SEC-4']);
    });
    it('orders by key with the project first, then the number', () => {
      expect(keys('order by key')).toEqual(['OPS-3', 'SEC-1', 'SEC-2', 'SEC-4']);
    });
    it('breaks ties and unordered queries by id', () => {
      expect(keys('order by status')).toEqual(['OPS-3', 'SEC-2', 'SEC-1', 'SEC-4']);
      expect(keys('status = Open')).toEqual(['SEC-1', 'SEC-4']);
    });
    it('records the keys in the parsed query', () => {
      expect(parseJql('project = A order by updated DESC, cf[10020]').orderBy).toEqual([
        { field: { name: 'updated', position: 22 }, direction: 'desc' },
        { field: { name: 'cf[10020]', customId: 'customfield_10020', position: 36 }, direction: 'asc' },
      ]);
    });
  });

  it('reports custom field type errors at compile time when the context knows the type', () => {
    const typed: JqlContext = { ...ctx, customFieldType: (id) => (id === 'customfield_10020' ? 'number' : 'text') };
    expect(() => compileJql(parseJql('"Risk Score" > high'), typed)).toThrow(
      "The value 'high' is invalid for the 'Risk Score' field.",
    );
    expect(() => compileJql(parseJql('"Sync Token" > 5'), typed)).toThrow(
      "The operator '>' is not supported by the 'Sync Token' field.",
    );
    // Without the type, the clause just does not match.
    expect(keys('"Sync Token" > 5')).toEqual([]);
  });
});

describe('JQL errors', () => {
  const errors: Array<[string, string, number | undefined]> = [
    [
      'project = SEC foo',
      "Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'foo'. (line 1, character 15)",
      15,
    ],
    [
      'project = SEC AND status = Open foo = 1',
      "Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'foo'. (line 1, character 33)",
      33,
    ],
    ['project SEC', "Error in the JQL Query: Expecting operator but got 'SEC'.", 9],
    ['project', 'Error in the JQL Query: Expecting operator before the end of the query.', 8],
    [
      'project =',
      'Error in the JQL Query: Expecting either a value, list or function before the end of the query.',
      10,
    ],
    ['project = SEC AND', 'Error in the JQL Query: Expecting a field name at the end of the query.', 18],
    ['(project = SEC', "Error in the JQL Query: Expecting ')' before the end of the query.", 15],
    [
      'summary ~ "abc',
      "Error in the JQL Query: The quoted string 'abc' has not been completed. (line 1, character 11)",
      11,
    ],
    ['project = a$b', "Error in the JQL Query: The character '$' is a reserved JQL character.", 12],
    ['project = (A, B)', "Error in the JQL Query: Expecting either a value or function but got '('.", 11],
    ['project in (A B)', "Error in the JQL Query: Expecting ')' but got 'B'. (line 1, character 15)", 15],
    ['status is Open', "The operator 'IS' only supports searching for EMPTY values.", 11],
    ['project = A order by', 'Error in the JQL Query: Expecting a field name at the end of the query.', 21],
    [
      'order by key asc desc',
      "Error in the JQL Query: Expecting either ',' or end of query but got 'desc'. (line 1, character 18)",
      18,
    ],
    ['summary ~ "\\q"', "Error in the JQL Query: Illegal escape sequence '\\q' in the JQL query.", 12],
  ];
  it.each(errors)('%s', (jql, message, position) => {
    let caught: unknown;
    try {
      parseJql(jql);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(JqlError);
    expect((caught as JqlError).message).toContain(message);
    expect((caught as JqlError).position).toBe(position);
  });

  const semantic: Array<[string, string]> = [
    ['xyz = 1', "Field 'xyz' does not exist or you do not have permission to view it."],
    ['"No Such Field" ~ x', "Field 'No Such Field' does not exist or you do not have permission to view it."],
    ['status ~ open', "The operator '~' is not supported by the 'status' field."],
    ['summary = x', "The operator '=' is not supported by the 'summary' field."],
    ['created > "2026-13-45"', "Date value '2026-13-45' for field 'created' is invalid."],
    ['updated > yesterday', "Date value 'yesterday' for field 'updated' is invalid."],
    ['created > startOfDay(abc)', "Function 'startOfDay' expected a duration"],
    ['created > lastWeek()', "Unable to find JQL function 'lastWeek()'"],
    ['assignee = membersOf(x)', "Unable to find JQL function 'membersOf()'"],
    ['id > abc', "The value 'abc' is invalid for the 'id' field."],
    ['key = notakey', "The issue key 'notakey' for field 'key' is invalid."],
    ['summary ~ EMPTY', "The operator '~' does not support searching for EMPTY values."],
  ];
  it.each(semantic)('%s', (jql, message) => {
    expect(() => compileJql(parseJql(jql), ctx)).toThrow(JqlError);
    expect(() => compileJql(parseJql(jql), ctx)).toThrow(message);
  });

  it('accepts quoted strings with escapes and unicode', () => {
    const q = parseJql(String.raw`summary ~ "say \"hi\" \u00e9" and labels = 'it\'s'`);
    expect(q.where).toMatchObject({
      kind: 'and',
      items: [
        { values: [{ kind: 'string', value: 'say "hi" é', quoted: true }] },
        { values: [{ kind: 'string', value: "it's", quoted: true }] },
      ],
    });
  });

  it('never throws anything but JqlError on arbitrary input', () => {
    const jqlish = fc.array(
      fc.oneof(
        fc.constantFrom(
          'project',
          '=',
          '!=',
          '~',
          'in',
          'not',
          'is',
          'empty',
          'and',
          'or',
          '(',
          ')',
          ',',
          '"',
          "'",
          'order',
          'by',
          'desc',
          'cf[',
          ']',
          'startOfDay(',
          '-1d',
          '\\',
          'SEC-1',
          '>',
          '<=',
        ),
        fc.string({ maxLength: 6 }),
      ),
      { maxLength: 12 },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 60 }),
          jqlish.map((parts) => parts.join(' ')),
        ),
        (jql) => {
          try {
            const q = parseJql(jql);
            const compiled = compileJql(q, ctx);
            for (const i of ISSUES) compiled.matches(i);
          } catch (e) {
            if (!(e instanceof JqlError)) throw e;
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('app webhook JQL subset', () => {
  it('accepts the documented fields and operators', () => {
    expect(() => parseAppWebhookJql('project = SEC AND issuetype IN (Bug, Task) AND status != Done')).not.toThrow();
    expect(() => parseAppWebhookJql('issueKey = SEC-1 OR assignee NOT IN (bob) OR NOT reporter = alice')).not.toThrow();
    expect(() => parseAppWebhookJql('cf[10014] = "Epic label"')).not.toThrow();
  });
  it.each([
    ['labels = security', "The field 'labels' is not supported in webhook JQL filters."],
    ['summary ~ x', "The field 'summary' is not supported in webhook JQL filters."],
    ['project ~ SEC', "The operator '~' is not supported in webhook JQL filters."],
    ['assignee IS EMPTY', "The operator 'IS' is not supported in webhook JQL filters."],
    ['project = SEC ORDER BY key', 'ORDER BY is not supported in webhook JQL filters.'],
  ])('rejects %s', (jql, message) => {
    expect(() => parseAppWebhookJql(jql)).toThrow(JqlError);
    expect(() => parseAppWebhookJql(jql)).toThrow(message);
  });
});
