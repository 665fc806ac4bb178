// Host webhooks: the signed change webhooks (Standard Webhooks) jira-bridge POSTs to the host.
// Everyone signed in sees the subscriptions (the configuration file's and the API's) and their
// delivery attempts; admins create one (secret generated or pasted, shown once), change its events,
// state and description, rotate its secret (shown once) and delete it. No secret is shown after.
import { ApiError, ago, api, badge, copy, empty, esc, pageHead, post, put, when } from './lib.js';

/** What each change type of the feed (src/host/feed.ts) means for the host. */
const EVENT_HELP = {
  'record.created': 'a record made from an issue created in Jira',
  'record.linked': 'a host record got its Jira issue',
  'record.updated': 'fields changed in Jira',
  'record.comments': 'comments added, edited or deleted in Jira',
  'record.attachments': 'attachments added or deleted in Jira',
  'record.moved': 'the issue moved to another project (new key)',
  'record.unlinked': 'the issue was deleted in Jira',
  'record.sync_failed': 'the record cannot sync (once per failure episode): paused, credentials, retries, refused',
  'record.sync_recovered': 'the record synced again after a reported failure',
};

const isAdmin = (me) => !me || me.role === 'admin';

const eventsView = (events) =>
  events.includes('*')
    ? '<span class="badge status">all changes</span>'
    : events.map((e) => `<span class="badge">${esc(e)}</span>`).join(' ');

/** A delivery's state: delivered, retrying (the host did not answer 2xx yet; with `counted`, after how many attempts) or pending. */
const deliveryState = (d, counted = false) =>
  d.status === 'delivered'
    ? badge('delivered')
    : d.last_error
      ? badge('failed', counted ? `retrying · ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}` : 'retrying')
      : badge('pending');

const errorOf = (d) =>
  d.last_error && typeof d.last_error === 'object'
    ? String(d.last_error.message ?? '')
    : d.last_error
      ? String(d.last_error)
      : '';

const fieldErr = (path) => `<p class="field-error" data-error-for="${path}" role="alert" hidden></p>`;

/** The events checkboxes: "all changes" (*) or some of the feed's change types. */
function eventsField(types, chosen, prefix) {
  const all = chosen.includes('*');
  return `<fieldset class="field wide events-field" data-path="events"><legend class="label">Events</legend>
    <label class="check-label"><input type="checkbox" id="${prefix}-all" class="ev-all" ${all ? 'checked' : ''} /> <span>All changes, and change types added later (<span class="mono">*</span>)</span></label>
    <div class="event-types">${types
      .map(
        (t) =>
          `<label class="check-label"><input type="checkbox" class="ev" value="${esc(t)}" ${!all && chosen.includes(t) ? 'checked' : ''} ${all ? 'disabled' : ''} /> <span><span class="mono">${esc(t)}</span>${EVENT_HELP[t] ? ` <span class="muted small">${esc(EVENT_HELP[t])}</span>` : ''}</span></label>`,
      )
      .join('')}</div>${fieldErr('events')}</fieldset>`;
}

function wireEvents(form) {
  const all = form.querySelector('.ev-all');
  all.addEventListener('change', () => {
    for (const c of form.querySelectorAll('input.ev')) c.disabled = all.checked;
  });
}

/** The chosen events, or null (with the error shown) when none is. */
function chosenEvents(form) {
  if (form.querySelector('.ev-all').checked) return ['*'];
  const list = [...form.querySelectorAll('input.ev:checked')].map((c) => c.value);
  if (list.length) return list;
  showIssues(form, [{ path: 'events', message: 'choose at least one change type, or all changes' }]);
  return null;
}

function clearIssues(form) {
  for (const el of form.querySelectorAll('.field-error')) el.hidden = true;
  for (const f of form.querySelectorAll('.field.invalid')) f.classList.remove('invalid');
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  form.querySelector('.error-summary').hidden = true;
}

