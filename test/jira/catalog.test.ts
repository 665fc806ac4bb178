import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED } from '../../src/sandbox/index.js';
import { env, FLAVOURS, type Env } from './helpers.js';

describe.each(FLAVOURS)('fetchCatalog on %s', (flavour) => {
  let e: Env;
  beforeAll(async () => {
    e = await env(flavour);
  });
  afterAll(async () => {
    await e.close();
  });

  it('assembles projects, issue types with create fields and options, statuses by category, priorities, resolutions, fields, service desks', async () => {
    const c = await e.jira.fetchCatalog();
    expect(c.flavour).toBe(flavour);
    expect(c.projects.map((p) => p.key).sort()).toEqual(['ITSD', 'OPS', 'SEC']);
    const sec = c.projects.find((p) => p.key === 'SEC')!;
    const vuln = sec.issueTypes.find((t) => t.id === SEED.issueType.vulnerability)!;
    expect(vuln.fields.find((f) => f.id === 'summary')?.required).toBe(true);
    expect(vuln.fields.find((f) => f.id === SEED.field.asset)?.options?.map((o) => o.value)).toEqual([
      'web-portal',
      'payments-api',
      'customer-db',
      'mobile-app',
    ]);
    const cats = new Map(c.statuses.map((s) => [s.id, s.category]));
    expect(cats.get(SEED.status.open)).toBe('new');
    expect(cats.get(SEED.status.inProgress)).toBe('indeterminate');
    expect(cats.get(SEED.status.closed)).toBe('done');
    expect(c.priorities.length).toBeGreaterThan(2);
    expect(c.resolutions.map((r) => r.name)).toContain('Fixed');
    const env = c.fields.find((f) => f.id === SEED.field.environment)!;
    expect(env).toMatchObject({ custom: true, type: 'array' });
    expect(env.options?.map((o) => o.value)).toEqual(['Production', 'Staging', 'Development']);
    expect(c.serviceDesks).toEqual([
      expect.objectContaining({
        id: SEED.serviceDesk.itsd,
        projectKey: 'ITSD',
        requestTypes: expect.arrayContaining([expect.objectContaining({ name: 'Get IT help' })]),
      }),
    ]);
  });
});
