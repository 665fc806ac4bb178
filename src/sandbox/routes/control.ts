import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, notFound } from '../errors.js';
import type { SandboxKnobs } from '../knobs.js';
import type { SandboxUser } from '../model.js';
import { parseBody } from '../operations.js';
import { seedState } from '../seed.js';
import { applySite, compileSite, SiteError } from '../site.js';
import type { WebhookFaults } from '../webhooks/types.js';
import { baseUrlOf, bodyObject, loadIssue, params, query, type SandboxDeps } from './context.js';

const BASE = '/_sandbox';

/**
 * The sandbox control API (not part of Jira): knobs, call counters, reset, webhook faults and
 * deliveries, and "act as a Jira user" operations (transition, comment, edit, move, delete) so tests
 * and demos can drive the Jira side. Bodies use wiki markup for text. No authentication: bind the
 * sandbox to localhost.
 */
export function registerControlRoutes(app: FastifyInstance, deps: SandboxDeps): void {
  const { state, knobs, calls, webhooks, ops } = deps;

  const wrapRange = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof RangeError || err instanceof TypeError) throw badRequest(err.message);
      throw err;
    }
  };

  /** The user to act as: body.as (name, email or accountId), default the admin. */
  const actingUser = (req: FastifyRequest): SandboxUser => {
    const as = bodyObject(req).as;
    const ref = typeof as === 'string' ? as : state.adminAccountId;
    const user =
      state.findUser({ accountId: ref }) ?? state.findUser({ name: ref }) ?? state.findUser({ emailAddress: ref });
    if (!user) throw notFound(`No sandbox user '${ref}'.`);
    return user;
  };

  app.get(`${BASE}/info`, (req) => ({
    baseUrl: baseUrlOf(req),
    flavour: deps.flavour,
    users: [...state.users.values()].map((u) => ({
      accountId: u.accountId,
      name: u.name,
      displayName: u.displayName,
      email: u.email,
      admin: u.admin,
    })),
  }));

  app.get(`${BASE}/knobs`, () => knobs.get());
  app.post(`${BASE}/knobs`, (req) => wrapRange(() => knobs.set(bodyObject(req) as Partial<SandboxKnobs>)));

  app.get(`${BASE}/calls`, (req) => {
    const q = query(req);
    return {
      total: calls.count(),
      matching: calls.count({
        ...(typeof q.method === 'string' ? { method: q.method } : {}),
        ...(typeof q.route === 'string' ? { route: q.route } : {}),
        ...(typeof q.status === 'string' ? { status: Number(q.status) } : {}),
      }),
      calls: calls.snapshot(),
    };
  });
  app.delete(`${BASE}/calls`, (_req, reply) => {
    calls.reset();
    return reply.status(204).send();
  });

  app.post(`${BASE}/reset`, async (req, reply) => {
    const seed = bodyObject(req).seed === 'empty' ? 'empty' : 'default';
    await webhooks.drain();
    for (const r of webhooks.list()) webhooks.remove(r.id);
    webhooks.clearDeliveries();
    webhooks.setFaults({});
    state.clear();
    // Back to the start-up site: the declared one when there is one, else the seed.
    if (deps.site) applySite(state, deps.site);
    else seedState(state, seed);
    knobs.reset();
    calls.reset();
    deps.oauth?.reset();
    return reply.status(204).send();
  });

  // Declares the site (the sandbox file's `site` section, as JSON): replaces projects, workflows,
  // fields, users… and drops every issue; webhooks, knobs and calls stay. Resets return to it.
  app.post(`${BASE}/site`, async (req, reply) => {
    let site;
    try {
      site = compileSite(req.body, 'site');
    } catch (err) {
      if (!(err instanceof SiteError)) throw err;
      throw badRequest(
        ['The site declaration is invalid.'],
        Object.fromEntries(err.issues.map((i) => [i.path, i.message])),
      );
    }
    await webhooks.drain();
    state.clear();
    applySite(state, site);
    deps.site = site;
    return reply.status(200).send({
      projects: site.projects.map((p) => p.key),
      users: site.users.map((u) => ({ name: u.name, accountId: u.accountId, admin: u.admin })),
    });
  });

  app.post(`${BASE}/webhooks/faults`, (req) => {
    wrapRange(() => webhooks.setFaults(bodyObject(req) as WebhookFaults));
    return { ok: true };
  });
  app.get(`${BASE}/webhooks/deliveries`, () => webhooks.deliveries());
  app.post(`${BASE}/webhooks/drain`, async () => {
    await webhooks.drain();
    return { ok: true };
  });

  // --- act as a Jira user -----------------------------------------------------------------------
  const issueOf = (req: FastifyRequest) => loadIssue(deps, params(req).issueIdOrKey ?? '');

  app.post(`${BASE}/issues/:issueIdOrKey/transition`, (req, reply) => {
    const user = actingUser(req);
    const issue = issueOf(req);
    const b = bodyObject(req);
    let id =
      b.transitionId ??
      (typeof b.transition === 'object' && b.transition !== null ? (b.transition as { id?: unknown }).id : undefined);
    if (id === undefined && typeof b.to === 'string') {
      const to = (b.to as string).toLowerCase();
      const t = state
        .workflowFor(issue)
        .transitions.find(
          (x) =>
            (x.from === 'global' || x.from.includes(issue.statusId)) && state.status(x.to).name.toLowerCase() === to,
        );
      if (!t)
        throw badRequest(`No transition from '${state.status(issue.statusId).name}' leads to '${b.to as string}'.`);
      id = t.id;
    }
    ops.transitionIssue(
      issue,
      {
        transition: { id: String(id ?? '') },
        ...(typeof b.fields === 'object' && b.fields !== null ? { fields: b.fields as Record<string, unknown> } : {}),
      },
      user.accountId,
      'wiki',
    );
    return reply.status(204).send();
  });

  app.post(`${BASE}/issues/:issueIdOrKey/comment`, (req, reply) => {
    const user = actingUser(req);
    const issue = issueOf(req);
    const b = bodyObject(req);
    const body = parseBody(b.body, 'wiki');
    if (!body) throw badRequest('body must be a non-empty wiki-markup string.');
    const c = ops.addComment(issue, body, user.accountId, { jsdPublic: b.public !== false });
    return reply.status(201).send({ id: c.id });
  });

  app.post(`${BASE}/issues/:issueIdOrKey/edit`, (req, reply) => {
    const user = actingUser(req);
    const b = bodyObject(req);
    ops.editIssue(
      issueOf(req),
      {
        ...(b.fields !== undefined ? { fields: b.fields as Record<string, unknown> } : {}),
        ...(b.update !== undefined ? { update: b.update as Record<string, unknown> } : {}),
      },
      user.accountId,
      'wiki',
    );
    return reply.status(204).send();
  });

  app.post(`${BASE}/issues/:issueIdOrKey/move`, (req) => {
    const user = actingUser(req);
    const issue = issueOf(req);
    const b = bodyObject(req);
    if (typeof b.project !== 'string') throw badRequest('project (key or id) is required.');
    ops.moveIssue(issue, b.project, typeof b.issueType === 'string' ? b.issueType : undefined, user.accountId);
    return { id: issue.id, key: issue.key };
  });

  app.post(`${BASE}/issues/:issueIdOrKey/delete`, (req, reply) => {
    const user = actingUser(req);
    ops.deleteIssue(issueOf(req), bodyObject(req).deleteSubtasks === true, user.accountId);
    return reply.status(204).send();
  });
}
