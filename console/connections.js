// Connections: the list (health, auth, TLS, check) and the create/edit form with "Check connection".
import { pauseBadge, pauseControls, pauseStates, wireLifecycle } from './lifecycle.js';
import { ApiError, api, badge, credentialAdvice, empty, esc, linkify, pageHead, post, put } from './lib.js';

const AUTH_LABEL = { basic: 'Email + API token', pat: 'Personal access token', oauth: 'OAuth 2.0 (3LO)' };
const FLAVOUR_LABEL = { cloud: 'Cloud', datacenter: 'Data Center' };

let oauthStart;
/** Whether the service offers "Connect with Atlassian" (POST /api/v1/connections/:id/oauth/start). */
async function hasOauthStart() {
  oauthStart ??= fetch('/openapi.json')
    .then((r) => (r.ok ? r.json() : { paths: {} }))
    .then((doc) =>
      Object.keys(doc.paths ?? {}).some((p) => /^\/api\/v1\/connections\/\{[^}]+\}\/oauth\/start$/.test(p)),
    )
    .catch(() => false);
  return oauthStart;
}

/** The result of a connection check, as HTML. */
export function checkResult(r) {
  if (r.ok) {
    return `<div class="result ok-box" role="status"><p class="result-title">✓ Connected</p>
      <p>Signed in to Jira as <b class="check-user">${esc(r.user.displayName)}</b>${r.user.accountId || r.user.name ? ` <span class="muted mono">${esc(r.user.accountId ?? r.user.name)}</span>` : ''}</p>
      <p>Reached <b class="check-server">${esc(r.server.baseUrl)}</b> — Jira ${esc(r.server.deploymentType)} ${esc(r.server.version)}</p>
      ${r.warnings?.length ? `<ul class="warnings">${r.warnings.map((w) => `<li>⚠ ${esc(w)}</li>`).join('')}</ul>` : ''}</div>`;
  }
  return `<div class="result err-box" role="alert"><p class="result-title">✗ Could not connect <span class="badge failed check-code">${esc(r.code)}</span></p>
    <p class="check-message">${esc(r.message.replace(`; ${r.hint}`, ''))}</p>
    <p class="check-hint"><b>How to fix:</b> ${linkify(r.hint)}</p></div>`;
}

