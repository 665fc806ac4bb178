/**
 * What the queue needs from the engine to be fair across customers (issue 17): which connection
 * and mapping a job works for (its partition), and whether that connection may be called now.
 *
 * Partitions: `<connectionId>/<mappingId>` when the mapping is known (an outbound job, an inbound
 * job of a linked issue, a backfill), `<connectionId>` when only the connection is (an inbound job
 * of an issue no record is linked to yet), '' for the rest (system jobs). The queue claims fairly
 * across partitions (start-time fair queuing, see src/queue/queue.ts).
 *
 * Admission: a job whose connection has no budget now (its pacer paused by a 429 or a 503 with
 * Retry-After, out of tokens, or its call slots all held) or is paused for rejected credentials
 * (until its next probe) is not claimed — put back until the budget returns or the probe is due
 * when that time is known, no attempt spent — so no worker sits on that connection while other
 * connections have due work. A job that loses the budget mid-job is put back the same way by the
 * worker (JOB_PUT_BACK, see withPutBack in src/jira/pacer.ts).
 */
import type { Kysely } from 'kysely';
import { admitWaitMs } from '../jira/pacer.js';
import type { Gate, Partitioner, Queue } from '../queue/queue.js';
import { fromJson } from '../store/json.js';
import type { Database } from '../store/schema.js';
import { INBOUND_JOB } from './inbound.js';
import { BACKFILL_JOB, OUTBOUND_JOB } from './record-data.js';
import type { MappingSource } from './types.js';

/** The connection a partition belongs to, or null for system jobs. */
export function connectionOfPartition(partition: string): string | null {
  if (!partition) return null;
  const slash = partition.indexOf('/');
  return slash < 0 ? partition : partition.slice(0, slash);
}

const partitionOf = (connectionId: string, mappingId?: string | null): string =>
  mappingId ? `${connectionId}/${mappingId}` : connectionId;

/** Names the partition of the engine's jobs from their payloads (one indexed read at most). */
export function jobPartitioner(mappings: MappingSource): Partitioner {
  return async (trx: Kysely<Database>, input) => {
    const p = (input.payload ?? {}) as Record<string, unknown>;
    if (input.kind === OUTBOUND_JOB && typeof p.recordId === 'string') {
      const row = await trx
        .selectFrom('records as r')
        .leftJoin('links as l', 'l.record_id', 'r.id')
        .select(['r.scope', 'l.connection_id', 'l.mapping_id'])
        .where('r.id', '=', p.recordId)
        .executeTakeFirst();
      if (!row) return null;
      if (row.connection_id) return partitionOf(row.connection_id, row.mapping_id);
      const m = mappings.forScope(row.scope);
      return m ? partitionOf(m.connectionId, m.id) : null;
    }
    if (input.kind === INBOUND_JOB && typeof p.connectionId === 'string') {
      const link =
        typeof p.issueId === 'string'
          ? await trx
              .selectFrom('links')
              .select('mapping_id')
              .where('connection_id', '=', p.connectionId)
              .where('issue_id', '=', p.issueId)
              .executeTakeFirst()
          : undefined;
      return partitionOf(p.connectionId, link?.mapping_id);
    }
    if (input.kind === BACKFILL_JOB && typeof p.backfillId === 'string') {
      const row = await trx
        .selectFrom('settings')
        .select('value')
        .where('key', '=', `backfill:${p.backfillId}`)
        .executeTakeFirst();
      const mappingId = row ? fromJson<{ mapping_id?: string }>(row.value)?.mapping_id : undefined;
      const m = mappingId ? mappings.byId(mappingId) : undefined;
      return m ? partitionOf(m.connectionId, m.id) : null;
    }
    if (typeof p.connectionId === 'string') return partitionOf(p.connectionId);
    return null;
  };
}

/**
 * ms until a job of a connection may start as far as its credentials go, `running` of its jobs
 * running in the claiming worker: 0 when they work; while they are rejected (401), Infinity while
 * one of its jobs runs (the probe: its end decides), else until the next probe is due (then 0).
 */
export type CredentialsWait = (connectionId: string, running: number) => number;

/**
 * ms until one more job of a connection may start (the queue's gate, by group = connection):
 * when its pacers in this process have no budget for it — paused by Jira's 429 / Retry-After,
 * out of the tokens Jira's rate-limit headers allow, or every call slot held by the connection's
 * jobs this worker runs (Pacer.admitWaitMs) — or while the connection is paused for rejected
 * credentials and its next probe is not due (`credentials`): its jobs wait in the queue, holding
 * no worker and spending no attempt, instead of each failing without a call.
 */
export function connectionGate(credentials?: CredentialsWait): Gate {
  return (connectionId: string, running: number) =>
    Math.max(credentials?.(connectionId, running) ?? 0, admitWaitMs(connectionId, running));
}

/** Wires both into the queue the engine's jobs go through. */
export function installFairness(
  queue: Queue,
  deps: { mappings: MappingSource; credentials?: CredentialsWait | undefined },
): void {
  queue.setPartitioner(jobPartitioner(deps.mappings));
  queue.setGate(connectionGate(deps.credentials));
}
