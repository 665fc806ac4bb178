import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOnce, findByToken, tokenLabel, TOKEN_PROPERTY, withToken } from '../../src/jira/idempotent-create.js';
import { SEED } from '../../src/sandbox/index.js';
import { createJiraClient, type JiraClient } from '../../src/jira/client.js';
import { Pacer } from '../../src/jira/pacer.js';
import { connectionFor, env, FLAVOURS, type Env } from './helpers.js';

describe.each(FLAVOURS)('createOnce on %s', (flavour) => {
  let e: Env;
  let alice: JiraClient;
  beforeAll(async () => {
    e = await env(flavour);
    alice = createJiraClient(connectionFor(e.sb, 'alice'), { pacer: new Pacer(), backoffMs: 1 });
  });
  afterAll(async () => {
    await alice.close();
    await e.close();
  });

  const fields = (summary: string) => ({
    project: { key: 'SEC' },
    issuetype: { id: SEED.issueType.vulnerability },
    summary,
    labels: ['scanner'],
  });
  const count = async (jql: string) => {
    let n = 0;
    for await (const _ of e.jira.searchAll(jql, { fields: ['summary'] })) n++;
    return n;
  };

  it('the same token twice makes one issue, with no visible marker: the second call finds it by its property', async () => {
    const token = `tok-${flavour}-prop-1`;
    // Decoys in the search window: ours with another token, and a Jira user's issue (not ours).
    await e.jira.createIssue(withToken({ token: `${token}-other`, fields: fields('decoy') }));
    await alice.createIssue({ fields: fields('once') });
    const a = await createOnce(e.jira, { projectKey: 'SEC', token, fields: fields('once') });
    const calls0 = e.sb.calls.count({ method: 'POST', route: `${e.jira.apiPath}/issue` });
    const b = await createOnce(e.jira, {
      projectKey: 'SEC',
      token,
      fields: fields('once'),
      since: Date.now() - 60_000,
    });
    expect(a.adopted).toBe(false);
    expect(b).toEqual({ issue: expect.objectContaining({ id: a.issue.id, key: a.issue.key }), adopted: true });
    expect(e.sb.calls.count({ method: 'POST', route: `${e.jira.apiPath}/issue` })).toBe(calls0);
    const issue = await e.jira.getIssue(a.issue.id, { fields: ['labels'] });
    expect(issue.fields.labels).toEqual(['scanner']);
    expect(await e.jira.getIssueProperty(a.issue.id, TOKEN_PROPERTY)).toEqual({ token });
    expect(await findByToken(e.jira, 'SEC', `${token}-missing`, { since: Date.now() - 60_000 })).toBeNull();
  });

  it('the label marker (opt-in): the same token twice makes one issue, found by its label', async () => {
    const token = `tok-${flavour}-label-1`;
    const a = await createOnce(e.jira, { projectKey: 'SEC', token, fields: fields('once'), marker: 'label' });
    const b = await createOnce(e.jira, { projectKey: 'SEC', token, fields: fields('once'), marker: 'label' });
    expect(a.adopted).toBe(false);
    expect(b).toEqual({ issue: expect.objectContaining({ id: a.issue.id, key: a.issue.key }), adopted: true });
    expect(await count(`project = SEC AND labels = "${tokenLabel(token)}"`)).toBe(1);
    const issue = await e.jira.getIssue(a.issue.id, { fields: ['labels'] });
    expect(issue.fields.labels).toEqual(expect.arrayContaining(['scanner', tokenLabel(token)]));
    expect(await e.jira.getIssueProperty(a.issue.id, TOKEN_PROPERTY)).toEqual({ token });
  });

  it('adopts after a simulated crash between the create response and the link commit', async () => {
    const token = `tok-${flavour}-crash-1`;
    // Attempt 1: Jira creates the issue, then the process "dies" before recording the link.
    const lost = await e.jira.createIssue(withToken({ token, fields: fields('crash') }));
    // Attempt 2 (after restart): the engine still has the token in its link row and retries.
    const calls0 = e.sb.calls.count({ method: 'POST', route: `${e.jira.apiPath}/issue` });
    const r = await createOnce(e.jira, {
      projectKey: 'SEC',
      token,
      fields: fields('crash'),
      previousAttemptAt: Date.now() - 60_000,
    });
    expect(r).toMatchObject({ adopted: true, issue: { id: lost.id } });
    expect(e.sb.calls.count({ method: 'POST', route: `${e.jira.apiPath}/issue` })).toBe(calls0);
  });

  it('with a text token field, the entity property confirms the fuzzy JQL match', async () => {
    const tokenField = SEED.field.syncToken;
    const token = `tok-${flavour}-field-abc`;
    // A decoy whose field contains the token as a word, but whose property names another token.
    await e.jira.createIssue(withToken({ token: `${token}-other`, fields: fields('decoy'), tokenField }));
    const a = await createOnce(e.jira, { projectKey: 'SEC', token, fields: fields('field'), tokenField });
    const b = await createOnce(e.jira, { projectKey: 'SEC', token, fields: fields('field'), tokenField });
    expect(a.adopted).toBe(false);
    expect(b.adopted).toBe(true);
    expect(b.issue.id).toBe(a.issue.id);
    const got = await e.jira.getIssue(a.issue.id, { fields: [tokenField] });
    expect(got.fields[tokenField]).toBe(token);
    expect(await findByToken(e.jira, 'SEC', `${token}-missing`, tokenField)).toBeNull();
  });

  it('waits out the search lag after a recent attempt before searching (injected clock)', async () => {
    let now = 1_000_000;
    const slept: number[] = [];
    const r = await createOnce(e.jira, {
      projectKey: 'SEC',
      token: `tok-${flavour}-lag-1`,
      fields: fields('lag'),
      previousAttemptAt: now - 1000,
      searchLagMs: 5000,
      clock: () => now,
      sleep: async (ms) => {
        slept.push(ms);
        now += ms;
      },
    });
    expect(slept).toEqual([4000]);
    expect(r.adopted).toBe(false);
  });

  it('rejects tokens that cannot be a label', async () => {
    await expect(createOnce(e.jira, { projectKey: 'SEC', token: 'has space', fields: fields('x') })).rejects.toThrow(
      /token/,
    );
  });
});
