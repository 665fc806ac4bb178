import type { FastifyPluginAsync } from 'fastify';
import { jobsRoutes, type JobsApi } from './jobs.js';

export { systemRoutes, type Readiness, type ReadinessCheck, type SystemRouteDeps } from './system.js';
export { jobsRoutes, jobView, JobSchema, type JobsApi, type JobView } from './jobs.js';

/**
 * Everything the API route groups need. Grows with the groups: add the dependency here, pass it
 * from src/app/service.ts.
 */
export interface ApiDeps {
  queue: JobsApi;
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
    // recordsRoutes({ ... }),   — issue 4: host-facing record API
    // mappingsRoutes({ ... }),  — issue 4: mappings
  ];
}
