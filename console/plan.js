// The record page's "Next sync" card (issue 16): what the next outbound sync would do to the Jira
// issue and why — one summary line, then the steps with the rule behind each — from
// GET /api/v1/records/{scope}/{hostId}/plan. "Check against Jira" asks again with ?read=jira (one
// read of the issue: a Jira user's newer change then shows as the conflict Jira wins). No inline
// script or style (the CSP forbids them): wirePlan() attaches the listener.
import { api, esc } from './lib.js';

const list = (xs) => xs.map((x) => esc(x)).join(', ');

/** One step in words (the API's step: op, issue, from/to, fields…). */
function stepText(s) {
  switch (s.op) {
    case 'create':
      return `Create the issue with ${s.fields.length} field${s.fields.length === 1 ? '' : 's'}${s.search ? ' (after looking for one an interrupted attempt made)' : ''}`;
    case 'read':
      return `Read ${esc(s.issue)}`;
    case 'edit':
      return `Set ${list(s.fields.map((f) => f.key))} on ${esc(s.issue)}${s.carried_by ? ` (with the “${esc(s.carried_by)}” transition)` : ''}`;
    case 'transition':
      return `Move ${esc(s.issue)} ${esc(s.from)} → ${esc(s.to)}${s.screen_fields ? ` (setting ${list(Object.keys(s.screen_fields))})` : ''}`;
    case 'explore':
      return `Find the way ${esc(s.from ?? '?')} → ${esc(s.to)} in the workflow`;
    case 'rework':
      return `Open a rework task for ${esc(s.issue)}`;
    case 'link':
      return `Link ${esc(s.issue)} back to the record`;
    case 'comment':
      return `Comments: ${[s.post + s.interrupted ? `post ${s.post + s.interrupted}` : '', s.edit ? `edit ${s.edit}` : ''].filter(Boolean).join(', ')}`;
    case 'attachment':
      return `Upload ${s.upload + s.interrupted} attachment(s)`;
    default:
      return esc(s.op);
  }
}

/** The card's body for one plan. */
export function planBody(plan) {
  const source =
    plan.source === 'jira'
      ? `Checked against Jira just now (${plan.preview_calls} Jira call).`
      : 'From what jira-bridge knows (the issue as last agreed); check against Jira to see changes made there.';
  const steps = plan.steps
    .map(
      (s) =>
        `<li data-op="${esc(s.op)}"><div>${stepText(s)}</div><div class="small muted">${esc(s.expect)} · <span class="plan-rule" title="${esc(s.why)}">${esc(s.why_text)}</span> · ${s.calls} call${s.calls === 1 ? '' : 's'}</div></li>`,
    )
    .join('');
  const conflicts = plan.conflicts
    .map(
      (c) =>
        `<li>${esc(c.field)}: Jira’s value stays (${c.rule === 'lock' ? 'locked to Jira' : 'changed there later'})</li>`,
    )
    .join('');
  return `<p class="plan-summary" id="plan-summary">${esc(plan.summary)}</p>
    <p class="muted small" id="plan-source">${esc(source)}</p>
    ${steps ? `<ol class="plan-steps" id="plan-steps">${steps}</ol>` : ''}
    ${conflicts ? `<ul class="plan-conflicts" id="plan-conflicts">${conflicts}</ul>` : ''}
    ${plan.warnings.length ? `<div class="warn-box">${plan.warnings.map((w) => `<p>⚠ ${esc(w)}</p>`).join('')}</div>` : ''}`;
}

/** The "Next sync" card; `plan` is the answer from the store, or an error. */
export function planCard(plan, linked) {
  const body =
    plan instanceof Error ? `<p class="error" id="plan-summary" role="alert">${esc(plan.message)}</p>` : planBody(plan);
  return `<section class="card plan" aria-labelledby="plan-h"><div class="section-head"><h2 id="plan-h">Next sync</h2>${linked ? '<button id="plan-check" class="secondary small">Check against Jira</button>' : ''}</div>
    <div id="plan-body" aria-live="polite">${body}</div></section>`;
}

/** Wires "Check against Jira": the plan again, on one read of the issue. */
export function wirePlan(root, base) {
  const b = root.querySelector('#plan-check');
  if (!b) return;
  b.addEventListener('click', async () => {
    const out = root.querySelector('#plan-body');
    b.disabled = true;
    try {
      out.innerHTML = planBody(await api(`${base}/plan?read=jira`));
    } catch (err) {
      out.innerHTML = `<p class="error" id="plan-summary" role="alert">${esc(err.message)}</p>`;
    } finally {
      b.disabled = false;
    }
  });
}
