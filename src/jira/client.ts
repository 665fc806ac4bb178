/**
 * The typed Jira client the sync engine uses, for Cloud (/rest/api/3, ADF, accountId) and Data
 * Center (/rest/api/2, wiki markup, name/key). A thin client of our own over undici rather than
 * jira.js: jira.js serves Cloud only and hides the per-response rate-limit headers the
 * per-connection pacer needs.
 *
 *   const jira = createJiraClient(conn, { onCall, pacer: pacerFor(conn.id) });
 *   const me = await jira.myself();
 */
import { AppError } from '../core/errors.js';
import type { JiraCatalog } from './catalog-types.js';
import { fetchCatalog } from './catalog.js';
import { checkConnection } from './check.js';
import { jiraErrorText, type JiraErrorBody } from './errors.js';
import {
  FormData,
  JiraTransport,
  type CallEvent,
  type JiraConnection,
  type RequestSpec,
  type TransportOptions,
} from './transport.js';
import type {
  BulkCreateItemResult,
  CheckResult,
  CreatedIssue,
  CreatedRequest,
  DynamicWebhook,
  IssueInput,
  JiraAttachment,
  JiraComment,
  JiraField,
  JiraFieldMeta,
  JiraIssue,
  JiraIssueTypeRef,
  JiraPriority,
  JiraProject,
  JiraResolution,
  JiraServerInfo,
  JiraStatus,
  JiraText,
  JiraTransition,
  JiraUser,
  Page,
  RemoteLinkInput,
  RequestType,
  SearchPage,
  ServiceDesk,
} from './types.js';

export type { JiraConnection, CallEvent } from './transport.js';
export type JiraClientOptions = TransportOptions;

export const BULK_CREATE_LIMIT = 50;
const SD = '/rest/servicedeskapi';

export interface SearchOptions {
  fields?: string[];
  maxResults?: number;
  /** Cloud paging token. */
  nextPageToken?: string;
  /** Data Center offset. */
  startAt?: number;
  expand?: string[];
  properties?: string[];
}

export interface JiraClient {
  readonly connectionId: string;
  readonly flavour: 'cloud' | 'datacenter';
  /** `/rest/api/3` on Cloud, `/rest/api/2` on Data Center. */
  readonly apiPath: string;
  /** The base URL calls go to (site URL, or the api.atlassian.com/ex/jira/{cloudId} base for OAuth). */
  readonly baseUrl: string;
  readonly transport: JiraTransport;
  browseUrl(key: string): string;

  myself(): Promise<JiraUser>;
  serverInfo(): Promise<JiraServerInfo>;
  listProjects(): Promise<JiraProject[]>;
  getProject(idOrKey: string): Promise<JiraProject>;
  issueTypesForProject(projectIdOrKey: string): Promise<JiraIssueTypeRef[]>;
  createmeta(projectIdOrKey: string, issueTypeId: string): Promise<JiraFieldMeta[]>;
  priorities(): Promise<JiraPriority[]>;
  /** Every status of the site (with its category); with a project, only the statuses its issue types use where Jira tells. */
  statuses(projectIdOrKey?: string): Promise<JiraStatus[]>;
  resolutions(): Promise<JiraResolution[]>;
  /**
   * The statuses of each issue type's workflow in a project (`/project/{p}/statuses`), or null
   * where the site does not serve it (404).
   */
  workflowStatuses(projectIdOrKey: string): Promise<Array<{ id: string; name: string; statuses: JiraStatus[] }> | null>;
  fields(): Promise<JiraField[]>;
  searchUsers(query: string, maxResults?: number): Promise<JiraUser[]>;
  /** The user whose email matches exactly, or null (also when Jira hides emails). */
  findUserByEmail(email: string): Promise<JiraUser | null>;

