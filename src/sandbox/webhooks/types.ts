/**
 * Contracts of the sandbox's webhook dispatcher: registrations, the events the sandbox state
 * emits, fault knobs and the record of every delivery attempt.
 */
import type { Logger } from '../../log/logger.js';
import type { JqlIssue } from '../jql/types.js';

export type WebhookFlavour = 'cloud' | 'datacenter';

export type SandboxWebhookEventName =
  | 'jira:issue_created'
  | 'jira:issue_updated'
  | 'jira:issue_deleted'
  | 'comment_created'
  | 'comment_updated'
  | 'comment_deleted'
  | 'attachment_created'
  | 'attachment_deleted'
  | 'issuelink_created'
  | 'issuelink_deleted';

export interface SandboxWebhookEvent {
  webhookEvent: SandboxWebhookEventName;
  /** e.g. issue_created, issue_updated, issue_generic, issue_assigned, issue_commented … */
  issueEventTypeName?: string;
  timestamp: number;
  /** The acting user, rendered for the flavour (Cloud accountId / DC name+key). */
  user: object;
  /** The issue rendered for the flavour, same shape as REST v2 GET issue (wiki markup, /rest/api/2 self links). */
  issue: object;
  changelog?: { id: string; items: object[] };
  /** issuelink_created|deleted: the link as Jira's webhook renders it (numeric ids). */
  issueLink?: object;
  comment?: object;
  /** Attachment events: the attachment (Jira sends no issue with them). */
  attachment?: object;
  /** Flat view for JQL filters. */
  matchIssue: JqlIssue;
  projectKey: string;
}

export interface WebhookInput {
  name?: string;
  url: string;
  events: string[];
  jqlFilter?: string;
  secret?: string;
  excludeBody?: boolean;
  enabled?: boolean;
  /** Epoch ms; dynamic (app) webhooks expire, admin ones do not. */
  expiresAt?: number;
  /** The OAuth/Connect app that registered it, for app webhooks. */
  owner?: string;
  description?: string;
}

export interface WebhookRegistration {
  id: number;
  name: string;
  url: string;
  events: string[];
  jqlFilter?: string;
  /** Whether a secret is set; the secret itself is never exposed. */
  hasSecret: boolean;
  excludeBody: boolean;
  enabled: boolean;
  expiresAt?: number;
  owner?: string;
  description?: string;
  createdAt: number;
  updatedAt: number;
}

export interface WebhookFaults {
  /** Probability (0..1) that a delivery is silently never sent. */
  dropRate?: number;
  /** Probability (0..1) that a delivery is sent twice with the same identifier. */
  duplicateRate?: number;
  /** Random extra delay per delivery, [min, max] ms. */
  delayMs?: [number, number];
  /** Hold deliveries and release them in shuffled order (on drain or the next tick batch). */
  reorder?: boolean;
  /** Make the first N attempts of every delivery fail as if the receiver were unreachable. */
  failFirstAttempts?: number;
}

export interface DeliveryRecord {
  webhookId: number;
  url: string;
  identifier: string;
  /** 0 for the first attempt, n for the n-th retry. */
  attempt: number;
  /** HTTP status, or 0 when the connection failed / timed out / was faulted. */
  status: number;
  error?: string;
  body: string;
  headers: Record<string, string>;
  event: SandboxWebhookEventName;
  at: number;
  /** Set when a fault knob shaped this delivery: dropped (never sent) or a duplicate send. */
  fault?: 'dropped' | 'duplicate' | 'failed-attempt';
}

export interface WebhookDispatcherOptions {
  flavour: WebhookFlavour;
  /** The site's base URL (used for nothing in bodies today; kept for self links H4 renders). */
  baseUrl?: () => string;
  logger?: Logger;
  /** Seed for the fault knobs' random choices, so drop/duplicate/reorder are reproducible. */
  seed?: number;
  /** Retries after a failed attempt: Cloud defaults to 5, Data Center to 0 (none documented). */
  maxRetries?: number;
  /** Backoff base: retry n waits baseDelayMs * 2^(n-1) (default 250 ms). */
  retryBaseDelayMs?: number;
  /** Per-attempt timeout (default 10 s). */
  timeoutMs?: number;
  /** How many delivery records deliveries() keeps, oldest dropped first (default 10 000). */
  maxRecords?: number;
  /** Clock, for expiry and JQL relative dates (default Date.now). */
  now?: () => number;
}
