import { AppError, isAppError } from '../core/errors.js';
import type { JiraClient } from '../jira/client.js';
import { putBackOfAnother } from '../jira/pacer.js';
import {
  TOKEN_LABEL_PREFIX,
  TOKEN_PROPERTY,
  createOnce,
  findByToken,
  propertyToken,
  tokenLabel,
  tokenProperty,
  tokenSearchJql,
  withToken,
  type TokenMarker,
} from '../jira/idempotent-create.js';
import { jiraEmail } from './inbound-mapping.js';
import { markdownToJiraBody, plainText } from './markup.js';
import type {
  IssueRef,
  IssueStamp,
  JiraIssueState,
  JiraPerson,
  JiraPort,
  SearchScope,
  TransitionInfo,
} from './types.js';

/** Jira timestamps ("2026-01-02T10:00:00.000+0000", ISO, or RFC 1123 on some v2 fields) → epoch ms. */
export function parseJiraTime(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string' || v === '') return 0;
  const fixed = v.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const t = Date.parse(fixed);
  return Number.isNaN(t) ? 0 : t;
}

export function toPerson(u: unknown): JiraPerson | null {
  if (!u || typeof u !== 'object') return null;
  const x = u as Record<string, unknown>;
  const str = (k: string): string | undefined =>
    typeof x[k] === 'string' && x[k] !== '' ? (x[k] as string) : undefined;
  return {
    ...(str('accountId') ? { accountId: str('accountId') } : {}),
    ...(str('name') ? { name: str('name') } : {}),
    ...(str('key') ? { key: str('key') } : {}),
    displayName: str('displayName') ?? str('name') ?? str('accountId') ?? 'unknown',
    email: jiraEmail(x.emailAddress),
  };
}

const jqlQuote = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/**
 * The JQL of the issues some projects cover, each narrowed by its mapping's filter (parenthesised,
 * so an OR inside a filter stays inside it): `project in ("A", "B")` when none is filtered,
 * `(project in ("A") OR (project = "B" AND (labels = x)))` otherwise. A project any unfiltered
 * mapping covers is taken whole. Null when there is nothing to search.
 */
export function scopeJql(scopes: ReadonlyArray<string | SearchScope>): string | null {
  const whole = new Set<string>();
  const filtered = new Map<string, Set<string>>();
  for (const s of scopes) {
    const { projectKey, filter } = typeof s === 'string' ? { projectKey: s, filter: undefined } : s;
    if (!filter) whole.add(projectKey);
    else filtered.set(projectKey, (filtered.get(projectKey) ?? new Set()).add(filter));
  }
  const parts: string[] = [];
  if (whole.size) parts.push(`project in (${[...whole].map(jqlQuote).join(', ')})`);
  for (const [projectKey, filters] of filtered) {
    if (whole.has(projectKey)) continue;
    const f = [...filters].map((x) => `(${x})`).join(' OR ');
    parts.push(`(project = ${jqlQuote(projectKey)} AND ${filters.size > 1 ? `(${f})` : f})`);
  }
  if (!parts.length) return null;
  return parts.length === 1 ? parts[0]! : `(${parts.join(' OR ')})`;
}

/** The fields inbound sync reads (custom fields are added per mapping). */
const STATE_FIELDS = [
  'summary',
  'description',
  'status',
  'priority',
  'labels',
  'assignee',
  'comment',
  'updated',
  'created',
  'project',
  'issuetype',
  'attachment',
];

export interface ClientPortOptions {
  /**
   * Where a creation token is searchable besides the issue's `jira-bridge` entity property:
   * nowhere (default: found by project, creator and creation time, confirmed by the property) or
   * a visible label `jb-<token>` (opt-in).
   */
  marker?: TokenMarker | undefined;
  /** Text custom field carrying creation tokens (e.g. customfield_10017), searchable by JQL. */
  tokenField?: string | undefined;
  /** How long search may lag behind writes before a retry looks for its token (Cloud default 5 s). */
  searchLagMs?: number | undefined;
  /** Markdown → body; default marklassian (Cloud, ADF) / jira2md (Data Center, wiki). */
  toBody?: ((md: string, flavour: 'cloud' | 'datacenter') => unknown) | undefined;
}

