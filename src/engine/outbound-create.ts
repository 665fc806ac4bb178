/**
 * Outbound create: the record's issue is created exactly once. The link's token is committed
 * before Jira is called and the create journaled with its values; a retry (after a crash) searches
 * by the token first and adopts what an earlier attempt made, with the values it journaled as bases.
 * A backfill creating the same record's issue is kept out by the create lock (./create-lock.ts).
 */
import { AppError } from '../core/errors.js';
import { adoptionBases, createWindowStart } from '../core/journal.js';
import { toJson } from '../store/json.js';
import { ensureConfigRows } from './config-rows.js';
import { acquireCreateLock, claimCreateLink, releaseCreateLock } from './create-lock.js';
import { desiredFields, encodeField, lookupUser, type DesiredField, type EncodeContext } from './desired.js';
import { failpoint } from './failpoint.js';
import { journalIntent, journalOutcome, openJournal } from './journal.js';
import { markdownToJiraBody } from './markup.js';
import type { LinkRow, OutboundContext, RecordRow, SyncOutcome } from './outbound-context.js';
import type { CreateBody, IssueRef, JiraPort, OutboundMapping, RecordData } from './types.js';

/** The issue a create made or adopted, with its outcome and bases and the link as now written. */
export interface Created {
  ref: IssueRef & { adopted: boolean };
  outcome: SyncOutcome;
  newBases: Map<string, unknown>;
  link: LinkRow;
  /** Adopted with journaled bases: the issue is to be read and the record's values pushed. */
  verify?: boolean;
}

/** The part's functions: each declared once, on its implementation below. */
export type OutboundCreate = ReturnType<typeof createOutboundCreate>;

