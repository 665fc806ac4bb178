export {
  buildServer,
  requestIdFor,
  redactUrl,
  DEFAULT_BODY_LIMIT,
  type ServerDeps,
  type Readiness,
  type ReadinessCheck,
} from './server.js';
export { toAppError, errorBody, formatPath, type ErrorBody, type FieldIssue } from './errors.js';
export { ErrorSchema, errorResponses } from './schemas.js';
export { apiRoutes, type ApiDeps } from './routes/index.js';
