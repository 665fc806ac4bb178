/** The sandbox's webhook delivery: registrations, payload shapes, signed retried deliveries. */
export { APP_WEBHOOK_TTL_MS, WebhookDispatcher } from './dispatcher.js';
export { buildWebhookBody, substituteUrl, webhookIssue } from './payload.js';
export * from './types.js';
