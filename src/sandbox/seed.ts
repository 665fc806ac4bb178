import type {
  CustomFieldDef,
  SandboxIssueType,
  SandboxPriority,
  SandboxProject,
  SandboxIssueLinkType,
  SandboxResolution,
  SandboxStatus,
  SandboxUser,
  SandboxWorkflow,
  ServiceDesk,
} from './model.js';
import type { SandboxState } from './state.js';

export type SeedName = 'default' | 'empty';

/** Well-known ids of the seeded site, for tests and docs. */
export const SEED = {
  users: {
    admin: 'sandbox-admin-0000000000000001',
    alice: 'sandbox-alice-0000000000000002',
    bob: 'sandbox-bob-00000000000000000003',
  },
  status: {
    open: '1',
    inProgress: '3',
    resolved: '5',
    closed: '6',
    toDo: '10000',
    done: '10001',
    triaged: '10002',
    inReview: '10003',
    waitingForSupport: '10004',
    waitingForCustomer: '10005',
  },
  issueType: {
    task: '10001',
    bug: '10004',
    vulnerability: '10100',
    finding: '10101',
    incident: '10102',
    serviceRequest: '10103',
    change: '10104',
  },
  resolution: {
    done: '10000',
    wontDo: '10001',
    duplicate: '10002',
    cannotReproduce: '10003',
    fixed: '10004',
    falsePositive: '10005',
    riskAccepted: '10006',
  },
  field: {
    cvss: 'customfield_10010',
    asset: 'customfield_10011',
    affectedUrl: 'customfield_10012',
    environment: 'customfield_10013',
    componentOwner: 'customfield_10014',
    due: 'customfield_10015',
    notes: 'customfield_10016',
    syncToken: 'customfield_10017',
    tags: 'customfield_10018',
  },
  /** Transition ids of the security workflow (SEC). */
  secTransition: {
    triage: '11',
    start: '21',
    submitForReview: '31',
    requestChanges: '41',
    resolve: '51',
    close: '61',
    reopen: '71',
  },
  /** Transition ids of the software workflow (OPS). */
  opsTransition: { start: '21', done: '31', stop: '41', reopen: '51' },
  project: { sec: '10000', ops: '10001', itsd: '10002' },
  serviceDesk: { itsd: '1' },
} as const;

const users: SandboxUser[] = [
  {
    accountId: SEED.users.admin,
    name: 'admin',
    key: 'JIRAUSER10000',
    displayName: 'Sandbox Admin',
    email: 'admin@sandbox.example',
    emailVisible: true,
    active: true,
    timeZone: 'Etc/UTC',
    admin: true,
    apiToken: 'sandbox-api-token-admin',
    password: 'sandbox-password-admin',
    pat: 'sandbox-pat-admin',
    oauthToken: 'sandbox-oauth-admin',
    accountType: 'atlassian',
  },
  {
    accountId: SEED.users.alice,
    name: 'alice',
    key: 'JIRAUSER10001',
    displayName: 'Alice Analyst',
    email: 'alice@sandbox.example',
    emailVisible: true,
    active: true,
    timeZone: 'Europe/Berlin',
    admin: false,
    apiToken: 'sandbox-api-token-alice',
    password: 'sandbox-password-alice',
    pat: 'sandbox-pat-alice',
    oauthToken: 'sandbox-oauth-alice',
    accountType: 'atlassian',
  },
  {
    accountId: SEED.users.bob,
    name: 'bob',
    key: 'JIRAUSER10002',
    displayName: 'Bob Builder',
    email: 'bob@sandbox.example',
    emailVisible: false,
    active: true,
    timeZone: 'America/New_York',
    admin: false,
    apiToken: 'sandbox-api-token-bob',
    password: 'sandbox-password-bob',
    pat: 'sandbox-pat-bob',
    oauthToken: 'sandbox-oauth-bob',
    accountType: 'atlassian',
  },
];

