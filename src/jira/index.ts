/** The Jira client adapter: typed client, pacing, error mapping, idempotent creation, catalogue, check. */
export {
  createJiraClient,
  BULK_CREATE_LIMIT,
  type JiraClient,
  type JiraClientOptions,
  type SearchOptions,
} from './client.js';
export type { JiraConnection, JiraAuth, CallEvent, RequestSpec } from './transport.js';
export {
  Pacer,
  pacerFor,
  dropPacer,
  parseRetryAfter,
  parseReset,
  type PacerOptions,
  type PacerStats,
} from './pacer.js';
export { errorFromResponse, errorFromTransport, jiraErrorText, credentialHint } from './errors.js';
export {
  createOnce,
  findByToken,
  withToken,
  tokenLabel,
  tokenProperty,
  propertyToken,
  tokenSearchJql,
  TOKEN_PROPERTY,
  TOKEN_LABEL_PREFIX,
  type CreateOnceInput,
  type CreateOnceResult,
  type TokenMarker,
} from './idempotent-create.js';
export { fetchCatalog, type JiraCatalog } from './catalog.js';
export { checkConnection, classifyCheckError } from './check.js';
export type * from './types.js';
