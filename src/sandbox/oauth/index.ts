export {
  SandboxOAuthServer,
  DEFAULT_OAUTH_SETTINGS,
  DEFAULT_SCOPES,
  SEEDED_CLIENT_ID,
  SEEDED_CLIENT_SECRET,
  type OAuthApp,
  type OAuthCounters,
  type OAuthSettings,
  type TokenResult,
} from './server.js';
export {
  AUDIENCE,
  authenticateExJira,
  exJiraCloudId,
  isOAuthPath,
  registerOAuthRoutes,
  rewriteExJiraUrl,
} from './routes.js';
