// jira-bridge console: a small single-page app on the service's own API (no build step, ES modules).
// Screens: sign-in, dashboard, records (+ timeline, comments and the next sync's plan), failures with retry, webhook
// deliveries, connections (+ form and check), mappings (+ editor and JQL preview), webhook setup,
// host webhooks (+ one subscription's deliveries); admins: API tokens, audit log; a banner when a
// Jira connection is paused (401/403) saying what to do.
import { audit } from './audit.js';
import { connectionForm, connections } from './connections.js';
import { dashboard } from './dashboard.js';
import { hostWebhook, hostWebhooks } from './host-webhooks.js';
import {
  TOKEN_KEY,
  ago,
  api,
  badge,
  copy,
  credentialAdvice,
  empty,
  esc,
  linkify,
  pageHead,
  post,
  when,
} from './lib.js';
import { pauseBadge, pauseControls, pauseStates, unlinkRecordButton, wireLifecycle } from './lifecycle.js';
import { mappingEditor } from './mapping-editor.js';
import { planCard, wirePlan } from './plan.js';
import { tokens } from './tokens.js';

const main = document.getElementById('main');
const banner = document.getElementById('banner');
const signout = document.getElementById('signout');
const shell = document.getElementById('shell');
const whoami = document.getElementById('whoami');

/** The signed-in token (GET /api/v1/me), fetched once per sign-in: admin screens show for admins. */
let me = null;
async function identify() {
  if (!me) {
    try {
      me = await api('/api/v1/me');
    } catch {
      return;
    }
  }
  const admin = me.role === 'admin';
  for (const el of document.querySelectorAll('.admin-only')) el.hidden = !admin;
  whoami.hidden = false;
  whoami.textContent = me.open ? 'open API' : `${me.name} · ${me.role}`;
}

async function health() {
  try {
    const { connections: list } = await api('/api/v1/connections');
    const bad = list.filter((c) => c.health && !c.health.healthy);
    banner.hidden = bad.length === 0;
    banner.innerHTML = bad
      .map(
        (c) =>
          `<div class="banner-item"><span class="banner-icon" aria-hidden="true">⚠</span><div><b>Jira connection “${esc(c.name)}” is paused</b> since ${esc(when(c.health.since))}: ${linkify(String(c.health.problem ?? '').replace(/\.?$/, '.'))}<br>${/regenerate|reconnect|new token/i.test(c.health.problem ?? '') ? '' : `${esc(credentialAdvice(c.auth?.type ?? c.auth_type, c.flavour))} `}Waiting work resumes by itself once Jira accepts it.</div>${c.source === 'api' ? `<a class="button small" href="#/connection/${encodeURIComponent(c.id)}">Update credentials</a>` : '<span class="small">Update it in jira-bridge.yaml</span>'}</div>`,
      )
      .join('');
  } catch {
    /* signed out */
  }
}

const STATES = ['', 'pending', 'synced', 'failed'];

/** "Retry" for a record that failed to sync: queues it again (POST /api/v1/sync). */
const retryButton = (r) =>
  me && !['admin', 'operator'].includes(me.role)
    ? ''
    : `<button class="secondary small resync" data-scope="${esc(r.scope)}" data-host="${esc(r.host_id)}" aria-label="Retry ${esc(r.scope)}/${esc(r.host_id)}">Retry</button>`;

function wireRetry(root) {
  for (const b of root.querySelectorAll('button.resync')) {
    b.addEventListener('click', async (e) => {
      e.stopPropagation();
      b.disabled = true;
      try {
        await post('/api/v1/sync', { scope: b.dataset.scope, host_id: b.dataset.host });
        b.textContent = 'Queued';
        const msg = document.getElementById('retry-msg') ?? root.querySelector('.retry-out');
        if (msg) msg.textContent = `✓ ${b.dataset.scope}/${b.dataset.host} queued again.`;
      } catch (err) {
        b.disabled = false;
        b.insertAdjacentHTML('afterend', `<div class="error">${esc(err.message)}</div>`);
      }
    });
  }
}

/**
 * "Sync a Jira issue now" (records screen, admins and operators): POST /api/v1/sync with the key —
 * both ways for a linked issue, an import for an issue a mapping takes (201), else Jira's/our reason.
 */