/** The API's errors next to their fields (`events.2` goes to `events`), and listed above the form. */
function showIssues(form, issues) {
  for (const i of issues) {
    const parts = i.path.split('.');
    let slot = null;
    while (parts.length && !slot) {
      slot = form.querySelector(`[data-error-for="${window.CSS.escape(parts.join('.'))}"]`);
      parts.pop();
    }
    if (!slot) continue;
    slot.textContent = i.message;
    slot.hidden = false;
    const field = slot.closest('.field');
    field.classList.add('invalid');
    for (const c of field.querySelectorAll('input:not([type=checkbox])')) c.setAttribute('aria-invalid', 'true');
  }
  const box = form.querySelector('.error-summary');
  box.innerHTML = `<b>Fix this to continue:</b><ul>${issues.map((i) => `<li>${i.path ? `<span class="mono">${esc(i.path)}</span>: ` : ''}${esc(i.message)}</li>`).join('')}</ul>`;
  box.hidden = false;
}

const issuesOf = (err) =>
  err instanceof ApiError && err.issues.length ? err.issues : [{ path: '', message: err.message }];

/** How the host checks a delivery, for the secret just shown. */
function verifyHelp(secret) {
  const key = secret.startsWith('whsec_')
    ? `new Webhook(process.env.JIRA_BRIDGE_WEBHOOK_SECRET); // the whsec_… value above`
    : `new Webhook(Buffer.from(process.env.JIRA_BRIDGE_WEBHOOK_SECRET).toString('base64')); // not whsec_…: its bytes are the key`;
  return `<details class="verify-help" open><summary>How the host verifies a delivery</summary>
    <p>Each POST carries three headers (<a href="https://www.standardwebhooks.com" target="_blank" rel="noopener">Standard Webhooks</a>):
    <span class="mono">webhook-id</span> (the same on every retry: drop repeats),
    <span class="mono">webhook-timestamp</span> (Unix seconds: refuse old ones) and
    <span class="mono">webhook-signature</span> (<span class="mono">v1,</span> + the base64 HMAC-SHA256 of
    <span class="mono">id.timestamp.body</span> under the secret). Verify the raw body before parsing it, with any Standard Webhooks library:</p>
    <pre><code>import { Webhook } from 'standardwebhooks';
const wh = ${esc(key)}
// throws when the signature is wrong or the timestamp is more than 5 minutes off
const event = wh.verify(rawBody, {
  'webhook-id': req.headers['webhook-id'],
  'webhook-timestamp': req.headers['webhook-timestamp'],
  'webhook-signature': req.headers['webhook-signature'],
});</code></pre>
    <p class="hint">Answer 2xx once it is stored: anything else (or no answer) is retried with backoff, in order.</p></details>`;
}

/** The "shown once" box of a new secret, with its copy button. */
function showSecret(out, title, secret) {
  out.innerHTML = `<div class="result ok-box" role="status"><p class="result-title">✓ ${esc(title)}</p>
    <p><b>Copy the secret now: it is not shown again.</b> Put it in the host’s configuration to verify deliveries.</p>
    <div class="copy-row"><code class="new-secret">${esc(secret)}</code><button type="button" class="secondary copy-secret" aria-label="Copy the webhook secret">Copy</button></div>
    ${verifyHelp(secret)}</div>`;
  out.querySelector('.copy-secret').addEventListener('click', (ev) => copy(ev.currentTarget, secret));
}

async function lastDeliveries(subs) {
  const out = new Map();
  await Promise.all(
    subs.map(async (s) => {
      try {
        const { deliveries } = await api(
          `/api/v1/host-webhooks/deliveries?subscription=${encodeURIComponent(s.id)}&limit=1`,
        );
        out.set(s.id, deliveries[0] ?? null);
      } catch {
        out.set(s.id, null);
      }
    }),
  );
  return out;
}

