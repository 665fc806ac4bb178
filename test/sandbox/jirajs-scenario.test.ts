/**
 * The real jira.js client (npm, v6) drives a full scenario against a sandbox listening on a real
 * port. `onSchemaMismatch: 'throw'` makes jira.js validate every response against its own schemas
 * of Jira's API, so this proves the sandbox speaks Jira the way a real client expects.
 */
import { createCloudClient } from 'jira.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED, startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';

type Jira = ReturnType<typeof createCloudClient>;

const adf = (text: string) => ({
  type: 'doc',
  version: 1,
  content: [{ type: 'paragraph', content: [{ type: 'text', text }] }],
});

describe('jira.js scenario against the Cloud sandbox', () => {
  let sb: RunningSandbox;
  let jira: Jira;
  let alice: Jira;

  beforeAll(async () => {
    sb = await startSandbox({ flavour: 'cloud', port: 0 });
    jira = createCloudClient({
      host: sb.baseUrl,
      auth: { type: 'basic', email: sb.credentials.email, apiToken: sb.credentials.apiToken },
      onSchemaMismatch: 'throw',
    });
    const a = sb.credentials.users.alice!;
    alice = createCloudClient({
      host: sb.baseUrl,
      auth: { type: 'basic', email: a.loginEmail, apiToken: a.apiToken },
      onSchemaMismatch: 'throw',
    });
  });
  afterAll(async () => {
    await sb.close();
  });

  it('runs create → edit → multi-hop transitions → comment → attachment → property → remote link → bulk → search', async () => {
    const me = await jira.myself.getCurrentUser();
    expect(me.accountId).toBe(sb.credentials.users.admin?.accountId);

    const meta = await jira.issues.getCreateIssueMetaIssueTypes({ projectIdOrKey: 'SEC' });
    const vulnType = meta.issueTypes?.find((t) => t.name === 'Vulnerability');
    expect(vulnType?.id).toBe(SEED.issueType.vulnerability);
    const fieldsMeta = await jira.issues.getCreateIssueMetaIssueTypeId({
      projectIdOrKey: 'SEC',
      issueTypeId: vulnType!.id!,
    });
    expect(fieldsMeta.results?.some((f) => f.fieldId === SEED.field.cvss)).toBe(true);

    // create
    const created = await jira.issues.createIssue({
      fields: {
        project: { key: 'SEC' },
        issuetype: { id: vulnType!.id! },
        summary: 'Stored XSS in profile page',
        description: adf('Reported by the scanner'),
        labels: ['xss'],
        [SEED.field.cvss]: 6.1,
        [SEED.field.syncToken]: 'rec-42',
      },
    });
    expect(created.key).toBe('SEC-1');

    // edit
    await jira.issues.editIssue({
      issueIdOrKey: created.key!,
      fields: { summary: 'Stored XSS in profile page (confirmed)' },
      update: { labels: [{ add: 'confirmed' }] },
    });
    const edited = await jira.issues.getIssue({ issueIdOrKey: created.key!, expand: ['changelog'] });
    expect(edited.fields?.summary).toBe('Stored XSS in profile page (confirmed)');
    expect(edited.fields?.labels).toEqual(['xss', 'confirmed']);
    expect(edited.changelog?.histories?.length).toBe(1);

    // multi-hop transitions with a required resolution
    for (const target of ['Triaged', 'In Progress', 'In Review']) {
      const { transitions } = await jira.issues.getTransitions({ issueIdOrKey: created.key! });
      const t = transitions?.find((x) => x.to?.name === target);
      expect(t, `a transition to ${target}`).toBeDefined();
      await jira.issues.doTransition({ issueIdOrKey: created.key!, transition: { id: t!.id! } });
    }
    const withFields = await jira.issues.getTransitions({ issueIdOrKey: created.key!, expand: 'transitions.fields' });
    const resolve = withFields.transitions?.find((x) => x.to?.name === 'Resolved');
    expect(resolve?.fields?.resolution?.required).toBe(true);
    await expect(
      jira.issues.doTransition({ issueIdOrKey: created.key!, transition: { id: resolve!.id! } }),
    ).rejects.toMatchObject({ status: 400 });
    await jira.issues.doTransition({
      issueIdOrKey: created.key!,
      transition: { id: resolve!.id! },
      fields: { resolution: { name: 'Fixed' } },
    });
    const resolved = await jira.issues.getIssue({ issueIdOrKey: created.key!, fields: ['status', 'resolution'] });
    expect(resolved.fields?.status?.name).toBe('Resolved');
    expect(resolved.fields?.resolution?.name).toBe('Fixed');

    // comments (alice comments, admin reads)
    const comment = await alice.issueComments.addComment({
      issueIdOrKey: created.key!,
      body: adf('Fix verified on staging'),
    });
    expect(comment.author?.displayName).toBe('Alice Analyst');
    const comments = await jira.issueComments.getComments({ issueIdOrKey: created.key! });
    expect(comments.total).toBe(1);

    // attachment
    const [attachment] = await jira.issueAttachments.addAttachment({
      issueIdOrKey: created.key!,
      attachments: { filename: 'evidence.txt', content: 'payload=<script>alert(1)</script>' },
    });
    expect(attachment?.filename).toBe('evidence.txt');
    const bytes = await jira.issueAttachments.getAttachmentContent({ id: attachment!.id! });
    expect(new TextDecoder().decode(bytes as Uint8Array)).toBe('payload=<script>alert(1)</script>');

    // entity property
    await jira.issueProperties.setIssueProperty({
      issueIdOrKey: created.key!,
      propertyKey: 'jira-bridge',
      body: { recordId: 'rec-42', version: 3 },
    });
    const prop = await jira.issueProperties.getIssueProperty({
      issueIdOrKey: created.key!,
      propertyKey: 'jira-bridge',
    });
    expect(prop.value).toEqual({ recordId: 'rec-42', version: 3 });

    // remote link upsert by globalId
    const link1 = await jira.issueRemoteLinks.createOrUpdateRemoteIssueLink({
      issueIdOrKey: created.key!,
      globalId: 'platform:vuln:rec-42',
      object: { url: 'https://platform.example/vulns/rec-42', title: 'rec-42' },
    });
    const link2 = await jira.issueRemoteLinks.createOrUpdateRemoteIssueLink({
      issueIdOrKey: created.key!,
      globalId: 'platform:vuln:rec-42',
      object: { url: 'https://platform.example/vulns/rec-42', title: 'rec-42 (updated)' },
    });
    expect(link2.id).toBe(link1.id);

    // bulk create with one failure
    const bulk = await jira.issues.createIssues({
      issueUpdates: [
        ...Array.from({ length: 6 }, (_, i) => ({
          fields: { project: { key: 'SEC' }, issuetype: { name: 'Task' }, summary: `Hardening task ${i + 1}` },
        })),
        { fields: { project: { key: 'SEC' }, issuetype: { name: 'Task' } } },
      ],
    });
    expect(bulk.issues).toHaveLength(6);
    expect(bulk.errors?.[0]?.failedElementNumber).toBe(6);

    // search with nextPageToken paging
    const seen: string[] = [];
    let nextPageToken: string | undefined;
    do {
      const page = await jira.issueSearch.searchAndReconsileIssuesUsingJqlPost({
        jql: 'project = SEC ORDER BY key ASC',
        maxResults: 3,
        fields: ['summary', 'status'],
        ...(nextPageToken ? { nextPageToken } : {}),
      });
      seen.push(...(page.issues ?? []).map((i) => i.key!));
      nextPageToken = page.nextPageToken ?? undefined;
    } while (nextPageToken);
    expect(seen).toEqual(['SEC-1', ...Array.from({ length: 6 }, (_, i) => `SEC-${i + 2}`)]);

    const textHits = await jira.issueSearch.searchAndReconsileIssuesUsingJqlPost({
      jql: 'summary ~ "XSS" AND status = Resolved',
      fields: ['summary'],
    });
    expect(textHits.issues?.map((i) => i.key)).toEqual(['SEC-1']);

    // the old search is gone, as on Cloud
    const gone = await fetch(`${sb.baseUrl}/rest/api/3/search?jql=project=SEC`, {
      headers: {
        authorization: `Basic ${Buffer.from(`${sb.credentials.email}:${sb.credentials.apiToken}`).toString('base64')}`,
      },
    });
    expect(gone.status).toBe(410);

    expect(sb.calls.count({ method: 'POST', route: '/rest/api/3/issue/:issueIdOrKey/transitions', status: 204 })).toBe(
      4,
    );
  });
});