const syncIssueForm = () => `<div class="card"><form class="toolbar" id="sync-issue">
    <div><label for="sync-issue-key">Sync a Jira issue now</label><input id="sync-issue-key" class="mono" placeholder="OPS-3" autocomplete="off" required pattern="[A-Za-z][A-Za-z0-9_]*-[0-9]+" /></div>
    <div><label for="sync-issue-conn">Connection (when several map its project)</label><input id="sync-issue-conn" class="mono" placeholder="optional" autocomplete="off" /></div>
    <button class="secondary" id="sync-issue-go">Sync both ways</button>
  </form><div id="sync-issue-out" aria-live="polite"></div></div>`;

function wireSyncIssue(root) {
  const form = root.querySelector('#sync-issue');
  if (!form) return;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const out = root.querySelector('#sync-issue-out');
    const key = root.querySelector('#sync-issue-key').value.trim().toUpperCase();
    const connection = root.querySelector('#sync-issue-conn').value.trim();
    const go = root.querySelector('#sync-issue-go');
    go.disabled = true;
    out.innerHTML = '<p class="muted">Syncing…</p>';
    try {
      const r = await post('/api/v1/sync', { jira_issue_key: key, ...(connection ? { connection } : {}) });
      const rec = `<a class="mono" href="#/record/${encodeURIComponent(r.scope)}/${encodeURIComponent(r.host_id)}">${esc(r.scope)}/${esc(r.host_id)}</a>`;
      const what =
        r.manual_sync.mode === 'imported'
          ? `${esc(key)} was imported as ${rec}.`
          : r.manual_sync.mode === 'two_way'
            ? `${esc(key)} is being synced both ways with ${rec}.`
            : `${rec} is being sent to Jira.`;
      out.innerHTML = `<p class="ok sync-issue-result" data-mode="${esc(r.manual_sync.mode)}" role="status">✓ ${what} <span class="muted small">${esc(r.manual_sync.runs)}</span></p>`;
    } catch (err) {
      out.innerHTML = `<p class="error" role="alert">${esc(err.message)}</p>`;
    } finally {
      go.disabled = false;
    }
  });
}

