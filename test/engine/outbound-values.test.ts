import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { desiredFields, hostOptionValue } from '../../src/engine/desired.js';
import { toRecordData } from '../../src/engine/record-data.js';
import type { FieldMappingSnapshot } from '../../src/engine/types.js';
import { SEED } from '../../src/sandbox/seed.js';
import { freshSqlite, type TestDb } from '../helpers/db.js';
import { CONNECTION_ID, opsMapping, secMapping, startHarness, type Harness } from './harness.js';

const ASSET: FieldMappingSnapshot = {
  host: 'asset_id',
  jira: SEED.field.asset,
  type: 'select',
  direction: 'both',
  values: { portal: 'web-portal', payments: 'payments-api' },
};
const ENVS: FieldMappingSnapshot = {
  host: 'environments',
  jira: SEED.field.environment,
  type: 'multiselect',
  direction: 'both',
  values: { prod: 'Production', stage: 'Staging' },
};

describe('field value tables (pure)', () => {
  const desired = (custom: Record<string, unknown>) =>
    desiredFields(
      toRecordData({ scope: 's', hostId: 'h', kind: 'vulnerability', title: 't', status: 'open', custom }),
      secMapping({ fields: [ASSET, ENVS] }),
    );

  it('a host value in the table goes to Jira as its option; one not in it goes as it is', () => {
    expect(desired({ asset_id: 'portal' }).get('custom:asset_id')!.value).toBe('web-portal');
    expect(desired({ asset_id: 'customer-db' }).get('custom:asset_id')!.value).toBe('customer-db');
    expect(desired({ environments: ['stage', 'prod', 'Development'] }).get('custom:environments')!.value).toEqual([
      'Development',
      'Production',
      'Staging',
    ]);
  });

  it('Jira’s option comes back as the host value the table maps to it', () => {
    expect(hostOptionValue(ASSET, 'payments-api')).toBe('payments');
    expect(hostOptionValue(ASSET, 'customer-db')).toBe('customer-db');
    expect(hostOptionValue(ENVS, ['Production', 'Development'])).toEqual(['prod', 'Development']);
    expect(hostOptionValue(undefined, 'x')).toBe('x');
  });
});

describe('field value tables against the sandbox', () => {
  let db: TestDb;
  let h: Harness;

  beforeAll(async () => {
    db = await freshSqlite();
    h = await startHarness(db, { mappings: [secMapping({ fields: [ASSET, ENVS] }), opsMapping()] });
  });
  afterAll(async () => {
    await h.close();
    await db.cleanup();
  });

  it('host values reach Jira as the options they map to, and an option set in Jira comes back in the host’s words, with no write back', async () => {
    await h.engine.records.upsertRecord({
      scope: 'astra-web',
      hostId: 'v-values',
      kind: 'vulnerability',
      title: 'Mapped options',
      status: 'open',
      custom: { asset_id: 'portal', environments: ['prod', 'stage'] },
    });
    await h.drain();
    let r = await h.engine.records.getRecord('astra-web', 'v-values');
    expect(r.sync.state).toBe('synced');
    const issue = h.sandbox.state.issue(r.link!.issue_key!)!;
    expect(issue.custom[SEED.field.asset]).toBe('10100'); // web-portal
    expect(issue.custom[SEED.field.environment]).toEqual(['10110', '10111']); // Production, Staging

    h.sandbox.ops.editIssue(
      issue,
      {
        fields: { [SEED.field.asset]: { value: 'payments-api' }, [SEED.field.environment]: [{ value: 'Production' }] },
      },
      SEED.users.alice,
      'adf',
    );
    await h.engine.syncIssue({ connectionId: CONNECTION_ID, issueId: issue.id, source: 'manual' });
    h.sandbox.calls.reset();
    await h.drain();
    r = await h.engine.records.getRecord('astra-web', 'v-values');
    expect(r.custom).toMatchObject({ asset_id: 'payments', environments: ['prod'] });
    // Agreed on both sides: nothing is written back to Jira.
    expect(h.sandbox.calls.count({ method: 'PUT' })).toBe(0);
    expect(issue.custom[SEED.field.asset]).toBe('10101');
  });
});
