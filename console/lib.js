// Shared helpers of the console: the API client, escaping, small view helpers.

export const TOKEN_KEY = 'jira-bridge-token';

/** An error answered by the API: its HTTP status, error code, message and details. */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
  /** details.issues as [{path, message}], paths normalised to dotted form without "body.". */
  get issues() {
    const list = Array.isArray(this.details?.issues) ? this.details.issues : [];
    return list.map((i) => ({ path: normalisePath(i.path), message: String(i.message ?? '') }));
  }
}

/** `body.fields[2].jira` → `fields.2.jira`. */
export function normalisePath(p) {
  return String(p ?? '')
    .replace(/\[(\d+)\]/g, '.$1')
    .replace(/^body\.?/, '');
}

/**
 * Calls the API with the session's token. A 401 from the API itself (not Jira: a rejected Jira
 * credential comes back as 502 JIRA_UNAUTHORIZED) ends the session and goes to sign-in.
 */
export async function api(path, init = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const res = await fetch(path, {
    ...init,
    headers: {
      ...(init.body ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...init.headers,
    },
  });
  const body = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.setItem(
      'jira-bridge-signin-reason',
      body?.error?.message ?? 'Your session ended: the API token was not accepted.',
    );
    if (!location.hash.startsWith('#/signin')) location.hash = '#/signin';
    throw new ApiError(401, 'UNAUTHORIZED', 'Sign in with an API token', body?.error?.details);
  }
  if (!res.ok) {
    throw new ApiError(
      res.status,
      body?.error?.code ?? `HTTP_${res.status}`,
      body?.error?.message ?? `HTTP ${res.status}`,
      body?.error?.details,
    );
  }
  return body;
}

export const post = (path, body) => api(path, { method: 'POST', body: JSON.stringify(body ?? {}) });
export const put = (path, body) => api(path, { method: 'PUT', body: JSON.stringify(body ?? {}) });

export const esc = (s) =>
  String(s ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );

/** Escaped text with its http(s) URLs as links (opening in a new tab). */
export const linkify = (s) =>
  esc(s).replace(/https?:\/\/[^\s<&]+[^\s<&.,;)]/g, (u) => `<a href="${u}" target="_blank" rel="noopener">${u}</a>`);

const BADGE_LABELS = {
  to_jira: 'to Jira',
  from_jira: 'from Jira',
  outbound: 'to Jira',
  inbound: 'from Jira',
  both: 'both ways',
  no_change: 'no change',
};
export const badge = (s, label) =>
  `<span class="badge ${esc(String(s).replace(/[^a-z_]/gi, '_'))}">${esc(label ?? BADGE_LABELS[s] ?? s)}</span>`;

export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');

/** "3 min ago" style (falls back to the date after a day). */
export function ago(iso) {
  if (!iso) return '';
  const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return `${Math.max(0, s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

/** `<option>`s from [value, label] pairs (or plain values). */
export function options(list, selected, { placeholder } = {}) {
  const items = list.map((o) => (Array.isArray(o) ? o : [o, o]));
  return (
    (placeholder !== undefined ? `<option value="">${esc(placeholder)}</option>` : '') +
    items
      .map(
        ([v, l]) =>
          `<option value="${esc(v)}"${String(v) === String(selected ?? '') ? ' selected' : ''}>${esc(l)}</option>`,
      )
      .join('')
  );
}

/** A page header: title, subtitle, optional actions on the right. */
export const pageHead = (title, sub, actions = '') =>
  `<div class="page-head"><div><h1>${title}</h1>${sub ? `<p class="sub">${sub}</p>` : ''}</div>${actions ? `<div class="actions">${actions}</div>` : ''}</div>`;

/** An empty state inside a card. */
export const empty = (title, text, action = '') =>
  `<div class="empty"><p class="empty-title">${esc(title)}</p><p class="muted">${text}</p>${action}</div>`;

/** Copies text and says so on the button for a moment. */
export async function copy(button, text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard permission (plain http, headless): select-and-copy fallback.
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.append(ta);
    ta.select();
    document.execCommand?.('copy');
    ta.remove();
  }
  const was = button.textContent;
  button.textContent = 'Copied ✓';
  button.classList.add('copied');
  setTimeout(() => {
    button.textContent = was;
    button.classList.remove('copied');
  }, 1500);
}

/** What to regenerate when Jira rejects a connection's credential. */
export function credentialAdvice(authType, flavour) {
  if (authType === 'pat')
    return 'Create a new personal access token in Jira (your profile → Personal Access Tokens) and paste it into the connection.';
  if (authType === 'oauth') return 'Connect with Atlassian again: the OAuth grant was revoked or expired.';
  return flavour === 'datacenter'
    ? 'Check the user name and password (or token) of the Jira account and update the connection.'
    : 'Create a new API token at id.atlassian.com → Security → API tokens for the connection’s account and paste it into the connection.';
}