export function createOutboundCreate(ctx: OutboundContext) {
  const { deps, store, now, writes } = ctx;
  const { mappings } = deps;

  /** Resolves the parent issue of a sub-task kind; retryable while the parent is not linked yet. */
  async function parentIssue(record: RecordRow, data: RecordData): Promise<string | null> {
    if (!data.parent_host_id) return null;
    const parent = await store.db
      .selectFrom('records')
      .leftJoin('links', 'links.record_id', 'records.id')
      .select(['records.id', 'links.issue_id', 'links.issue_key', 'records.sync_state'])
      .where('records.scope', '=', record.scope)
      .where('records.host_id', '=', data.parent_host_id)
      .executeTakeFirst();
    if (!parent) {
      throw new AppError(
        'VALIDATION_FAILED',
        `parent_host_id "${data.parent_host_id}" names no record in scope "${record.scope}"; upsert the parent first`,
      );
    }
    if (!parent.issue_id || !parent.issue_key) {
      if (parent.sync_state === 'failed') {
        throw new AppError(
          'VALIDATION_FAILED',
          `The parent record "${data.parent_host_id}" failed to sync; fix it first`,
        );
      }
      throw new AppError(
        'INTERNAL',
        `The parent record "${data.parent_host_id}" is not linked to a Jira issue yet; will retry`,
        {
          retryable: true,
          retryAfterMs: 500,
        },
      );
    }
    return parent.issue_id;
  }

  /** Builds the create body: every desired field, the parent, the token. */
  async function createBody(
    jira: JiraPort,
    record: RecordRow,
    data: RecordData,
    mapping: OutboundMapping,
    desired: Map<string, DesiredField>,
    ctx: EncodeContext,
    token: string,
  ): Promise<CreateBody> {
    const target = mapping.kinds[record.kind]!;
    const fields: Record<string, unknown> = {
      project: { key: mapping.projectKey },
      issuetype: { name: target.issueType },
    };
    for (const [key, f] of desired) {
      const v = await encodeField(key, f, ctx);
      if (v === null && (f.type === 'assignee' || f.type === 'description')) continue;
      fields[f.jiraField] = v;
    }
    const parent = target.subtask ? await parentIssue(record, data) : null;
    if (parent) fields.parent = { id: parent };
    void jira;
    return {
      fields,
      properties: [{ key: 'jira-bridge', value: { token, record: { scope: record.scope, host_id: record.host_id } } }],
    };
  }

  /**
   * Creates (or adopts) the record's issue and links it; `existingLink` is the link still
   * 'creating' that an earlier attempt left, if any.
   */
  async function create(
    jira: JiraPort,
    record: RecordRow,
    data: RecordData,
    mapping: OutboundMapping,
    existingLink: LinkRow | undefined,
    jobId: number | null,
    signal?: AbortSignal,
  ): Promise<Created> {
    let link = existingLink;
    if (!link) {
      // Persist the token BEFORE calling Jira: a crash after the create is then adopted.
      await store.transaction(async (trx) => {
        await ensureConfigRows(trx, mappings, mapping, now());
        await claimCreateLink(trx, record.id, mapping, now());
      });
      link = await store.db
        .selectFrom('links')
        .selectAll()
        .where('record_id', '=', record.id)
        .executeTakeFirstOrThrow();
    }
    const token = link.create_token!;
    // One owner name per record: the record's next job (after a crash) takes the lock over at once.
    const owner = `outbound:${record.id}`;
    if (!(await acquireCreateLock(store.db, record.id, owner))) {
      throw new AppError('CONFLICT', 'The issue of this record is being created by a backfill; will retry', {
        retryable: true,
        retryAfterMs: 2000,
      });
    }
    try {
      return await createLocked(jira, record, data, mapping, link, token, existingLink !== undefined, jobId, signal);
    } finally {
      await releaseCreateLock(store.db, record.id, owner).catch(() => undefined);
    }
  }

  async function createLocked(
    jira: JiraPort,
    record: RecordRow,
    data: RecordData,
    mapping: OutboundMapping,
    link: LinkRow,
    token: string,
    retried: boolean,
    jobId: number | null,
    signal: AbortSignal | undefined,
  ): Promise<Created> {
    // Someone (a backfill) may have linked it while we waited.
    const fresh = await store.db.selectFrom('links').selectAll().where('record_id', '=', record.id).executeTakeFirst();
    if (fresh?.state === 'linked' && fresh.issue_id && fresh.issue_key) {
      return {
        ref: { id: fresh.issue_id, key: fresh.issue_key, adopted: true },
        outcome: { action: 'adopted', fields: [], warnings: [], extra: { issue_key: fresh.issue_key } },
        newBases: new Map(),
        link: fresh,
      };
    }
    const desired = desiredFields(data, mapping, record);
    const ctx: EncodeContext = { jira, users: new Map(), warnings: [] };
    // The token existed before this attempt: an earlier one may have created the issue.
    const searchFirst = retried;
    const target = mapping.kinds[record.kind];
    if (!target) {
      throw new AppError('VALIDATION_FAILED', `kind "${record.kind}" is not mapped for scope "${record.scope}"`);
    }
    // A job whose lease was lost (another worker owns the record now) must not create.
    if (signal?.aborted) throw new AppError('JOB_LEASE_EXPIRED', 'The job lost its lease before creating the issue');
    // An earlier attempt may have created the issue since its journaled create intent (else since
    // the token was made): the window of the search for it (project, creator, creation time).
    const since = searchFirst
      ? (createWindowStart(await openJournal(store.db, record.id)) ?? link.created_at)
      : undefined;
    // Stamp this attempt: a later retry knows when search may first see what it created.
    await store.db.updateTable('links').set({ updated_at: now() }).where('record_id', '=', record.id).execute();
    // Journal what the issue is created with: adopted after a crash, these are its bases.
    const intentId = await journalIntent(store.db, {
      recordId: record.id,
      jobId,
      target: null,
      intent: { op: 'create', values: Object.fromEntries([...desired].map(([k, f]) => [k, f.value])) },
      at: now(),
    });
    let ref: IssueRef & { adopted: boolean };
    if (target.serviceDesk) {
      // The request API takes wiki markup for text fields, on Cloud too.
      ctx.toBody = (md) => markdownToJiraBody(md, 'datacenter');
      const fields: Record<string, unknown> = {};
      for (const [key, f] of desired) {
        if (f.type === 'assignee') continue; // not a request field; set after creation
        const v = await encodeField(key, f, ctx);
        if (v !== null) fields[f.jiraField] = v;
      }
      ref = await jira.createRequest({
        ...target.serviceDesk,
        fields,
        token,
        projectKey: mapping.projectKey,
        searchFirst,
        since,
        properties: [{ key: 'jira-bridge', value: { record: { scope: record.scope, host_id: record.host_id } } }],
      });
      const assignee = desired.get('assignee');
      if (assignee && assignee.value !== null) {
        const user = await lookupUser(ctx, String(assignee.value));
        if (user) await jira.editIssue(ref.key, { fields: { assignee: user } });
        else
          ctx.warnings.push(
            `assignee: no Jira user matches ${String(assignee.value)} (or Jira hides emails); left unassigned`,
          );
      }
    } else {
      const body = await createBody(jira, record, data, mapping, desired, ctx, token);
      ref = await jira.createOnce(
        body,
        token,
        searchFirst
          ? { searchFirst, previousAttemptAt: link.updated_at, ...(since !== undefined ? { since } : {}) }
          : {},
      );
    }
    failpoint('after-jira-create');
    await deps.hooks?.afterCreate?.(record.id, ref);
    let newBases = new Map<string, unknown>();
    for (const [k, f] of desired) newBases.set(k, f.value);
    // Adopted: an earlier attempt created it, with the values it journaled (not the record's
    // current ones). Those are the bases; the caller reads the issue and pushes what differs.
    const earlier = ref.adopted
      ? adoptionBases((await openJournal(store.db, record.id)).filter((e) => e.id !== intentId))
      : null;
    if (earlier) newBases = earlier;
    const outcome: SyncOutcome = {
      action: ref.adopted ? 'adopted' : 'created',
      fields: [...desired.keys()],
      warnings: ctx.warnings,
      extra: { issue_key: ref.key, issue_id: ref.id },
    };
    // The link is written at once (its own transaction): later steps may fail and retry.
    await store.transaction(async (trx) => {
      await trx
        .updateTable('links')
        .set({
          issue_id: ref.id,
          issue_key: ref.key,
          state: 'linked',
          project_key: mapping.projectKey,
          mapping_id: mapping.id,
          mapping_snapshot: toJson(mapping),
          updated_at: now(),
        })
        .where('record_id', '=', record.id)
        .execute();
      await writes.writeBases(trx, record.id, newBases);
      await journalOutcome(trx, intentId, 'done', now(), ref.id);
      await writes.log(trx, record.id, 'linked', 0, null, {
        fields: { issue_key: ref.key, issue_id: ref.id, adopted: ref.adopted },
      });
      await writes.feed(trx, record.id, 'record.linked', { issue_id: ref.id, issue_key: ref.key });
    });
    return {
      ref,
      outcome,
      newBases,
      link: { ...link, issue_id: ref.id, issue_key: ref.key, state: 'linked' },
      verify: earlier !== null,
    };
  }

  return { create };
}
