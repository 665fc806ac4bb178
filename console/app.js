// jira-bridge console: a small single-page app on the service's own API (no build step).
// Screens: sign-in, records (+ timeline and comments), failures with retry, webhook deliveries,
// webhook setup (URL, generated secret, first-delivery indicator), mappings; a banner when a
// Jira connection is paused (401/403).

const main = document.getElementById('main');
const banner = document.getElementById('banner');
const signout = document.getElementById('signout');
const TOKEN_KEY = 'jira-bridge-token';

const esc = (s) =>
  String(s ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
const badge = (s) => `<span class="badge ${esc(String(s).replace(/[^a-z_]/gi, '_'))}">${esc(s)}</span>`;
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');

async function api(path, init = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const res = await fetch(path, {
    ...init,
    headers: {
      ...(init.body ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...init.headers,
    },
  });
  if (res.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    location.hash = '#/signin';
    throw new Error('Sign in with an API token');
  }
  const body = res.status === 204 ? null : await res.json();
  if (!res.ok) throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
  return body;
}

async function health() {
  try {
    const { connections } = await api('/api/v1/connections');
    const bad = connections.filter((c) => !c.health.healthy);
    banner.hidden = bad.length === 0;
    banner.textContent = bad
      .map(
        (c) =>
          `Jira connection "${c.name}" is paused: ${c.health.problem}. Regenerate its ${c.auth_type === 'pat' ? 'personal access token' : c.auth_type === 'basic' ? 'API token' : 'OAuth grant'}, update the configuration; waiting work resumes by itself.`,
      )
      .join(' ');
  } catch {
    /* signed out */
  }
}

const screens = {
  async signin() {
    signout.hidden = true;
    let open = false;
    try {
      const r = await fetch('/api/v1/jobs/stats');
      open = r.ok;
    } catch {
      /* offline */
    }
    main.innerHTML = `<div class="card signin">
      <h1>Sign in</h1>
      <p class="sub">Paste an API token (admin, operator or viewer). ${open ? '<br><span class="waiting">The API is still open: create a token to protect it.</span>' : ''}</p>
      <form id="signin-form">
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="off" placeholder="jb_…" style="width:100%" />
        <p id="signin-error" class="error" role="alert"></p>
        <button type="submit">Sign in</button>
      </form></div>`;
    document.getElementById('signin-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, document.getElementById('token').value.trim());
      try {
        await api('/api/v1/jobs/stats');
        location.hash = '#/records';
      } catch (err) {
        document.getElementById('signin-error').textContent = err.message;
      }
    });
  },

  async records() {
    const state = new URLSearchParams(location.hash.split('?')[1] ?? '').get('state') ?? '';
    const [{ records }, stats] = await Promise.all([
      api(`/api/v1/records?limit=200${state ? `&state=${state}` : ''}`),
      api('/api/v1/jobs/stats'),
    ]);
    const count = (s) => records.filter((r) => r.sync.state === s).length;
    main.innerHTML = `<h1>Records</h1><p class="sub">Every record, its Jira issue and its sync state. Click a row for its timeline.</p>
      <div class="grid">
        <div class="stat"><b>${records.length}</b><span>records shown</span></div>
        <div class="stat"><b>${count('synced')}</b><span>synced</span></div>
        <div class="stat"><b>${count('pending')}</b><span>pending</span></div>
        <div class="stat"><b>${count('failed')}</b><span>failed</span></div>
        <div class="stat"><b>${stats.by_state?.dead ?? 0}</b><span>failed jobs</span></div>
      </div>
      <div class="card"><div class="row" style="margin-bottom:12px">
        <label for="state-filter" style="margin:0">Sync state</label>
        <select id="state-filter">${['', 'pending', 'synced', 'failed'].map((s) => `<option value="${s}" ${s === state ? 'selected' : ''}>${s || 'all'}</option>`).join('')}</select>
      </div>
      <table><thead><tr><th>Record</th><th>Title</th><th>Status</th><th>Severity</th><th>Jira issue</th><th>Sync</th><th>Updated</th></tr></thead><tbody>
      ${records
        .map(
          (r) => `<tr class="clickable" data-scope="${esc(r.scope)}" data-host="${esc(r.host_id)}">
          <td><span class="mono">${esc(r.scope)}/${esc(r.host_id)}</span></td><td>${esc(r.title)}</td><td>${esc(r.status)}</td><td>${esc(r.severity ?? '')}</td>
          <td>${r.link?.issue_key ? `<a href="${esc(r.link.browse_url)}" target="_blank" rel="noopener" class="issue-link">${esc(r.link.issue_key)}</a>` : '<span class="muted">—</span>'}</td>
          <td>${badge(r.sync.state)}${r.sync.error ? `<div class="error">${esc(r.sync.error.message)}</div>` : ''}</td><td class="muted">${when(r.updated_at)}</td></tr>`,
        )
        .join('')}
      </tbody></table>${records.length ? '' : '<p class="muted">No records yet: the host pushes them through PUT /api/v1/records/{scope}/{id}.</p>'}</div>`;
    document.getElementById('state-filter').addEventListener('change', (e) => {
      location.hash = `#/records${e.target.value ? `?state=${e.target.value}` : ''}`;
    });
    for (const tr of main.querySelectorAll('tr.clickable')) {
      tr.addEventListener('click', (e) => {
        if (e.target.closest('a')) return;
        location.hash = `#/record/${encodeURIComponent(tr.dataset.scope)}/${encodeURIComponent(tr.dataset.host)}`;
      });
    }
  },

  async record(scope, host) {
    const base = `/api/v1/records/${encodeURIComponent(scope)}/${encodeURIComponent(host)}`;
    const [r, log, { comments }] = await Promise.all([api(base), api(`${base}/log`), api(`${base}/comments`)]);
    main.innerHTML = `<p><a href="#/records">← Records</a></p><h1>${esc(r.title)}</h1>
      <p class="sub"><span class="mono">${esc(r.scope)}/${esc(r.host_id)}</span> · ${esc(r.kind)} · status <b id="record-status">${esc(r.status)}</b> · severity ${esc(r.severity ?? '—')} ·
      ${r.link?.issue_key ? `<a href="${esc(r.link.browse_url)}" target="_blank" rel="noopener">${esc(r.link.issue_key)}</a>` : 'not linked'} · ${badge(r.sync.state)}</p>
      <div class="card"><h2>Timeline</h2><table><thead><tr><th>When</th><th>Direction</th><th>Action</th><th>Fields</th><th>Jira calls</th></tr></thead><tbody>
      ${log.entries
        .slice()
        .reverse()
        .map(
          (e) => `<tr><td class="muted">${when(e.at)}</td><td>${esc(e.direction)}</td><td>${badge(e.action)}</td>
          <td>${esc(JSON.stringify(e.fields?.changed ?? e.fields ?? ''))}${e.error ? `<div class="error">${esc(e.error.message)}</div>` : ''}</td><td>${e.jira_calls}</td></tr>`,
        )
        .join('')}</tbody></table></div>
      <div class="card"><h2>Comments</h2><ul class="timeline" id="comments">${comments
        .map(
          (c) =>
            `<li>${badge(c.origin)} <b>${esc(c.author ?? '')}</b> <span class="muted">${when(c.created_at)}</span>${c.internal ? ' <span class="badge">internal</span>' : ''}${c.deleted ? ' <span class="badge failed">deleted in Jira</span>' : ''}<div>${esc(c.body)}</div></li>`,
        )
        .join('')}</ul>${comments.length ? '' : '<p class="muted">No comments.</p>'}</div>`;
  },

  async jobs() {
    const { jobs } = await api('/api/v1/jobs?state=dead&limit=200');
    main.innerHTML = `<h1>Failures</h1><p class="sub">Jobs that gave up (after their retries, or on a permanent error). Fix the cause, then retry.</p>
      <div class="card"><div class="row" style="margin-bottom:12px"><button id="retry-all" ${jobs.length ? '' : 'disabled'}>Retry all</button><span id="retry-msg" class="muted" role="status"></span></div>
      <table><thead><tr><th>Job</th><th>Kind</th><th>Key</th><th>Attempts</th><th>Last error</th><th></th></tr></thead><tbody>
      ${jobs
        .map(
          (
            j,
          ) => `<tr data-job="${j.id}"><td class="mono">#${j.id}</td><td>${esc(j.kind)}</td><td class="mono">${esc(j.key)}</td><td class="attempts">${j.attempts}</td>
          <td class="error">${esc(j.last_error?.message ?? '')}</td><td><button class="secondary retry" data-id="${j.id}">Retry</button></td></tr>`,
        )
        .join('')}</tbody></table>${jobs.length ? '' : '<p class="muted">Nothing has failed.</p>'}</div>`;
    for (const b of main.querySelectorAll('button.retry')) {
      b.addEventListener('click', async () => {
        await api(`/api/v1/jobs/${b.dataset.id}/retry`, { method: 'POST', body: '{}' });
        document.getElementById('retry-msg').textContent = `Job #${b.dataset.id} queued again.`;
        b.disabled = true;
      });
    }
    document.getElementById('retry-all').addEventListener('click', async () => {
      const r = await api('/api/v1/jobs/retry-dead', { method: 'POST', body: '{}' });
      document.getElementById('retry-msg').textContent = `${r.retried ?? 'All'} job(s) queued again.`;
    });
  },

  async deliveries() {
    const { deliveries } = await api('/api/v1/webhooks/deliveries?limit=200');
    main.innerHTML = `<h1>Webhook deliveries</h1><p class="sub">Everything Jira sent, newest first, with what jira-bridge made of it.</p>
      <div class="card"><table><thead><tr><th>Received</th><th>Event</th><th>Issue</th><th>Verdict</th><th>Detail</th></tr></thead><tbody>
      ${deliveries
        .map(
          (d) =>
            `<tr><td class="muted">${when(d.received_at)}</td><td>${esc(d.event)}</td><td>${esc(d.issue_key ?? '')}</td><td>${badge(d.verdict)}</td><td class="muted">${esc(d.detail ?? '')}</td></tr>`,
        )
        .join('')}</tbody></table>${deliveries.length ? '' : '<p class="muted">No delivery yet.</p>'}</div>`;
  },

  async setup() {
    const { connections } = await api('/api/v1/connections');
    const parts = await Promise.all(
      connections.map(async (c) => ({ c, hook: await api(`/api/v1/connections/${encodeURIComponent(c.id)}/webhook`) })),
    );
    main.innerHTML = `<h1>Webhook setup</h1><p class="sub">In Jira: System → WebHooks → Create. Paste the URL and the secret, tick the events below.</p>
      ${parts
        .map(
          ({
            c,
            hook,
          }) => `<div class="card" data-conn="${esc(c.id)}"><h2>${esc(c.name)} <span class="muted">(${esc(c.flavour)})</span></h2>
        <label>URL</label><div class="row"><code class="hook-url">${esc(hook.url)}</code><button class="secondary copy" data-copy="${esc(hook.url)}">Copy</button></div>
        <p class="muted">Events: ${hook.events.map(esc).join(', ')} · authentication: ${esc(hook.authentication)}</p>
        <label>Secret</label><div class="row"><button class="gen" data-id="${esc(c.id)}">Generate a secret</button><code class="secret" hidden></code><button class="secondary copy-secret" hidden>Copy</button></div>
        <p class="muted">Shown once. It is accepted beside the configured one, so switching is safe.</p>
        <p class="first-delivery waiting" role="status">Waiting for the first delivery…</p></div>`,
        )
        .join('')}`;
    for (const b of main.querySelectorAll('button.copy'))
      b.addEventListener('click', () => navigator.clipboard?.writeText(b.dataset.copy));
    for (const b of main.querySelectorAll('button.gen')) {
      b.addEventListener('click', async () => {
        const r = await api(`/api/v1/connections/${encodeURIComponent(b.dataset.id)}/webhook/secret`, {
          method: 'POST',
          body: '{}',
        });
        const card = b.closest('.card');
        const code = card.querySelector('code.secret');
        code.textContent = r.secret;
        code.hidden = false;
        const copy = card.querySelector('button.copy-secret');
        copy.hidden = false;
        copy.addEventListener('click', () => navigator.clipboard?.writeText(r.secret));
        b.disabled = true;
      });
    }
    const poll = async () => {
      if (!location.hash.startsWith('#/setup')) return;
      const { deliveries } = await api('/api/v1/webhooks/deliveries?limit=50');
      for (const card of main.querySelectorAll('.card[data-conn]')) {
        const got = deliveries.find((d) => d.connection_id === card.dataset.conn);
        const el = card.querySelector('.first-delivery');
        if (got) {
          el.className = 'first-delivery ok';
          el.textContent = `✓ Receiving deliveries (last: ${got.event} at ${when(got.received_at)})`;
        }
      }
      setTimeout(poll, 2000);
    };
    void poll();
  },

  async mappings() {
    const { mappings } = await api('/api/v1/mappings');
    main.innerHTML = `<h1>Mappings</h1><p class="sub">Host scope → Jira project. Edit through PUT /api/v1/mappings/{id} (checked against Jira on save) or the configuration file.</p>
      <div class="card"><table><thead><tr><th>Mapping</th><th>Scope</th><th>Project</th><th>Direction</th><th>Kinds</th><th>Source</th></tr></thead><tbody>
      ${mappings
        .map(
          (
            m,
          ) => `<tr><td class="mono">${esc(m.id)}</td><td>${esc(m.mapping.scope)}</td><td>${esc(m.mapping.project)}</td><td>${esc(m.mapping.direction)}</td>
          <td>${esc(Object.keys(m.mapping.kinds ?? {}).join(', '))}</td><td>${badge(m.source)}</td></tr>`,
        )
        .join('')}</tbody></table></div>`;
  },
};

async function route() {
  const hash = location.hash || '#/records';
  const [name, ...args] = hash.slice(2).split('?')[0].split('/');
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.nav === name);
  signout.hidden = name === 'signin';
  try {
    await (screens[name] ?? screens.records)(...args.map(decodeURIComponent));
    if (name !== 'signin') void health();
  } catch (err) {
    if (name !== 'signin')
      main.innerHTML = `<div class="card"><p class="error" role="alert">${esc(err.message)}</p></div>`;
  }
}

signout.addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  location.hash = '#/signin';
});
window.addEventListener('hashchange', route);
void route();
