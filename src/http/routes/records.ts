import fastifyMultipart from '@fastify/multipart';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../core/errors.js';
import { BlobTooLargeError, type StagedBlob } from '../../engine/attachment-store.js';
import type { Engine } from '../../engine/engine.js';
import type { RecordService } from '../../engine/records.js';
import type { RecordView } from '../../engine/record-data.js';
import { errorResponses } from '../schemas.js';
import { nulMessage } from '../nul-guard.js';
import { ADMIN_OR_HOST, READ_OR_HOST } from '../auth.js';

/** Largest attachment accepted from the host (Jira Cloud's default limit is 10 MB too). */
export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;

/** The whole multipart body: the file and room for its part headers and fields. */
export const MAX_UPLOAD_BODY_BYTES = MAX_ATTACHMENT_BYTES + 64 * 1024;
/** Ids given by the host (record, comment, attachment), as everywhere in this API. */
const MAX_ID_CHARS = 200;
/** Jira's limit for an attachment's file name. */
const MAX_FILENAME_CHARS = 255;

const SYNC_STATES = ['pending', 'synced', 'failed'] as const;

const ScopeParams = z.strictObject({
  scope: z.string().min(1).max(200).describe("The host's scope (project / target / module)"),
  hostId: z.string().min(1).max(200).describe("The host's own id of the record"),
});

const CustomValue = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.null(),
  z.array(z.union([z.string(), z.number()])),
]);

export const RecordUpsertSchema = z
  .strictObject({
    kind: z
      .string()
      .min(1)
      .max(100)
      .describe('vulnerability, finding, incident, alert, change, request, or a configured custom kind'),
    title: z.string().min(1).max(1000),
    description: z.string().max(1_000_000).optional().describe('Markdown'),
    status: z.string().min(1).max(100).describe("The host's own status vocabulary"),
    severity: z.string().min(1).max(100).nullable().optional().describe("The host's own severity vocabulary"),
    assignee_email: z.email().nullable().optional(),
    labels: z.array(z.string().min(1).max(255)).max(100).optional(),
    custom: z
      .record(z.string().min(1).max(100), CustomValue)
      .optional()
      .describe('Named custom values, e.g. cvss, asset_id'),
    parent_host_id: z
      .string()
      .min(1)
      .max(200)
      .nullable()
      .optional()
      .describe('Parent record (a finding under its vulnerability)'),
  })
  .meta({ id: 'RecordUpsert' });

const ErrorInfo = z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() });