const S = SEED.status;
const statuses: SandboxStatus[] = [
  {
    id: S.open,
    name: 'Open',
    description: 'The issue is open and ready for the assignee to start work on it.',
    category: 'new',
  },
  {
    id: S.inProgress,
    name: 'In Progress',
    description: 'This issue is being actively worked on at the moment by the assignee.',
    category: 'indeterminate',
  },
  {
    id: S.resolved,
    name: 'Resolved',
    description: 'A resolution has been taken, and it is awaiting verification by reporter.',
    category: 'done',
  },
  {
    id: S.closed,
    name: 'Closed',
    description: 'The issue is considered finished, the resolution is correct.',
    category: 'done',
  },
  { id: S.toDo, name: 'To Do', description: '', category: 'new' },
  { id: S.done, name: 'Done', description: '', category: 'done' },
  { id: S.triaged, name: 'Triaged', description: 'Severity and owner confirmed.', category: 'indeterminate' },
  { id: S.inReview, name: 'In Review', description: 'The fix awaits review.', category: 'indeterminate' },
  { id: S.waitingForSupport, name: 'Waiting for support', description: 'Waiting for an agent.', category: 'new' },
  {
    id: S.waitingForCustomer,
    name: 'Waiting for customer',
    description: 'Waiting for the customer to respond.',
    category: 'indeterminate',
  },
];

const T = SEED.issueType;
const issueTypes: SandboxIssueType[] = [
  { id: T.task, name: 'Task', description: 'A small, distinct piece of work.', subtask: false, avatarId: 10318 },
  { id: T.bug, name: 'Bug', description: 'A problem or error.', subtask: false, avatarId: 10303 },
  {
    id: T.vulnerability,
    name: 'Vulnerability',
    description: 'A security weakness to remediate.',
    subtask: false,
    avatarId: 10303,
  },
  {
    id: T.finding,
    name: 'Finding',
    description: 'One occurrence of a vulnerability (sub-task).',
    subtask: true,
    avatarId: 10316,
  },
  {
    id: T.incident,
    name: 'Incident',
    description: 'An unplanned interruption to a service.',
    subtask: false,
    avatarId: 10303,
  },
  {
    id: T.serviceRequest,
    name: 'Service Request',
    description: 'A request for help or information.',
    subtask: false,
    avatarId: 10318,
  },
  {
    id: T.change,
    name: 'Change',
    description: 'A change to IT infrastructure or services.',
    subtask: false,
    avatarId: 10318,
  },
];

const priorities: SandboxPriority[] = [
  {
    id: '1',
    name: 'Highest',
    description: 'This problem will block progress.',
    statusColor: '#d04437',
    icon: 'highest',
    isDefault: false,
  },
  {
    id: '2',
    name: 'High',
    description: 'Serious problem that could block progress.',
    statusColor: '#f15C75',
    icon: 'high',
    isDefault: false,
  },
  {
    id: '3',
    name: 'Medium',
    description: 'Has the potential to affect progress.',
    statusColor: '#f79232',
    icon: 'medium',
    isDefault: true,
  },
  {
    id: '4',
    name: 'Low',
    description: 'Minor problem or easily worked around.',
    statusColor: '#707070',
    icon: 'low',
    isDefault: false,
  },
  {
    id: '5',
    name: 'Lowest',
    description: 'Trivial problem with little or no impact on progress.',
    statusColor: '#999999',
    icon: 'lowest',
    isDefault: false,
  },
];

const R = SEED.resolution;
const resolutions: SandboxResolution[] = [
  { id: R.done, name: 'Done', description: 'Work has been completed on this issue.' },
  { id: R.wontDo, name: "Won't Do", description: "This issue won't be actioned." },
  { id: R.duplicate, name: 'Duplicate', description: 'The problem is a duplicate of an existing issue.' },
  { id: R.cannotReproduce, name: 'Cannot Reproduce', description: 'This issue could not be reproduced at this time.' },
  { id: R.fixed, name: 'Fixed', description: 'A fix for this issue is checked into the tree and tested.' },
  { id: R.falsePositive, name: 'False Positive', description: 'The finding is not a real vulnerability.' },
  { id: R.riskAccepted, name: 'Risk Accepted', description: 'The risk was accepted by its owner.' },
];

/** Jira Cloud's default issue link types, with their usual ids (every site has them). */
export const DEFAULT_ISSUE_LINK_TYPES: readonly SandboxIssueLinkType[] = [
  { id: '10000', name: 'Blocks', inward: 'is blocked by', outward: 'blocks' },
  { id: '10001', name: 'Cloners', inward: 'is cloned by', outward: 'clones' },
  { id: '10002', name: 'Duplicate', inward: 'is duplicated by', outward: 'duplicates' },
  { id: '10003', name: 'Relates', inward: 'relates to', outward: 'relates to' },
];