/** `#/host-webhooks`: the list, and (admins) the form of a new subscription. */
export async function hostWebhooks(main, me) {
  const { subscriptions: subs, event_types: types } = await api('/api/v1/host-webhooks');
  const last = await lastDeliveries(subs);
  const admin = isAdmin(me);
  const lastCell = (s) => {
    const d = last.get(s.id);
    if (!d) return '<span class="muted">none yet</span>';
    const err = errorOf(d);
    return `${deliveryState(d, true)} <span class="muted small" title="${esc(when(d.created_at))}">${esc(d.event)} · ${esc(ago(d.created_at))}</span>${err ? `<div class="error small">${esc(err)}</div>` : ''}`;
  };
  main.innerHTML = `${pageHead('Host webhooks', 'Signed webhooks jira-bridge POSTs to your platform on record changes, retried until it answers 2xx. A secret is shown once, when it is made; it is never shown again.')}
    ${
      admin
        ? `<form id="hw-form" class="card form" novalidate>
      <h2>New subscription</h2>
      <div class="error-summary" role="alert" hidden></div>
      <div class="form-grid">
        <div class="field wide" data-path="url"><label for="hw-url">Endpoint URL</label>
          <input id="hw-url" type="url" required maxlength="2000" placeholder="https://platform.example.com/hooks/jira-bridge" aria-describedby="hw-url-hint" />
          <p class="hint" id="hw-url-hint">Where the platform receives them (http or https); one subscription per URL.</p>${fieldErr('url')}</div>
        ${eventsField(types, ['*'], 'hw')}
        <div class="field wide" data-path="description"><label for="hw-desc">Description</label>
          <input id="hw-desc" maxlength="200" placeholder="StackFlow production" />${fieldErr('description')}</div>
        <div class="field wide" data-path="secret"><span class="label" id="hw-secret-label">Secret</span>
          <div class="segmented" role="radiogroup" aria-labelledby="hw-secret-label">
            <label><input type="radio" name="hw-secret-mode" value="generate" checked /> Generate one</label>
            <label><input type="radio" name="hw-secret-mode" value="own" /> Use my own</label>
          </div>
          <div id="hw-own" hidden><label for="hw-secret" class="sr-only">Your secret</label>
            <input id="hw-secret" type="password" autocomplete="new-password" maxlength="500" placeholder="whsec_… or 16+ characters" aria-describedby="hw-secret-hint" /></div>
          <p class="hint" id="hw-secret-hint">Generated: <span class="mono">whsec_</span> + 32 random bytes (the Standard Webhooks form). Your own: <span class="mono">whsec_&lt;base64&gt;</span>, or any string of 16+ characters (its bytes are the key).</p>
          ${fieldErr('secret')}</div>
      </div>
      <div class="row"><button type="submit" id="hw-create">Create subscription</button></div>
      <div id="hw-secret-out" aria-live="polite"></div>
    </form>`
        : ''
    }
    <div class="card"><h2>Subscriptions <span class="muted small">${subs.filter((s) => s.active).length} active</span></h2>
    <div class="table-wrap"><table class="host-webhooks"><thead><tr><th>Endpoint</th><th>Events</th><th>State</th><th>Last delivery</th><th>Source</th></tr></thead><tbody>
    ${subs
      .map(
        (s) => `<tr data-id="${esc(s.id)}" data-url="${esc(s.url)}" class="${s.active ? '' : 'inactive'}">
        <td><a class="hw-link mono" href="#/host-webhook/${encodeURIComponent(s.id)}">${esc(s.url)}</a>${s.description ? `<div class="muted small">${esc(s.description)}</div>` : ''}</td>
        <td class="hw-events">${eventsView(s.events)}</td>
        <td class="hw-state">${s.active ? badge('synced', 'active') : badge('pending', 'paused')}</td>
        <td class="hw-last">${lastCell(s)}</td>
        <td>${s.source === 'file' ? '<span class="badge">file</span>' : '<span class="badge synced">API</span>'}</td></tr>`,
      )
      .join('')}</tbody></table></div>${
      subs.length
        ? ''
        : empty(
            'No subscription yet',
            admin
              ? 'Create one above, or list them under <span class="mono">host_webhooks</span> in jira-bridge.yaml. The host can also poll <span class="mono">GET /api/v1/changes</span>.'
              : 'An admin creates them here or in jira-bridge.yaml. The host can also poll <span class="mono">GET /api/v1/changes</span>.',
          )
    }</div>`;
  if (!admin) return;

  const form = main.querySelector('#hw-form');
  wireEvents(form);
  for (const r of form.querySelectorAll('input[name=hw-secret-mode]')) {
    r.addEventListener('change', () => {
      main.querySelector('#hw-own').hidden = form.querySelector('input[name=hw-secret-mode]:checked').value !== 'own';
    });
  }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearIssues(form);
    const events = chosenEvents(form);
    if (!events) return;
    const own = form.querySelector('input[name=hw-secret-mode]:checked').value === 'own';
    const secret = main.querySelector('#hw-secret').value;
    const description = main.querySelector('#hw-desc').value.trim();
    const body = {
      url: main.querySelector('#hw-url').value.trim(),
      events,
      ...(description ? { description } : {}),
      ...(own ? { secret } : {}),
    };
    try {
      const r = await post('/api/v1/host-webhooks', body);
      // The list gets the new row; the secret is in this box only, once.
      await hostWebhooks(main, me);
      showSecret(
        main.querySelector('#hw-secret-out'),
        `Subscribed ${r.subscription.url} (${r.subscription.id})`,
        r.secret,
      );
    } catch (err) {
      showIssues(form, issuesOf(err));
    }
  });
}