export const RecordSchema = z
  .object({
    id: z.string(),
    scope: z.string(),
    host_id: z.string(),
    kind: z.string(),
    title: z.string(),
    description: z.string(),
    status: z.string(),
    severity: z.string().nullable(),
    assignee_email: z.string().nullable(),
    labels: z.array(z.string()),
    custom: z.record(z.string(), z.unknown()),
    parent_host_id: z.string().nullable(),
    version: z.number().int(),
    link: z
      .object({
        issue_id: z.string().nullable().describe('Jira issue id (stable across moves)'),
        issue_key: z.string().nullable(),
        project_key: z.string().nullable(),
        browse_url: z.string().nullable(),
        state: z.string().describe('creating | linked'),
      })
      .nullable(),
    sync: z.object({
      state: z.enum(SYNC_STATES),
      error: ErrorInfo.nullable().describe('Why the last sync failed (Jira’s own message for 400s)'),
      warnings: z.array(z.string()).describe('Warnings of the last sync, e.g. an assignee left unassigned'),
    }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Record' });

const CommentInputSchema = z
  .strictObject({
    author: z.string().min(1).max(200),
    body: z.string().min(1).max(1_000_000).describe('Markdown'),
    created_at: z.iso.datetime({ offset: true }).optional(),
    host_comment_id: z.string().min(1).max(200).describe("The host's id of the comment (idempotency)"),
    internal: z
      .boolean()
      .optional()
      .describe(
        'An internal note (Service Management: not shown to the customer; elsewhere a comment with the sd.public.comment property). Default false.',
      ),
  })
  .meta({ id: 'CommentInput' });

const LogEntrySchema = z
  .object({
    id: z.string(),
    direction: z.string(),
    action: z.string(),
    fields: z
      .unknown()
      .describe(
        'what the action did: changed fields, conflicts, warnings, issue_key; inbound entries name the Jira user who made the change (jira_user, see JiraUser)',
      ),
    jira_calls: z.number().int(),
    job_id: z.number().int().nullable(),
    error: z.unknown(),
    at: z.string(),
  })
  .meta({ id: 'SyncLogEntry' });

const invalidPart = (path: string, message: string): AppError =>
  new AppError('VALIDATION_FAILED', `${path}: ${message}`, { details: { issues: [{ path, message }] } });

/**
 * What went wrong with a multipart body, as a 400 naming it (the parser's own errors carry no
 * status: left alone they were 500s). File system errors stay what they are.
 */
function multipartError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  if (err instanceof BlobTooLargeError) return tooLarge();
  const e = err as { code?: string; message?: string; errno?: number };
  if (typeof e.errno === 'number') return err; // the disk, not the body
  const msg = e.message ?? '';
  switch (e.code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return tooLarge();
    case 'FST_FILES_LIMIT':
      return invalidPart('body', 'send exactly one file, in part "file"');
    case 'FST_FIELDS_LIMIT':
    case 'FST_PARTS_LIMIT':
      return invalidPart('body', 'too many parts; send part "file" and optionally field "host_attachment_id"');
    case 'FST_PROTO_VIOLATION':
      return invalidPart('body', 'a part is named after an object property; send only "file" and "host_attachment_id"');
    case 'FST_MP_PREMATURE_CLOSE':
      return invalidPart('body', 'the multipart body ended before its closing boundary (truncated)');
    default:
      break;
  }
  if (/boundary not found/i.test(msg)) {
    return invalidPart(
      'body',
      'Content-Type multipart/form-data needs its boundary parameter (multipart/form-data; boundary=…)',
    );
  }
  if (/unexpected end|terminated early/i.test(msg)) {
    return invalidPart('body', 'the multipart body ended before its closing boundary (truncated)');
  }
  if (err instanceof Error && e.code === undefined) {
    // The parser's other complaints (malformed part headers, …) are about the body too.
    return invalidPart('body', `the multipart body is malformed (${msg || 'unreadable'})`);
  }
  return err;
}

function tooLarge(): AppError {
  return new AppError('BODY_TOO_LARGE', `The attachment is larger than ${MAX_ATTACHMENT_BYTES} bytes`, {
    details: { limit_bytes: MAX_ATTACHMENT_BYTES },
  });
}

/**
 * Reads the upload's parts: the file is streamed to the store's staging area (never held whole in
 * memory), `host_attachment_id` is checked against its limit, anything else is refused. On any
 * failure the staged file is removed before the error is thrown.
 */
async function readUpload(
  req: FastifyRequest,
  records: Pick<RecordService, 'stageUpload'>,
): Promise<{ filename: string; blob: StagedBlob; hostAttachmentId: string | undefined }> {
  let blob: StagedBlob | undefined;
  let filename = 'attachment';
  let hostAttachmentId: string | undefined;
  try {
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file' || blob) {
          part.file.resume();
          throw part.fieldname !== 'file'
            ? invalidPart(`body.${part.fieldname}`, 'unknown part; send the file as part "file"')
            : invalidPart('body', 'send exactly one file, in part "file"');
        }
        if (part.filename.length > MAX_FILENAME_CHARS) {
          part.file.resume();
          throw invalidPart(
            'body.file',
            `the file name must be at most ${MAX_FILENAME_CHARS} characters; it has ${part.filename.length}`,
          );
        }
        filename = part.filename || 'attachment';
        blob = await records.stageUpload(part.file, MAX_ATTACHMENT_BYTES);
        if (part.file.truncated) throw tooLarge();
        continue;
      }
      if (part.fieldname !== 'host_attachment_id') {
        throw invalidPart(`body.${part.fieldname}`, 'unknown field; send only "file" and "host_attachment_id"');
      }
      const value = String(part.value);
      if (part.valueTruncated || value.length > MAX_ID_CHARS) {
        const got = part.valueTruncated ? 'it is longer still' : `it has ${value.length}`;
        throw invalidPart('body.host_attachment_id', `must be at most ${MAX_ID_CHARS} characters; ${got}`);
      }
      if (value === '') throw invalidPart('body.host_attachment_id', 'must not be empty');
      // The multipart parser decodes a field leniently: a replacement character is where the
      // bytes were not UTF-8 (an id never holds one), and NUL cannot be stored.
      if (value.includes('\uFFFD'))
        throw invalidPart('body.host_attachment_id', 'is not valid UTF-8; send the id encoded as UTF-8');
      if (value.includes('\u0000')) throw invalidPart('body.host_attachment_id', nulMessage);
      if (hostAttachmentId !== undefined) throw invalidPart('body.host_attachment_id', 'send it once');
      hostAttachmentId = value;
    }
  } catch (err) {
    await blob?.discard();
    throw multipartError(err);
  }
  if (!blob) throw invalidPart('body.file', 'no file part in the upload; send it as part "file"');
  return { filename, blob, hostAttachmentId };
}

