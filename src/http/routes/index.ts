import type { FastifyPluginAsync } from 'fastify';
import type { Engine } from '../../engine/index.js';
import { applyRoutes } from './apply.js';
import { backfillRoutes } from './backfill.js';
import { changesRoutes, type ChangesRouteOptions } from './changes.js';
import { mappingsRoutes, type MappingsApi } from './mappings.js';
import { accessRoutes, type TokensApi } from './access.js';
import { connectionsRoutes, type ConnectionsApi } from './connections.js';
import { consoleRoutes } from './console.js';
import type { Store } from '../../store/index.js';
import { jobsRoutes, type JobsApi } from './jobs.js';
import { oauthRoutes, type OAuthRouteOptions } from './oauth.js';
import { recordsRoutes } from './records.js';
import { planRoutes } from './plan.js';
import { syncRoutes } from './sync.js';
import { lifecycleRoutes } from './lifecycle.js';
import { statsRoutes, type StatsApi } from './stats.js';
import { previewRoutes, type PreviewApi } from './preview.js';
import { webhookRoutes, type WebhookRouteOptions } from './webhooks.js';
import { hostWebhooksRoutes, type HostWebhooksApi } from './host-webhooks.js';

export { systemRoutes, type Readiness, type ReadinessCheck, type SystemRouteDeps } from './system.js';
export { jobsRoutes, jobView, JobSchema, type JobsApi, type JobView } from './jobs.js';

/**
 * Everything the API route groups need. Grows with the groups: add the dependency here, pass it
 * from src/app/service.ts.
 */
export interface ApiDeps {
  queue: JobsApi;
  /** The sync engine (records, manual sync, backfill); without it those groups are not served. */
  engine?: Engine;
  /** Jira webhook intake and the delivery log. */
  webhooks?: WebhookRouteOptions;
  /** The change feed and the host webhook delivery log. */
  changes?: ChangesRouteOptions;
  /** Mappings admin (validated against Jira on save). */
  mappings?: MappingsApi;
  /** API tokens and the audit log. */
  access?: { tokens: TokensApi; store: Store };
  /** Connections and their health. */
  connections?: ConnectionsApi;
  /** The web console's static files (a directory). */
  consoleRoot?: string;
  /** OAuth 2.0 (3LO) connect flow: POST /api/v1/connections/:id/oauth/start and GET /oauth/callback. */
  oauth?: OAuthRouteOptions;
  /** The console dashboard's time series (GET /api/v1/stats). */
  stats?: StatsApi;
  /** The mapping editor's JQL preview (POST /api/v1/mappings/preview). */
  preview?: PreviewApi;
  /** Host webhook subscriptions through the admin API (/api/v1/host-webhooks). */
  hostWebhooks?: HostWebhooksApi;
}

/**
 * The API route groups, one file per group under src/http/routes/, each a factory taking its
 * dependencies and returning a Fastify plugin. To add a group (records, mappings, sync,
 * connections, tokens, …):
 *   1. create src/http/routes/<group>.ts exporting `<group>Routes(deps): FastifyPluginAsync`
 *      with zod schemas (z.strictObject for inputs; reuse errorResponses() from ../schemas.js);
 *   2. add it to the list below (and its tag to the OpenAPI tags in ../server.ts).
 * Schemas feed validation, serialization and /openapi.json at once.
 */
export function apiRoutes(deps: ApiDeps): FastifyPluginAsync[] {
  return [
    jobsRoutes({ queue: deps.queue }),
    ...(deps.engine
      ? [
          recordsRoutes({ engine: deps.engine }),
          planRoutes({ engine: deps.engine }),
          syncRoutes({ engine: deps.engine }),
          backfillRoutes({ engine: deps.engine }),
          applyRoutes({ engine: deps.engine }),
          lifecycleRoutes({ engine: deps.engine }),
        ]
      : []),
    ...(deps.webhooks ? [webhookRoutes(deps.webhooks)] : []),
    ...(deps.changes ? [changesRoutes(deps.changes)] : []),
    ...(deps.hostWebhooks ? [hostWebhooksRoutes({ hostWebhooks: deps.hostWebhooks })] : []),
    ...(deps.mappings ? [mappingsRoutes({ mappings: deps.mappings })] : []),
    ...(deps.access ? [accessRoutes(deps.access)] : []),
    ...(deps.connections ? [connectionsRoutes({ connections: deps.connections })] : []),
    ...(deps.stats ? [statsRoutes({ stats: deps.stats })] : []),
    ...(deps.preview ? [previewRoutes({ preview: deps.preview })] : []),
    ...(deps.oauth ? [oauthRoutes(deps.oauth)] : []),
    ...(deps.consoleRoot ? [consoleRoutes({ root: deps.consoleRoot })] : []),
  ];
}