export async function connections(main) {
  const [{ connections: list }, states] = await Promise.all([api('/api/v1/connections'), pauseStates()]);
  const card = (c) => {
    const h = c.health ?? { healthy: true };
    const auth = c.auth ?? { type: c.auth_type };
    return `<article class="card conn" data-conn="${esc(c.id)}" aria-labelledby="conn-${esc(c.id)}">
      <div class="conn-head">
        <div><h2 id="conn-${esc(c.id)}">${esc(c.name)}</h2><p class="muted"><span class="mono">${esc(c.id)}</span> · <a href="${esc(c.site_url)}" target="_blank" rel="noopener">${esc(c.site_url)}</a></p></div>
        <div>${h.healthy ? badge('synced', 'Healthy') : badge('failed', 'Paused')}</div>
      </div>
      ${h.healthy ? '' : `<p class="error conn-problem">${linkify(h.problem ?? '')} ${/regenerate|reconnect|new token/i.test(h.problem ?? '') ? '' : esc(credentialAdvice(auth.type, c.flavour))}</p>`}
      <dl class="facts">
        <div><dt>Jira</dt><dd>${esc(FLAVOUR_LABEL[c.flavour] ?? c.flavour)}</dd></div>
        <div><dt>Credentials</dt><dd>${esc(auth.username ? 'Username + password' : (AUTH_LABEL[auth.type] ?? auth.type))}${auth.email ? ` · ${esc(auth.email)}` : ''}${auth.username ? ` · ${esc(auth.username)}` : ''}${auth.type === 'oauth' ? ` · ${auth.oauth_connected ? 'connected' : 'not connected yet'}` : ''}</dd></div>
        <div><dt>TLS</dt><dd>${c.tls?.verify === false ? '<span class="warn-text">⚠ not verified</span>' : 'verified'}${c.tls?.custom_ca ? ' · custom CA' : ''}</dd></div>
        <div><dt>Sync</dt><dd class="lifecycle">${pauseBadge(states[`connection:${c.id}`])}</dd></div>
        <div><dt>Defined in</dt><dd>${c.source === 'file' ? 'jira-bridge.yaml' : 'the console / API'}</dd></div>
      </dl>
      <div class="row">
        <button class="secondary check" data-id="${esc(c.id)}">Check connection</button>
        ${c.source === 'file' ? '<span class="muted small">Edit it in jira-bridge.yaml</span>' : `<a class="button secondary" href="#/connection/${encodeURIComponent(c.id)}">Edit</a><button class="ghost-danger delete" data-id="${esc(c.id)}">Delete</button>`}
        <a class="button secondary" href="#/mapping/new?connection=${encodeURIComponent(c.id)}">Map a project</a>
        ${pauseControls('connection', c.id, states[`connection:${c.id}`])}
      </div>
      <div class="check-out" aria-live="polite"></div>
    </article>`;
  };
  const connected = new URLSearchParams(location.hash.split('?')[1] ?? '').get('connected');
  const justConnected = connected ? list.find((c) => c.id === connected) : undefined;
  main.innerHTML = `${pageHead('Jira connections', 'The Jira sites jira-bridge talks to, their credentials and health.', '<a class="button" href="#/connection/new" id="new-connection">New connection</a>')}
    ${justConnected ? `<div class="result ok-box" role="status" id="oauth-connected"><p class="result-title">✓ ${esc(justConnected.name)} is connected with Atlassian.</p><p>Check the connection below, then map a project.</p></div>` : ''}
    ${list.length ? list.map(card).join('') : `<div class="card">${empty('No Jira connection yet', 'Add one: the site URL, Cloud or Data Center, and a credential.', '<a class="button" href="#/connection/new">New connection</a>')}</div>`}`;
  for (const b of main.querySelectorAll('button.check')) {
    b.addEventListener('click', async () => {
      const out = b.closest('.card').querySelector('.check-out');
      b.disabled = true;
      out.innerHTML = '<p class="muted">Checking…</p>';
      try {
        out.innerHTML = checkResult(await post(`/api/v1/connections/${encodeURIComponent(b.dataset.id)}/check`));
      } catch (err) {
        out.innerHTML = `<p class="error" role="alert">${esc(err.message)}</p>`;
      } finally {
        b.disabled = false;
      }
    });
  }
  for (const b of main.querySelectorAll('button.delete')) {
    b.addEventListener('click', async () => {
      if (!window.confirm(`Delete the connection "${b.dataset.id}"?`)) return;
      const path = `/api/v1/connections/${encodeURIComponent(b.dataset.id)}`;
      try {
        try {
          await api(path, { method: 'DELETE' });
        } catch (err) {
          // Records still linked through it: unlink them too, if the admin confirms (Jira is left as it is).
          if (err.status !== 409 || !/still links/.test(err.message)) throw err;
          const ok = window.confirm(
            `${err.message}.\n\nUnlink them and delete the connection? The Jira issues stay as they are; the records stay, unlinked.`,
          );
          if (!ok) return;
          await api(`${path}?unlink=true`, { method: 'DELETE' });
        }
        await connections(main);
      } catch (err) {
        b.closest('.card').querySelector('.check-out').innerHTML =
          `<p class="error" role="alert">${esc(err.message)}</p>`;
      }
    });
  }
  wireLifecycle(
    main,
    () => connections(main),
    (b) => b.closest('.card').querySelector('.check-out'),
  );
}

const fieldErr = (path) => `<p class="field-error" data-error-for="${path}" role="alert" hidden></p>`;

