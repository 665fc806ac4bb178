// Dashboard: a set-up checklist until the integration runs, then sync volume, latency, Jira calls,
// failures and queue depth from GET /api/v1/stats (the service's own measurements), refreshed live.
import { chart } from './charts.js';
import { api, esc, pageHead } from './lib.js';

const WINDOWS = {
  15: { minutes: 15, step: 10, label: 'Last 15 minutes' },
  60: { minutes: 60, step: 60, label: 'Last hour' },
};

const ms = (v) =>
  v === null || v === undefined ? '—' : v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;

function checklist(connections, mappings, deliveries) {
  const steps = [
    {
      done: connections.length > 0,
      title: 'Connect Jira',
      text: 'Site URL, credentials, and a connection check.',
      href: '#/connection/new',
      cta: 'Add a connection',
    },
    {
      done: mappings.length > 0,
      title: 'Map a project',
      text: 'Host scope → Jira project, issue types, statuses and priorities, from lists fetched from Jira.',
      href: '#/mapping/new',
      cta: 'Create a mapping',
    },
    {
      done: deliveries.length > 0,
      title: 'Add the webhook in Jira',
      text: 'Paste the URL and the generated secret so changes in Jira arrive at once.',
      href: '#/setup',
      cta: 'Webhook settings',
    },
  ];
  if (steps.every((s) => s.done)) return '';
  const next = steps.find((s) => !s.done);
  return `<section class="card onboarding" aria-labelledby="gs"><h2 id="gs">Get started</h2><ol class="steps">${steps
    .map(
      (s, i) =>
        `<li class="${s.done ? 'done' : ''}"><span class="step-no" aria-hidden="true">${s.done ? '✓' : i + 1}</span><div><b>${esc(s.title)}</b>${s.done ? ' <span class="badge synced">done</span>' : ''}<p class="muted">${esc(s.text)}</p></div>${s.done ? '' : `<a class="button${s === next ? '' : ' secondary'}" href="${s.href}">${esc(s.cta)}</a>`}</li>`,
    )
    .join('')}</ol></section>`;
}

export async function dashboard(main) {
  const win = WINDOWS[new URLSearchParams(location.hash.split('?')[1] ?? '').get('window') ?? '15'] ?? WINDOWS[15];
  const [stats, { connections }, { mappings }, { deliveries }] = await Promise.all([
    api(`/api/v1/stats?minutes=${win.minutes}&step=${win.step}`),
    api('/api/v1/connections'),
    api('/api/v1/mappings'),
    api('/api/v1/webhooks/deliveries?limit=1'),
  ]);
  const healthy = connections.filter((c) => c.health?.healthy !== false).length;
  const render = (snap) => {
    // A young process: draw from when it started counting (at least 12 steps), not an empty window.
    const since = new Date(snap.since).getTime() - snap.step_seconds * 1000;
    const first = snap.points.findIndex((p) => new Date(p.t).getTime() >= since);
    const s = {
      ...snap,
      points: snap.points.slice(Math.max(0, Math.min(first < 0 ? 0 : first, snap.points.length - 12))),
    };
    const t = s.points.map((p) => p.t);
    const col = (k) => s.points.map((p) => p[k]);
    const last = s.points.at(-1) ?? {};
    return `<div class="grid stats">
        <div class="stat"><b id="stat-to-jira">${s.totals.sync_to_jira}</b><span>synced to Jira</span></div>
        <div class="stat"><b id="stat-from-jira">${s.totals.sync_from_jira}</b><span>synced from Jira</span></div>
        <div class="stat"><b>${ms(s.totals.latency_p50_ms)}</b><span>job latency p50 · p99 ${ms(s.totals.latency_p99_ms)}</span></div>
        <div class="stat"><b>${s.totals.jira_calls}</b><span>Jira calls · ${s.totals.jira_429} rate-limited</span></div>
        <div class="stat ${s.totals.job_failures ? 'bad' : ''}"><b>${s.totals.job_failures}</b><span>jobs failed</span></div>
        <div class="stat"><b>${last.queue_queued ?? 0}</b><span>jobs waiting</span></div>
      </div>
      <div class="charts">
        ${chart({
          title: 'Sync volume',
          kind: 'bar',
          times: t,
          series: [
            { name: 'to Jira', className: 's1', values: col('sync_to_jira') },
            { name: 'from Jira', className: 's2', values: col('sync_from_jira') },
          ],
        })}
        ${chart({
          title: 'Job latency',
          unit: 'ms',
          times: t,
          series: [
            { name: 'p50', className: 's1', values: col('latency_p50_ms') },
            { name: 'p99', className: 's3', values: col('latency_p99_ms') },
          ],
        })}
        ${chart({
          title: 'Jira calls',
          kind: 'bar',
          times: t,
          series: [
            {
              name: 'answered',
              className: 's1',
              values: s.points.map((p) => p.jira_calls - p.jira_429 - p.jira_errors),
            },
            { name: '429 rate-limited', className: 's3', values: col('jira_429') },
            { name: '5xx / no answer', className: 's4', values: col('jira_errors') },
          ],
        })}
        ${chart({
          title: 'Failures',
          kind: 'bar',
          times: t,
          series: [
            { name: 'retried', className: 's3', values: col('job_retries') },
            { name: 'gave up', className: 's4', values: col('job_failures') },
          ],
        })}
        ${chart({
          title: 'Queue depth',
          times: t,
          series: [
            { name: 'waiting', className: 's1', values: col('queue_queued') },
            { name: 'running', className: 's2', values: col('queue_running') },
            { name: 'failed', className: 's4', values: col('queue_dead') },
          ],
        })}
      </div>
      <p class="muted small">Counted by this process since ${esc(new Date(s.since).toLocaleString())}, in ${s.step_seconds}-second steps. Long-term history: scrape <a href="/metrics">/metrics</a> with Prometheus.</p>`;
  };
  main.innerHTML = `${pageHead(
    'Dashboard',
    `${connections.length} Jira connection${connections.length === 1 ? '' : 's'} (${healthy} healthy) · ${mappings.length} mapping${mappings.length === 1 ? '' : 's'}`,
    `<label class="inline" for="window">Window</label><select id="window">${Object.entries(WINDOWS)
      .map(([k, w]) => `<option value="${k}" ${w === win ? 'selected' : ''}>${esc(w.label)}</option>`)
      .join('')}</select>`,
  )}${checklist(connections, mappings, deliveries)}<div id="dash" aria-live="off">${render(stats)}</div>`;
  document.getElementById('window').addEventListener('change', (e) => {
    location.hash = `#/dashboard?window=${e.target.value}`;
  });
  const el = document.getElementById('dash');
  const tick = async () => {
    if (!el.isConnected) return;
    try {
      const s = await api(`/api/v1/stats?minutes=${win.minutes}&step=${win.step}`);
      if (el.isConnected) el.innerHTML = render(s);
    } catch {
      return;
    }
    setTimeout(tick, 5000);
  };
  setTimeout(tick, 5000);
}
