// API tokens (admins): create one with a role (and, for host tokens, scopes) — shown once with a
// copy button —, list them with when each was last used, revoke (effective at once).
import { ApiError, ago, api, badge, copy, empty, esc, pageHead, post, when } from './lib.js';

const ROLE_HELP = {
  admin: 'everything: connections, mappings, tokens, secrets, audit',
  operator: 'read everything, retry jobs, re-sync, backfill',
  viewer: 'read-only',
  host: 'the record API and the change feed (the platform’s integration)',
};

const state = (t) =>
  t.revoked_at
    ? badge('failed', 'revoked')
    : t.expires_at && new Date(t.expires_at).getTime() <= Date.now()
      ? badge('failed', 'expired')
      : badge('synced', 'active');

export async function tokens(main, me) {
  const { tokens: list } = await api('/api/v1/tokens');
  const active = list.filter((t) => !t.revoked_at);
  const shown = [...active, ...list.filter((t) => t.revoked_at)];
  main.innerHTML = `${pageHead('API tokens', 'Who may call the API and sign in here. A token is shown once, when it is created; jira-bridge keeps only its hash.')}
    <form id="token-form" class="card form" novalidate>
      <h2>New token</h2>
      <div class="error-summary" id="form-errors" role="alert" hidden></div>
      <div class="form-grid">
        <div class="field" data-path="name"><label for="t-name">Name</label>
          <input id="t-name" required maxlength="100" placeholder="StackFlow integration" aria-describedby="t-name-hint" />
          <p class="hint" id="t-name-hint">Who or what uses it; shown in the audit log.</p>
          <p class="field-error" data-error-for="name" role="alert" hidden></p></div>
        <div class="field" data-path="role"><label for="t-role">Role</label>
          <select id="t-role">${Object.keys(ROLE_HELP)
            .map((r) => `<option value="${r}" ${r === 'viewer' ? 'selected' : ''}>${r}</option>`)
            .join('')}</select>
          <p class="hint" id="t-role-hint">${esc(ROLE_HELP.viewer)}</p>
          <p class="field-error" data-error-for="role" role="alert" hidden></p></div>
        <div class="field" data-path="scopes" id="scopes-field" hidden><label for="t-scopes">Scopes</label>
          <input id="t-scopes" placeholder="stackflow, astra-web" aria-describedby="t-scopes-hint" />
          <p class="hint" id="t-scopes-hint">Comma-separated record scopes it may use; empty: all.</p>
          <p class="field-error" data-error-for="scopes" role="alert" hidden></p></div>
        <div class="field" data-path="expires_in_days"><label for="t-expires">Expires after (days)</label>
          <input id="t-expires" type="number" min="1" max="3650" placeholder="never" />
          <p class="field-error" data-error-for="expires_in_days" role="alert" hidden></p></div>
      </div>
      <div class="row"><button type="submit" id="create-token">Create token</button></div>
      <div id="new-token" aria-live="polite"></div>
    </form>
    <div class="card"><h2>Tokens <span class="muted small">${active.length} active</span></h2>
    <div class="table-wrap"><table class="tokens"><thead><tr><th>Name</th><th>Role</th><th>Scopes</th><th>Created</th><th>Last used</th><th>Expires</th><th>State</th><th><span class="sr-only">Actions</span></th></tr></thead><tbody>
    ${shown
      .map(
        (t) => `<tr data-token="${esc(t.id)}" data-name="${esc(t.name)}" class="${t.revoked_at ? 'revoked' : ''}">
        <td><b>${esc(t.name)}</b>${me?.id === t.id ? ' <span class="badge">you</span>' : ''}</td><td>${badge('status', t.role)}</td>
        <td>${t.scopes.length ? t.scopes.map((s) => `<span class="mono">${esc(s)}</span>`).join(', ') : '<span class="muted">all</span>'}</td>
        <td class="muted" title="${esc(when(t.created_at))}">${esc(ago(t.created_at))}</td>
        <td class="muted" title="${esc(when(t.last_used_at))}">${t.last_used_at ? esc(ago(t.last_used_at)) : 'never'}</td>
        <td class="muted">${t.expires_at ? esc(when(t.expires_at)) : 'never'}</td><td class="state">${state(t)}</td>
        <td>${t.revoked_at ? '' : `<button class="ghost-danger revoke" data-id="${esc(t.id)}" aria-label="Revoke ${esc(t.name)}">Revoke</button>`}</td></tr>`,
      )
      .join(
        '',
      )}</tbody></table></div>${list.length ? '' : empty('No token yet', 'The API is open until the first token exists: create an admin token first.')}</div>`;

  const $ = (s) => main.querySelector(s);
  const role = $('#t-role');
  role.addEventListener('change', () => {
    $('#t-role-hint').textContent = ROLE_HELP[role.value];
    $('#scopes-field').hidden = role.value !== 'host';
  });
  const form = $('#token-form');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const el of form.querySelectorAll('.field-error')) el.hidden = true;
    for (const f of form.querySelectorAll('.field.invalid')) f.classList.remove('invalid');
    $('#form-errors').hidden = true;
    const scopes = $('#t-scopes')
      .value.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const days = $('#t-expires').value.trim();
    const body = {
      name: $('#t-name').value.trim(),
      role: role.value,
      ...(role.value === 'host' && scopes.length ? { scopes } : {}),
      ...(days ? { expires_in_days: Number(days) } : {}),
    };
    try {
      const r = await post('/api/v1/tokens', body);
      // The list gets the new row; the token itself is shown in this box only, once.
      await tokens(main, me);
      const out = main.querySelector('#new-token');
      out.innerHTML = `<div class="result ok-box" role="status"><p class="result-title">✓ Token “${esc(r.info.name)}” created (${esc(r.info.role)})</p>
        <p><b>Copy it now: it is not shown again.</b></p>
        <div class="copy-row"><code class="new-token">${esc(r.token)}</code><button type="button" class="secondary copy-token" aria-label="Copy the new token">Copy</button></div>
        <p class="hint">Send it as <span class="mono">Authorization: Bearer …</span>, or sign in to this console with it.</p></div>`;
      out.querySelector('.copy-token').addEventListener('click', (ev) => copy(ev.currentTarget, r.token));
    } catch (err) {
      const issues = err instanceof ApiError && err.issues.length ? err.issues : [{ path: '', message: err.message }];
      for (const i of issues) {
        const slot = form.querySelector(`[data-error-for="${window.CSS.escape(i.path)}"]`);
        if (slot) {
          slot.textContent = i.message;
          slot.hidden = false;
          slot.closest('.field').classList.add('invalid');
        }
      }
      const box = $('#form-errors');
      box.innerHTML = `<b>Fix this to continue:</b><ul>${issues.map((i) => `<li>${i.path ? `<span class="mono">${esc(i.path)}</span>: ` : ''}${esc(i.message)}</li>`).join('')}</ul>`;
      box.hidden = false;
    }
  });
  for (const b of main.querySelectorAll('button.revoke')) {
    b.addEventListener('click', async () => {
      const name = b.closest('tr').dataset.name;
      const self = me?.id === b.dataset.id;
      const ok = window.confirm(
        self
          ? `Revoke “${name}”, the token you are signed in with? You will be signed out.`
          : `Revoke “${name}”? Whatever uses it is refused from now on.`,
      );
      if (!ok) return;
      await api(`/api/v1/tokens/${encodeURIComponent(b.dataset.id)}`, { method: 'DELETE' });
      await tokens(main, me);
      main.querySelector('#token-msg')?.remove();
      main
        .querySelector('.page-head')
        .insertAdjacentHTML('afterend', `<p id="token-msg" class="ok" role="status">✓ “${esc(name)}” revoked.</p>`);
    });
  }
}