/** The engine's Jira port over src/jira's client (pacing, retries, error mapping live there). */
export function jiraPortFromClient(client: JiraClient, opts: ClientPortOptions = {}): JiraPort {
  const flavour = client.flavour;
  const tokenField = opts.tokenField;
  const marker: TokenMarker = opts.marker ?? 'property';
  const markers = { marker, ...(tokenField ? { tokenField } : {}) };
  let me: Promise<JiraPerson> | undefined;
  let statusList: Promise<Array<{ id: string; name: string; category?: string | undefined }>> | undefined;

  const tokenOf = (
    issue: { fields?: Record<string, unknown>; properties?: unknown },
    wanted: Set<string>,
  ): string | undefined => {
    const prop = propertyToken(issue as { properties?: Record<string, unknown> });
    if (prop !== undefined) return wanted.has(prop) ? prop : undefined;
    const fields = issue.fields ?? {};
    if (tokenField) {
      const t = fields[tokenField];
      return typeof t === 'string' && wanted.has(t) ? t : undefined;
    }
    if (marker !== 'label') return undefined;
    for (const l of (fields.labels as string[] | undefined) ?? []) {
      const t = l.startsWith(TOKEN_LABEL_PREFIX) ? l.slice(TOKEN_LABEL_PREFIX.length) : undefined;
      if (t !== undefined && wanted.has(t)) return t;
    }
    return undefined;
  };

  return {
    flavour,
    browseUrl: (key) => client.browseUrl(key),
    toBody: (md) => (opts.toBody ?? markdownToJiraBody)(md, flavour),

    async createOnce(body, token, o = {}) {
      const projectKey = String((body.fields.project as { key?: string } | undefined)?.key ?? '');
      if (o.searchFirst) {
        const r = await createOnce(client, {
          projectKey,
          token,
          fields: body.fields,
          ...markers,
          ...(body.properties ? { properties: body.properties } : {}),
          ...(o.previousAttemptAt !== undefined ? { previousAttemptAt: o.previousAttemptAt } : {}),
          ...(o.since !== undefined ? { since: o.since } : {}),
          ...(opts.searchLagMs !== undefined ? { searchLagMs: opts.searchLagMs } : {}),
        });
        return { id: r.issue.id, key: r.issue.key, adopted: r.adopted };
      }
      // First attempt with a fresh token: nothing can carry it yet, so no search is spent.
      const created = await client.createIssue(
        withToken({
          fields: body.fields,
          token,
          ...markers,
          ...(body.properties ? { properties: body.properties } : {}),
        }),
      );
      return { id: String(created.id), key: created.key, adopted: false };
    },

    async findByTokens(projectKey, tokens, since) {
      const found = new Map<string, IssueRef>();
      if (!tokens.length) return found;
      const wanted = new Set(tokens);
      const jql = tokenSearchJql(projectKey, tokens, { ...markers, since, now: Date.now() });
      for await (const issue of client.searchAll(jql, {
        fields: ['labels', ...(tokenField ? [tokenField] : [])],
        properties: [TOKEN_PROPERTY],
      })) {
        const t = tokenOf(issue, wanted);
        if (t && !found.has(t)) found.set(t, { id: String(issue.id), key: issue.key });
      }
      return found;
    },

    async bulkCreate(bodies) {
      const results = await client.bulkCreate(
        bodies.map((b) =>
          withToken({
            fields: b.fields,
            token: b.token ?? '',
            ...markers,
            ...(b.properties ? { properties: b.properties } : {}),
          }),
        ),
      );
      const byIndex = new Map(results.map((r) => [r.index, r]));
      return bodies.map((_, i) => {
        const r = byIndex.get(i);
        if (!r) return { ref: null, error: 'Jira returned no result for this element' };
        if (r.issue) return { ref: { id: String(r.issue.id), key: r.issue.key }, error: null };
        return { ref: null, error: r.error?.message ?? 'Jira rejected this issue' };
      });
    },

    async createRequest(input) {
      // Service Management's request API takes no entity properties: the property is set by a
      // second call right after the create (Service Management creates only). A crash between the
      // two leaves a request without it; the search then also accepts the oldest request of ours
      // (project, creator, time) that has no property and the journaled summary.
      const property = tokenProperty(input.token, input.properties);
      if (input.searchFirst) {
        const hit = await findByToken(client, input.projectKey, input.token, {
          ...markers,
          since: input.since,
          summary: typeof input.fields.summary === 'string' ? input.fields.summary : undefined,
        });
        if (hit) {
          if (propertyToken(hit) !== input.token)
            await client.setIssueProperty(String(hit.id), TOKEN_PROPERTY, property.value);
          return { id: String(hit.id), key: hit.key, adopted: true };
        }
      }
      const fields = { ...input.fields };
      if (tokenField) fields[tokenField] = input.token;
      else if (marker === 'label')
        fields.labels = [...new Set([...((fields.labels as string[] | undefined) ?? []), tokenLabel(input.token)])];
      const r = await client.createRequest(input.serviceDeskId, input.requestTypeId, fields);
      await client.setIssueProperty(String(r.issueId), TOKEN_PROPERTY, property.value);
      return { id: String(r.issueId), key: r.issueKey, adopted: false };
    },

    async getIssue(idOrKey) {
      const issue = await client.getIssue(idOrKey, { fields: ['status', 'labels', 'issuetype', 'project'] });
      const status = issue.fields.status as { id: string; name: string; statusCategory?: { key: string } };
      return {
        id: String(issue.id),
        key: issue.key,
        projectKey: (issue.fields.project as { key?: string } | undefined)?.key,
        issueType: (issue.fields.issuetype as { name?: string } | undefined)?.name,
        status: { id: String(status.id), name: status.name, category: status.statusCategory?.key },
        labels: (issue.fields.labels as string[] | undefined) ?? [],
      };
    },

    editIssue: (idOrKey, body) =>
      client.editIssue(idOrKey, {
        ...(body.fields ? { fields: body.fields } : {}),
        ...(body.update ? { update: body.update } : {}),
      }),

    async getTransitions(idOrKey): Promise<TransitionInfo[]> {
      const ts = await client.getTransitions(idOrKey, { expandFields: true });
      return ts.map((t) => ({
        id: String(t.id),
        name: t.name,
        to: { id: String(t.to.id), name: t.to.name, category: t.to.statusCategory?.key },
        fields: Object.fromEntries(
          Object.entries(t.fields ?? {}).map(([k, f]) => [
            k,
            {
              required: f.required,
              allowedValues: f.allowedValues?.map((a) => a.name ?? a.value ?? '').filter(Boolean),
            },
          ]),
        ),
      }));
    },

    async getStatus(name) {
      const load = async (): Promise<Array<{ id: string; name: string; category?: string | undefined }>> => {
        statusList ??= client
          .statuses()
          .then((ss) => ss.map((s) => ({ id: String(s.id), name: s.name, category: s.statusCategory?.key })));
        try {
          return await statusList;
        } catch (err) {
          statusList = undefined;
          // A queued job's fetch, put back for want of budget: a caller outside jobs fetches anew.
          if (putBackOfAnother(err)) return load();
          throw err;
        }
      };
      const list = await load();
      return list.find((s) => s.name.toLowerCase() === name.toLowerCase()) ?? null;
    },

    transition: (idOrKey, transitionId, fields, update) => client.transition(idOrKey, transitionId, fields, update),

    async listComments(idOrKey) {
      const out: Array<{ id: string; text: string }> = [];
      for await (const c of client.allComments(idOrKey)) out.push({ id: String(c.id), text: plainText(c.body) });
      return out;
    },

    async addComment(idOrKey, body, opts = {}) {
      const c = await client.addComment(
        idOrKey,
        body as Parameters<JiraClient['addComment']>[1],
        opts.internal ? { internal: true } : {},
      );
      return { id: String(c.id) };
    },

    async updateComment(idOrKey, commentId, body) {
      await client.updateComment(idOrKey, commentId, body as Parameters<JiraClient['updateComment']>[2]);
    },

    async addAttachment(idOrKey, filename, bytes) {
      const r = await client.addAttachment(idOrKey, filename, bytes, 'application/octet-stream');
      const id = r[0]?.id;
      if (id === undefined) throw new AppError('JIRA_BAD_REQUEST', `Jira returned no attachment for ${filename}`);
      return { id: String(id) };
    },

    async listAttachments(idOrKey) {
      const issue = await client.getIssue(idOrKey, { fields: ['attachment'] });
      const list = (issue.fields.attachment as Array<Record<string, unknown>> | undefined) ?? [];
      return list.map((a) => ({ id: String(a.id), filename: String(a.filename ?? ''), size: Number(a.size ?? -1) }));
    },

    async downloadAttachment(id, filename) {
      // Cloud answers its content route with a 303 to the media store unless redirect=false (one
      // call instead of two); Data Center serves the bytes at the attachment's `content` URL.
      const r = await client.transport.request<Buffer>({
        method: 'GET',
        route: flavour === 'cloud' ? `${client.apiPath}/attachment/content/{id}` : '/secure/attachment/{id}/{filename}',
        params: { id, filename },
        ...(flavour === 'cloud' ? { query: { redirect: false } } : {}),
        headers: { accept: '*/*' },
        binary: true,
      });
      return Buffer.isBuffer(r.body) ? r.body : Buffer.from(String(r.body ?? ''), 'utf8');
    },

    async findUserByEmail(email) {
      const u = await client.findUserByEmail(email);
      if (!u) return null;
      const ref: Record<string, string> =
        flavour === 'cloud' ? { accountId: String(u.accountId ?? '') } : { name: String(u.name ?? '') };
      return ref;
    },

    async whoami() {
      const load = async (): Promise<JiraPerson> => {
        me ??= client.myself().then((u) => toPerson(u)!);
        try {
          return await me;
        } catch (err) {
          me = undefined;
          // A queued job's call, put back for want of budget: a caller outside jobs calls anew.
          if (putBackOfAnother(err)) return load();
          throw err;
        }
      };
      return load();
    },

    async readIssue(idOrKey, customFieldIds) {
      let issue;
      try {
        issue = await client.getIssue(idOrKey, {
          fields: [...STATE_FIELDS, ...customFieldIds],
          expand: ['changelog'],
          // The creation token (no extra call): an issue of ours is never a Jira user's new issue.
          properties: [TOKEN_PROPERTY],
        });
      } catch (err) {
        if (err instanceof AppError && err.code === 'JIRA_NOT_FOUND') return null;
        throw err;
      }
      const f = issue.fields;
      const status = (f.status ?? {}) as { id?: unknown; name?: unknown; statusCategory?: { key?: string } };
      const commentField = (f.comment ?? {}) as { comments?: unknown[]; total?: number };
      let rawComments = commentField.comments ?? [];
      if (typeof commentField.total === 'number' && commentField.total > rawComments.length) {
        // The issue carries a first page only: read them all.
        rawComments = [];
        for await (const c of client.allComments(String(issue.id))) rawComments.push(c);
      }
      const custom: Record<string, unknown> = {};
      for (const id of customFieldIds) custom[id] = f[id] ?? null;
      // Per-field change times from the changelog (conflicts are decided per field).
      const fieldTimes: Record<string, number> = {};
      /** Who made each of those changes (the host hears who changed it). */
      const fieldAuthors: Record<string, JiraPerson> = {};
      /** The newest status change (by status names, with its author): the journal knows its own hops by it. */
      let lastStatus: { from: string | null; to: string | null; by: JiraPerson | null; at: number } | undefined;
      const histories =
        (
          issue.changelog as
            | { histories?: Array<{ created?: string; author?: unknown; items?: Array<Record<string, unknown>> }> }
            | undefined
        )?.histories ?? [];
      for (const h of histories) {
        const at = parseJiraTime(h.created);
        const author = toPerson(h.author);
        for (const item of h.items ?? []) {
          if ((item.fieldId ?? item.field) === 'status' && (!lastStatus || lastStatus.at <= at)) {
            // (`toString` is read as an own key: the item is plain JSON)
            const name = (k: string): string | null =>
              Object.hasOwn(item, k) && typeof item[k] === 'string' ? (item[k] as string) : null;
            lastStatus = { from: name('fromString'), to: name('toString'), by: author, at };
          }
          for (const k of [item.fieldId, item.field]) {
            if (typeof k !== 'string') continue;
            const key = k.toLowerCase();
            if ((fieldTimes[key] ?? 0) <= at) {
              fieldTimes[key] = at;
              if (author) fieldAuthors[key] = author;
              else delete fieldAuthors[key];
            }
          }
        }
      }
      const state: JiraIssueState = {
        id: String(issue.id),
        key: issue.key,
        projectKey: String((f.project as { key?: unknown } | undefined)?.key ?? issue.key.split('-')[0]),
        updated: parseJiraTime(f.updated),
        created: parseJiraTime(f.created),
        issueType: String((f.issuetype as { name?: unknown } | undefined)?.name ?? ''),
        status: {
          id: String(status.id ?? ''),
          name: String(status.name ?? ''),
          ...(status.statusCategory?.key ? { category: status.statusCategory.key } : {}),
        },
        summary: typeof f.summary === 'string' ? f.summary : '',
        description: f.description ?? null,
        priority: (f.priority as { name?: string } | null | undefined)?.name ?? null,
        labels: Array.isArray(f.labels) ? (f.labels as string[]) : [],
        assignee: toPerson(f.assignee),
        custom,
        fieldTimes,
        fieldAuthors,
        ...(propertyToken(issue) !== undefined ? { creationToken: propertyToken(issue) } : {}),
        ...(lastStatus ? { lastStatusChange: { from: lastStatus.from, to: lastStatus.to, by: lastStatus.by } } : {}),
        comments: rawComments.map((c) => {
          const x = c as Record<string, unknown>;
          return {
            id: String(x.id),
            author: toPerson(x.author),
            body: x.body ?? null,
            created: parseJiraTime(x.created),
            updated: parseJiraTime(x.updated ?? x.created),
            internal: x.jsdPublic === false,
          };
        }),
        attachments: Array.isArray(f.attachment)
          ? (f.attachment as Array<Record<string, unknown>>).map((a) => ({
              id: String(a.id),
              filename: String(a.filename ?? 'attachment'),
              size: Number(a.size ?? -1),
              mimeType: typeof a.mimeType === 'string' && a.mimeType ? a.mimeType : 'application/octet-stream',
              author: toPerson(a.author),
              created: parseJiraTime(a.created),
            }))
          : null,
      };
      return state;
    },

    async missingIssues(issueIds, filter) {
      const ids = [...new Set(issueIds)].filter((id) => /^\d+$/.test(id));
      const missing: string[] = [];
      for (let i = 0; i < ids.length; i += 100) {
        const batch = ids.slice(i, i + 100);
        try {
          const page = await client.searchJql(`id in (${batch.join(', ')})${filter ? ` AND (${filter})` : ''}`, {
            fields: ['id'],
            maxResults: batch.length,
          });
          const found = new Set(page.issues.map((x) => String(x.id)));
          missing.push(...batch.filter((id) => !found.has(id)));
        } catch (err) {
          // Some Jira versions refuse the whole query when an id no longer exists, naming it
          // ("An issue with key '10042' does not exist for field 'id'"): those are the candidates.
          if (!(err instanceof AppError) || err.code !== 'JIRA_BAD_REQUEST') throw err;
          const messages = (err.details as { errorMessages?: unknown } | undefined)?.errorMessages;
          const text = Array.isArray(messages) ? messages.join('\n') : '';
          const named = batch.filter((id) => new RegExp(`'${id}'[^\n]*does not exist`).test(text));
          if (!named.length) throw err;
          missing.push(...named);
        }
      }
      return missing;
    },

    async matchesJql(issueId, jql) {
      if (!/^\d+$/.test(issueId)) return false;
      const page = await client.searchJql(`id = ${issueId} AND (${jql})`, { fields: ['id'], maxResults: 1 });
      return page.issues.some((x) => String(x.id) === issueId);
    },

    async *updatedSince(scopes, since) {
      const where = scopeJql(scopes);
      if (where === null) return;
      // Relative minutes: JQL reads absolute dates in the user's time zone; a period does not drift.
      const minutes = Math.max(1, Math.ceil((Date.now() - since) / 60_000) + 1);
      const jql = `${where} AND updated >= -${minutes}m ORDER BY updated ASC`;
      for await (const issue of client.searchAll(jql, {
        fields: ['updated', 'project', 'summary', 'status', 'priority', 'issuetype'],
      })) {
        const f = issue.fields;
        const name = (v: unknown): string | undefined =>
          v && typeof v === 'object' && typeof (v as { name?: unknown }).name === 'string'
            ? (v as { name: string }).name
            : undefined;
        const stamp: IssueStamp = {
          id: String(issue.id),
          key: issue.key,
          projectKey: String((f.project as { key?: unknown } | undefined)?.key ?? issue.key.split('-')[0]),
          updated: parseJiraTime(f.updated),
          seen: {
            ...(typeof f.summary === 'string' ? { summary: f.summary } : {}),
            ...(name(f.status) !== undefined ? { status: name(f.status)! } : {}),
            ...('priority' in f ? { priority: name(f.priority) ?? null } : {}),
            ...(name(f.issuetype) !== undefined ? { issueType: name(f.issuetype)! } : {}),
          },
        };
        if (stamp.updated >= since) yield stamp;
      }
    },

    async linkOut(idOrKey, globalId, url, title) {
      await client.upsertRemoteLink(idOrKey, { globalId, object: { url, title } });
    },

    async linkIssues(type, inwardKey, outwardKey) {
      // A real issue link (Jira never duplicates one, so a retry is harmless). Where issue linking
      // is switched off or the link type is unknown (404), a remote link with a stable global id
      // still connects the two issues.
      try {
        await client.linkIssues(type, inwardKey, outwardKey);
      } catch (err) {
        if (!isAppError(err) || err.code !== 'JIRA_NOT_FOUND') throw err;
        await client.upsertRemoteLink(outwardKey, {
          globalId: `jira-bridge:${type}:${inwardKey}`,
          relationship: type,
          object: { url: client.browseUrl(inwardKey), title: `${type}: ${inwardKey}` },
        });
      }
    },
  };
}
