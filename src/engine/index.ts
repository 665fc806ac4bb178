export { createEngine, type Engine, type EngineDeps, type ConnectionHealth } from './engine.js';
export {
  createRecordService,
  enqueueOutbound,
  OUTBOUND_MAX_ATTEMPTS,
  type RecordService,
  type RecordRef,
  type ListRecordsFilter,
  type CommentInput,
  type AttachmentInput,
  type SyncLogEntry,
} from './records.js';
export { createOutboundHandler, PAUSE_RETRY_MS, type OutboundDeps } from './outbound.js';
export { createBackfill, BULK_SIZE, type Backfill, type BackfillProgress } from './backfill.js';
export {
  OUTBOUND_JOB,
  BACKFILL_JOB,
  recordJobKey,
  type RecordView,
  type RecordLinkView,
  type OutboundPayload,
} from './record-data.js';
export { staticMappingSource } from './mapping-source.js';
export { jiraPortFromClient, type ClientPortOptions } from './jira-port.js';
export { markdownToJiraBody } from './markup.js';
export { fileAttachmentStore, type AttachmentStore } from './attachment-store.js';
export { walkToStatus } from './status-path.js';
export type * from './types.js';
export { demoMappings, demoSecMapping, demoOpsMapping, demoJsmMapping } from './demo-mappings.js';
export { createInboundHandler, enqueueInbound, INBOUND_JOB, type InboundPayload } from './inbound.js';
export { createSweeper, type SweepResult } from './sweep.js';