function view(r: RecordView): z.infer<typeof RecordSchema> {
  return r;
}

export interface RecordsRouteOptions {
  engine: Pick<Engine, 'records'>;
}

/** `/api/v1/records`: upsert, read, list, counts by sync state, comments, attachments, timeline. */
export const recordsPlugin: FastifyPluginAsync<RecordsRouteOptions> = async (fastify, opts) => {
  const records = opts.engine.records;
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  await app.register(fastifyMultipart, {
    // Values over fieldSize are cut by the parser: such a value is refused below, never stored.
    limits: { fileSize: MAX_ATTACHMENT_BYTES, files: 1, fields: 5, parts: 6, fieldSize: 1024, headerPairs: 20 },
  });

  app.put(
    '/api/v1/records/:scope/:hostId',
    {
      config: ADMIN_OR_HOST,
      schema: {
        tags: ['records'],
        summary: 'Create or update a record by the host’s id (idempotent)',
        description:
          'Stores the record and queues its sync to Jira in one transaction. An identical upsert changes nothing ' +
          'and costs no Jira call. Returns the record with its link and sync state.',
        params: ScopeParams,
        body: RecordUpsertSchema,
        response: { 200: RecordSchema, 201: RecordSchema, ...errorResponses(400, 422) },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const out = await records.upsertRecord({
        scope: req.params.scope,
        hostId: req.params.hostId,
        kind: b.kind,
        title: b.title,
        description: b.description,
        status: b.status,
        severity: b.severity,
        assignee_email: b.assignee_email,
        labels: b.labels,
        custom: b.custom,
        parent_host_id: b.parent_host_id,
      });
      return reply.code(out.created ? 201 : 200).send(view(out.record));
    },
  );

  app.get(
    '/api/v1/records/:scope/:hostId',
    {
      config: READ_OR_HOST,
      schema: {
        tags: ['records'],
        summary: 'One record with its Jira link and sync state',
        params: ScopeParams,
        response: { 200: RecordSchema, ...errorResponses(404) },
      },
    },
    async (req) => view(await records.getRecord(req.params.scope, req.params.hostId)),
  );

  app.get(
    '/api/v1/records',
    {
      config: READ_OR_HOST,
      schema: {
        tags: ['records'],
        summary: 'List records (filter by sync state, scope, kind), oldest first, paginated',
        querystring: z.strictObject({
          state: z.enum(SYNC_STATES).optional(),
          scope: z.string().min(1).optional(),
          kind: z.string().min(1).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
          cursor: z.string().min(1).optional().describe('next_cursor of the previous page'),
        }),
        response: {
          200: z.object({ records: z.array(RecordSchema), next_cursor: z.string().nullable() }),
          ...errorResponses(400),
        },
      },
    },
    async (req) => {
      const q = req.query;
      const page = await records.listRecords({
        state: q.state,
        scope: q.scope,
        kind: q.kind,
        limit: q.limit,
        after: q.cursor,
      });
      return { records: page.records.map(view), next_cursor: page.next_cursor };
    },
  );

  app.get(
    '/api/v1/records/counts',
    {
      config: READ_OR_HOST,
      schema: {
        tags: ['records'],
        summary: 'How many records there are, by sync state (filter by scope, kind)',
        querystring: z.strictObject({
          scope: z.string().min(1).optional(),
          kind: z.string().min(1).optional(),
        }),
        response: {
          200: z.object({
            total: z.number().int(),
            by_state: z.object({ pending: z.number().int(), synced: z.number().int(), failed: z.number().int() }),
          }),
          ...errorResponses(400),
        },
      },
    },
    async (req) => records.countRecords({ scope: req.query.scope, kind: req.query.kind }),
  );

  app.post(
    '/api/v1/records/:scope/:hostId/comments',
    {
      config: ADMIN_OR_HOST,
      schema: {
        tags: ['records'],
        summary: 'Add a comment to a record (idempotent by host_comment_id); it is posted to the issue',
        params: ScopeParams,
        body: CommentInputSchema,
        response: {
          201: z.object({ id: z.string(), created: z.boolean() }),
          200: z.object({ id: z.string(), created: z.boolean() }),
          ...errorResponses(400, 404),
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const out = await records.addComment(req.params.scope, req.params.hostId, {
        author: b.author,
        body: b.body,
        createdAt: b.created_at ? Date.parse(b.created_at) : undefined,
        hostCommentId: b.host_comment_id,
        internal: b.internal === true,
      });
      return reply.code(out.created ? 201 : 200).send(out);
    },
  );

  app.get(
    '/api/v1/records/:scope/:hostId/comments',
    {
      config: READ_OR_HOST,
      schema: {
        tags: ['records'],
        summary:
          'The record’s comments from both sides (Jira ones as Markdown, with author, visibility and tombstones)',
        params: ScopeParams,
        response: {
          200: z.object({
            comments: z.array(
              z.object({
                id: z.string(),
                origin: z.enum(['host', 'jira']),
                author: z.string().nullable(),
                body: z.string(),
                internal: z.boolean(),
                deleted: z.boolean(),
                host_comment_id: z.string().nullable(),
                jira_comment_id: z.string().nullable(),
                rework_task: z
                  .string()
                  .nullable()
                  .describe('made on one of the record’s rework tasks (reopen.mode rework): that task’s issue key'),
                created_at: z.string(),
                updated_at: z.string(),
              }),
            ),
          }),
          ...errorResponses(404),
        },
      },
    },
    async (req) => ({ comments: await records.listComments(req.params.scope, req.params.hostId) }),
  );

  app.post(
    '/api/v1/records/:scope/:hostId/attachments',
    {
      config: ADMIN_OR_HOST,
      // Announced lengths over this are answered 413 before a byte is read (and Expect: 100-continue too).
      bodyLimit: MAX_UPLOAD_BODY_BYTES,
      schema: {
        tags: ['records'],
        summary: 'Upload an attachment (multipart/form-data, part `file`; optional field `host_attachment_id`)',
        description:
          `The file may be up to ${MAX_ATTACHMENT_BYTES} bytes (413 over it), its name up to ${MAX_FILENAME_CHARS} characters, ` +
          `host_attachment_id up to ${MAX_ID_CHARS} characters; any other part is refused. The record is checked ` +
          'before the body is read.',
        consumes: ['multipart/form-data'],
        params: ScopeParams,
        response: {
          201: z.object({ id: z.string(), created: z.boolean(), sha256: z.string(), size: z.number().int() }),
          200: z.object({ id: z.string(), created: z.boolean(), sha256: z.string(), size: z.number().int() }),
          ...errorResponses(400, 404, 413, 415),
        },
      },
    },
    async (req, reply) => {
      if (!req.isMultipart()) {
        throw new AppError(
          'UNSUPPORTED_MEDIA_TYPE',
          'Upload attachments as multipart/form-data with the file in part "file"',
        );
      }
      // The record before a byte is read (the caller's host scope was checked by auth).
      await records.requireRecord(req.params.scope, req.params.hostId);
      const upload = await readUpload(req, records);
      const out = await records.addStagedAttachment(req.params.scope, req.params.hostId, upload);
      return reply.code(out.created ? 201 : 200).send(out);
    },
  );

  const AttachmentSchema = z
    .object({
      id: z.string(),
      origin: z.enum(['host', 'jira']).describe('host: uploaded through this API; jira: added in Jira'),
      filename: z.string(),
      size: z.number().int().nullable(),
      mime_type: z.string().nullable(),
      sha256: z.string().nullable(),
      downloaded: z.boolean().describe('The bytes are here (GET …/attachments/{id}/content)'),
      note: z.string().nullable().describe('Why the bytes are not here, e.g. over the mapping’s attachments.max_bytes'),
      deleted: z.boolean().describe('Deleted in Jira'),
      host_attachment_id: z.string().nullable(),
      jira_attachment_id: z.string().nullable().describe('Null until a host upload reached Jira'),
      created_at: z.string(),
      updated_at: z.string(),
    })
    .meta({ id: 'Attachment' });

  app.get(
    '/api/v1/records/:scope/:hostId/attachments',
    {
      config: READ_OR_HOST,
      schema: {
        tags: ['records'],
        summary:
          'The record’s attachments from both sides (Jira ones downloaded up to the mapping’s cap; deleted ones flagged)',
        params: ScopeParams,
        response: { 200: z.object({ attachments: z.array(AttachmentSchema) }), ...errorResponses(404) },
      },
    },
    async (req) => ({ attachments: await records.listAttachments(req.params.scope, req.params.hostId) }),
  );

  app.get(
    '/api/v1/records/:scope/:hostId/attachments/:attachmentId/content',
    {
      config: READ_OR_HOST,
      schema: {
        tags: ['records'],
        summary: 'Download one attachment’s bytes (404 with the reason when they are not here)',
        params: ScopeParams.extend({ attachmentId: z.string().min(1).max(200) }),
        response: { 200: z.any().describe('The attachment’s bytes'), ...errorResponses(404) },
      },
    },
    async (req, reply) => {
      const { attachment, bytes } = await records.readAttachment(
        req.params.scope,
        req.params.hostId,
        req.params.attachmentId,
      );
      const ascii = attachment.filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
      return reply
        .header('content-type', attachment.mime_type ?? 'application/octet-stream')
        .header(
          'content-disposition',
          `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(attachment.filename)}`,
        )
        .send(bytes);
    },
  );

  app.get(
    '/api/v1/records/:scope/:hostId/log',
    {
      config: READ_OR_HOST,
      schema: {
        tags: ['records'],
        summary: 'The record’s sync timeline: every action, its fields, Jira calls spent and errors',
        params: ScopeParams,
        response: { 200: z.object({ entries: z.array(LogEntrySchema) }), ...errorResponses(404) },
      },
    },
    async (req) => ({ entries: await records.getLog(req.params.scope, req.params.hostId) }),
  );
};

/** Factory form used by src/http/routes/index.ts. */
export function recordsRoutes(opts: RecordsRouteOptions): FastifyPluginAsync {
  return async (app) => {
    await app.register(recordsPlugin, opts);
  };
}
