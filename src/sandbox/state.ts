import type {
  ChangeHistory,
  ChangeItem,
  CustomFieldDef,
  SandboxIssue,
  SandboxIssueLink,
  SandboxIssueLinkType,
  SandboxIssueType,
  SandboxPriority,
  SandboxProject,
  SandboxResolution,
  SandboxStatus,
  SandboxUser,
  SandboxWorkflow,
  ServiceDesk,
} from './model.js';

type Counter =
  'issue' | 'comment' | 'history' | 'attachment' | 'remoteLink' | 'issueLink' | 'project' | 'status' | 'field';

const INITIAL_COUNTERS: Readonly<Record<Counter, number>> = {
  issue: 10000,
  comment: 10000,
  history: 10000,
  attachment: 10000,
  remoteLink: 10000,
  issueLink: 10000,
  project: 10000,
  status: 10000,
  field: 10009,
};

/**
 * The whole Jira site held in memory: configuration (projects, workflows, fields, users) and
 * content (issues). Lookups and the low-level mutations every operation goes through
 * (ids, changelog, `updated`). Validation and events live in operations.ts.
 */
export class SandboxState {
  readonly users = new Map<string, SandboxUser>();
  readonly projects = new Map<string, SandboxProject>();
  readonly issueTypes = new Map<string, SandboxIssueType>();
  readonly statuses = new Map<string, SandboxStatus>();
  readonly priorities = new Map<string, SandboxPriority>();
  readonly resolutions = new Map<string, SandboxResolution>();
  readonly customFields = new Map<string, CustomFieldDef>();
  readonly workflows = new Map<string, SandboxWorkflow>();
  readonly serviceDesks = new Map<string, ServiceDesk>();
  readonly issues = new Map<string, SandboxIssue>();
  readonly issueLinkTypes = new Map<string, SandboxIssueLinkType>();
  readonly issueLinks = new Map<string, SandboxIssueLink>();
  /** Every key an issue ever had → its id. */
  private readonly keyIndex = new Map<string, string>();
  private readonly counters: Record<Counter, number> = { ...INITIAL_COUNTERS };
  /** Account id of the site administrator whose credentials the sandbox prints. */
  adminAccountId = '';
  /**
   * Data Center's "User email visibility" (General configuration, jira.option.emailvisible): shown
   * (`show`, the default, and `user`: to logged-in users, which every REST caller is), left out
   * (`hide`) or masked (`mask`: "alice at example dot com"). Cloud ignores it: there each user's
   * profile decides (`emailVisible`).
   */
  emailVisibility: 'show' | 'user' | 'hide' | 'mask' = 'show';
  readonly serverTitle: string;
  private lastTime = 0;

  constructor(opts: { serverTitle?: string; clock?: () => number } = {}) {
    this.serverTitle = opts.serverTitle ?? 'Jira Sandbox';
    this.clock = opts.clock ?? Date.now;
  }

  private readonly clock: () => number;

  /** Milliseconds since the epoch, strictly increasing so `updated` always moves forward. */
  now(): number {
    const t = Math.max(this.clock(), this.lastTime + 1);
    this.lastTime = t;
    return t;
  }

  nextId(counter: Counter): string {
    this.counters[counter] += 1;
    return String(this.counters[counter]);
  }

  /** Advance a counter so seeded ids (e.g. customfield_10010) are never handed out again. */
  reserveId(counter: Counter, id: number): void {
    this.counters[counter] = Math.max(this.counters[counter], id);
  }

  /** Forgets everything (before re-seeding). */
  clear(): void {
    for (const m of [
      this.users,
      this.projects,
      this.issueTypes,
      this.statuses,
      this.priorities,
      this.resolutions,
      this.customFields,
      this.workflows,
      this.serviceDesks,
      this.issues,
      this.issueLinkTypes,
      this.issueLinks,
      this.keyIndex,
    ]) {
      m.clear();
    }
    for (const k of Object.keys(this.counters) as Counter[]) this.counters[k] = INITIAL_COUNTERS[k];
    this.adminAccountId = '';
  }

  // --- lookups -----------------------------------------------------------------------------

  project(idOrKey: string): SandboxProject | undefined {
    const byId = this.projects.get(idOrKey);
    if (byId) return byId;
    const upper = idOrKey.toUpperCase();
    for (const p of this.projects.values()) if (p.key === upper) return p;
    return undefined;
  }

  issue(idOrKey: string): SandboxIssue | undefined {
    const byId = this.issues.get(idOrKey);
    if (byId) return byId;
    const id = this.keyIndex.get(idOrKey.toUpperCase());
    return id === undefined ? undefined : this.issues.get(id);
  }

  user(accountId: string): SandboxUser | undefined {
    return this.users.get(accountId);
  }

