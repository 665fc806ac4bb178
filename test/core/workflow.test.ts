import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  learnTransitions,
  screenTakes,
  shortestPath,
  type WorkflowEdge,
  type WorkflowGraph,
} from '../../src/core/workflow.js';

const edge = (id: string, to: string): WorkflowEdge => ({ id, name: `to ${to}`, to: { id: to, name: to } });

function securityWorkflow(): WorkflowGraph {
  const g: WorkflowGraph = new Map();
  learnTransitions(g, 'Open', [edge('11', 'Triaged'), edge('12', 'Closed')]);
  learnTransitions(g, 'Triaged', [edge('21', 'In Progress'), edge('22', 'Open')]);
  learnTransitions(g, 'In Progress', [edge('31', 'In Review'), edge('32', 'Triaged')]);
  learnTransitions(g, 'In Review', [edge('41', 'Resolved'), edge('42', 'In Progress')]);
  learnTransitions(g, 'Resolved', [edge('51', 'Closed'), edge('52', 'Open')]);
  return g;
}

describe('shortestPath over the learnt workflow', () => {
  it.each([
    ['Open', 'Resolved', ['11', '21', '31', '41']],
    ['open', 'triaged', ['11']],
    ['Resolved', 'In Progress', ['52', '11', '21']],
    ['Open', 'Closed', ['12']],
    ['In Review', 'In Review', []],
  ])('%s → %s', (from, to, ids) => {
    expect(shortestPath(securityWorkflow(), from, to)?.map((e) => e.id)).toEqual(ids);
  });

  it('null when the known graph has no path (never loops on cycles)', () => {
    expect(shortestPath(securityWorkflow(), 'Closed', 'Open')).toBeNull();
    expect(shortestPath(new Map(), 'A', 'B')).toBeNull();
  });

  it('property: the path is valid, ends at the target, and no shorter path exists (vs. brute force)', () => {
    const statuses = ['A', 'B', 'C', 'D', 'E', 'F'];
    const graphArb = fc.array(fc.tuple(fc.constantFrom(...statuses), fc.constantFrom(...statuses)), { maxLength: 20 });
    fc.assert(
      fc.property(graphArb, fc.constantFrom(...statuses), fc.constantFrom(...statuses), (pairs, from, to) => {
        const g: WorkflowGraph = new Map();
        const adj = new Map<string, string[]>();
        pairs.forEach(([a, b], i) => adj.set(a, [...(adj.get(a) ?? []), b]) && void i);
        for (const [a, bs] of adj)
          learnTransitions(
            g,
            a,
            bs.map((b, i) => edge(`${a}${b}${i}`, b)),
          );
        const path = shortestPath(g, from, to);
        // Brute-force distance by repeated relaxation.
        const dist = new Map([[from.toLowerCase(), 0]]);
        for (let round = 0; round < statuses.length; round++) {
          for (const [a, bs] of adj) {
            const d = dist.get(a.toLowerCase());
            if (d === undefined) continue;
            for (const b of bs) if ((dist.get(b.toLowerCase()) ?? Infinity) > d + 1) dist.set(b.toLowerCase(), d + 1);
          }
        }
        const best = dist.get(to.toLowerCase());
        if (best === undefined) expect(path).toBeNull();
        else {
          expect(path).not.toBeNull();
          expect(path!.length).toBe(best);
          let at = from;
          for (const e of path!) {
            expect(g.get(at.toLowerCase())).toContain(e);
            at = e.to.name;
          }
          if (path!.length) expect(at).toBe(to);
        }
      }),
    );
  });
});

describe('screenTakes: may an edit ride on a transition?', () => {
  const resolve: WorkflowEdge = {
    ...edge('41', 'Resolved'),
    fields: {
      resolution: { required: true, allowedValues: ['Fixed'] },
      assignee: { required: false },
      customfield_10016: { required: false },
    },
  };
  it.each([
    [['customfield_10016'], true],
    [['assignee', 'customfield_10016'], true],
    [['customfield_10016', 'summary'], false], // one field off the screen: the edit goes alone
    [['labels'], false],
    [[], false], // nothing to carry
  ])('%j → %s', (ids, takes) => {
    expect(screenTakes(resolve, ids)).toBe(takes);
  });

  it('a transition without a screen, or whose screen is not known, takes nothing', () => {
    expect(screenTakes({ ...edge('11', 'Triaged'), fields: {} }, ['assignee'])).toBe(false);
    expect(screenTakes(edge('11', 'Triaged'), ['assignee'])).toBe(false);
  });

  it('inherited names are not screen fields', () => {
    expect(screenTakes({ ...edge('11', 'Triaged'), fields: {} }, ['toString'])).toBe(false);
  });
});