  createIssue(input: IssueInput): Promise<CreatedIssue>;
  bulkCreate(inputs: IssueInput[]): Promise<BulkCreateItemResult[]>;
  getIssue(idOrKey: string, opts?: { fields?: string[]; expand?: string[]; properties?: string[] }): Promise<JiraIssue>;
  editIssue(
    idOrKey: string,
    input: { fields?: Record<string, unknown>; update?: Record<string, unknown> },
    opts?: { notifyUsers?: boolean },
  ): Promise<void>;
  deleteIssue(idOrKey: string, opts?: { deleteSubtasks?: boolean }): Promise<void>;
  getTransitions(idOrKey: string, opts?: { expandFields?: boolean }): Promise<JiraTransition[]>;
  transition(
    idOrKey: string,
    transitionId: string,
    fields?: Record<string, unknown>,
    update?: Record<string, unknown>,
  ): Promise<void>;

  listComments(idOrKey: string, opts?: { startAt?: number; maxResults?: number }): Promise<Page<JiraComment>>;
  allComments(idOrKey: string): AsyncGenerator<JiraComment>;
  /** `public` set: posted through the Service Management API (body as plain text / wiki markup). */
  /**
   * `public` posts through the Service Management API (text body); `internal` posts an internal
   * note through the platform API (the `sd.public.comment` property).
   */
  addComment(idOrKey: string, body: JiraText, opts?: { public?: boolean; internal?: boolean }): Promise<JiraComment>;
  updateComment(idOrKey: string, commentId: string, body: JiraText): Promise<JiraComment>;
  deleteComment(idOrKey: string, commentId: string): Promise<void>;

  addAttachment(idOrKey: string, filename: string, bytes: Uint8Array, contentType: string): Promise<JiraAttachment[]>;
  setIssueProperty(idOrKey: string, key: string, value: unknown): Promise<void>;
  /** The property's value, or undefined when the issue has no such property. */
  getIssueProperty<T = unknown>(idOrKey: string, key: string): Promise<T | undefined>;
  /** Creates or replaces (by globalId) a remote link. */
  upsertRemoteLink(idOrKey: string, link: RemoteLinkInput): Promise<{ id: number; self?: string }>;
  /**
   * Links two issues (POST /issueLink): reads `outwardKey` {type's outward description}
   * `inwardKey`. Jira never duplicates a link, so a repeat is harmless.
   */
  linkIssues(type: string, inwardKey: string, outwardKey: string): Promise<void>;
  /** The site's issue link types (Blocks, Relates, …). */
  issueLinkTypes(): Promise<Array<{ id: string; name: string; inward: string; outward: string }>>;

  searchJql(jql: string, opts?: SearchOptions): Promise<SearchPage>;
  searchAll(jql: string, opts?: Omit<SearchOptions, 'nextPageToken' | 'startAt'>): AsyncGenerator<JiraIssue>;

  serviceDesks(): Promise<ServiceDesk[]>;
  requestTypes(serviceDeskId: string): Promise<RequestType[]>;
  createRequest(
    serviceDeskId: string,
    requestTypeId: string,
    requestFieldValues: Record<string, unknown>,
    raiseOnBehalfOf?: string,
  ): Promise<CreatedRequest>;

  /** Cloud dynamic webhooks (OAuth/Connect apps). */
  registerWebhooks(
    url: string,
    hooks: Array<{ events: string[]; jqlFilter: string; fieldIdsFilter?: string[] }>,
  ): Promise<Array<{ createdWebhookId?: number; errors?: string[] }>>;
  listWebhooks(): Promise<DynamicWebhook[]>;
  refreshWebhooks(ids: number[]): Promise<{ expirationDate?: string | number }>;
  deleteWebhooks(ids: number[]): Promise<void>;

  fetchCatalog(): Promise<JiraCatalog>;
  checkConnection(): Promise<CheckResult>;
  close(): Promise<void>;
}

function asPage<T>(
  raw: { startAt?: number; maxResults?: number; total?: number; isLast?: boolean },
  values: T[],
): Page<T> {
  const startAt = raw.startAt ?? 0;
  const total = typeof raw.total === 'number' ? raw.total : null;
  const isLast = raw.isLast ?? (total !== null ? startAt + values.length >= total : values.length === 0);
  return { values, startAt, total, isLast };
}