const F = SEED.field;
const customFields: CustomFieldDef[] = [
  { id: F.cvss, name: 'CVSS Score', kind: 'number', description: 'CVSS base score, 0.0–10.0', options: [] },
  {
    id: F.asset,
    name: 'Asset',
    kind: 'select',
    description: 'The affected asset',
    options: [
      { id: '10100', value: 'web-portal' },
      { id: '10101', value: 'payments-api' },
      { id: '10102', value: 'customer-db' },
      { id: '10103', value: 'mobile-app' },
    ],
  },
  { id: F.affectedUrl, name: 'Affected URL', kind: 'url', description: 'Where the problem shows', options: [] },
  {
    id: F.environment,
    name: 'Environment',
    kind: 'multiselect',
    description: 'Environments affected',
    options: [
      { id: '10110', value: 'Production' },
      { id: '10111', value: 'Staging' },
      { id: '10112', value: 'Development' },
    ],
  },
  { id: F.componentOwner, name: 'Component Owner', kind: 'user', description: 'Who owns the component', options: [] },
  { id: F.due, name: 'Due', kind: 'date', description: 'Remediation due date', options: [] },
  { id: F.notes, name: 'Notes', kind: 'textarea', description: 'Free-form notes', options: [] },
  {
    id: F.syncToken,
    name: 'Sync Token',
    kind: 'text',
    description: 'Opaque token set by integrations (idempotency)',
    options: [],
  },
  { id: F.tags, name: 'Tags', kind: 'labels', description: 'Free-form tags', options: [] },
];

const ST = SEED.secTransition;
const securityWorkflow: SandboxWorkflow = {
  name: 'Security Remediation Workflow',
  initialStatusId: S.open,
  statusIds: [S.open, S.triaged, S.inProgress, S.inReview, S.resolved, S.closed],
  transitions: [
    { id: ST.triage, name: 'Triage', from: [S.open], to: S.triaged, screen: [] },
    { id: ST.start, name: 'Start Progress', from: [S.triaged], to: S.inProgress, screen: [] },
    { id: ST.submitForReview, name: 'Submit for Review', from: [S.inProgress], to: S.inReview, screen: [] },
    { id: ST.requestChanges, name: 'Request Changes', from: [S.inReview], to: S.inProgress, screen: [] },
    {
      id: ST.resolve,
      name: 'Resolve',
      from: [S.inReview],
      to: S.resolved,
      // Like Jira's "Resolve Issue Screen": the resolution, the assignee, and a text field (Notes).
      screen: [
        { fieldId: 'resolution', required: true },
        { fieldId: 'assignee', required: false },
        { fieldId: F.notes, required: false },
      ],
    },
    { id: ST.close, name: 'Close', from: [S.resolved], to: S.closed, screen: [] },
    { id: ST.reopen, name: 'Reopen', from: [S.resolved, S.closed], to: S.open, screen: [], clearsResolution: true },
  ],
};

const OT = SEED.opsTransition;
const softwareWorkflow: SandboxWorkflow = {
  name: 'Software Simplified Workflow',
  initialStatusId: S.toDo,
  statusIds: [S.toDo, S.inProgress, S.done],
  transitions: [
    { id: OT.start, name: 'Start Progress', from: [S.toDo], to: S.inProgress, screen: [] },
    {
      id: OT.done,
      name: 'Done',
      from: [S.toDo, S.inProgress],
      to: S.done,
      screen: [{ fieldId: 'resolution', required: false }],
      defaultResolutionId: R.done,
    },
    { id: OT.stop, name: 'Stop Progress', from: [S.inProgress], to: S.toDo, screen: [] },
    { id: OT.reopen, name: 'Reopen', from: [S.done], to: S.toDo, screen: [], clearsResolution: true },
  ],
};