export async function connectionForm(main, id) {
  const editing = id && id !== 'new';
  const existing = editing ? await api(`/api/v1/connections/${encodeURIComponent(id)}`) : null;
  const c = existing ?? {
    id: '',
    name: '',
    site_url: '',
    flavour: 'cloud',
    auth: { type: 'basic', has_secret: false },
    tls: { verify: true, custom_ca: false },
  };
  const oauthOk = await hasOauthStart();
  const kept = (has) => (has ? 'placeholder="•••••••• saved — leave blank to keep"' : '');
  main.innerHTML = `<p class="crumbs"><a href="#/connections">← Connections</a></p>
    ${pageHead(editing ? `Edit ${esc(c.name)}` : 'New Jira connection', 'jira-bridge signs in to Jira with this account: it needs to browse, create and edit issues in the mapped projects.')}
    <form id="conn-form" class="card form" novalidate>
      <div class="error-summary" id="form-errors" role="alert" hidden></div>
      <fieldset><legend>Site</legend>
        <div class="form-grid">
          <div class="field" data-path="id"><label for="f-id">Connection ID</label>
            <input id="f-id" name="id" value="${esc(c.id)}" ${editing ? 'readonly' : ''} required pattern="[A-Za-z0-9][A-Za-z0-9_-]*" placeholder="acme-cloud" aria-describedby="f-id-hint" />
            <p class="hint" id="f-id-hint">Letters, digits, "-" and "_". Used in the webhook URL.</p>${fieldErr('id')}</div>
          <div class="field" data-path="name"><label for="f-name">Display name</label>
            <input id="f-name" name="name" value="${esc(c.name === c.id ? '' : c.name)}" placeholder="Acme Jira" />${fieldErr('name')}</div>
          <div class="field wide" data-path="site_url"><label for="f-site">Site URL</label>
            <input id="f-site" name="site_url" type="url" value="${esc(c.site_url)}" required placeholder="https://your-site.atlassian.net" aria-describedby="f-site-hint" />
            <p class="hint" id="f-site-hint">The address you open Jira at (with the context path on Data Center, e.g. https://jira.example.com/jira).</p>${fieldErr('site_url')}</div>
          <div class="field wide" data-path="flavour"><span class="label" id="flavour-label">Deployment</span>
            <div class="segmented" role="radiogroup" aria-labelledby="flavour-label">
              <label><input type="radio" name="flavour" value="cloud" ${c.flavour === 'cloud' ? 'checked' : ''}/> Jira Cloud</label>
              <label><input type="radio" name="flavour" value="datacenter" ${c.flavour === 'datacenter' ? 'checked' : ''}/> Jira Data Center / Server</label>
            </div>${fieldErr('flavour')}</div>
        </div>
      </fieldset>
      <fieldset><legend>Credentials</legend>
        <div class="field" data-path="auth.type"><span class="label" id="auth-label">Sign in with</span>
          <div class="segmented" role="radiogroup" aria-labelledby="auth-label">
            <label><input type="radio" name="auth" value="basic" ${c.auth.type === 'basic' && !c.auth.username ? 'checked' : ''}/> Email + API token</label>
            <label><input type="radio" name="auth" value="password" ${c.auth.type === 'basic' && c.auth.username ? 'checked' : ''}/> Username + password</label>
            <label><input type="radio" name="auth" value="pat" ${c.auth.type === 'pat' ? 'checked' : ''}/> Personal access token</label>
            <label><input type="radio" name="auth" value="oauth" ${c.auth.type === 'oauth' ? 'checked' : ''}/> OAuth 2.0</label>
          </div>${fieldErr('auth.type')}</div>
        <div class="auth-pane form-grid" data-auth="basic">
          <div class="field" data-path="auth.email"><label for="f-email">Account email</label>
            <input id="f-email" type="email" autocomplete="off" value="${esc(c.auth.email ?? '')}" placeholder="jira-bot@example.com" />${fieldErr('auth.email')}</div>
          <div class="field" data-path="auth.api_token"><label for="f-token">API token</label>
            <input id="f-token" type="password" autocomplete="new-password" ${kept(c.auth.type === 'basic' && !c.auth.username && c.auth.has_secret)} aria-describedby="f-token-hint" />
            <p class="hint" id="f-token-hint">Cloud: create one at id.atlassian.com → Security → API tokens.</p>${fieldErr('auth.api_token')}</div>
        </div>
        <div class="auth-pane form-grid" data-auth="password">
          <div class="field" data-path="auth.username"><label for="f-username">Username</label>
            <input id="f-username" autocomplete="off" value="${esc(c.auth.username ?? '')}" placeholder="jira-bot" aria-describedby="f-username-hint" />
            <p class="hint" id="f-username-hint">Data Center / Server: the Jira user name (or its email where Jira allows email logins). Jira Cloud refuses passwords: use an API token there.</p>${fieldErr('auth.username')}</div>
          <div class="field" data-path="auth.password"><label for="f-password">Password</label>
            <input id="f-password" type="password" autocomplete="new-password" ${kept(c.auth.type === 'basic' && !!c.auth.username && c.auth.has_secret)} />${fieldErr('auth.password')}</div>
        </div>
        <div class="auth-pane form-grid" data-auth="pat">
          <div class="field wide" data-path="auth.token"><label for="f-pat">Personal access token</label>
            <input id="f-pat" type="password" autocomplete="new-password" ${kept(c.auth.type === 'pat' && c.auth.has_secret)} aria-describedby="f-pat-hint" />
            <p class="hint" id="f-pat-hint">Data Center: your profile → Personal Access Tokens → Create token.</p>${fieldErr('auth.token')}</div>
        </div>
        <div class="auth-pane form-grid" data-auth="oauth">
          <div class="field" data-path="auth.client_id"><label for="f-cid">Client ID</label>
            <input id="f-cid" autocomplete="off" value="${esc(c.auth.client_id ?? '')}" />${fieldErr('auth.client_id')}</div>
          <div class="field" data-path="auth.client_secret"><label for="f-csecret">Client secret</label>
            <input id="f-csecret" type="password" autocomplete="new-password" ${kept(c.auth.type === 'oauth' && c.auth.has_secret)} />${fieldErr('auth.client_secret')}</div>
          <details class="field wide advanced"${c.auth.auth_url || c.auth.api_url ? ' open' : ''}><summary>Advanced: Atlassian endpoints</summary><div class="form-grid">
            <div class="field" data-path="auth.auth_url"><label for="f-auth-url">Authorization server</label>
              <input id="f-auth-url" type="url" value="${esc(c.auth.auth_url ?? '')}" placeholder="https://auth.atlassian.com" />${fieldErr('auth.auth_url')}</div>
            <div class="field" data-path="auth.api_url"><label for="f-api-url">API gateway</label>
              <input id="f-api-url" type="url" value="${esc(c.auth.api_url ?? '')}" placeholder="https://api.atlassian.com" />${fieldErr('auth.api_url')}</div>
          </div><p class="hint">Leave empty for Atlassian’s own; set them for a test double such as the built-in sandbox.</p></details>
          <div class="field wide"><button type="button" id="oauth-connect" class="atlassian" ${oauthOk && editing ? '' : 'disabled'}>Connect with Atlassian</button>
            <p class="hint" id="oauth-note">${oauthOk ? (editing ? (c.auth.oauth_connected ? '✓ Connected. Connect again to change the account.' : 'Opens Atlassian to grant access; you come back here afterwards.') : 'Save the connection first, then connect with Atlassian.') : 'This service does not offer the OAuth sign-in yet (POST /api/v1/connections/{id}/oauth/start is missing): use an API token for now.'}</p></div>
        </div>
      </fieldset>
      <fieldset><legend>TLS</legend>
        <div class="field" data-path="tls.verify"><label class="check-label"><input type="checkbox" id="f-verify" ${c.tls.verify !== false ? 'checked' : ''}/> Verify Jira’s TLS certificate</label>
          <p class="warn-box" id="tls-warning" role="alert" hidden>⚠ Without verification anyone on the network path can read the credentials and the issues. Prefer adding the CA below.</p>${fieldErr('tls.verify')}</div>
        <div class="field" data-path="tls.ca_pem"><label for="f-ca">Custom CA (PEM)</label>
          <textarea id="f-ca" rows="4" spellcheck="false" placeholder="-----BEGIN CERTIFICATE-----&#10;…&#10;-----END CERTIFICATE-----" aria-describedby="f-ca-hint"></textarea>
          <p class="hint" id="f-ca-hint">For a self-hosted Jira signed by a private CA.${c.tls.custom_ca ? ' A CA is saved: leave blank to keep it.' : ''}</p>${fieldErr('tls.ca_pem')}</div>
      </fieldset>
      <div class="form-actions">
        <button type="button" class="secondary" id="check-btn">Check connection</button>
        <button type="submit" id="save-btn">${editing ? 'Save changes' : 'Save connection'}</button>
        <span id="save-msg" class="muted" role="status"></span>
      </div>
      <div id="check-out" aria-live="polite"></div>
    </form>`;

  const form = document.getElementById('conn-form');
  let savedId = editing ? id : null;
  const $ = (sel) => form.querySelector(sel);
  const authType = () => form.querySelector('input[name=auth]:checked').value;
  const syncPanes = () => {
    for (const p of form.querySelectorAll('.auth-pane')) p.hidden = p.dataset.auth !== authType();
    $('#tls-warning').hidden = $('#f-verify').checked;
  };
  form.addEventListener('change', syncPanes);
  syncPanes();

  const body = () => {
    const t = authType();
    const auth =
      t === 'basic'
        ? { type: 'basic', email: $('#f-email').value.trim(), api_token: $('#f-token').value }
        : t === 'password'
          ? { type: 'basic', username: $('#f-username').value.trim(), password: $('#f-password').value }
          : t === 'pat'
            ? { type: 'pat', token: $('#f-pat').value }
            : {
                type: 'oauth',
                client_id: $('#f-cid').value.trim(),
                client_secret: $('#f-csecret').value,
                ...($('#f-auth-url').value.trim() ? { auth_url: $('#f-auth-url').value.trim() } : {}),
                ...($('#f-api-url').value.trim() ? { api_url: $('#f-api-url').value.trim() } : {}),
              };
    // Secrets left blank when editing: omitted, the saved ones are kept.
    for (const k of ['api_token', 'password', 'token', 'client_secret']) if (auth[k] === '') delete auth[k];
    const ca = $('#f-ca').value.trim();
    const name = $('#f-name').value.trim();
    return {
      id: $('#f-id').value.trim(),
      ...(name ? { name } : {}),
      site_url: $('#f-site').value.trim(),
      flavour: form.querySelector('input[name=flavour]:checked').value,
      auth,
      tls: { verify: $('#f-verify').checked, ...(ca ? { ca_pem: ca } : {}) },
    };
  };

  const clearErrors = () => {
    for (const e of form.querySelectorAll('.field-error')) {
      e.hidden = true;
      e.textContent = '';
    }
    for (const f of form.querySelectorAll('.field.invalid')) f.classList.remove('invalid');
    for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
    $('#form-errors').hidden = true;
  };
  const showErrors = (err) => {
    const issues = err instanceof ApiError && err.issues.length ? err.issues : [{ path: '', message: err.message }];
    const loose = [];
    for (const i of issues) {
      const slot = form.querySelector(`[data-error-for="${window.CSS.escape(i.path)}"]`);
      if (slot) {
        slot.textContent = i.message;
        slot.hidden = false;
        const f = slot.closest('.field');
        f.classList.add('invalid');
        f.querySelector('input,select,textarea')?.setAttribute('aria-invalid', 'true');
      } else loose.push(i);
    }
    const box = $('#form-errors');
    box.innerHTML = `<b>${issues.length === 1 ? 'Fix this to continue:' : `Fix these ${issues.length} problems to continue:`}</b><ul>${issues
      .map((i) => `<li>${i.path ? `<span class="mono">${esc(i.path)}</span>: ` : ''}${esc(i.message)}</li>`)
      .join('')}</ul>`;
    box.hidden = false;
    (form.querySelector('.field.invalid input, .field.invalid select, .field.invalid textarea') ?? box).focus?.();
    return loose;
  };

  $('#check-btn').addEventListener('click', async () => {
    clearErrors();
    const out = $('#check-out');
    $('#check-btn').disabled = true;
    out.innerHTML = '<p class="muted">Checking the connection…</p>';
    try {
      out.innerHTML = checkResult(await post('/api/v1/connections/check', body()));
    } catch (err) {
      out.innerHTML = '';
      showErrors(err);
    } finally {
      $('#check-btn').disabled = false;
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors();
    const b = body();
    $('#save-btn').disabled = true;
    try {
      const saved = savedId
        ? await put(`/api/v1/connections/${encodeURIComponent(savedId)}`, b)
        : await post('/api/v1/connections', b);
      const conn = saved.connection ?? saved;
      savedId = conn.id;
      $('#f-id').readOnly = true;
      if (oauthOk) $('#oauth-connect').disabled = false;
      $('#save-msg').innerHTML =
        `<span class="ok">✓ Saved.</span> Next: <a href="#/mapping/new?connection=${encodeURIComponent(conn.id)}" id="next-mapping">map a project</a> · <a href="#/setup">webhook settings</a>`;
    } catch (err) {
      showErrors(err);
    } finally {
      $('#save-btn').disabled = false;
    }
  });
  $('#oauth-connect').addEventListener('click', async () => {
    try {
      const r = await post(`/api/v1/connections/${encodeURIComponent(savedId)}/oauth/start`);
      location.href = r.authorize_url;
    } catch (err) {
      $('#oauth-note').innerHTML = `<span class="error">${esc(err.message)}</span>`;
    }
  });
}