export function createJiraClient(conn: JiraConnection, opts: JiraClientOptions = {}): JiraClient {
  const t = new JiraTransport(conn, opts);
  const cloud = conn.flavour === 'cloud';
  const A = cloud ? '/rest/api/3' : '/rest/api/2';
  const call = async <T>(spec: RequestSpec): Promise<T> => (await t.request<T>(spec)).body;

  const cloudOnly = (what: string): void => {
    if (!cloud)
      throw new AppError(
        'JIRA_BAD_REQUEST',
        `${what} exists on Jira Cloud only; on Data Center use admin webhooks (/rest/webhooks/1.0/webhook)`,
        {
          details: { flavour: conn.flavour },
        },
      );
  };

  const client: JiraClient = {
    connectionId: conn.id,
    flavour: conn.flavour,
    apiPath: A,
    baseUrl: t.base,
    transport: t,
    browseUrl: (key) => `${conn.siteUrl.replace(/\/+$/, '')}/browse/${encodeURIComponent(key)}`,

    myself: () => call({ method: 'GET', route: `${A}/myself` }),
    serverInfo: () => call({ method: 'GET', route: `${A}/serverInfo` }),
    listProjects: () => call({ method: 'GET', route: `${A}/project`, query: { expand: 'issueTypes' } }),
    getProject: (idOrKey) => call({ method: 'GET', route: `${A}/project/{idOrKey}`, params: { idOrKey } }),

    async issueTypesForProject(p) {
      const out: JiraIssueTypeRef[] = [];
      for (let startAt = 0; ;) {
        const page = await call<{
          issueTypes?: JiraIssueTypeRef[];
          values?: JiraIssueTypeRef[];
          total?: number;
          isLast?: boolean;
        }>({
          method: 'GET',
          route: `${A}/issue/createmeta/{p}/issuetypes`,
          params: { p },
          query: { startAt, maxResults: 50 },
        });
        const vals = page.issueTypes ?? page.values ?? [];
        out.push(...vals);
        startAt += vals.length;
        if (!vals.length || page.isLast === true || (page.total !== undefined && startAt >= page.total)) return out;
      }
    },

    async createmeta(p, issueTypeId) {
      const out: JiraFieldMeta[] = [];
      for (let startAt = 0; ;) {
        const page = await call<{
          fields?: JiraFieldMeta[];
          values?: JiraFieldMeta[];
          total?: number;
          isLast?: boolean;
        }>({
          method: 'GET',
          route: `${A}/issue/createmeta/{p}/issuetypes/{issueTypeId}`,
          params: { p, issueTypeId },
          query: { startAt, maxResults: 200 },
        });
        const vals = page.fields ?? page.values ?? [];
        out.push(...vals);
        startAt += vals.length;
        if (!vals.length || page.isLast === true || page.total === undefined || startAt >= page.total) return out;
      }
    },

    priorities: () => call({ method: 'GET', route: `${A}/priority` }),
    async statuses(p) {
      if (p) {
        // /project/{p}/statuses lists per issue type; fall back to the site list where unsupported.
        const r = await t.request<Array<{ statuses: JiraStatus[] }>>({
          method: 'GET',
          route: `${A}/project/{p}/statuses`,
          params: { p },
          allowStatus: [404],
        });
        if (r.status === 200 && Array.isArray(r.body)) {
          const seen = new Map<string, JiraStatus>();
          for (const it of r.body) for (const s of it.statuses ?? []) seen.set(s.id, s);
          return [...seen.values()];
        }
      }
      return call({ method: 'GET', route: `${A}/status` });
    },
    resolutions: () => call({ method: 'GET', route: `${A}/resolution` }),
    async workflowStatuses(p) {
      const r = await t.request<Array<{ id: string; name: string; statuses?: JiraStatus[] }>>({
        method: 'GET',
        route: `${A}/project/{p}/statuses`,
        params: { p },
        allowStatus: [404],
      });
      if (r.status !== 200 || !Array.isArray(r.body)) return null;
      return r.body.map((it) => ({ id: String(it.id), name: it.name, statuses: it.statuses ?? [] }));
    },
    fields: () => call({ method: 'GET', route: `${A}/field` }),

    searchUsers: (query, maxResults = 50) =>
      call({
        method: 'GET',
        route: `${A}/user/search`,
        query: cloud ? { query, maxResults } : { username: query, maxResults },
      }),
    async findUserByEmail(email) {
      const want = email.trim().toLowerCase();
      const users = await client.searchUsers(want, 20);
      return (
        users.find(
          (u) => typeof u.emailAddress === 'string' && u.emailAddress.toLowerCase() === want && u.active !== false,
        ) ?? null
      );
    },

    createIssue: (input) => call({ method: 'POST', route: `${A}/issue`, body: input }),

    async bulkCreate(inputs) {
      if (inputs.length > BULK_CREATE_LIMIT)
        throw new AppError(
          'VALIDATION_FAILED',
          `bulkCreate takes at most ${BULK_CREATE_LIMIT} issues per call (got ${inputs.length}); split the batch`,
        );
      if (!inputs.length) return [];
      const r = await t.request<
        {
          issues?: CreatedIssue[];
          errors?: Array<{ failedElementNumber: number; status?: number; elementErrors?: JiraErrorBody }>;
        } & JiraErrorBody
      >({ method: 'POST', route: `${A}/issue/bulk`, body: { issueUpdates: inputs }, allowStatus: [400] });
      const body = r.body ?? {};
      if (r.status === 400 && !Array.isArray(body.errors)) {
        throw new AppError('JIRA_BAD_REQUEST', `Jira rejected POST ${A}/issue/bulk (400): ${jiraErrorText(body)}`, {
          details: { jira: body },
        });
      }
      const failed = new Map((body.errors ?? []).map((e) => [e.failedElementNumber, e]));
      const created = [...(body.issues ?? [])];
      return inputs.map((_, index): BulkCreateItemResult => {
        const e = failed.get(index);
        if (e) {
          const el = e.elementErrors ?? {};
          return {
            index,
            issue: null,
            error: {
              status: e.status ?? 400,
              message: jiraErrorText(el) || 'rejected',
              errors: el.errors ?? {},
              errorMessages: el.errorMessages ?? [],
            },
          };
        }
        const issue = created.shift() ?? null;
        return {
          index,
          issue: issue ? { id: String(issue.id), key: issue.key, ...(issue.self ? { self: issue.self } : {}) } : null,
          error: null,
        };
      });
    },

    getIssue: (idOrKey, o = {}) =>
      call({
        method: 'GET',
        route: `${A}/issue/{idOrKey}`,
        params: { idOrKey },
        query: { fields: o.fields, expand: o.expand, properties: o.properties },
      }),

    async editIssue(idOrKey, input, o = {}) {
      await call({
        method: 'PUT',
        route: `${A}/issue/{idOrKey}`,
        params: { idOrKey },
        query: o.notifyUsers === false ? { notifyUsers: false } : {},
        body: input,
      });
    },

    async deleteIssue(idOrKey, o = {}) {
      await call({
        method: 'DELETE',
        route: `${A}/issue/{idOrKey}`,
        params: { idOrKey },
        query: o.deleteSubtasks ? { deleteSubtasks: true } : {},
      });
    },

    async getTransitions(idOrKey, o = {}) {
      const r = await call<{ transitions: JiraTransition[] }>({
        method: 'GET',
        route: `${A}/issue/{idOrKey}/transitions`,
        params: { idOrKey },
        query: o.expandFields ? { expand: 'transitions.fields' } : {},
      });
      return r.transitions ?? [];
    },

    async transition(idOrKey, transitionId, fields, update) {
      await call({
        method: 'POST',
        route: `${A}/issue/{idOrKey}/transitions`,
        params: { idOrKey },
        body: { transition: { id: transitionId }, ...(fields ? { fields } : {}), ...(update ? { update } : {}) },
      });
    },

    async listComments(idOrKey, o = {}) {
      const r = await call<{ comments: JiraComment[]; startAt?: number; maxResults?: number; total?: number }>({
        method: 'GET',
        route: `${A}/issue/{idOrKey}/comment`,
        params: { idOrKey },
        query: { startAt: o.startAt ?? 0, maxResults: o.maxResults ?? 100, orderBy: 'created' },
      });
      return asPage(r, r.comments ?? []);
    },

    async *allComments(idOrKey) {
      for (let startAt = 0; ;) {
        const page = await client.listComments(idOrKey, { startAt });
        yield* page.values;
        startAt += page.values.length;
        if (page.isLast || !page.values.length) return;
      }
    },

    async addComment(idOrKey, body, o = {}) {
      if (o.public !== undefined) {
        if (typeof body !== 'string')
          throw new AppError(
            'VALIDATION_FAILED',
            'a Service Management comment body must be text (wiki markup), not ADF',
          );
        const r = await call<{ id: string; body: string; public: boolean; author?: JiraUser; created?: unknown }>({
          method: 'POST',
          route: `${SD}/request/{idOrKey}/comment`,
          params: { idOrKey },
          body: { body, public: o.public },
        });
        return { ...r, id: String(r.id), body: r.body, jsdPublic: r.public } as JiraComment;
      }
      // An internal note through the platform API: the Service Management property (ignored by
      // projects that are not service desks).
      const properties = o.internal ? [{ key: 'sd.public.comment', value: { internal: true } }] : undefined;
      return call({
        method: 'POST',
        route: `${A}/issue/{idOrKey}/comment`,
        params: { idOrKey },
        body: { body, ...(properties ? { properties } : {}) },
      });
    },

    updateComment: (idOrKey, id, body) =>
      call({ method: 'PUT', route: `${A}/issue/{idOrKey}/comment/{id}`, params: { idOrKey, id }, body: { body } }),

    async deleteComment(idOrKey, id) {
      await call({ method: 'DELETE', route: `${A}/issue/{idOrKey}/comment/{id}`, params: { idOrKey, id } });
    },

    addAttachment(idOrKey, filename, bytes, contentType) {
      const form = new FormData();
      form.append('file', new Blob([bytes], { type: contentType }), filename);
      return call({
        method: 'POST',
        route: `${A}/issue/{idOrKey}/attachments`,
        params: { idOrKey },
        form,
        headers: { 'X-Atlassian-Token': 'no-check' },
      });
    },

    async setIssueProperty(idOrKey, key, value) {
      await call({
        method: 'PUT',
        route: `${A}/issue/{idOrKey}/properties/{key}`,
        params: { idOrKey, key },
        body: value,
      });
    },

    async getIssueProperty<T>(idOrKey: string, key: string): Promise<T | undefined> {
      const r = await t.request<{ key: string; value: T }>({
        method: 'GET',
        route: `${A}/issue/{idOrKey}/properties/{key}`,
        params: { idOrKey, key },
        allowStatus: [404],
      });
      if (r.status === 404) {
        // 404 means either "no such property" or "no such issue": tell them apart.
        await client.getIssue(idOrKey, { fields: ['summary'] });
        return undefined;
      }
      return r.body.value;
    },

    upsertRemoteLink: (idOrKey, link) =>
      call({ method: 'POST', route: `${A}/issue/{idOrKey}/remotelink`, params: { idOrKey }, body: link }),

    async linkIssues(type, inwardKey, outwardKey) {
      await call({
        method: 'POST',
        route: `${A}/issueLink`,
        body: { type: { name: type }, inwardIssue: { key: inwardKey }, outwardIssue: { key: outwardKey } },
      });
    },

    async issueLinkTypes() {
      const r = await call<{ issueLinkTypes?: Array<{ id: string; name: string; inward: string; outward: string }> }>({
        method: 'GET',
        route: `${A}/issueLinkType`,
      });
      return (r.issueLinkTypes ?? []).map(({ id, name, inward, outward }) => ({ id, name, inward, outward }));
    },

    async searchJql(jql, o = {}) {
      if (cloud) {
        const r = await call<{ issues: JiraIssue[]; nextPageToken?: string; isLast?: boolean }>({
          method: 'POST',
          route: `${A}/search/jql`,
          idempotent: true,
          body: {
            jql,
            maxResults: o.maxResults ?? 100,
            fields: o.fields ?? ['*navigable'],
            ...(o.nextPageToken ? { nextPageToken: o.nextPageToken } : {}),
            ...(o.expand ? { expand: o.expand.join(',') } : {}),
            ...(o.properties ? { properties: o.properties } : {}),
          },
        });
        const isLast = r.isLast ?? !r.nextPageToken;
        return {
          issues: r.issues ?? [],
          isLast,
          ...(!isLast && r.nextPageToken ? { nextPageToken: r.nextPageToken } : {}),
        };
      }
      const startAt = o.startAt ?? 0;
      const r = await call<{ issues: JiraIssue[]; startAt: number; total: number; maxResults: number }>({
        method: 'POST',
        route: `${A}/search`,
        idempotent: true,
        body: {
          jql,
          startAt,
          maxResults: o.maxResults ?? 100,
          fields: o.fields ?? ['*navigable'],
          ...(o.expand ? { expand: o.expand } : {}),
          ...(o.properties ? { properties: o.properties } : {}),
        },
      });
      const issues = r.issues ?? [];
      return { issues, startAt, total: r.total, isLast: !issues.length || startAt + issues.length >= r.total };
    },

    async *searchAll(jql, o = {}) {
      let nextPageToken: string | undefined;
      let startAt = 0;
      for (;;) {
        const page = await client.searchJql(jql, { ...o, ...(nextPageToken ? { nextPageToken } : {}), startAt });
        yield* page.issues;
        if (page.isLast) return;
        if (cloud) {
          if (!page.nextPageToken) return;
          nextPageToken = page.nextPageToken;
        } else startAt += page.issues.length;
      }
    },

    async serviceDesks() {
      const out: ServiceDesk[] = [];
      for (let start = 0; ;) {
        const r = await call<{ values: ServiceDesk[]; isLastPage?: boolean; size?: number }>({
          method: 'GET',
          route: `${SD}/servicedesk`,
          query: { start, limit: 50 },
        });
        out.push(...(r.values ?? []).map((d) => ({ ...d, id: String(d.id), projectId: String(d.projectId) })));
        start += r.values?.length ?? 0;
        if (r.isLastPage !== false || !r.values?.length) return out;
      }
    },

    async requestTypes(serviceDeskId) {
      const out: RequestType[] = [];
      for (let start = 0; ;) {
        const r = await call<{ values: RequestType[]; isLastPage?: boolean }>({
          method: 'GET',
          route: `${SD}/servicedesk/{serviceDeskId}/requesttype`,
          params: { serviceDeskId },
          query: { start, limit: 50 },
        });
        out.push(...(r.values ?? []).map((x) => ({ ...x, id: String(x.id) })));
        start += r.values?.length ?? 0;
        if (r.isLastPage !== false || !r.values?.length) return out;
      }
    },

    async createRequest(serviceDeskId, requestTypeId, requestFieldValues, raiseOnBehalfOf) {
      const r = await call<CreatedRequest>({
        method: 'POST',
        route: `${SD}/request`,
        body: { serviceDeskId, requestTypeId, requestFieldValues, ...(raiseOnBehalfOf ? { raiseOnBehalfOf } : {}) },
      });
      return { ...r, issueId: String(r.issueId), issueKey: r.issueKey };
    },

    async registerWebhooks(url, hooks) {
      cloudOnly('Dynamic webhook registration');
      const r = await call<{ webhookRegistrationResult: Array<{ createdWebhookId?: number; errors?: string[] }> }>({
        method: 'POST',
        route: `${A}/webhook`,
        body: { url, webhooks: hooks },
      });
      return r.webhookRegistrationResult ?? [];
    },

    async listWebhooks() {
      cloudOnly('Dynamic webhooks');
      const out: DynamicWebhook[] = [];
      for (let startAt = 0; ;) {
        const r = await call<{ values: DynamicWebhook[]; isLast?: boolean; total?: number }>({
          method: 'GET',
          route: `${A}/webhook`,
          query: { startAt, maxResults: 100 },
        });
        out.push(...(r.values ?? []));
        startAt += r.values?.length ?? 0;
        if (r.isLast !== false || !r.values?.length) return out;
      }
    },

    async refreshWebhooks(ids) {
      cloudOnly('Dynamic webhook refresh');
      return call({ method: 'PUT', route: `${A}/webhook/refresh`, body: { webhookIds: ids } });
    },

    async deleteWebhooks(ids) {
      cloudOnly('Dynamic webhook deletion');
      await call({ method: 'DELETE', route: `${A}/webhook`, body: { webhookIds: ids } });
    },

    fetchCatalog: () => fetchCatalog(client),
    checkConnection: () => checkConnection(client, conn),
    close: () => t.close(),
  };
  return client;
}

export type { CallEvent as JiraCallEvent };
