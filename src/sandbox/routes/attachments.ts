import type { FastifyInstance, FastifyReply } from 'fastify';
import { forbidden, JiraError, notFound } from '../errors.js';
import type { SandboxAttachment } from '../model.js';
import { renderAttachment } from '../render/issue.js';
import { actor, api, baseUrlOf, loadIssue, params, query, renderCtx, route, type SandboxDeps } from './context.js';

/**
 * Attachments: multipart upload (XSRF header required), metadata, content, delete.
 * Content as Jira serves it: Cloud's `/rest/api/{2,3}/attachment/content/{id}` answers 303 to the
 * download URL unless `redirect=false` (then the bytes, one call); Data Center's attachments carry
 * `/secure/attachment/{id}/{filename}` as their `content` URL, served here on both flavours.
 */
export function registerAttachmentRoutes(app: FastifyInstance, deps: SandboxDeps): void {
  const { state } = deps;

  const find = (id: string): { attachment: SandboxAttachment; issueId: string } => {
    for (const issue of state.issues.values()) {
      const attachment = issue.attachments.find((a) => a.id === id);
      if (attachment) return { attachment, issueId: issue.id };
    }
    throw notFound(`The attachment with id '${id}' does not exist.`);
  };

  api(app, deps, 'POST', '/issue/:issueIdOrKey/attachments', async (req, reply) => {
    const token = req.headers['x-atlassian-token'];
    if (token !== 'no-check' && token !== 'nocheck') throw forbidden('XSRF check failed');
    const user = actor(req);
    const issue = loadIssue(deps, params(req).issueIdOrKey ?? '');
    if (!req.isMultipart())
      throw new JiraError(415, ['Attachments must be sent as multipart/form-data with a part named "file".']);
    const saved: SandboxAttachment[] = [];
    for await (const part of req.parts()) {
      if (part.type !== 'file') continue;
      if (part.fieldname !== 'file') {
        await part.toBuffer();
        continue;
      }
      const content = await part.toBuffer();
      if (part.file.truncated) throw new JiraError(413, ['The attachment is larger than the maximum allowed size.']);
      saved.push(
        deps.ops.addAttachment(
          issue,
          { filename: part.filename, mimeType: part.mimetype || 'application/octet-stream', content },
          user.accountId,
        ),
      );
    }
    const ctx = renderCtx(deps, req);
    return reply.status(200).send(saved.map((a) => renderAttachment(ctx, a)));
  });

  api(app, deps, 'GET', '/attachment/:id', (req) =>
    renderAttachment(renderCtx(deps, req), find(params(req).id ?? '').attachment, true),
  );

  const sendContent = (reply: FastifyReply, attachment: SandboxAttachment): FastifyReply =>
    reply
      .header('Content-Type', attachment.mimeType)
      .header('Content-Length', String(attachment.content.length))
      .header('Content-Disposition', `attachment; filename="${attachment.filename.replace(/"/g, '')}"`)
      .send(attachment.content);

  api(app, deps, 'GET', '/attachment/content/:id', (req, reply) => {
    const { attachment } = find(params(req).id ?? '');
    const redirect = String(query(req).redirect ?? 'true') !== 'false';
    if (deps.flavour === 'cloud' && redirect) {
      return reply
        .status(303)
        .header(
          'Location',
          `${baseUrlOf(req)}/secure/attachment/${attachment.id}/${encodeURIComponent(attachment.filename)}`,
        )
        .send();
    }
    return sendContent(reply, attachment);
  });

  route(app, deps, 'GET', '/secure/attachment/:id/:filename', (req, reply) => {
    const { attachment } = find(params(req).id ?? '');
    return sendContent(reply, attachment);
  });

  api(app, deps, 'DELETE', '/attachment/:id', (req, reply) => {
    const user = actor(req);
    const { attachment, issueId } = find(params(req).id ?? '');
    const issue = state.issues.get(issueId);
    if (issue) deps.ops.removeAttachment(issue, attachment, user.accountId);
    return reply.status(204).send();
  });
}
