/**
 * Jira's error responses: `{"errorMessages": [...], "errors": {field: message}}` with the status
 * Jira uses. Route handlers throw JiraError; the app's error handler renders it.
 */
export class JiraError extends Error {
  readonly status: number;
  readonly errorMessages: string[];
  readonly errors: Record<string, string>;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    errorMessages: string[] = [],
    errors: Record<string, string> = {},
    headers: Record<string, string> = {},
  ) {
    super(errorMessages[0] ?? Object.values(errors)[0] ?? `Jira error ${status}`);
    this.name = 'JiraError';
    this.status = status;
    this.errorMessages = errorMessages;
    this.errors = errors;
    this.headers = headers;
  }

  body(): { errorMessages: string[]; errors: Record<string, string> } {
    return { errorMessages: this.errorMessages, errors: this.errors };
  }
}

export const badRequest = (messages: string[] | string, errors: Record<string, string> = {}): JiraError =>
  new JiraError(400, typeof messages === 'string' ? [messages] : messages, errors);

export const fieldErrors = (errors: Record<string, string>): JiraError => new JiraError(400, [], errors);

export const notFound = (message: string): JiraError => new JiraError(404, [message]);

export const issueNotFound = (): JiraError => notFound('Issue does not exist or you do not have permission to see it.');

export const forbidden = (message: string): JiraError => new JiraError(403, [message]);

export const unauthorized = (): JiraError =>
  new JiraError(
    401,
    ['You are not authenticated. Authentication required to perform this operation.'],
    {},
    { 'WWW-Authenticate': 'Basic realm="protected-area"' },
  );