function deliveriesTable(deliveries) {
  if (!deliveries.length) {
    return empty(
      'No delivery yet',
      'A subscription starts at the present: the next record change it covers is sent here.',
    );
  }
  return `<div class="table-wrap"><table class="hw-deliveries"><thead><tr><th>Event</th><th>Status</th><th>Attempts</th><th>Answer</th><th>Last error</th><th>Created</th><th>Delivered</th><th>webhook-id</th></tr></thead><tbody>
    ${deliveries
      .map((d) => {
        const err = errorOf(d);
        return `<tr data-delivery="${esc(d.id)}" data-status="${esc(d.status)}"><td>${esc(d.event)}</td><td class="d-status">${deliveryState(d)}</td><td class="d-attempts">${d.attempts}</td>
        <td class="d-answer">${d.response_status ?? '<span class="muted">—</span>'}</td><td class="d-error">${err ? `<span class="error">${esc(err)}</span>` : ''}</td>
        <td class="muted" title="${esc(when(d.created_at))}">${esc(ago(d.created_at))}</td><td class="muted" title="${esc(when(d.delivered_at))}">${d.delivered_at ? esc(ago(d.delivered_at)) : '—'}</td><td class="mono">${esc(d.id)}</td></tr>`;
      })
      .join('')}</tbody></table></div>`;
}

