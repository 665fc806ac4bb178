import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED } from '../../src/sandbox/index.js';
import { createIssue, FLAVOURS, sandboxClient, type Client } from './helpers.js';

const T = SEED.secTransition;

describe.each(FLAVOURS)('workflows (%s)', (flavour) => {
  let c: Client;
  beforeAll(async () => {
    c = await sandboxClient({ flavour });
  });
  afterAll(async () => {
    await c.sb.app.close();
  });

  const vuln = (): Promise<{ id: string; key: string }> =>
    createIssue(c, { project: { key: 'SEC' }, issuetype: { name: 'Vulnerability' } });
  const go = (key: string, id: string, fields?: unknown) =>
    c.call('POST', `issue/${key}/transitions`, { transition: { id }, ...(fields ? { fields } : {}) });

  it('lists only the transitions available from the current status, with screen fields on request', async () => {
    const { key } = await vuln();
    const plain = (await c.call('GET', `issue/${key}/transitions`)).json();
    expect(plain.transitions.map((t: { name: string }) => t.name)).toEqual(['Triage']);
    expect(plain.transitions[0]).not.toHaveProperty('fields');
    for (const id of [T.triage, T.start, T.submitForReview]) expect((await go(key, id)).statusCode).toBe(204);
    const review = (await c.call('GET', `issue/${key}/transitions?expand=transitions.fields`)).json();
    const resolve = review.transitions.find((t: { id: string }) => t.id === T.resolve);
    expect(resolve.to.name).toBe('Resolved');
    expect(resolve.hasScreen).toBe(true);
    expect(resolve.fields.resolution.required).toBe(true);
    expect(resolve.fields.resolution.allowedValues.map((r: { name: string }) => r.name)).toContain('Fixed');
  });

  it('rejects a transition that is not valid from the current status with Jira 400 shape', async () => {
    const { key } = await vuln();
    const res = await go(key, T.resolve);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      errorMessages: [`Transition id '${T.resolve}' is not valid for this issue.`],
      errors: {},
    });
    expect((await go(key, '999')).statusCode).toBe(400);
    const missing = await c.call('POST', `issue/${key}/transitions`, {});
    expect(missing.statusCode).toBe(400);
  });

  it('needs several hops and a resolution to reach Resolved; reopen clears it', async () => {
    const { key } = await vuln();
    for (const id of [T.triage, T.start, T.submitForReview]) expect((await go(key, id)).statusCode).toBe(204);
    const noRes = await go(key, T.resolve);
    expect(noRes.statusCode).toBe(400);
    expect(noRes.json()).toEqual({ errorMessages: [], errors: { resolution: "Field 'resolution' is required" } });
    const badRes = await go(key, T.resolve, { resolution: { name: 'Nope' } });
    expect(badRes.statusCode).toBe(400);
    expect((await go(key, T.resolve, { resolution: { name: 'Fixed' } })).statusCode).toBe(204);
    let issue = (await c.call('GET', `issue/${key}?expand=changelog`)).json();
    expect(issue.fields.status.name).toBe('Resolved');
    expect(issue.fields.status.statusCategory.key).toBe('done');
    expect(issue.fields.resolution.name).toBe('Fixed');
    expect(issue.fields.resolutiondate).not.toBeNull();
    const last = issue.changelog.histories.at(-1);
    expect(last.items.map((i: { field: string }) => i.field).sort()).toEqual(['resolution', 'status']);
    expect(last.items.find((i: { field: string }) => i.field === 'status')).toMatchObject({
      fromString: 'In Review',
      toString: 'Resolved',
    });
    expect((await go(key, T.close)).statusCode).toBe(204);
    expect((await go(key, T.reopen)).statusCode).toBe(204);
    issue = (await c.call('GET', `issue/${key}`)).json();
    expect(issue.fields.status.name).toBe('Open');
    expect(issue.fields.resolution).toBeNull();
  });

  it('the Resolve screen (like Jira\'s "Resolve Issue Screen") lists and takes the assignee and Notes with the resolution', async () => {
    const { key } = await vuln();
    for (const id of [T.triage, T.start, T.submitForReview]) expect((await go(key, id)).statusCode).toBe(204);
    const review = (await c.call('GET', `issue/${key}/transitions?expand=transitions.fields`)).json();
    const resolve = review.transitions.find((t: { id: string }) => t.id === T.resolve);
    expect(Object.keys(resolve.fields).sort()).toEqual(['assignee', SEED.field.notes, 'resolution'].sort());
    expect(resolve.fields.assignee).toMatchObject({ required: false, key: 'assignee', name: 'Assignee' });
    expect(resolve.fields.assignee.schema).toEqual({ type: 'user', system: 'assignee' });
    expect(resolve.fields[SEED.field.notes]).toMatchObject({ required: false, name: 'Notes' });
    const alice = flavour === 'cloud' ? { accountId: SEED.users.alice } : { name: 'alice' };
    const notes =
      flavour === 'cloud'
        ? {
            type: 'doc',
            version: 1,
            content: [{ type: 'paragraph', content: [{ type: 'text', text: 'Fixed in 2.4.1' }] }],
          }
        : 'Fixed in 2.4.1';
    // A field off the screen is refused, and nothing changes.
    const off = await go(key, T.resolve, { resolution: { name: 'Fixed' }, summary: 'sneaky' });
    expect(off.statusCode).toBe(400);
    expect(off.json().errors.summary).toMatch(/not on the appropriate screen/);
    expect(
      (await go(key, T.resolve, { resolution: { name: 'Fixed' }, assignee: alice, [SEED.field.notes]: notes }))
        .statusCode,
    ).toBe(204);
    const issue = (await c.call('GET', `issue/${key}?expand=changelog`)).json();
    expect(issue.fields.status.name).toBe('Resolved');
    expect(issue.fields.assignee.displayName).toBe('Alice Analyst');
    expect(JSON.stringify(issue.fields[SEED.field.notes])).toContain('Fixed in 2.4.1');
    // One change: the status and every field the transition carried.
    expect(
      issue.changelog.histories
        .at(-1)
        .items.map((i: { field: string }) => i.field)
        .sort(),
    ).toEqual(['Notes', 'assignee', 'resolution', 'status'].sort());
  });

  it('rejects fields that are not on the transition screen', async () => {
    const { key } = await vuln();
    const res = await go(key, T.triage, { summary: 'sneaky' });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toHaveProperty('summary');
  });

  it('the software workflow sets resolution Done by post function and reopens', async () => {
    const { key } = await createIssue(c, { project: { key: 'OPS' }, issuetype: { name: 'Task' } });
    expect((await go(key, SEED.opsTransition.start)).statusCode).toBe(204);
    expect((await go(key, SEED.opsTransition.done)).statusCode).toBe(204);
    let issue = (await c.call('GET', `issue/${key}`)).json();
    expect(issue.fields.status.name).toBe('Done');
    expect(issue.fields.resolution.name).toBe('Done');
    expect((await go(key, SEED.opsTransition.reopen)).statusCode).toBe(204);
    issue = (await c.call('GET', `issue/${key}`)).json();
    expect(issue.fields.status.name).toBe('To Do');
    expect(issue.fields.resolution).toBeNull();
  });

  it('the control API acts as a Jira user and transitions by target status name', async () => {
    const { key } = await vuln();
    const res = await c.sb.app.inject({
      method: 'POST',
      url: `/_sandbox/issues/${key}/transition`,
      payload: { as: 'bob', to: 'Triaged' },
    });
    expect(res.statusCode).toBe(204);
    const issue = (await c.call('GET', `issue/${key}?expand=changelog`)).json();
    expect(issue.fields.status.name).toBe('Triaged');
    expect(issue.changelog.histories.at(-1).author.displayName).toBe('Bob Builder');
  });
});
