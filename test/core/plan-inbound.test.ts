import { describe, expect, it } from 'vitest';
import {
  inboundEvents,
  planInboundField,
  planIssueDeleted,
  type InboundFieldInput,
} from '../../src/core/plan-inbound.js';

interface D {
  status: string;
  assignee_email: string | null;
  title: string;
}
const data: D = { status: 'open', assignee_email: null, title: 'host' };
const ctx = { unmatchedAssignee: { rule: 'unassign' as const, warning: () => 'w' }, hidden: () => false };
const field = (over: Partial<InboundFieldInput<D>>): InboundFieldInput<D> => ({
  key: 'summary',
  jira: 'base',
  host: 'base',
  base: 'base',
  journaled: [],
  flowsIn: true,
  hostChangedAt: 1,
  jiraChangedAt: 2,
  apply: (d, v) => ({ ok: true, data: { ...d, title: String(v) } }),
  ...over,
});

describe('inbound planner: the rule behind each field', () => {
  it('names the rule', () => {
    expect(planInboundField(field({ jira: 'by a person' }), data, ctx)).toMatchObject({
      rule: 'jira_changed',
      action: 'to_host',
      value: 'by a person',
      data: { title: 'by a person' },
    });
    expect(planInboundField(field({}), data, ctx)).toMatchObject({ rule: 'unchanged', action: 'none' });
    expect(planInboundField(field({ byUs: true }), data, ctx)).toMatchObject({ rule: 'ours', action: 'none' });
    // A value a journaled write of ours sent is ours: the base, and the host's newer value is pushed.
    expect(planInboundField(field({ jira: 'sent', host: 'newer', journaled: ['sent'] }), data, ctx)).toMatchObject({
      rule: 'ours',
      action: 'to_jira',
      push: true,
    });
    expect(planInboundField(field({ jira: 'j', host: 'h', hostChangedAt: 3 }), data, ctx)).toMatchObject({
      rule: 'host_newer',
      action: 'to_jira',
      base: { value: 'j' },
    });
    expect(planInboundField(field({ jira: 'j', host: 'h' }), data, ctx)).toMatchObject({
      rule: 'jira_newer',
      conflict: { winner: 'jira', lost: 'h' },
    });
    expect(planInboundField(field({ jira: 'j', host: 'h', lock: 'host' }), data, ctx)).toMatchObject({
      rule: 'locked',
      conflict: { winner: 'host', rule: 'lock' },
    });
    expect(planInboundField(field({ jira: 'j', flowsIn: false }), data, ctx)).toMatchObject({
      rule: 'direction_off',
      action: 'none',
    });
    expect(planInboundField(field({ jira: 'j', templated: true }), data, ctx)).toMatchObject({
      rule: 'templated',
      action: 'none',
    });
    expect(planInboundField(field({ jira: 'x', host: 'x' }), data, ctx)).toMatchObject({
      rule: 'agree',
      base: { value: 'x' },
    });
  });

  it('a deleted issue resolves the record only under resolve, and only once', () => {
    expect(planIssueDeleted({ onJiraDelete: 'resolve', closeTo: 'resolved', status: 'open' })).toEqual({
      resolveTo: 'resolved',
    });
    expect(planIssueDeleted({ onJiraDelete: 'resolve', closeTo: 'resolved', status: 'resolved' })).toEqual({
      resolveTo: null,
    });
    expect(planIssueDeleted({ onJiraDelete: 'unlink', closeTo: 'resolved', status: 'open' })).toEqual({
      resolveTo: null,
    });
  });

  it('host events follow what was stored', () => {
    const none = {
      changed: false,
      comments: 0,
      attachments: false,
      moved: false,
      conflicts: 0,
      warnings: 0,
      raised: false,
    };
    expect(inboundEvents(none)).toEqual({
      verdict: 'no_change',
      action: 'noop',
      log: false,
      events: [],
      warningOnly: false,
    });
    expect(inboundEvents({ ...none, warnings: 1, raised: true })).toMatchObject({ log: true, warningOnly: true });
    expect(inboundEvents({ ...none, changed: true, comments: 2, moved: true })).toMatchObject({
      verdict: 'applied',
      action: 'updated',
      events: ['record.updated', 'record.comments', 'record.moved'],
    });
    expect(inboundEvents({ ...none, conflicts: 1 })).toMatchObject({
      verdict: 'applied',
      action: 'conflict',
      events: [],
    });
  });
});
