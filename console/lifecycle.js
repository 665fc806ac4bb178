// Pause / resume and unlink controls (connections, mappings, records). No inline script or style:
// buttons carry data-* attributes and wireLifecycle() attaches the listeners (the CSP forbids
// inline handlers). Unlinking asks for a confirmation first; the Jira issues stay as they are.
import { api, badge, esc, post, when } from './lib.js';

/** The pause state of every connection and mapping, keyed `kind:id` ({} for a token that cannot read it). */
export async function pauseStates() {
  try {
    const { pauses } = await api('/api/v1/pauses');
    return Object.fromEntries(pauses.map((p) => [`${p.kind}:${p.id}`, p]));
  } catch {
    return {};
  }
}

/** A badge saying whether it flows. */
export function pauseBadge(state) {
  if (!state || state.enabled) return badge('synced', 'Active');
  const by = state.configured ? 'paused' : 'disabled in its configuration';
  return `<span class="badge failed pause-state" title="${esc(state.since ? `since ${when(state.since)}` : '')}">${esc(by)}</span>`;
}

/** The Pause/Resume toggle and the "Unlink records" button of a connection or mapping. */
export function pauseControls(kind, id, state) {
  const enabled = !state || state.enabled;
  const fixed = state && !state.configured; // enabled: false in the file / body: not toggled here
  const toggle = fixed
    ? '<span class="muted small">enabled: false in its configuration</span>'
    : `<button class="secondary small pause-toggle" data-kind="${esc(kind)}" data-id="${esc(id)}" data-action="${enabled ? 'pause' : 'resume'}">${enabled ? 'Pause' : 'Resume'}</button>`;
  return `${toggle}<button class="ghost-danger small unlink-all" data-kind="${esc(kind)}" data-id="${esc(id)}">Unlink records</button>`;
}

/** The "Unlink from Jira" button of one record. */
export function unlinkRecordButton(r) {
  return r.link?.state === 'linked'
    ? `<button class="ghost-danger small unlink-record" data-scope="${esc(r.scope)}" data-host="${esc(r.host_id)}">Unlink from Jira</button>`
    : '';
}

/**
 * Wires the controls under `root`; `out(el)` is where a button's result or error is shown (an
 * element with aria-live), `rerender()` draws the screen again after a change.
 */
export function wireLifecycle(root, rerender, out) {
  const say = (b, html) => {
    const el = out(b);
    if (el) el.innerHTML = html;
  };
  for (const b of root.querySelectorAll('button.pause-toggle')) {
    b.addEventListener('click', async (e) => {
      e.stopPropagation();
      const { kind, id, action } = b.dataset;
      b.disabled = true;
      try {
        await post(`/api/v1/${kind}s/${encodeURIComponent(id)}/${action}`);
        await rerender();
      } catch (err) {
        b.disabled = false;
        say(b, `<p class="error" role="alert">${esc(err.message)}</p>`);
      }
    });
  }
  for (const b of root.querySelectorAll('button.unlink-all')) {
    b.addEventListener('click', async (e) => {
      e.stopPropagation();
      const { kind, id } = b.dataset;
      const ok = window.confirm(
        `Unlink every record of the ${kind} "${id}" from its Jira issue?\n\nThe Jira issues stay as they are; the records stay, unlinked, and are not sent to Jira again until re-synced.`,
      );
      if (!ok) return;
      b.disabled = true;
      try {
        const r = await post(`/api/v1/${kind}s/${encodeURIComponent(id)}/unlink`);
        say(
          b,
          `<p class="ok unlink-result" role="status">${r.unlinked} record${r.unlinked === 1 ? '' : 's'} unlinked; the Jira issues are unchanged.</p>`,
        );
      } catch (err) {
        say(b, `<p class="error" role="alert">${esc(err.message)}</p>`);
      } finally {
        b.disabled = false;
      }
    });
  }
  for (const b of root.querySelectorAll('button.unlink-record')) {
    b.addEventListener('click', async () => {
      const { scope, host } = b.dataset;
      if (!window.confirm(`Unlink ${scope}/${host} from its Jira issue? The issue stays as it is.`)) return;
      b.disabled = true;
      try {
        await api(`/api/v1/records/${encodeURIComponent(scope)}/${encodeURIComponent(host)}/link`, {
          method: 'DELETE',
        });
        await rerender();
      } catch (err) {
        b.disabled = false;
        say(b, `<p class="error" role="alert">${esc(err.message)}</p>`);
      }
    });
  }
}
