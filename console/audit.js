// The audit log (admins): who changed what and when, each change as a before/after diff of the
// fields it touched. Secrets arrive masked from the API (••••••) and are shown as such.
import { ago, api, badge, empty, esc, pageHead, when } from './lib.js';

const SECRET_MASK = '••••••';

/** `{a: {b: 1}, c: [1]}` → `{'a.b': '1', c: '[1]'}` (arrays as one value). */
export function flatten(value, prefix = '', out = {}) {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (!keys.length && prefix) out[prefix] = '{}';
    for (const k of keys) flatten(value[k], prefix ? `${prefix}.${k}` : k, out);
  } else if (value !== undefined) {
    out[prefix || '(value)'] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

/** The fields that differ between two audit snapshots: [{path, before, after}] (undefined = absent). */
export function diff(before, after) {
  const a = before == null ? {} : flatten(before);
  const b = after == null ? {} : flatten(after);
  const paths = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return paths.filter((p) => a[p] !== b[p]).map((p) => ({ path: p, before: a[p], after: b[p] }));
}

const value = (v) =>
  v === undefined
    ? '<span class="muted">—</span>'
    : v === SECRET_MASK
      ? '<span class="masked" title="secret, never shown">•••••• <span class="sr-only">(secret)</span></span>'
      : `<span class="mono">${esc(v)}</span>`;

function changeView(e) {
  const rows = diff(e.before, e.after);
  if (!rows.length) return '<span class="muted">no field details</span>';
  const table = `<table class="diff"><thead><tr><th>Field</th><th>Before</th><th>After</th></tr></thead><tbody>${rows
    .map(
      (r) =>
        `<tr data-path="${esc(r.path)}"><td class="mono">${esc(r.path)}</td><td class="before">${value(r.before)}</td><td class="after">${value(r.after)}</td></tr>`,
    )
    .join('')}</tbody></table>`;
  // A creation or deletion lists every field: folded, with a count.
  if (e.before == null || e.after == null) {
    return `<details><summary>${rows.length} field${rows.length === 1 ? '' : 's'} ${e.before == null ? 'set' : 'removed'}</summary>${table}</details>`;
  }
  return table;
}

const KIND = (action) =>
  /\.(created|generated)$/.test(action) ? 'created' : /\.(deleted|revoked)$/.test(action) ? 'failed' : 'updated';

export async function audit(main) {
  const q = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const action = q.get('action') ?? '';
  const { entries } = await api(`/api/v1/audit?limit=300${action ? `&action=${encodeURIComponent(action)}` : ''}`);
  const groups = ['', 'connection.', 'mapping.', 'token.', 'host_webhook.', 'webhook_secret.', 'oauth.'];
  main.innerHTML = `${pageHead('Audit log', 'Every change an admin made, newest first: who, when, what, and the fields before and after. Secrets are never shown.')}
    <div class="card"><form class="toolbar" id="audit-filter"><div><label for="audit-action">Changes to</label>
      <select id="audit-action">${groups.map((g) => `<option value="${g}" ${g === action ? 'selected' : ''}>${g ? g.replace(/[._]$/, '').replace('_', ' ') + 's' : 'everything'}</option>`).join('')}</select></div></form>
    <div class="table-wrap"><table class="audit"><thead><tr><th>When</th><th>Who</th><th>Action</th><th>Target</th><th>Change</th></tr></thead><tbody>
    ${entries
      .map(
        (e) =>
          `<tr data-action="${esc(e.action)}" data-target="${esc(e.target ?? '')}"><td class="muted" title="${esc(when(e.at))}">${esc(ago(e.at))}<div class="small">${esc(when(e.at))}</div></td><td>${esc(e.actor)}</td><td>${badge(KIND(e.action), e.action)}</td><td class="mono">${esc(e.target ?? '')}</td><td>${changeView(e)}</td></tr>`,
      )
      .join(
        '',
      )}</tbody></table></div>${entries.length ? '' : empty('Nothing yet', 'Changes to connections, mappings, tokens and webhooks show here.')}</div>`;
  document.getElementById('audit-action').addEventListener('change', (e) => {
    location.hash = e.target.value ? `#/audit?action=${encodeURIComponent(e.target.value)}` : '#/audit';
  });
}