/** `#/host-webhook/<id>`: one subscription, its recent delivery attempts (live), and (admins) its changes. */
export async function hostWebhook(main, me, id) {
  const base = `/api/v1/host-webhooks/${encodeURIComponent(id)}`;
  const deliveriesUrl = `/api/v1/host-webhooks/deliveries?subscription=${encodeURIComponent(id)}&limit=50`;
  const [s, { event_types: types }, { deliveries }] = await Promise.all([
    api(base),
    api('/api/v1/host-webhooks'),
    api(deliveriesUrl),
  ]);
  const editable = isAdmin(me) && s.source === 'api';
  main.innerHTML = `<p class="crumbs"><a href="#/host-webhooks">← Host webhooks</a></p>
    ${pageHead(`<span class="hw-title">${esc(s.url)}</span>`, `<span class="mono">${esc(s.id)}</span> · ${s.source === 'file' ? 'from jira-bridge.yaml' : 'made through the API'}`)}
    <p id="hw-msg" class="ok" role="status"></p>
    <div id="hw-secret-out" aria-live="polite"></div>
    <dl class="facts card">
      <div><dt>Events</dt><dd id="hw-events">${eventsView(s.events)}</dd></div>
      <div><dt>State</dt><dd id="hw-state">${s.active ? badge('synced', 'active') : badge('pending', 'paused')}</dd></div>
      <div><dt>Description</dt><dd>${s.description ? esc(s.description) : '<span class="muted">—</span>'}</dd></div>
      <div><dt>Secret</dt><dd><span class="masked" title="never shown after it is made">••••••</span></dd></div>
      ${s.updated_at ? `<div><dt>Changed</dt><dd title="${esc(when(s.updated_at))}">${esc(ago(s.updated_at))}</dd></div>` : ''}
    </dl>
    ${
      editable
        ? `<form id="hw-edit" class="card form" novalidate>
      <h2>Change</h2>
      <div class="error-summary" role="alert" hidden></div>
      <div class="form-grid">
        ${eventsField(types, s.events, 'hw-e')}
        <div class="field" data-path="active"><label class="check-label"><input type="checkbox" id="hw-active" ${s.active ? 'checked' : ''} /> Active</label>
          <p class="hint">Paused: nothing is sent; on resuming, the changes made meanwhile follow.</p>${fieldErr('active')}</div>
        <div class="field" data-path="description"><label for="hw-e-desc">Description</label>
          <input id="hw-e-desc" maxlength="200" value="${esc(s.description ?? '')}" />${fieldErr('description')}</div>
      </div>
      <div class="form-actions"><button type="submit" id="hw-save">Save</button>
        <button type="button" class="secondary" id="hw-rotate">Rotate secret</button>
        <button type="button" class="ghost-danger" id="hw-delete">Delete subscription</button></div>
    </form>`
        : s.source === 'file'
          ? '<p class="card muted">This subscription comes from <span class="mono">host_webhooks</span> in jira-bridge.yaml: change it there.</p>'
          : ''
    }
    <section class="card" aria-labelledby="hw-deliveries-h"><h2 id="hw-deliveries-h">Recent deliveries <span class="muted small">newest first, live</span></h2>
      <div id="hw-deliveries">${deliveriesTable(deliveries)}</div></section>`;

  // Live: new attempts show without a reload.
  const box = main.querySelector('#hw-deliveries');
  let seen = JSON.stringify(deliveries);
  const poll = async () => {
    if (!box.isConnected) return;
    try {
      const { deliveries: now } = await api(deliveriesUrl);
      if (!box.isConnected) return;
      const sig = JSON.stringify(now);
      if (sig !== seen) {
        seen = sig;
        box.innerHTML = deliveriesTable(now);
      }
    } catch {
      return;
    }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 2000);
  if (!editable) return;

  const form = main.querySelector('#hw-edit');
  wireEvents(form);
  const again = async (msg) => {
    await hostWebhook(main, me, id);
    main.querySelector('#hw-msg').textContent = msg;
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearIssues(form);
    const events = chosenEvents(form);
    if (!events) return;
    const description = main.querySelector('#hw-e-desc').value.trim();
    try {
      await put(base, { events, active: main.querySelector('#hw-active').checked, description: description || null });
      await again('✓ Saved: live at once.');
    } catch (err) {
      showIssues(form, issuesOf(err));
    }
  });
  main.querySelector('#hw-rotate').addEventListener('click', async () => {
    const ok = window.confirm(
      'Rotate the secret? From now on every delivery (retries too) is signed with the new one only: put it in the host right away.',
    );
    if (!ok) return;
    clearIssues(form);
    try {
      const r = await put(base, { rotate_secret: true });
      await hostWebhook(main, me, id);
      showSecret(main.querySelector('#hw-secret-out'), 'Secret rotated', r.secret);
    } catch (err) {
      showIssues(form, issuesOf(err));
    }
  });
  main.querySelector('#hw-delete').addEventListener('click', async () => {
    if (!window.confirm(`Delete the subscription to ${s.url}? Nothing more is sent to it.`)) return;
    try {
      await api(base, { method: 'DELETE' });
    } catch (err) {
      showIssues(form, issuesOf(err));
      return;
    }
    // Back to the list (without a second render by the router), saying what happened.
    window.history.replaceState(null, '', '#/host-webhooks');
    await hostWebhooks(main, me);
    main
      .querySelector('.page-head')
      .insertAdjacentHTML(
        'afterend',
        `<p id="hw-msg" class="ok" role="status">✓ Subscription to ${esc(s.url)} deleted.</p>`,
      );
  });
}