const screens = {
  async signin() {
    signout.hidden = true;
    shell.classList.add('signed-out');
    const reason = sessionStorage.getItem('jira-bridge-signin-reason');
    sessionStorage.removeItem('jira-bridge-signin-reason');
    let open = false;
    try {
      open = (await fetch('/api/v1/jobs/stats')).ok;
    } catch {
      /* offline */
    }
    main.innerHTML = `<div class="signin"><div class="signin-brand"><span class="logo" aria-hidden="true">⇄</span> jira-bridge</div>
      <div class="card">
      <h1>Sign in</h1>
      <p class="sub">Use an API token of this service (admin, operator or viewer).</p>
      ${open ? '<p class="warn-box">The API is still open: create an admin token (POST /api/v1/tokens) to protect it.</p>' : ''}
      <form id="signin-form">
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" placeholder="jb_…" required aria-describedby="signin-error token-hint" />
        <p class="hint" id="token-hint">Admins create tokens with <span class="mono">POST /api/v1/tokens</span> or set JIRA_BRIDGE_ADMIN_TOKEN.</p>
        <p id="signin-error" class="signin-error" role="alert">${reason ? `${esc(reason.replace(/\.?$/, '.'))} Sign in with a valid API token.` : ''}</p>
        <button type="submit" class="wide-btn">Sign in</button>
      </form></div></div>`;
    document.getElementById('signin-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, document.getElementById('token').value.trim());
      try {
        await api('/api/v1/jobs/stats');
        shell.classList.remove('signed-out');
        location.hash = '#/dashboard';
      } catch (err) {
        const out = document.getElementById('signin-error');
        if (err.status === 429) {
          // Too many wrong tokens from this address: the answer says how long to wait.
          sessionStorage.removeItem(TOKEN_KEY);
          out.textContent = err.message.replace(/\.?$/, '.');
          return;
        }
        const why = sessionStorage.getItem('jira-bridge-signin-reason') ?? 'The token was not accepted.';
        sessionStorage.removeItem('jira-bridge-signin-reason');
        out.textContent = `${why.replace(/\.?$/, '.')} Sign in with a valid API token (check it was copied whole).`;
      }
    });
  },

  dashboard: () => dashboard(main),

  async records() {
    const q = new URLSearchParams(location.hash.split('?')[1] ?? '');
    const state = q.get('state') ?? '';
    const text = q.get('q') ?? '';
    // The counts are of every record (GET /api/v1/records/counts), whatever the filter shows.
    const [{ records, next_cursor: more }, counts, stats] = await Promise.all([
      api(`/api/v1/records?limit=200${state ? `&state=${state}` : ''}`),
      api('/api/v1/records/counts'),
      api('/api/v1/jobs/stats'),
    ]);
    const needle = text.toLowerCase();
    const shown = needle
      ? records.filter((r) =>
          [r.scope, r.host_id, r.title, r.link?.issue_key, r.status].some((v) =>
            String(v ?? '')
              .toLowerCase()
              .includes(needle),
          ),
        )
      : records;
    const count = (s) => counts.by_state[s] ?? 0;
    main.innerHTML = `${pageHead('Records', 'Every record, its Jira issue and its sync state. Open a row for its timeline.')}
      <div class="grid">
        <div class="stat" id="count-total"><b>${counts.total}</b><span>records</span></div>
        <div class="stat" id="count-synced"><b>${count('synced')}</b><span>synced</span></div>
        <div class="stat" id="count-pending"><b>${count('pending')}</b><span>pending</span></div>
        <div class="stat ${count('failed') ? 'bad' : ''}" id="count-failed"><b>${count('failed')}</b><span>failed to sync</span></div>
        <div class="stat ${stats.by_state?.dead ? 'bad' : ''}"><b>${stats.by_state?.dead ?? 0}</b><span>failed jobs</span></div>
      </div>
      ${me && !['admin', 'operator'].includes(me.role) ? '' : syncIssueForm()}
      <div class="card"><form class="toolbar" id="filters" role="search">
        <div><label for="q">Search</label><input id="q" type="search" value="${esc(text)}" placeholder="Title, id, issue key…" /></div>
        <div><label for="state-filter">Sync state</label>
        <select id="state-filter">${STATES.map((s) => `<option value="${s}" ${s === state ? 'selected' : ''}>${s || 'all'}</option>`).join('')}</select></div>
      </form>
      <div class="table-wrap"><table class="records"><thead><tr><th>Record</th><th>Title</th><th>Status</th><th>Severity</th><th>Jira issue</th><th>Sync</th><th>Updated</th></tr></thead><tbody>
      ${shown
        .map(
          (r) => `<tr class="clickable" data-scope="${esc(r.scope)}" data-host="${esc(r.host_id)}" tabindex="0">
          <td><span class="mono">${esc(r.scope)}/${esc(r.host_id)}</span></td><td>${esc(r.title)}</td><td>${esc(r.status)}</td><td>${esc(r.severity ?? '')}</td>
          <td>${r.link?.issue_key ? `<a href="${esc(r.link.browse_url)}" target="_blank" rel="noopener" class="issue-link">${esc(r.link.issue_key)}</a>` : '<span class="muted">—</span>'}</td>
          <td>${badge(r.sync.state)}${r.sync.error ? `<div class="error">${esc(r.sync.error.message)}</div>` : ''}${r.sync.state === 'failed' ? retryButton(r) : ''}</td><td class="muted" title="${esc(when(r.updated_at))}">${esc(ago(r.updated_at))}</td></tr>`,
        )
        .join('')}
      </tbody></table></div>${more ? `<p class="muted small" id="records-more">The first ${records.length} ${state ? `${esc(state)} ` : ''}records are listed: narrow them with the search or the state filter.</p>` : ''}${shown.length ? '' : empty(records.length ? 'Nothing matches' : 'No records yet', records.length ? 'Change the search or the state filter.' : 'The host pushes them with <span class="mono">PUT /api/v1/records/{scope}/{id}</span>.')}</div>`;
    wireRetry(main);
    wireSyncIssue(main);
    const go = () => {
      const p = new URLSearchParams();
      const s = document.getElementById('state-filter').value;
      const t = document.getElementById('q').value.trim();
      if (s) p.set('state', s);
      if (t) p.set('q', t);
      location.hash = `#/records${p.size ? `?${p}` : ''}`;
    };
    document.getElementById('state-filter').addEventListener('change', go);
    document.getElementById('filters').addEventListener('submit', (e) => {
      e.preventDefault();
      go();
    });
    for (const tr of main.querySelectorAll('tr.clickable')) {
      const open = () => {
        location.hash = `#/record/${encodeURIComponent(tr.dataset.scope)}/${encodeURIComponent(tr.dataset.host)}`;
      };
      tr.addEventListener('click', (e) => {
        if (!e.target.closest('a, button')) open();
      });
      tr.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') open();
      });
    }
  },

  async record(scope, host) {
    const base = `/api/v1/records/${encodeURIComponent(scope)}/${encodeURIComponent(host)}`;
    const [r, log, { comments }, plan] = await Promise.all([
      api(base),
      api(`${base}/log`),
      api(`${base}/comments`),
      // What the next sync would do (from the store: no Jira call); its error is shown in its card.
      api(`${base}/plan`).catch((err) => err),
    ]);
    const fieldsOf = (f) => {
      if (!f) return '';
      if (Array.isArray(f)) return f.join(', ');
      if (Array.isArray(f.changed)) return f.changed.join(', ');
      if (typeof f === 'object')
        return Object.keys(f)
          .filter((k) => k !== 'jira_user')
          .join(', ');
      return String(f);
    };
    // Who made a Jira-origin change: display name, the email where Jira shows it, the id on hover.
    const jiraUser = (u) =>
      u
        ? `<div class="small jira-user" title="${esc(u.account_id ?? [u.name, u.key].filter(Boolean).join(' / '))}">By <b>${esc(u.display_name)}</b>${u.email_address ? ` &lt;${esc(u.email_address)}&gt;` : ''} in Jira</div>`
        : '';
    main.innerHTML = `<p class="crumbs"><a href="#/records">← Records</a></p>
      ${pageHead(esc(r.title), `<span class="mono">${esc(r.scope)}/${esc(r.host_id)}</span> · ${esc(r.kind)}`)}
      <dl class="facts card">
        <div><dt>Status</dt><dd id="record-status">${esc(r.status)}</dd></div>
        <div><dt>Severity</dt><dd>${esc(r.severity ?? '—')}</dd></div>
        <div><dt>Jira issue</dt><dd>${r.link?.issue_key ? `<a href="${esc(r.link.browse_url)}" target="_blank" rel="noopener" class="issue-link">${esc(r.link.issue_key)}</a>${r.link.state === 'unlinked' ? ' <span class="badge failed record-unlinked">unlinked</span>' : ''}` : 'not linked'} ${me?.role === 'admin' ? unlinkRecordButton(r) : ''}<span class="unlink-out" aria-live="polite"></span></dd></div>
        <div><dt>Sync</dt><dd>${badge(r.sync.state)}</dd></div>
        <div><dt>Updated</dt><dd>${esc(when(r.updated_at))}</dd></div>
      </dl>
      ${r.sync.error ? `<div class="card err-box" role="alert"><b>Last sync failed:</b> ${esc(r.sync.error.message)}${r.sync.state === 'failed' ? `<p class="small">Fix the cause (in Jira or in the mapping), then retry.</p>${retryButton(r)}<span class="retry-out" role="status"></span>` : ''}</div>` : ''}
      ${r.sync.warnings?.length ? `<div class="card warn-box">${r.sync.warnings.map((w) => `<p>⚠ ${esc(w)}</p>`).join('')}</div>` : ''}
      ${planCard(plan, r.link?.state === 'linked')}
      <div class="two-col">
      <section class="card"><h2>Timeline</h2><ol class="timeline" id="timeline">
      ${log.entries
        .slice()
        .reverse()
        .map(
          (
            e,
          ) => `<li><div class="tl-head">${badge(e.direction)} ${badge(e.action)} <span class="muted small" title="${esc(when(e.at))}">${esc(ago(e.at))}</span></div>
          ${fieldsOf(e.fields) ? `<div class="small">Fields: ${esc(fieldsOf(e.fields))}</div>` : ''}${jiraUser(e.fields?.jira_user)}<div class="muted small">${e.jira_calls} Jira call${e.jira_calls === 1 ? '' : 's'}${e.job_id ? ` · job #${e.job_id}` : ''}</div>
          ${e.error ? `<div class="error">${esc(e.error.message ?? JSON.stringify(e.error))}</div>` : ''}</li>`,
        )
        .join('')}</ol>${log.entries.length ? '' : '<p class="muted">No sync yet.</p>'}</section>
      <section class="card"><h2>Comments</h2><ul class="comments" id="comments">${comments
        .map(
          (c) =>
            `<li><div class="tl-head">${badge(c.origin === 'jira' ? 'from_jira' : 'to_jira', c.origin === 'jira' ? 'Jira' : 'host')} <b>${esc(c.author ?? '')}</b> <span class="muted small">${esc(when(c.created_at))}</span>${c.rework_task ? ` <span class="badge rework-task" title="written on the rework task ${esc(c.rework_task)}">rework task ${esc(c.rework_task)}</span>` : ''}${c.internal ? ' <span class="badge">internal</span>' : ''}${c.deleted ? ' <span class="badge failed">deleted in Jira</span>' : ''}</div><div class="comment-body">${esc(c.body)}</div></li>`,
        )
        .join('')}</ul>${comments.length ? '' : '<p class="muted">No comments.</p>'}</section></div>`;
    wireRetry(main);
    wirePlan(main, base);
    wireLifecycle(
      main,
      () => screens.record(scope, host),
      () => main.querySelector('.unlink-out'),
    );
    // Live: what happens in Jira (or the host) shows up without a reload.
    const shown = main.querySelector('#timeline');
    const sig = (rec, l, c) => `${rec.version}|${rec.status}|${rec.sync.state}|${l.entries.length}|${c.length}`;
    const was = sig(r, log, comments);
    const poll = async () => {
      if (!shown.isConnected) return;
      try {
        const [r2, l2, c2] = await Promise.all([api(base), api(`${base}/log`), api(`${base}/comments`)]);
        if (!shown.isConnected) return;
        if (sig(r2, l2, c2.comments) !== was) return void screens.record(scope, host);
      } catch {
        return;
      }
      setTimeout(poll, 2000);
    };
    setTimeout(poll, 2000);
  },

  async jobs() {
    const [{ jobs }, { records: failed }] = await Promise.all([
      api('/api/v1/jobs?state=dead&limit=200'),
      api('/api/v1/records?state=failed&limit=200'),
    ]);
    main.innerHTML = `${pageHead('Failures', 'Records Jira refused and jobs that gave up. Fix the cause (in Jira, the mapping or the connection), then retry.')}
      <p id="retry-msg" class="ok" role="status"></p>
      <section class="card" aria-labelledby="failed-records-h"><div class="section-head"><h2 id="failed-records-h">Records that failed to sync <span class="muted small">${failed.length}</span></h2>
        <button id="retry-records" class="secondary" ${failed.length ? '' : 'disabled'}>Retry all records</button></div>
      <div class="table-wrap"><table class="failed-records"><thead><tr><th>Record</th><th>Title</th><th>Last error</th><th><span class="sr-only">Actions</span></th></tr></thead><tbody>
      ${failed
        .map(
          (r) =>
            `<tr data-scope="${esc(r.scope)}" data-host="${esc(r.host_id)}"><td><a class="mono" href="#/record/${encodeURIComponent(r.scope)}/${encodeURIComponent(r.host_id)}">${esc(r.scope)}/${esc(r.host_id)}</a></td><td>${esc(r.title)}</td><td>${r.sync.error ? `<span class="badge failed">${esc(r.sync.error.code ?? 'failed')}</span> <span class="error">${esc(r.sync.error.message)}</span>` : ''}</td><td>${retryButton(r)}</td></tr>`,
        )
        .join(
          '',
        )}</tbody></table></div>${failed.length ? '' : empty('No failed record', 'Records Jira refuses show here with what Jira said.')}</section>
      <section class="card" aria-labelledby="dead-jobs-h"><div class="section-head"><h2 id="dead-jobs-h">Jobs that gave up <span class="muted small">${jobs.length}</span></h2>
        <button id="retry-all" class="secondary" ${jobs.length ? '' : 'disabled'}>Retry all jobs</button></div>
      <div class="table-wrap"><table><thead><tr><th>Job</th><th>Kind</th><th>Key</th><th>Attempts</th><th>Last error</th><th><span class="sr-only">Actions</span></th></tr></thead><tbody>
      ${jobs
        .map(
          (
            j,
          ) => `<tr data-job="${j.id}"><td class="mono">#${j.id}</td><td>${esc(j.kind)}</td><td class="mono">${esc(j.key)}</td><td class="attempts">${j.attempts}</td>
          <td>${j.last_error ? `<span class="badge failed">${esc(j.last_error.code)}</span> <span class="error">${esc(j.last_error.message)}</span><div class="muted small">${esc(ago(j.last_error.at))}</div>` : ''}</td><td><button class="secondary retry" data-id="${j.id}">Retry</button></td></tr>`,
        )
        .join(
          '',
        )}</tbody></table></div>${jobs.length ? '' : empty('No job gave up', 'Jobs that give up show here with their last error.')}</section>`;
    wireRetry(main);
    document.getElementById('retry-records').addEventListener('click', async (e) => {
      e.currentTarget.disabled = true;
      let n = 0;
      for (const b of main.querySelectorAll('button.resync:not([disabled])')) {
        await post('/api/v1/sync', { scope: b.dataset.scope, host_id: b.dataset.host });
        b.disabled = true;
        b.textContent = 'Queued';
        n++;
      }
      document.getElementById('retry-msg').textContent = `✓ ${n} record(s) queued again.`;
    });
    for (const b of main.querySelectorAll('button.retry')) {
      b.addEventListener('click', async () => {
        await post(`/api/v1/jobs/${b.dataset.id}/retry`);
        document.getElementById('retry-msg').textContent = `✓ Job #${b.dataset.id} queued again.`;
        b.disabled = true;
        b.textContent = 'Queued';
      });
    }
    document.getElementById('retry-all').addEventListener('click', async () => {
      const r = await post('/api/v1/jobs/retry-dead');
      document.getElementById('retry-msg').textContent = `✓ ${r.retried ?? 'All'} job(s) queued again.`;
      for (const b of main.querySelectorAll('button.retry')) {
        b.disabled = true;
        b.textContent = 'Queued';
      }
    });
  },

  async deliveries() {
    const q = new URLSearchParams(location.hash.split('?')[1] ?? '');
    const only = q.get('verdict') === 'rejected' ? 'rejected' : '';
    const { deliveries } = await api(`/api/v1/webhooks/deliveries?limit=200${only ? '&verdict=rejected' : ''}`);
    // The newest rejection of each connection within the hour, unless a delivery got through since.
    const hour = Date.now() - 3_600_000;
    const failing = new Map();
    for (const d of deliveries) {
      if (new Date(d.received_at).getTime() < hour || failing.has(d.connection_id)) continue;
      failing.set(d.connection_id, d.verdict.startsWith('rejected:') ? d : null);
    }
    const alerts = [...failing.values()].filter(Boolean);
    const rejectedNote = (d) =>
      `<div class="fix">${esc(d.detail ?? '')}</div><div class="muted small">from <span class="mono">${esc(d.source_address ?? 'unknown')}</span>${d.repeats ? ` · ${d.repeats} more from there within 10 s` : ''}${d.identifier ? ` · Jira delivery <span class="mono">${esc(d.identifier)}</span>` : ''}</div>`;
    main.innerHTML = `${pageHead('Webhook deliveries', 'Everything Jira sent, newest first, with what jira-bridge made of it. Deliveries that failed authentication are kept without their body.')}
      ${alerts
        .map(
          (d) =>
            `<div class="card err-box rejected-alert" role="alert" data-conn="${esc(d.connection_id)}"><b>Jira’s deliveries to “${esc(d.connection_id)}” are being rejected</b> (${esc(d.verdict === 'rejected:token' ? 'wrong URL token' : 'wrong signature')}, last ${esc(ago(d.received_at))}). ${esc(d.detail ?? '')} <a class="button small" href="#/setup">Webhook settings</a></div>`,
        )
        .join('')}
      <div class="card"><form class="toolbar" id="delivery-filter"><div><label for="verdict-filter">Show</label>
        <select id="verdict-filter"><option value="">all deliveries</option><option value="rejected" ${only ? 'selected' : ''}>rejected only</option></select></div></form>
      <div class="table-wrap"><table class="deliveries"><thead><tr><th>Received</th><th>Connection</th><th>Event</th><th>Issue</th><th>Verdict</th><th>Detail</th></tr></thead><tbody>
      ${deliveries
        .map((d) => {
          const rejected = d.verdict.startsWith('rejected:');
          return `<tr class="${rejected ? 'rejected' : ''}"><td class="muted" title="${esc(when(d.received_at))}">${esc(ago(d.received_at))}</td><td class="mono">${esc(d.connection_id ?? '')}</td><td>${esc(d.event ?? (rejected ? '(not read)' : ''))}</td><td class="mono">${esc(d.issue_key ?? '')}</td><td>${badge(d.verdict, rejected ? (d.verdict === 'rejected:token' ? 'rejected: token' : 'rejected: signature') : undefined)}</td><td class="${rejected ? '' : 'muted'}">${rejected ? rejectedNote(d) : esc(d.detail ?? '')}</td></tr>`;
        })
        .join(
          '',
        )}</tbody></table></div>${deliveries.length ? '' : empty(only ? 'Nothing rejected' : 'No delivery yet', only ? 'Every delivery Jira sent was authenticated.' : 'Add the webhook in Jira: <a href="#/setup">webhook settings</a>.')}</div>`;
    document.getElementById('verdict-filter').addEventListener('change', (e) => {
      location.hash = e.target.value ? '#/deliveries?verdict=rejected' : '#/deliveries';
    });
  },

  connections: () => connections(main),
  connection: (id) => connectionForm(main, id),

  async setup() {
    const { connections: list } = await api('/api/v1/connections');
    const parts = await Promise.all(
      list.map(async (c) => ({ c, hook: await api(`/api/v1/connections/${encodeURIComponent(c.id)}/webhook`) })),
    );
    main.innerHTML = `${pageHead('Webhook setup', 'So that changes made in Jira arrive at once. In Jira: Settings → System → WebHooks → Create a WebHook, then paste the URL and the secret below.')}
      ${parts.length ? '' : `<div class="card">${empty('No connection yet', 'Add a Jira connection first.', '<a class="button" href="#/connection/new">New connection</a>')}</div>`}
      ${parts
        .map(
          ({
            c,
            hook,
          }) => `<section class="card" data-conn="${esc(c.id)}" aria-labelledby="hook-${esc(c.id)}"><h2 id="hook-${esc(c.id)}">${esc(c.name)} <span class="muted small">${esc(c.flavour === 'datacenter' ? 'Data Center' : 'Cloud')}</span></h2>
        <ol class="steps compact">
          <li><span class="step-no" aria-hidden="true">1</span><div class="grow"><b>URL</b><div class="copy-row"><code class="hook-url">${esc(hook.url)}</code><button class="secondary copy" data-copy="${esc(hook.url)}" aria-label="Copy the webhook URL">Copy</button></div>${hook.url.includes('${') ? '<p class="hint">Paste it as it is: Jira fills in the <span class="mono">${…}</span> variables on each delivery.</p>' : ''}</div></li>
          <li><span class="step-no" aria-hidden="true">2</span><div class="grow"><b>Secret</b><div class="copy-row"><button class="gen" data-id="${esc(c.id)}">Generate a secret</button><code class="secret" hidden></code><button class="secondary copy-secret" hidden aria-label="Copy the secret">Copy</button></div>
            <p class="hint">Shown once. It is accepted beside the configured one, so switching is safe.</p></div></li>
          <li><span class="step-no" aria-hidden="true">3</span><div class="grow"><b>Events</b><p class="events">${hook.events.map((e) => `<span class="badge">${esc(e)}</span>`).join(' ')}</p><p class="hint">Authentication: ${esc(hook.authentication)}. Leave the JQL filter empty or limit it to the mapped projects.</p></div></li>
        </ol>
        <p class="first-delivery waiting" role="status"><span class="dot" aria-hidden="true"></span> Waiting for the first delivery…</p></section>`,
        )
        .join('')}`;
    for (const b of main.querySelectorAll('button.copy')) b.addEventListener('click', () => copy(b, b.dataset.copy));
    for (const b of main.querySelectorAll('button.gen')) {
      b.addEventListener('click', async () => {
        const r = await post(`/api/v1/connections/${encodeURIComponent(b.dataset.id)}/webhook/secret`);
        const card = b.closest('.card');
        const code = card.querySelector('code.secret');
        code.textContent = r.secret;
        code.hidden = false;
        const c = card.querySelector('button.copy-secret');
        c.hidden = false;
        c.addEventListener('click', () => copy(c, r.secret));
        b.hidden = true;
      });
    }
    const cards = [...main.querySelectorAll('.card[data-conn]')];
    const poll = async () => {
      if (!cards.some((c) => c.isConnected)) return;
      try {
        const { deliveries } = await api('/api/v1/webhooks/deliveries?limit=50');
        for (const card of cards) {
          const got = deliveries.find((d) => d.connection_id === card.dataset.conn);
          const el = card.querySelector('.first-delivery');
          if (got?.verdict.startsWith('rejected:')) {
            // Jira reaches us but with the wrong secret or token: say so, with the fix.
            el.className = 'first-delivery bad';
            el.innerHTML = `<span class="dot" aria-hidden="true"></span> <span>Deliveries arrive but are rejected (${esc(ago(got.received_at))}): ${esc(got.detail ?? '')}</span>`;
          } else if (got) {
            el.className = 'first-delivery ok';
            el.innerHTML = `<span class="dot" aria-hidden="true"></span> Receiving deliveries — last: ${esc(got.event)} ${esc(ago(got.received_at))}`;
          }
        }
      } catch {
        return;
      }
      setTimeout(poll, 2000);
    };
    void poll();
  },

  async mappings() {
    const [{ mappings }, states] = await Promise.all([api('/api/v1/mappings'), pauseStates()]);
    const admin = me?.role === 'admin';
    main.innerHTML = `${pageHead('Mappings', 'Host scope → Jira project: issue types, statuses, priorities and fields. Checked against Jira on save.', '<a class="button" href="#/mapping/new" id="new-mapping">New mapping</a>')}
      <div class="card"><div class="table-wrap"><table><thead><tr><th>Mapping</th><th>Connection</th><th>Scope</th><th>Project</th><th>Direction</th><th>Kinds</th><th>Source</th><th>State</th></tr></thead><tbody>
      ${mappings
        .map(
          (
            m,
          ) => `<tr class="clickable" data-id="${esc(m.id)}" tabindex="0"><td class="mono">${esc(m.id)}</td><td>${esc(m.mapping.connection)}</td><td>${esc(m.mapping.scope)}</td><td><b>${esc(m.mapping.project)}</b></td><td>${badge(m.mapping.direction)}</td>
          <td>${esc(Object.keys(m.mapping.kinds ?? {}).join(', '))}</td><td>${m.source === 'file' ? '<span class="badge">file</span>' : `<span class="badge synced">console · v${m.version}</span>`}</td>
          <td class="lifecycle">${pauseBadge(states[`mapping:${m.id}`])} ${admin ? pauseControls('mapping', m.id, states[`mapping:${m.id}`]) : ''}<div class="lifecycle-out" aria-live="polite"></div></td></tr>`,
        )
        .join(
          '',
        )}</tbody></table></div>${mappings.length ? '' : empty('No mapping yet', 'A mapping sends one host scope to one Jira project.', '<a class="button" href="#/mapping/new">New mapping</a>')}</div>`;
    for (const tr of main.querySelectorAll('tr.clickable')) {
      const open = () => (location.hash = `#/mapping/${encodeURIComponent(tr.dataset.id)}`);
      tr.addEventListener('click', (e) => !e.target.closest('button, .lifecycle-out') && open());
      tr.addEventListener('keydown', (e) => e.key === 'Enter' && e.target === tr && open());
    }
    wireLifecycle(
      main,
      () => screens.mappings(),
      (b) => b.closest('td').querySelector('.lifecycle-out'),
    );
  },
  mapping: (id) => mappingEditor(main, id),
  audit: () => audit(main),
  tokens: () => tokens(main, me),
  'host-webhooks': () => hostWebhooks(main, me),
  'host-webhook': (id) => hostWebhook(main, me, id),
};

