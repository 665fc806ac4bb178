/**
 * How a record closes depends on why it closed (issue 18 item 2, Conviso): a resolution per host
 * status (`resolution: { risk_accepted: "Won't Fix", false_positive: "Won't Do", default: Fixed }`)
 * and each closed host status reaching the Jira status `status.out` names for it (`close` is the
 * fallback). The mapping is written as in the configuration file and translated as the service
 * does; the sandbox plays a Conviso-like site (a Risk Accepted status, Won't Fix among the
 * resolutions) on Cloud (REST v3) and Data Center (REST v2): the resolution goes in the
 * transition's `fields` on both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mappingSchema } from '../../src/config/schema.js';
import { toOutboundMapping } from '../../src/config/to-engine.js';
import { compileSite, type SiteInput } from '../../src/sandbox/index.js';
import { describeEachEngine, type TestDb } from '../helpers/db.js';
import { CONNECTION_ID, startHarness, type Harness } from './harness.js';

const SCOPE = 'conviso-app';

/** A Conviso-like site: vulnerabilities are fixed (Resolved), accepted (Risk Accepted) or closed as not real (Closed). */
export const CONVISO_SITE: SiteInput = {
  users: [
    { name: 'admin', displayName: 'Site Admin', email: 'admin@sandbox.example', admin: true },
    { name: 'alice', displayName: 'Alice Analyst', email: 'alice@sandbox.example' },
    { name: 'bob', displayName: 'Bob Builder', email: 'bob@sandbox.example', emailVisible: false },
  ],
  statuses: [
    { name: 'Open', category: 'new' },
    { name: 'In Progress', category: 'indeterminate' },
    { name: 'Resolved', category: 'done' },
    { name: 'Risk Accepted', category: 'done' },
    { name: 'Closed', category: 'done' },
  ],
  priorities: [{ name: 'High' }, { name: 'Medium', default: true }, { name: 'Low' }],
  resolutions: [{ name: 'Fixed' }, { name: "Won't Fix" }, { name: "Won't Do" }, { name: 'Done' }],
  issueTypes: [{ name: 'Vulnerability' }, { name: 'Task' }],
  workflows: [
    {
      name: 'Vulnerability Workflow',
      statuses: ['Open', 'In Progress', 'Resolved', 'Risk Accepted', 'Closed'],
      transitions: [
        { name: 'Start', from: ['Open'], to: 'In Progress' },
        {
          name: 'Resolve',
          from: ['Open', 'In Progress'],
          to: 'Resolved',
          screen: [{ field: 'resolution', required: true }],
        },
        {
          name: 'Accept Risk',
          from: ['Open', 'In Progress'],
          to: 'Risk Accepted',
          screen: [{ field: 'resolution', required: true }],
        },
        { name: 'Close', from: 'any', to: 'Closed', screen: [{ field: 'resolution', required: true }] },
        { name: 'Reopen', from: ['Resolved', 'Risk Accepted', 'Closed'], to: 'Open', clearsResolution: true },
      ],
    },
  ],
  projects: [
    {
      key: 'VULN',
      name: 'Vulnerabilities',
      lead: 'admin',
      issueTypes: ['Vulnerability', 'Task'],
      workflow: 'Vulnerability Workflow',
    },
  ],
};

/** The mapping as a Conviso admin writes it in jira-bridge.yaml. */
export const convisoMapping = () =>
  toOutboundMapping(
    mappingSchema.parse({
      id: 'conviso',
      connection: CONNECTION_ID,
      scope: SCOPE,
      project: 'VULN',
      kinds: { vulnerability: { issue_type: 'Vulnerability' } },
      status: {
        out: { open: 'Open', in_progress: 'In Progress', risk_accepted: 'Risk Accepted', false_positive: 'Closed' },
        closed: ['fixed', 'risk_accepted', 'false_positive'],
      },
      close: { status: 'Resolved' },
      resolution: { risk_accepted: "Won't Fix", false_positive: "Won't Do", default: 'Fixed' },
      labels: ['conviso'],
    }),
  );

describeEachEngine('closing by host status', ({ fresh }) => {
  describe.each(['cloud', 'datacenter'] as const)('%s', (flavour) => {
    let db: TestDb;
    let h: Harness;
    /** The bodies of the transitions the bridge sent (as Jira received them). */
    const transitions: Array<{ transition?: { id?: string }; fields?: { resolution?: { name?: string } } }> = [];

    beforeAll(async () => {
      db = await fresh();
      h = await startHarness(db, {
        flavour,
        mappings: [convisoMapping()],
        sandbox: {
          site: compileSite(CONVISO_SITE),
          inspect: (r) => {
            if (r.method === 'POST' && r.route.endsWith('/transitions')) transitions.push(r.body as never);
          },
        },
      });
    });
    afterAll(async () => {
      await h?.close();
    });

    const vulnerability = (hostId: string, status: string) =>
      h.engine.records.upsertRecord({
        scope: SCOPE,
        hostId,
        kind: 'vulnerability',
        title: `Finding ${hostId}`,
        status,
      });
    /** Opens the vulnerability, then closes it with `status`; the issue as Jira holds it. */
    const closeAs = async (hostId: string, status: string) => {
      await vulnerability(hostId, 'open');
      await h.drain();
      transitions.length = 0;
      await vulnerability(hostId, status);
      await h.drain();
      const record = await h.engine.records.getRecord(SCOPE, hostId);
      expect(record.sync).toMatchObject({ state: 'synced', error: null });
      const issue = h.sandbox.state.issue(record.link!.issue_key!)!;
      const status_ = h.sandbox.state.statuses.get(issue.statusId)!.name;
      const resolution = issue.resolutionId ? h.sandbox.state.resolutions.get(issue.resolutionId)!.name : null;
      const log = await h.engine.records.getLog(SCOPE, hostId);
      return { status: status_, resolution, calls: log[log.length - 1]!.jira_calls };
    };

    it("a risk-accepted vulnerability closes as Won't Fix", async () => {
      const closed = await closeAs('c-risk', 'risk_accepted');
      expect([closed.status, closed.resolution]).toEqual(['Risk Accepted', "Won't Fix"]);
      // The resolution rode on the transition's fields, in the flavour's body.
      expect(transitions).toEqual([
        expect.objectContaining({ transition: expect.any(Object), fields: { resolution: { name: "Won't Fix" } } }),
      ]);
    });

    it("a false-positive vulnerability closes as Won't Do", async () => {
      const closed = await closeAs('c-fp', 'false_positive');
      expect([closed.status, closed.resolution]).toEqual(['Closed', "Won't Do"]);
    });

    it('each closed host status reaches the Jira status status.out names (close is the fallback, with the default resolution)', async () => {
      const fixed = await closeAs('c-fixed', 'fixed');
      expect([fixed.status, fixed.resolution]).toEqual(['Resolved', 'Fixed']);
      const risk = await closeAs('c-risk-2', 'risk_accepted');
      // Closing through status.out costs what closing through close.status does.
      expect(risk.calls).toBe(fixed.calls);
    });

    it('a record closed one way and then another moves to the other status with its resolution', async () => {
      await closeAs('c-change', 'fixed');
      await vulnerability('c-change', 'false_positive');
      await h.drain();
      const record = await h.engine.records.getRecord(SCOPE, 'c-change');
      const issue = h.sandbox.state.issue(record.link!.issue_key!)!;
      expect(h.sandbox.state.statuses.get(issue.statusId)!.name).toBe('Closed');
      expect(h.sandbox.state.resolutions.get(issue.resolutionId!)!.name).toBe("Won't Do");
    });
  });
});
