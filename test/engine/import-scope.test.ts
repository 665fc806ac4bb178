/**
 * Which mapping may open a record for an issue no record is linked to, and why not (pure): the
 * rules a delivery of a new issue and a manual sync of its key share.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TOKEN_LABEL_PREFIX } from '../../src/jira/idempotent-create.js';
import { importDecision } from '../../src/engine/import-scope.js';
import { opsMapping, secMapping, inboundSettings } from './harness.js';

const issue = (over: Partial<Parameters<typeof importDecision>[2]> = {}) => ({
  key: 'OPS-7',
  projectKey: 'OPS',
  issueType: 'Incident',
  labels: [] as string[],
  status: { id: '1', name: 'To Do', category: 'new' },
  ...over,
});
const creating = opsMapping({ inbound: inboundSettings({ onJiraCreate: 'create_record' }) });

describe('importDecision', () => {
  it('a mapping of the project that creates records and maps the issue type takes it, unfiltered mappings first', () => {
    const filtered = opsMapping({
      id: 'map-ops-f',
      filter: 'labels = x',
      inbound: inboundSettings({ onJiraCreate: 'create_record' }),
    });
    const d = importDecision([filtered, creating], 'sandbox', issue());
    expect(d.ok && d.candidates.map((c) => [c.mapping.id, c.kind])).toEqual([
      ['map-ops', 'incident'],
      ['map-ops-f', 'incident'],
    ]);
  });
  it('says why not: no mapping, no create_record, an unmapped type, our own issue, a done status', () => {
    const why = (d: ReturnType<typeof importDecision>) => (d.ok ? 'ok' : `${d.verdict}: ${d.why}`);
    expect(why(importDecision([secMapping()], 'sandbox', issue()))).toBe(
      'ignored:unlinked: no record is linked to OPS-7, and no mapping of connection "sandbox" covers project OPS',
    );
    expect(why(importDecision([opsMapping()], 'sandbox', issue()))).toContain(
      'mapping "map-ops" of project OPS does not create records from Jira (set on_jira_create: create_record',
    );
    expect(why(importDecision([opsMapping({ ...creating, direction: 'to_jira' })], 'sandbox', issue()))).toMatch(
      /^ignored:unlinked: .*does not create records/,
    );
    expect(why(importDecision([creating], 'sandbox', issue({ issueType: 'Bug' })))).toBe(
      'ignored:out_of_scope: issue type "Bug" of OPS-7 is mapped to no kind of mapping "map-ops" (map it under kinds, or set create_kind)',
    );
    expect(why(importDecision([creating], 'sandbox', issue({ labels: [`${TOKEN_LABEL_PREFIX}abc`] })))).toMatch(
      /^ignored:unlinked: OPS-7 was created by jira-bridge/,
    );
    expect(
      why(importDecision([creating], 'sandbox', issue({ status: { id: '3', name: 'Done', category: 'done' } }))),
    ).toBe('ignored:out_of_scope: OPS-7 is in a done status ("Done"): records are opened for issues that are not done');
    // Another connection's mapping of the same project is not this connection's.
    expect(importDecision([creating], 'other', issue()).ok).toBe(false);
  });
  it('property: it takes an issue exactly when the delivery rules say so', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('Incident', 'Task', 'Bug'),
        fc.boolean(),
        fc.constantFrom('new', 'indeterminate', 'done'),
        fc.constantFrom<'ignore' | 'create_record'>('ignore', 'create_record'),
        (issueType, ours, category, onJiraCreate) => {
          const m = opsMapping({ inbound: inboundSettings({ onJiraCreate }) });
          const d = importDecision(
            [m],
            'sandbox',
            issue({
              issueType,
              labels: ours ? [`${TOKEN_LABEL_PREFIX}t`] : [],
              status: { id: '1', name: 'S', category },
            }),
          );
          const expected = onJiraCreate === 'create_record' && issueType !== 'Bug' && !ours && category !== 'done';
          return d.ok === expected && (d.ok || d.why.length > 0);
        },
      ),
    );
  });
});