  /** Finds a user by accountId, name, key or email (how the REST bodies of either flavour refer to users). */
  findUser(ref: {
    accountId?: unknown;
    name?: unknown;
    key?: unknown;
    emailAddress?: unknown;
    id?: unknown;
  }): SandboxUser | undefined {
    if (typeof ref.accountId === 'string') return this.users.get(ref.accountId);
    if (typeof ref.id === 'string') return this.users.get(ref.id);
    for (const u of this.users.values()) {
      if (typeof ref.name === 'string' && u.name === ref.name) return u;
      if (typeof ref.key === 'string' && u.key === ref.key) return u;
      if (typeof ref.emailAddress === 'string' && u.email === ref.emailAddress) return u;
    }
    return undefined;
  }

  issueType(idOrName: string): SandboxIssueType | undefined {
    const byId = this.issueTypes.get(idOrName);
    if (byId) return byId;
    for (const t of this.issueTypes.values()) if (t.name.toLowerCase() === idOrName.toLowerCase()) return t;
    return undefined;
  }

  status(id: string): SandboxStatus {
    const s = this.statuses.get(id);
    if (!s) throw new Error(`sandbox state: unknown status ${id}`);
    return s;
  }

  priority(idOrName: string): SandboxPriority | undefined {
    const byId = this.priorities.get(idOrName);
    if (byId) return byId;
    for (const p of this.priorities.values()) if (p.name.toLowerCase() === idOrName.toLowerCase()) return p;
    return undefined;
  }

  resolution(idOrName: string): SandboxResolution | undefined {
    const byId = this.resolutions.get(idOrName);
    if (byId) return byId;
    for (const r of this.resolutions.values()) if (r.name.toLowerCase() === idOrName.toLowerCase()) return r;
    return undefined;
  }

  /** An issue link type by id or name (names are case-insensitive, as in Jira). */
  issueLinkType(ref: { id?: unknown; name?: unknown }): SandboxIssueLinkType | undefined {
    if (typeof ref.id === 'string' || typeof ref.id === 'number') return this.issueLinkTypes.get(String(ref.id));
    if (typeof ref.name !== 'string') return undefined;
    for (const t of this.issueLinkTypes.values()) if (t.name.toLowerCase() === ref.name.toLowerCase()) return t;
    return undefined;
  }

  /** The links an issue takes part in, oldest first. */
  linksOf(issueId: string): SandboxIssueLink[] {
    return [...this.issueLinks.values()]
      .filter((l) => l.sourceId === issueId || l.destinationId === issueId)
      .sort((a, b) => Number(a.id) - Number(b.id));
  }

  workflowFor(issue: Pick<SandboxIssue, 'projectId' | 'issueTypeId'>): SandboxWorkflow {
    const project = this.projects.get(issue.projectId);
    const name = project?.workflows[issue.issueTypeId];
    const wf = name === undefined ? undefined : this.workflows.get(name);
    if (!wf) throw new Error(`sandbox state: no workflow for project ${issue.projectId} / type ${issue.issueTypeId}`);
    return wf;
  }

  customFieldsOf(project: SandboxProject): CustomFieldDef[] {
    return project.customFieldIds
      .map((id) => this.customFields.get(id))
      .filter((f): f is CustomFieldDef => f !== undefined);
  }

  /** Issues in creation order (ids are increasing numbers). */
  allIssues(): SandboxIssue[] {
    return [...this.issues.values()].sort((a, b) => Number(a.id) - Number(b.id));
  }

  // --- low-level mutations -----------------------------------------------------------------

  insertIssue(issue: SandboxIssue): void {
    this.issues.set(issue.id, issue);
    this.keyIndex.set(issue.key, issue.id);
  }

  /** Re-keys an issue (a move); the old key keeps resolving to the same id. */
  rekeyIssue(issue: SandboxIssue, newKey: string): void {
    issue.previousKeys.push(issue.key);
    issue.key = newKey;
    this.keyIndex.set(newKey, issue.id);
  }

  removeIssue(issue: SandboxIssue): void {
    this.issues.delete(issue.id);
    for (const k of [issue.key, ...issue.previousKeys]) this.keyIndex.delete(k);
  }

  /**
   * Records one change history (when there are items) and bumps `updated`. Every write to an
   * issue goes through here, so changelogs and timestamps cannot be forgotten.
   */
  recordChange(issue: SandboxIssue, authorId: string, items: ChangeItem[]): ChangeHistory | null {
    const now = this.now();
    issue.updated = now;
    if (items.length === 0) return null;
    const history: ChangeHistory = { id: this.nextId('history'), authorId, created: now, items };
    issue.changelog.push(history);
    return history;
  }
}