const serviceWorkflow: SandboxWorkflow = {
  name: 'Service Management Workflow',
  initialStatusId: S.waitingForSupport,
  statusIds: [S.waitingForSupport, S.inProgress, S.waitingForCustomer, S.resolved],
  transitions: [
    { id: '11', name: 'Start work', from: [S.waitingForSupport], to: S.inProgress, screen: [] },
    {
      id: '21',
      name: 'Wait for customer',
      from: [S.inProgress, S.waitingForSupport],
      to: S.waitingForCustomer,
      screen: [],
    },
    { id: '31', name: 'Respond to support', from: [S.waitingForCustomer], to: S.waitingForSupport, screen: [] },
    {
      id: '41',
      name: 'Resolve this issue',
      from: [S.waitingForSupport, S.inProgress, S.waitingForCustomer],
      to: S.resolved,
      screen: [{ fieldId: 'resolution', required: true }],
    },
    { id: '51', name: 'Reopen', from: [S.resolved], to: S.waitingForSupport, screen: [], clearsResolution: true },
  ],
};

const allCustomFieldIds = customFields.map((f) => f.id);

const projects: SandboxProject[] = [
  {
    id: SEED.project.sec,
    key: 'SEC',
    name: 'Security',
    description: 'Vulnerability remediation',
    projectTypeKey: 'software',
    leadAccountId: SEED.users.admin,
    issueTypeIds: [T.vulnerability, T.task, T.finding],
    workflows: {
      [T.vulnerability]: securityWorkflow.name,
      [T.finding]: securityWorkflow.name,
      [T.task]: softwareWorkflow.name,
    },
    counter: 0,
    customFieldIds: allCustomFieldIds,
  },
  {
    id: SEED.project.ops,
    key: 'OPS',
    name: 'Operations',
    description: 'Operations and incidents',
    projectTypeKey: 'software',
    leadAccountId: SEED.users.alice,
    issueTypeIds: [T.task, T.bug, T.incident],
    workflows: { [T.task]: softwareWorkflow.name, [T.bug]: softwareWorkflow.name, [T.incident]: softwareWorkflow.name },
    counter: 0,
    customFieldIds: allCustomFieldIds,
  },
  {
    id: SEED.project.itsd,
    key: 'ITSD',
    name: 'IT Service Desk',
    description: 'IT help for everyone',
    projectTypeKey: 'service_desk',
    leadAccountId: SEED.users.admin,
    issueTypeIds: [T.incident, T.serviceRequest, T.change],
    workflows: {
      [T.incident]: serviceWorkflow.name,
      [T.serviceRequest]: serviceWorkflow.name,
      [T.change]: serviceWorkflow.name,
    },
    counter: 0,
    customFieldIds: allCustomFieldIds,
  },
];

const serviceDesk: ServiceDesk = {
  id: SEED.serviceDesk.itsd,
  projectId: SEED.project.itsd,
  requestTypes: [
    {
      id: '1',
      name: 'Report an incident',
      description: 'Something is broken.',
      helpText: 'Tell us what happened.',
      issueTypeId: T.incident,
      serviceDeskId: '1',
      groupIds: ['1'],
    },
    {
      id: '2',
      name: 'Request a change',
      description: 'Propose a change to a service.',
      helpText: '',
      issueTypeId: T.change,
      serviceDeskId: '1',
      groupIds: ['2'],
    },
    {
      id: '3',
      name: 'Get IT help',
      description: 'Ask a question or request help.',
      helpText: '',
      issueTypeId: T.serviceRequest,
      serviceDeskId: '1',
      groupIds: ['1'],
    },
  ],
};

/** Fills a fresh state with the seeded site. Deterministic: same ids, keys and tokens every time. */
export function seedState(state: SandboxState, _seed: SeedName = 'default'): void {
  for (const u of users) state.users.set(u.accountId, structuredClone(u));
  state.adminAccountId = SEED.users.admin;
  for (const s of statuses) state.statuses.set(s.id, { ...s });
  for (const t of issueTypes) state.issueTypes.set(t.id, { ...t });
  for (const p of priorities) state.priorities.set(p.id, { ...p });
  for (const r of resolutions) state.resolutions.set(r.id, { ...r });
  for (const t of DEFAULT_ISSUE_LINK_TYPES) state.issueLinkTypes.set(t.id, { ...t });
  for (const f of customFields) state.customFields.set(f.id, structuredClone(f));
  state.reserveId('field', 10018);
  for (const w of [securityWorkflow, softwareWorkflow, serviceWorkflow])
    state.workflows.set(w.name, structuredClone(w));
  for (const p of projects) state.projects.set(p.id, structuredClone(p));
  state.reserveId('project', 10002);
  state.serviceDesks.set(serviceDesk.id, structuredClone(serviceDesk));
}
