/**
 * Which Jira issues are a mapping's own (issue 18, items 1 and 3): overlapping inbound coverage
 * (same connection and project, overlapping issue types, no filters that separate them) and the
 * JQL a filter adds to the sweep — pure functions.
 */
import { describe, expect, it } from 'vitest';
import {
  checkConfigStructure,
  checkMappingStructure,
  inboundOverlaps,
  type MappingLike,
} from '../../src/core/config-check.js';
import { scopeJql } from '../../src/engine/jira-port.js';

const mapping = (id: string, over: Partial<MappingLike> = {}): MappingLike => ({
  id,
  connection: 'acme',
  scope: id,
  project: 'OPS',
  kinds: { incident: { issue_type: 'Incident' } },
  status: { out: {}, in: {}, closed: [] },
  priority: { out: {}, in: {} },
  fields: [],
  close: { never: true },
  reopen: { mode: 'reopen' },
  ...over,
});

describe('overlapping inbound coverage', () => {
  it('two mappings of one connection on one project and issue type overlap, naming both', () => {
    const ms = [mapping('astra-a'), mapping('astra-b')];
    expect(inboundOverlaps(ms)).toEqual([
      { first: 0, second: 1, project: 'OPS', issueTypes: ['Incident'], at: 'kinds.incident.issue_type' },
    ]);
    const issues = checkConfigStructure({ connections: [{ id: 'acme', tls: { verify: true } }], mappings: ms });
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('mappings[1].kinds.incident.issue_type');
    expect(issues[0]!.message).toContain('mapping "astra-b" and mapping "astra-a" (mappings[0])');
    expect(issues[0]!.message).toContain('neither has a filter');
    expect(issues[0]!.message).toContain('filter: <JQL>');
  });

  it('issue types compare case-insensitively, and only the shared ones are named', () => {
    const a = mapping('a', { kinds: { incident: { issue_type: 'Incident' }, task: { issue_type: 'Task' } } });
    const b = mapping('b', { kinds: { bug: { issue_type: 'Bug' }, chore: { issue_type: 'task' } } });
    expect(inboundOverlaps([a, b])).toEqual([
      { first: 0, second: 1, project: 'OPS', issueTypes: ['task'], at: 'kinds.chore.issue_type' },
    ]);
  });

  it('different issue types, projects or connections do not overlap; nor does a to_jira mapping', () => {
    expect(inboundOverlaps([mapping('a'), mapping('b', { kinds: { bug: { issue_type: 'Bug' } } })])).toEqual([]);
    expect(inboundOverlaps([mapping('a'), mapping('b', { project: 'INFRA' })])).toEqual([]);
    expect(inboundOverlaps([mapping('a'), mapping('b', { connection: 'other' })])).toEqual([]);
    expect(inboundOverlaps([mapping('a'), mapping('b', { direction: 'to_jira' })])).toEqual([]);
    // The project key compares like Jira's (any case).
    expect(inboundOverlaps([mapping('a'), mapping('b', { project: 'ops' })])).toHaveLength(1);
  });

  it('a service-desk kind takes any issue type of its project', () => {
    const desk = mapping('desk', { kinds: { request: { service_desk: 'OPS', request_type: 'Get help' } } });
    const o = inboundOverlaps([mapping('a', { kinds: { bug: { issue_type: 'Bug' } } }), desk]);
    expect(o).toEqual([{ first: 0, second: 1, project: 'OPS', issueTypes: ['*'], at: 'kinds.request.service_desk' }]);
  });

  it('two different filters separate the mappings; one filter alone or the same filter twice does not', () => {
    const sync = mapping('sync', { filter: 'labels = stackflow-sync' });
    const infra = mapping('infra', { filter: 'labels = infra' });
    expect(inboundOverlaps([sync, infra])).toEqual([]);
    const whole = inboundOverlaps([sync, mapping('whole')]);
    expect(whole).toHaveLength(1);
    const issues = checkConfigStructure({
      connections: [{ id: 'acme', tls: { verify: true } }],
      mappings: [sync, mapping('whole')],
    });
    expect(issues[0]!.message).toContain('only "sync" has a filter, so "whole" covers its issues too');
    // Spacing and case do not make a filter different.
    const same = mapping('same', { filter: '  LABELS   =  stackflow-sync ' });
    expect(inboundOverlaps([sync, same])).toHaveLength(1);
  });

  it('a third mapping is compared with each earlier one', () => {
    const ms = [mapping('a', { filter: 'labels = a' }), mapping('b', { filter: 'labels = b' }), mapping('c')];
    expect(inboundOverlaps(ms).map((o) => [o.first, o.second])).toEqual([
      [0, 2],
      [1, 2],
    ]);
  });
});

describe('the filter of a mapping', () => {
  it('must not order: it is ANDed into jira-bridge’s own searches', () => {
    expect(checkMappingStructure(mapping('a', { filter: 'labels = x ORDER BY created' }), 3)).toEqual([
      { path: 'mappings[3].filter', message: expect.stringContaining('must not contain ORDER BY') as string },
    ]);
    // Words inside a JQL string are the user's text, not a clause.
    expect(checkMappingStructure(mapping('a', { filter: 'summary ~ "order by phone"' }), 0)).toEqual([]);
  });

  it('narrows the sweep’s search per project, parenthesised; a project any unfiltered mapping covers is taken whole', () => {
    expect(scopeJql(['OPS', 'SEC'])).toBe('project in ("OPS", "SEC")');
    expect(scopeJql([{ projectKey: 'OPS', filter: 'labels = a OR labels = b' }])).toBe(
      '(project = "OPS" AND (labels = a OR labels = b))',
    );
    expect(
      scopeJql([
        { projectKey: 'OPS', filter: 'labels = a' },
        { projectKey: 'OPS', filter: 'labels = b' },
        { projectKey: 'SEC' },
        { projectKey: 'INFRA', filter: 'labels = c' },
        { projectKey: 'SEC', filter: 'labels = d' },
      ]),
    ).toBe(
      '(project in ("SEC") OR (project = "OPS" AND ((labels = a) OR (labels = b))) OR (project = "INFRA" AND (labels = c)))',
    );
    expect(scopeJql([])).toBeNull();
  });
});