const NAV_OF = { record: 'records', connection: 'connections', mapping: 'mappings', 'host-webhook': 'host-webhooks' };
const TITLE_OF = { 'host-webhooks': 'Host webhooks', 'host-webhook': 'Host webhook' };

async function route() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const hash = location.hash || (token ? '#/dashboard' : '#/signin');
  // `#/records`, and `#records` as other pages link to the console (e.g. the OAuth callback).
  const [name, ...args] = hash.replace(/^#\/?/, '').split('?')[0].split('/');
  const screen = screens[name] ? name : 'dashboard';
  for (const a of document.querySelectorAll('nav a')) {
    const on = a.dataset.nav === (NAV_OF[screen] ?? screen);
    a.classList.toggle('active', on);
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  signout.hidden = screen === 'signin';
  if (screen === 'signin') {
    me = null;
    whoami.hidden = true;
    for (const el of document.querySelectorAll('.admin-only')) el.hidden = true;
  } else {
    shell.classList.remove('signed-out');
    await identify();
  }
  document.title = `${TITLE_OF[screen] ?? screen[0].toUpperCase() + screen.slice(1)} · jira-bridge`;
  main.setAttribute('aria-busy', 'true');
  try {
    await screens[screen](...args.map(decodeURIComponent));
    if (screen !== 'signin') void health();
  } catch (err) {
    if (screen !== 'signin' && err.status !== 401)
      main.innerHTML = `<div class="card err-box"><p class="error" role="alert">${esc(err.message)}</p></div>`;
  } finally {
    main.removeAttribute('aria-busy');
  }
}

signout.addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  me = null;
  banner.hidden = true;
  location.hash = '#/signin';
});
window.addEventListener('hashchange', route);
void route();
