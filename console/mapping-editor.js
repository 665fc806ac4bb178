// Mapping editor: every list filled from the connection's Jira catalogue (GET
// /api/v1/connections/:id/catalog, Reload fetches it again), saved through PUT
// /api/v1/mappings/:id (checked against Jira; each error of details.issues is shown next to its
// field), with a JQL preview of what the mapping covers (POST /api/v1/mappings/preview) and a
// live preview of the issue content templates for one record of the mapping's scope (the same
// endpoint with a sample_record and search: false — rendered by the service, no Jira call).
import { adfToHtml } from './adf.js';
import { ApiError, api, badge, esc, options, pageHead, post, put } from './lib.js';

const DIRECTIONS = [
  ['both', 'Both ways'],
  ['to_jira', 'Host → Jira only'],
  ['from_jira', 'Jira → host only'],
];
const SYNC_FIELDS = ['summary', 'description', 'priority', 'labels', 'assignee', 'status'];

/** The editor's state from a mapping in the configuration file's form. */
function stateOf(m) {
  const pairs = (o) => Object.entries(o ?? {}).map(([a, b]) => ({ a, b }));
  return {
    id: m.id ?? '',
    connection: m.connection ?? '',
    scope: m.scope ?? '',
    project: m.project ?? '',
    filter: m.filter ?? '',
    direction: m.direction ?? 'both',
    kinds: Object.entries(m.kinds ?? {}).map(([kind, t]) => ({
      kind,
      mode: t.service_desk !== undefined ? 'desk' : 'issue',
      issue_type: t.issue_type ?? '',
      subtask_of: t.subtask_of ?? '',
      service_desk: t.service_desk ?? '',
      request_type: t.request_type ?? '',
    })),
    statusOut: pairs(m.status?.out),
    statusIn: pairs(m.status?.in),
    statusInDefault: m.status?.in_default ?? '',
    closed: (m.status?.closed ?? []).join(', '),
    prioOut: pairs(m.priority?.out),
    prioOutDefault: m.priority?.out_default ?? '',
    prioIn: pairs(m.priority?.in),
    prioInDefault: m.priority?.in_default ?? '',
    fields: (m.fields ?? []).map((f) => ({
      host: f.host,
      jira: f.jira,
      type: f.type ?? '',
      direction: f.direction ?? 'both',
      lock: f.lock ?? '',
      values: Object.entries(f.values ?? {})
        .map(([h, j]) => `${h}=${j}`)
        .join(', '),
    })),
    sync: { ...(m.sync ?? {}) },
    labels: (m.labels ?? []).join(' '),
    hostLinkUrl: m.host_link?.url ?? '',
    hostLinkTitle: m.host_link?.title ?? '',
    closeMode: m.close?.status ? 'status' : 'never',
    closeStatus: m.close?.status ?? '',
    // One resolution (or the table's default) and the table's rows by closed host status.
    resolution: (typeof m.resolution === 'string' ? m.resolution : m.resolution?.default) ?? '',
    resolutionBy:
      m.resolution && typeof m.resolution === 'object'
        ? pairs(Object.fromEntries(Object.entries(m.resolution).filter(([k]) => k !== 'default')))
        : [],
    assigneeUnmatched: m.assignee?.unmatched ?? 'unassign',
    tplSummary: m.templates?.summary ?? '',
    tplDescription: m.templates?.description ?? '',
    tplComment: m.templates?.comment_prefix ?? '',
    // The live preview's record: a host id of the scope ('' = the sample as edited) and its JSON.
    sampleRecord: '',
    sampleJson: '',
    reopenMode: m.reopen?.mode ?? 'reopen',
    reworkIssueType: m.reopen?.rework_issue_type ?? '',
    reworkLinkType: m.reopen?.rework_link_type ?? '',
    allowReopenFromJira: m.reopen?.allow_from_jira ?? true,
    commentsEnabled: m.comments?.enabled ?? true,
    commentsDirection: m.comments?.direction ?? 'both',
    onDelete: m.on_jira_delete ?? 'unlink',
    onCreate: m.on_jira_create ?? 'ignore',
    attachmentsFromJira: m.attachments?.from_jira ?? true,
    attachmentsMaxMb: String(Math.round(((m.attachments?.max_bytes ?? 10485760) / 1048576) * 100) / 100),
  };
}

/** `prod=Production, dev=Development` → { prod: 'Production', dev: 'Development' } (blank: none). */
function valueMap(text) {
  const pairs = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const at = p.indexOf('=');
      return at < 0 ? [p, ''] : [p.slice(0, at).trim(), p.slice(at + 1).trim()];
    });
  return pairs.length ? Object.fromEntries(pairs) : undefined;
}

/** A new mapping's starting point: common host values, Jira values left to choose. */
function blank(connection) {
  return stateOf({
    connection,
    kinds: { incident: { issue_type: '' } },
    status: { out: { new: '', in_progress: '', resolved: '' }, closed: ['resolved'] },
    priority: { out: { critical: '', high: '', medium: '', low: '' } },
  });
}

/** The mapping body (configuration file form) from the state; blank rows are left out. */
function bodyOf(s) {
  const obj = (rows) =>
    Object.fromEntries(rows.filter((r) => r.a.trim() !== '' || r.b !== '').map((r) => [r.a.trim(), r.b]));
  const sync = Object.fromEntries(Object.entries(s.sync).filter(([, v]) => v));
  return {
    connection: s.connection,
    scope: s.scope.trim(),
    project: s.project,
    ...(s.filter.trim() ? { filter: s.filter.trim() } : {}),
    direction: s.direction,
    kinds: Object.fromEntries(
      s.kinds
        .filter((k) => k.kind.trim() !== '')
        .map((k) => [
          k.kind.trim(),
          k.mode === 'desk'
            ? { service_desk: k.service_desk, request_type: k.request_type }
            : { issue_type: k.issue_type, ...(k.subtask_of ? { subtask_of: k.subtask_of } : {}) },
        ]),
    ),
    status: {
      out: obj(s.statusOut),
      in: obj(s.statusIn),
      ...(s.statusInDefault.trim() ? { in_default: s.statusInDefault.trim() } : {}),
      closed: s.closed.split(/[\s,]+/).filter(Boolean),
    },
    priority: {
      out: obj(s.prioOut),
      ...(s.prioOutDefault ? { out_default: s.prioOutDefault } : {}),
      in: obj(s.prioIn),
      ...(s.prioInDefault.trim() ? { in_default: s.prioInDefault.trim() } : {}),
    },
    fields: s.fields
      .filter((f) => f.host.trim() !== '' || f.jira !== '')
      .map((f) => ({
        host: f.host.trim(),
        jira: f.jira,
        ...(f.type ? { type: f.type } : {}),
        direction: f.direction,
        ...(f.lock ? { lock: f.lock } : {}),
        ...(valueMap(f.values ?? '') ? { values: valueMap(f.values ?? '') } : {}),
      })),
    sync,
    labels: s.labels.split(/[\s,]+/).filter(Boolean),
    ...(s.hostLinkUrl.trim()
      ? {
          host_link: {
            url: s.hostLinkUrl.trim(),
            ...(s.hostLinkTitle.trim() ? { title: s.hostLinkTitle.trim() } : {}),
          },
        }
      : {}),
    close: s.closeMode === 'status' ? { status: s.closeStatus } : { never: true },
    ...(resolutionOf(s) !== undefined ? { resolution: resolutionOf(s) } : {}),
    ...(templatesOf(s) ? { templates: templatesOf(s) } : {}),
    assignee: { unmatched: s.assigneeUnmatched },
    reopen: {
      mode: s.reopenMode,
      ...(s.reopenMode === 'rework' && s.reworkIssueType ? { rework_issue_type: s.reworkIssueType } : {}),
      ...(s.reopenMode === 'rework' && s.reworkLinkType ? { rework_link_type: s.reworkLinkType } : {}),
      allow_from_jira: s.allowReopenFromJira,
    },
    comments: { enabled: s.commentsEnabled, direction: s.commentsDirection },
    on_jira_delete: s.onDelete,
    on_jira_create: s.onCreate,
    attachments: {
      from_jira: s.attachmentsFromJira,
      max_bytes: Math.round(Number(s.attachmentsMaxMb) * 1048576),
    },
  };
}

/** The templates typed (an empty one is left out: the record's own title / description is sent). */
function templatesOf(s) {
  const t = {
    ...(s.tplSummary.trim() ? { summary: s.tplSummary } : {}),
    ...(s.tplDescription.trim() ? { description: s.tplDescription } : {}),
    ...(s.tplComment.trim() ? { comment_prefix: s.tplComment } : {}),
  };
  return Object.keys(t).length ? t : undefined;
}

/** A record of the records API as the preview's sample_record. */
const sampleOf = (r) => ({
  host_id: r.host_id,
  kind: r.kind,
  title: r.title,
  description: r.description,
  status: r.status,
  severity: r.severity,
  assignee_email: r.assignee_email,
  labels: r.labels,
  custom: r.custom,
  parent_host_id: r.parent_host_id,
  comment_author: 'A host user',
});

/** A sample when the scope has no record yet: the mapping's kind, first status and severity, its fields. */
const genericSample = (s) => ({
  host_id: 'sample-1',
  kind: s.kinds.find((k) => k.kind.trim())?.kind.trim() ?? '',
  title: 'Example record',
  description: 'What the host says about it.',
  status: s.statusOut.find((r) => r.a.trim())?.a.trim() ?? 'open',
  severity: s.prioOut.find((r) => r.a.trim())?.a.trim() ?? null,
  assignee_email: null,
  labels: [],
  custom: Object.fromEntries(s.fields.filter((f) => f.host.trim()).map((f) => [f.host.trim(), ''])),
  parent_host_id: null,
  comment_author: 'A host user',
});

/** The preview's answer: the summary, the description drawn readably, and what Jira is sent. */
function renderedHtml(r) {
  const wiki = typeof r.description_body === 'string';
  const sent =
    r.description_body === null
      ? '<p class="small muted" id="tpl-jira-body">No description is sent (empty).</p>'
      : `<p class="small" id="tpl-jira-body">${wiki ? 'Jira Data Center is sent <b>wiki markup</b>' : 'Jira Cloud is sent <b>ADF</b> (Atlassian Document Format)'}:</p>
        <details class="tpl-sent"><summary>Show the body</summary><pre class="code">${esc(wiki ? r.description_body : JSON.stringify(r.description_body, null, 2))}</pre></details>`;
  return `<dl class="tpl-out">
    <dt>Summary</dt><dd id="tpl-summary">${r.summary ? esc(r.summary) : '<span class="muted">(empty)</span>'}</dd>
    <dt>Description</dt><dd><div id="tpl-description" class="md">${r.description_doc ? adfToHtml(r.description_doc) : '<span class="muted">(empty)</span>'}</div></dd>
    <dt>Comment prefix</dt><dd id="tpl-comment" class="mono">${r.comment_prefix ? esc(r.comment_prefix) : '<span class="muted">(none)</span>'}</dd>
  </dl>${sent}`;
}

/** One resolution, or a table by closed host status (rows) with the single one as its default. */
function resolutionOf(s) {
  const rows = s.resolutionBy.filter((r) => r.a.trim() !== '' || r.b !== '');
  if (!rows.length) return s.resolution || undefined;
  return {
    ...Object.fromEntries(rows.map((r) => [r.a.trim(), r.b])),
    ...(s.resolution ? { default: s.resolution } : {}),
  };
}

/** A select whose current value stays visible (flagged) when Jira no longer offers it. */
function select({ bind, list, value, placeholder, label, id }) {
  const known = list.some((o) => String(Array.isArray(o) ? o[0] : o) === String(value ?? ''));
  const stale = value && !known ? `<option value="${esc(value)}" selected>⚠ ${esc(value)} (not in Jira)</option>` : '';
  return `<select data-bind="${esc(bind)}" ${id ? `id="${esc(id)}"` : ''} ${label ? `aria-label="${esc(label)}"` : ''}>${stale}${options(list, value, placeholder !== undefined ? { placeholder } : {})}</select>`;
}

const text = ({ bind, value, label, placeholder = '', id }) =>
  `<input type="text" data-bind="${esc(bind)}" value="${esc(value)}" ${id ? `id="${esc(id)}"` : ''} ${label ? `aria-label="${esc(label)}"` : ''} placeholder="${esc(placeholder)}" />`;

const removeBtn = (list, i, what) =>
  `<button type="button" class="icon remove-row" data-list="${list}" data-i="${i}" aria-label="Remove ${esc(what)}" title="Remove">✕</button>`;
const addBtn = (list, what) =>
  `<button type="button" class="link add-row" data-list="${list}">+ Add ${esc(what)}</button>`;

/** The progress of an "apply to linked records" run (or why it could not start). */
function applyHtml(run, error) {
  if (error)
    return `<div class="card err-box apply-run" role="alert"><b>Apply to linked records:</b> ${esc(error.message)}</div>`;
  if (!run) return '';
  const label = { running: 'running', done: 'done', cancelled: 'cancelled', failed: 'failed' }[run.state] ?? run.state;
  const cls = run.state === 'done' ? 'synced' : run.state === 'running' ? 'pending' : 'failed';
  return `<div class="card apply-run" data-state="${esc(run.state)}">
    <b>Apply to linked records</b> <span class="badge ${cls}" id="apply-state">${esc(label)}</span>
    <progress id="apply-progress" max="${Math.max(run.total, 1)}" value="${run.done}" aria-label="Records re-synced">${run.done}/${run.total}</progress>
    <p class="small" id="apply-counts">${run.done}/${run.total} linked records re-synced — ${run.changed} changed in Jira, ${run.unchanged} already matching, ${run.failed} failed; ${run.jira_calls} Jira call${run.jira_calls === 1 ? '' : 's'}. Started ${esc(new Date(run.started_at).toLocaleString())} by ${esc(run.requested_by)}.</p>
    ${run.error ? `<p class="error">${esc(run.error)}</p>` : ''}
    ${run.failed ? '<p class="small">The failed records’ timelines say why (Records, filter by failed).</p>' : ''}
  </div>`;
}

export async function mappingEditor(main, mappingId) {
  const editing = mappingId && mappingId !== 'new';
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const [{ connections }, entry] = await Promise.all([
    api('/api/v1/connections'),
    editing ? api(`/api/v1/mappings/${encodeURIComponent(mappingId)}`) : Promise.resolve(null),
  ]);
  if (!connections.length) {
    main.innerHTML = `${pageHead('New mapping')}<div class="card"><p>A mapping needs a Jira connection first.</p><a class="button" href="#/connection/new">Add a connection</a></div>`;
    return;
  }
  const root = document.createElement('div');
  main.replaceChildren(root);
  const s = entry ? stateOf({ ...entry.mapping, id: entry.id }) : blank(params.get('connection') ?? connections[0].id);
  if (!connections.some((c) => c.id === s.connection) && !entry) s.connection = connections[0].id;
  let catalog = null;
  let catalogError = null;
  let issues = [];
  let savedId = editing ? mappingId : null;
  let lastPreview = '';
  let lastTplPreview = '';
  /** The records of the mapping's scope (the first 50) to preview the templates with. */
  let scopeRecords = [];
  let recordsError = null;
  let source = entry?.source ?? null;
  /** The newest "apply to linked records" run of this mapping (POST/GET /api/v1/mappings/:id/apply…). */
  let applyRun = null;
  let applyError = null;

  async function loadCatalog(reload = false) {
    catalogError = null;
    try {
      catalog = await api(
        `/api/v1/connections/${encodeURIComponent(s.connection)}/catalog${reload ? '?reload=true' : ''}`,
      );
    } catch (err) {
      catalog = null;
      catalogError = err;
    }
  }

  async function loadRecords() {
    recordsError = null;
    scopeRecords = [];
    const scope = s.scope.trim();
    if (scope) {
      try {
        scopeRecords = (await api(`/api/v1/records?scope=${encodeURIComponent(scope)}&limit=50`)).records;
      } catch (err) {
        recordsError = err;
      }
    }
    // The preview starts with a real record of the scope when there is one.
    const chosen = scopeRecords.find((r) => r.host_id === s.sampleRecord) ?? (s.sampleJson ? null : scopeRecords[0]);
    if (chosen) {
      s.sampleRecord = chosen.host_id;
      s.sampleJson = JSON.stringify(sampleOf(chosen), null, 2);
    } else if (!s.sampleJson) {
      s.sampleRecord = '';
      s.sampleJson = JSON.stringify(genericSample(s), null, 2);
    }
  }

  const project = () => catalog?.projects.find((p) => p.key === s.project || p.id === s.project);
  const lists = () => {
    const p = project();
    const statuses = (catalog?.statuses ?? []).map((x) => x.name);
    return {
      projects: (catalog?.projects ?? []).map((x) => [x.key, `${x.key} — ${x.name}`]),
      issueTypes: (p?.issueTypes ?? []).filter((t) => !t.subtask).map((t) => t.name),
      allTypes: (p?.issueTypes ?? []).map((t) => t.name),
      desks: (catalog?.serviceDesks ?? [])
        .filter((d) => !p || d.projectId === p.id || d.projectKey === p.key)
        .map((d) => [d.id, `${d.projectKey} service desk`]),
      requestTypes: (deskId) =>
        (catalog?.serviceDesks ?? []).find((d) => d.id === deskId)?.requestTypes.map((r) => r.name) ?? [],
      statuses,
      statusIn: [
        ...statuses,
        ['category:new', 'Any “to do” status'],
        ['category:indeterminate', 'Any “in progress” status'],
        ['category:done', 'Any “done” status'],
      ],
      priorities: (catalog?.priorities ?? []).map((x) => x.name),
      resolutions: (catalog?.resolutions ?? []).map((x) => x.name),
      linkTypes: (catalog?.linkTypes ?? []).map((x) => [x.name, `${x.name} (${x.outward} / ${x.inward})`]),
      fields: (catalog?.fields ?? [])
        .filter(
          (f) => !['summary', 'description', 'priority', 'labels', 'status', 'project', 'issuetype'].includes(f.id),
        )
        .map((f) => [f.id, `${f.name}${f.custom ? ` (${f.id})` : ''}`]),
    };
  };

  /** Reads every bound control into the state. */
  function read() {
    for (const el of root.querySelectorAll('[data-bind]')) {
      const path = el.dataset.bind.split('.');
      const v =
        el.type === 'checkbox' ? el.checked : el.type === 'radio' ? (el.checked ? el.value : undefined) : el.value;
      if (v === undefined) continue;
      let o = s;
      for (const k of path.slice(0, -1)) o = o[k];
      o[path.at(-1)] = v;
    }
  }

  function render() {
    const L = lists();
    const conn = connections.find((c) => c.id === s.connection);
    const kindsRows = s.kinds
      .map(
        (k, i) => `<tr>
        <td data-path="kinds.${esc(k.kind)}">${text({ bind: `kinds.${i}.kind`, value: k.kind, label: `Record kind ${i + 1}`, placeholder: 'incident' })}</td>
        <td>${select({
          bind: `kinds.${i}.mode`,
          list: [
            ['issue', 'Issue type'],
            ['desk', 'Service request'],
          ],
          value: k.mode,
          label: `Created as (kind ${i + 1})`,
        })}</td>
        <td data-path="kinds.${esc(k.kind)}.${k.mode === 'desk' ? 'service_desk' : 'issue_type'}">${
          k.mode === 'desk'
            ? select({
                bind: `kinds.${i}.service_desk`,
                list: L.desks,
                value: k.service_desk,
                placeholder: 'Service desk…',
                label: `Service desk for ${k.kind || `kind ${i + 1}`}`,
              })
            : select({
                bind: `kinds.${i}.issue_type`,
                list: L.issueTypes,
                value: k.issue_type,
                placeholder: 'Issue type…',
                label: `Issue type for ${k.kind || `kind ${i + 1}`}`,
              })
        }</td>
        <td data-path="kinds.${esc(k.kind)}.request_type">${
          k.mode === 'desk'
            ? select({
                bind: `kinds.${i}.request_type`,
                list: L.requestTypes(k.service_desk),
                value: k.request_type,
                placeholder: 'Request type…',
                label: `Request type for ${k.kind || `kind ${i + 1}`}`,
              })
            : '<span class="muted">—</span>'
        }</td>
        <td>${removeBtn('kinds', i, `kind ${k.kind}`)}</td></tr>`,
      )
      .join('');
    const pairRows = (list, key, left, right, section) =>
      s[list]
        .map(
          (r, i) =>
            `<tr><td data-path="${section}.${esc(r.a)}.key">${left(r, i)}</td><td class="arrow" aria-hidden="true">→</td><td data-path="${section}.${esc(r.a)}">${right(r, i)}</td><td>${removeBtn(list, i, `row ${r.a}`)}</td></tr>`,
        )
        .join('');
    const hostText = (list, what) => (r, i) =>
      text({ bind: `${list}.${i}.a`, value: r.a, label: `${what} ${i + 1}`, placeholder: what });
    const hostTextB = (list, what) => (r, i) =>
      text({ bind: `${list}.${i}.b`, value: r.b, label: `${what} for ${r.a || `row ${i + 1}`}`, placeholder: what });
    const jiraSelB = (list, items, what) => (r, i) =>
      select({
        bind: `${list}.${i}.b`,
        list: items,
        value: r.b,
        placeholder: `${what}…`,
        label: `${what} for ${r.a || `row ${i + 1}`}`,
      });
    const jiraSelA = (list, items, what) => (r, i) =>
      select({ bind: `${list}.${i}.a`, list: items, value: r.a, placeholder: `${what}…`, label: `${what} ${i + 1}` });

    root.innerHTML = `<p class="crumbs"><a href="#/mappings">← Mappings</a></p>
    ${pageHead(savedId ? `Mapping <span class="mono">${esc(savedId)}</span>` : 'New mapping', 'Which host records go to which Jira project, and how their values translate. Every list comes from Jira.', `${source === 'api' ? '<button type="button" class="ghost-danger" id="delete-mapping">Delete</button>' : ''}${savedId ? '<button type="button" class="secondary" id="apply-linked">Apply to linked records</button>' : ''}<button type="button" class="secondary" id="reload">↻ Reload from Jira</button>`)}
    <div id="apply-out" aria-live="polite">${applyHtml(applyRun, applyError)}</div>
    ${source === 'file' ? '<p class="warn-box">This mapping comes from jira-bridge.yaml. Saving it here overrides the file’s version (delete the saved one to go back to the file).</p>' : ''}
    ${catalogError ? `<div class="card err-box" role="alert"><b>Could not load the lists from Jira:</b> ${esc(catalogError.message)} <a href="#/connections">Check the connection</a></div>` : ''}
    ${catalog ? `<p class="muted small" id="catalog-info">Lists from ${esc(conn?.name ?? s.connection)}, fetched ${esc(new Date(catalog.fetchedAt).toLocaleString())}: ${catalog.projects.length} projects, ${catalog.statuses.length} statuses, ${catalog.priorities.length} priorities, ${catalog.fields.length} fields.</p>` : ''}
    <form id="mapping-form" novalidate>
    <div class="error-summary card" id="form-errors" role="alert" tabindex="-1" hidden></div>
    <div class="editor">
    <div class="editor-main">
    <section class="card"><h2>Scope</h2><div class="form-grid">
      <div class="field" data-path="id"><label for="m-id">Mapping ID</label>${savedId ? `<input id="m-id" value="${esc(savedId)}" readonly />` : text({ bind: 'id', value: s.id, id: 'm-id', placeholder: 'stackflow-ops' })}</div>
      <div class="field" data-path="connection"><label for="m-conn">Jira connection</label>${select({ bind: 'connection', id: 'm-conn', list: connections.map((c) => [c.id, c.name]), value: s.connection })}</div>
      <div class="field" data-path="scope"><label for="m-scope">Host scope</label>${text({ bind: 'scope', value: s.scope, id: 'm-scope', placeholder: 'e.g. a tenant, team or product' })}<p class="hint">Records pushed with this scope use this mapping.</p></div>
      <div class="field" data-path="project"><label for="m-project">Jira project</label>${select({ bind: 'project', id: 'm-project', list: L.projects, value: s.project, placeholder: 'Choose a project…' })}</div>
      <div class="field wide" data-path="filter"><label for="m-filter">JQL filter (optional)</label>${text({ bind: 'filter', value: s.filter, id: 'm-filter', placeholder: 'labels = stackflow-sync' })}
        <p class="hint">Narrows the project to the issues this mapping owns; no ORDER BY. <button type="button" class="link" id="filter-preview">Preview the filter</button></p></div>
      <div class="field" data-path="direction"><label for="m-direction">Sync direction</label>${select({ bind: 'direction', id: 'm-direction', list: DIRECTIONS, value: s.direction })}</div>
    </div></section>

    <section class="card"><h2>Record kinds → issue types</h2><p class="hint">Each kind of host record becomes an issue type, or a service request with a request type.</p>
      <div class="table-wrap"><table class="edit"><thead><tr><th>Host kind</th><th>Created as</th><th>Issue type / service desk</th><th>Request type</th><th><span class="sr-only">Remove</span></th></tr></thead><tbody>${kindsRows}</tbody></table></div>
      <div data-path="kinds"></div>${addBtn('kinds', 'kind')}</section>

    <section class="card"><h2>Status</h2><div class="two-col">
      <div><h3>Host → Jira</h3><div class="table-wrap"><table class="edit"><thead><tr><th>Host status</th><th></th><th>Jira status</th><th></th></tr></thead><tbody>
      ${pairRows('statusOut', 'a', hostText('statusOut', 'Host status'), jiraSelB('statusOut', L.statuses, 'Jira status'), 'status.out')}</tbody></table></div>${addBtn('statusOut', 'status')}
      <div class="field" data-path="status.closed"><label for="m-closed">Host statuses that mean “closed”</label>${text({ bind: 'closed', value: s.closed, id: 'm-closed', placeholder: 'resolved, closed' })}</div></div>
      <div><h3>Jira → host</h3><div class="table-wrap"><table class="edit"><thead><tr><th>Jira status</th><th></th><th>Host status</th><th></th></tr></thead><tbody>
      ${pairRows('statusIn', 'a', jiraSelA('statusIn', L.statusIn, 'Jira status'), hostTextB('statusIn', 'Host status'), 'status.in')}</tbody></table></div>${addBtn('statusIn', 'status')}
      <div class="field" data-path="status.in_default"><label for="m-in-default">Any other Jira status → host status</label>${text({ bind: 'statusInDefault', value: s.statusInDefault, id: 'm-in-default', placeholder: '(leave the record’s status)' })}</div></div>
    </div></section>

    <section class="card"><h2>Severity ↔ priority</h2><div class="two-col">
      <div><h3>Host severity → Jira priority</h3><div class="table-wrap"><table class="edit"><thead><tr><th>Severity</th><th></th><th>Priority</th><th></th></tr></thead><tbody>
      ${pairRows('prioOut', 'a', hostText('prioOut', 'Severity'), jiraSelB('prioOut', L.priorities, 'Priority'), 'priority.out')}</tbody></table></div>${addBtn('prioOut', 'severity')}
      <div class="field" data-path="priority.out_default"><label for="m-prio-default">Default priority</label>${select({ bind: 'prioOutDefault', id: 'm-prio-default', list: L.priorities, value: s.prioOutDefault, placeholder: '(Jira’s default)' })}</div></div>
      <div><h3>Jira priority → host severity</h3><div class="table-wrap"><table class="edit"><thead><tr><th>Priority</th><th></th><th>Severity</th><th></th></tr></thead><tbody>
      ${pairRows('prioIn', 'a', jiraSelA('prioIn', L.priorities, 'Priority'), hostTextB('prioIn', 'Severity'), 'priority.in')}</tbody></table></div>${addBtn('prioIn', 'priority')}
      <div class="field" data-path="priority.in_default"><label for="m-sev-default">Default severity</label>${text({ bind: 'prioInDefault', value: s.prioInDefault, id: 'm-sev-default', placeholder: '(leave the record’s severity)' })}</div></div>
    </div></section>

    <section class="card"><h2>Fields</h2><p class="hint">Host fields ↔ Jira fields. A lock makes one side the owner: the other side’s edits are put back.</p>
      <div class="table-wrap"><table class="edit"><thead><tr><th>Host field</th><th>Jira field</th><th>Direction</th><th>Lock</th><th>Values (select fields)</th><th></th></tr></thead><tbody>
      ${s.fields
        .map(
          (
            f,
            i,
          ) => `<tr><td data-path="fields.${i}.host">${text({ bind: `fields.${i}.host`, value: f.host, label: `Host field ${i + 1}`, placeholder: 'cvss_score' })}</td>
          <td data-path="fields.${i}.jira">${select({ bind: `fields.${i}.jira`, list: L.fields, value: f.jira, placeholder: 'Jira field…', label: `Jira field for ${f.host || `row ${i + 1}`}` })}</td>
          <td data-path="fields.${i}.direction">${select({ bind: `fields.${i}.direction`, list: DIRECTIONS, value: f.direction, label: `Direction for ${f.host || `row ${i + 1}`}` })}</td>
          <td data-path="fields.${i}.lock">${select({
            bind: `fields.${i}.lock`,
            list: [
              ['', 'None'],
              ['host', 'Host owns it'],
              ['jira', 'Jira owns it'],
            ],
            value: f.lock,
            label: `Lock for ${f.host || `row ${i + 1}`}`,
          })}</td>
          <td data-path="fields.${i}.values">${text({ bind: `fields.${i}.values`, value: f.values, label: `Value map for ${f.host || `row ${i + 1}`}`, placeholder: 'prod=Production, dev=Development' })}</td>
          <td>${removeBtn('fields', i, `field ${f.host}`)}</td></tr>`,
        )
        .join(
          '',
        )}</tbody></table></div>${s.fields.length ? '' : '<p class="muted small">No extra fields: title, description, status, severity and labels sync by themselves.</p>'}${addBtn('fields', 'field')}</section>

    <section class="card"><h2>Built-in fields</h2><div class="form-grid four">
      ${SYNC_FIELDS.map((f) => `<div class="field" data-path="sync.${f}"><label for="m-sync-${f}">${f[0].toUpperCase() + f.slice(1)}</label>${select({ bind: `sync.${f}`, id: `m-sync-${f}`, list: [['', 'As the mapping'], ...DIRECTIONS], value: s.sync[f] ?? '' })}</div>`).join('')}
      <div class="field wide" data-path="labels"><label for="m-labels">Labels added to every issue</label>${text({ bind: 'labels', value: s.labels, id: 'm-labels', placeholder: 'from-stackflow security' })}<p class="hint">Separated by spaces; Jira labels cannot contain spaces.</p></div>
      <div class="field wide" data-path="host_link.url"><label for="m-host-link">Link back to the record (URL template)</label>${text({ bind: 'hostLinkUrl', value: s.hostLinkUrl, id: 'm-host-link', placeholder: 'https://platform.example/incidents/{host_id}' })}<p class="hint">Each issue gets a link to its record: {scope}, {host_id} and {kind} are filled in. Leave empty for none.</p></div>
      <div class="field wide" data-path="host_link.title"><label for="m-host-link-title">Link title</label>${text({ bind: 'hostLinkTitle', value: s.hostLinkTitle, id: 'm-host-link-title', placeholder: '{scope} {host_id}' })}</div>
    </div></section>

    <section class="card" id="templates"><h2>Issue content</h2>
      <p class="hint">Templates (Liquid) write the issue from the record: <code>{{ title }}</code>, <code>{{ custom.device }}</code>, <code>{% if custom.site %}…{% endif %}</code>, <code>{% for l in labels %}…{% endfor %}</code>, filters such as <code>default</code> or <code>upcase</code>. Values are escaped; <code>{{ description | raw }}</code> keeps the host’s Markdown. Leave one empty to send the record’s own title or description.</p>
      <div class="tpl-grid">
        <div class="tpl-edit">
          <div class="field" data-path="templates.summary"><label for="m-tpl-summary">Summary</label>${text({ bind: 'tplSummary', value: s.tplSummary, id: 'm-tpl-summary', placeholder: '[{{ severity }}] {{ title }}' })}</div>
          <div class="field" data-path="templates.description"><label for="m-tpl-description">Description (Markdown)</label><textarea data-bind="tplDescription" id="m-tpl-description" rows="9" spellcheck="false" placeholder="**Device:** {{ custom.device }}">${esc(s.tplDescription)}</textarea></div>
          <div class="field" data-path="templates.comment_prefix"><label for="m-tpl-comment">Before each host comment</label>${text({ bind: 'tplComment', value: s.tplComment, id: 'm-tpl-comment', placeholder: '**{{ comment.author }}** wrote:' })}</div>
          <p class="hint">Placeholders: title, description, status, severity, assignee_email, labels, custom.<i>name</i>, kind, scope, host_id, parent_host_id; comment.author before a comment.</p>
        </div>
        <div class="tpl-side">
          <div class="field"><label for="tpl-record">Preview with the record</label>${select({
            bind: 'sampleRecord',
            id: 'tpl-record',
            list: [
              ['', scopeRecords.length ? 'The sample below, as edited' : 'A sample record (edit it below)'],
              ...scopeRecords.map((r) => [r.host_id, `${r.host_id} — ${r.title}`.slice(0, 80)]),
            ],
            value: s.sampleRecord,
          })}<p class="hint">${
            recordsError
              ? `Could not list the scope’s records: ${esc(recordsError.message)}`
              : s.scope.trim()
                ? scopeRecords.length
                  ? `Records of the scope ${esc(s.scope.trim())}; edit the JSON to try other values.`
                  : `No record of the scope ${esc(s.scope.trim())} yet: edit the sample.`
                : 'Set the host scope to pick one of its records.'
          }</p></div>
          <div class="field"><label for="tpl-sample">Record (JSON)</label><textarea data-bind="sampleJson" id="tpl-sample" rows="9" spellcheck="false">${esc(s.sampleJson)}</textarea></div>
          <div id="tpl-preview" class="tpl-preview" aria-live="polite">${lastTplPreview}</div>
        </div>
      </div></section>

    <section class="card"><h2>Lifecycle</h2><div class="form-grid">
      <div class="field" data-path="close"><span class="label" id="close-label">When the host closes a record</span>
        <div class="stack" role="radiogroup" aria-labelledby="close-label">
          <label class="check-label"><input type="radio" name="close" data-bind="closeMode" value="never" ${s.closeMode === 'never' ? 'checked' : ''}/> Leave the Jira issue open</label>
          <label class="check-label"><input type="radio" name="close" data-bind="closeMode" value="status" ${s.closeMode === 'status' ? 'checked' : ''}/> Move it to a status</label>
        </div></div>
      <div class="field" data-path="close.status"><label for="m-close-status">Closing status</label>${select({ bind: 'closeStatus', id: 'm-close-status', list: L.statuses, value: s.closeStatus, placeholder: 'Jira status…' })}</div>
      <div class="field" data-path="resolution"><label for="m-resolution">Resolution${s.resolutionBy.length ? ' (default)' : ''}</label>${select({ bind: 'resolution', id: 'm-resolution', list: L.resolutions, value: s.resolution, placeholder: '(none)' })}</div>
      <div class="field wide" data-path="resolution.by"><span class="label">Resolution by closed host status</span>
        <p class="hint">A closed host status may close with a resolution of its own (e.g. risk_accepted → Won't Fix); the others take the one above. Each goes to the Jira status the status table names for it, else to the closing status.</p>
        <div class="table-wrap"><table class="edit" id="resolution-table"><thead><tr><th>Closed host status</th><th></th><th>Resolution</th><th></th></tr></thead><tbody>
        ${pairRows('resolutionBy', 'a', hostText('resolutionBy', 'Closed host status'), jiraSelB('resolutionBy', L.resolutions, 'Resolution'), 'resolution')}</tbody></table></div>${addBtn('resolutionBy', 'resolution')}</div>
      <div class="field" data-path="assignee.unmatched"><label for="m-assignee-unmatched">When Jira’s assignee has no email the record can match</label>${select(
        {
          bind: 'assigneeUnmatched',
          id: 'm-assignee-unmatched',
          list: [
            ['unassign', 'Unassign the record'],
            ['keep', 'Keep the record’s assignee'],
          ],
          value: s.assigneeUnmatched,
        },
      )}<p class="hint">Hidden by the user’s privacy settings, or none. The record shows a warning until it can match again.</p></div>
      <div class="field" data-path="reopen.mode"><label for="m-reopen">When a closed record comes back</label>${select({
        bind: 'reopenMode',
        id: 'm-reopen',
        list: [
          ['reopen', 'Reopen the issue'],
          ['rework', 'Open a linked rework issue'],
          ['never', 'Leave the issue closed'],
        ],
        value: s.reopenMode,
      })}</div>
      <div class="field" data-path="reopen.rework_issue_type" ${s.reopenMode === 'rework' ? '' : 'hidden'}><label for="m-rework">Rework issue type</label>${select({ bind: 'reworkIssueType', id: 'm-rework', list: L.allTypes, value: s.reworkIssueType, placeholder: 'Issue type…' })}</div>
      <div class="field" data-path="reopen.rework_link_type" ${s.reopenMode === 'rework' ? '' : 'hidden'}><label for="m-rework-link">Link to the rework issue</label>${select({ bind: 'reworkLinkType', id: 'm-rework-link', list: L.linkTypes, value: s.reworkLinkType, placeholder: 'Relates (default)' })}</div>
      <div class="field" data-path="reopen.allow_from_jira"><label class="check-label"><input type="checkbox" data-bind="allowReopenFromJira" ${s.allowReopenFromJira ? 'checked' : ''}/> Jira users may reopen host records</label></div>
      <div class="field" data-path="attachments"><label class="check-label"><input type="checkbox" data-bind="attachmentsFromJira" id="m-attachments" ${s.attachmentsFromJira ? 'checked' : ''}/> Copy attachments added in Jira to the record</label></div>
      <div class="field" data-path="attachments.max_bytes"><label for="m-attachments-max">Largest attachment copied (MB)</label>${text({ bind: 'attachmentsMaxMb', value: s.attachmentsMaxMb, id: 'm-attachments-max', placeholder: '10' })}<p class="hint">Larger ones are listed on the record, not downloaded.</p></div>
      <div class="field" data-path="comments"><label class="check-label"><input type="checkbox" data-bind="commentsEnabled" id="m-comments" ${s.commentsEnabled ? 'checked' : ''}/> Sync comments</label>${select({ bind: 'commentsDirection', list: DIRECTIONS, value: s.commentsDirection, label: 'Comment direction' })}</div>
      <div class="field" data-path="on_jira_delete"><label for="m-on-delete">When the Jira issue is deleted</label>${select(
        {
          bind: 'onDelete',
          id: 'm-on-delete',
          list: [
            ['unlink', 'Unlink the record'],
            ['resolve', 'Resolve the record'],
          ],
          value: s.onDelete,
        },
      )}</div>
      <div class="field" data-path="on_jira_create"><label for="m-on-create">When an issue is created in Jira</label>${select(
        {
          bind: 'onCreate',
          id: 'm-on-create',
          list: [
            ['ignore', 'Ignore it'],
            ['create_record', 'Create a host record'],
          ],
          value: s.onCreate,
        },
      )}</div>
    </div></section>
    </div>

    <aside class="editor-side">
      <section class="card sticky"><h2>Preview</h2><p class="hint">The Jira issues this mapping covers.</p>
        <button type="button" class="secondary" id="preview-btn">Run JQL preview</button>
        <div id="preview-out" aria-live="polite">${lastPreview}</div>
        <hr/>
        <button type="submit" id="save-btn" class="wide-btn">${savedId ? 'Save changes' : 'Save mapping'}</button>
        <p id="save-msg" role="status" class="small"></p>
      </section>
    </aside>
    </div></form>`;
    showIssues();
  }

  function showIssues() {
    const box = root.querySelector('#form-errors');
    if (!box) return;
    if (!issues.length) {
      box.hidden = true;
      return;
    }
    for (const i of issues) {
      const parts = i.path.split('.');
      let host = null;
      for (let n = parts.length; n > 0 && !host; n--)
        host = root.querySelector(`[data-path="${window.CSS.escape(parts.slice(0, n).join('.'))}"]`);
      if (host) {
        host.classList.add('invalid');
        host.querySelector('input,select,textarea')?.setAttribute('aria-invalid', 'true');
        host.insertAdjacentHTML('beforeend', `<p class="field-error" role="alert">${esc(i.message)}</p>`);
      }
    }
    box.innerHTML = `<b>The mapping was not saved — ${issues.length === 1 ? 'one problem' : `${issues.length} problems`} to fix:</b><ul>${issues
      .map((i) => `<li>${i.path ? `<span class="mono">${esc(i.path)}</span>: ` : ''}${esc(i.message)}</li>`)
      .join('')}</ul>`;
    box.hidden = false;
    box.focus();
  }

  async function preview() {
    read();
    const out = root.querySelector('#preview-out');
    out.innerHTML = '<p class="muted">Searching Jira…</p>';
    try {
      const r = await post('/api/v1/mappings/preview', bodyOf(s));
      out.innerHTML = lastPreview = `<code class="jql">${esc(r.jql)}</code>
        <p><b id="preview-total">${r.total ?? '?'}</b> issue${r.total === 1 ? '' : 's'} match · <a href="${esc(r.browse_url)}" target="_blank" rel="noopener">open in Jira</a></p>
        <ul class="preview-list">${r.issues.map((i) => `<li><span class="mono">${esc(i.key)}</span> ${esc(i.summary)} ${badge('status', i.status)}</li>`).join('')}</ul>`;
    } catch (err) {
      out.innerHTML = `<p class="error" role="alert">${esc(err instanceof ApiError && err.issues.length ? err.issues.map((i) => i.message).join('; ') : err.message)}</p>`;
    }
  }

  let tplSeq = 0;
  let tplTimer = null;
  /** As the admin types: one render after a pause, and only the newest answer is shown. */
  function scheduleTemplatePreview() {
    clearTimeout(tplTimer);
    tplTimer = setTimeout(() => void templatePreview(), 300);
  }

  async function templatePreview() {
    clearTimeout(tplTimer);
    read();
    const out = root.querySelector('#tpl-preview');
    if (!out) return;
    const seq = ++tplSeq;
    const show = (html) => {
      if (seq !== tplSeq) return;
      out.classList.remove('busy');
      out.innerHTML = lastTplPreview = html;
    };
    let sample;
    try {
      sample = JSON.parse(s.sampleJson || '{}');
      if (!sample || typeof sample !== 'object' || Array.isArray(sample)) throw new Error('it must be a JSON object');
    } catch (err) {
      show(`<p class="error" role="alert">The record is not valid JSON: ${esc(err.message)}</p>`);
      return;
    }
    out.classList.add('busy');
    const templates = templatesOf(s);
    try {
      const r = await post('/api/v1/mappings/preview', {
        connection: s.connection,
        ...(s.project ? { project: s.project } : {}),
        ...(s.scope.trim() ? { scope: s.scope.trim() } : {}),
        ...(templates ? { templates } : {}),
        sample_record: sample,
        search: false,
      });
      show(renderedHtml(r.rendered));
    } catch (err) {
      const list = err instanceof ApiError ? err.issues : [];
      show(
        `<div class="error" role="alert" id="tpl-error">${
          list.length
            ? `<ul>${list.map((i) => `<li>${i.path ? `<span class="mono">${esc(i.path)}</span>: ` : ''}${esc(i.message)}</li>`).join('')}</ul>`
            : esc(err.message)
        }</div>`,
      );
    }
  }

  async function save() {
    read();
    const id = savedId ?? s.id.trim();
    const btn = root.querySelector('#save-btn');
    btn.disabled = true;
    issues = [];
    if (!id) {
      issues = [{ path: 'id', message: 'give the mapping an id, e.g. stackflow-ops' }];
      render();
      return;
    }
    try {
      const saved = await put(`/api/v1/mappings/${encodeURIComponent(id)}`, bodyOf(s));
      savedId = saved.id;
      source = saved.source;
      render();
      root.querySelector('#save-msg').innerHTML =
        `<span class="ok">✓ Saved (version ${saved.version}).</span> It applies to new work now. Next: <a href="#/setup">webhook settings</a>`;
    } catch (err) {
      issues = err instanceof ApiError && err.issues.length ? err.issues : [{ path: '', message: err.message }];
      render();
    }
  }

  // Structural edits re-render; value edits are read on save/preview.
  root.addEventListener('input', (e) => {
    if (['tplSummary', 'tplDescription', 'tplComment', 'sampleJson'].includes(e.target.dataset?.bind))
      scheduleTemplatePreview();
  });
  root.addEventListener('change', async (e) => {
    if (!e.target.dataset?.bind) return;
    const b = e.target.dataset.bind;
    if (b === 'sampleRecord') {
      read();
      const r = scopeRecords.find((x) => x.host_id === s.sampleRecord);
      if (r) {
        s.sampleJson = JSON.stringify(sampleOf(r), null, 2);
        root.querySelector('#tpl-sample').value = s.sampleJson;
      }
      await templatePreview();
    } else if (b === 'scope') {
      read();
      s.sampleRecord = '';
      s.sampleJson = '';
      await loadRecords();
      render();
      await templatePreview();
    } else if (b === 'connection') {
      read();
      s.project = '';
      await loadCatalog();
      render();
    } else if (b === 'project' || /\.mode$/.test(b) || /\.service_desk$/.test(b) || b === 'reopenMode') {
      read();
      render();
    }
  });
  root.addEventListener('click', async (e) => {
    const t = e.target.closest('button');
    if (!t) return;
    if (t.classList.contains('add-row')) {
      read();
      const list = t.dataset.list;
      s[list].push(
        list === 'kinds'
          ? { kind: '', mode: 'issue', issue_type: '', subtask_of: '', service_desk: '', request_type: '' }
          : list === 'fields'
            ? { host: '', jira: '', type: '', direction: 'both', lock: '', values: '' }
            : { a: '', b: '' },
      );
      render();
      root
        .querySelectorAll(`button.add-row[data-list="${list}"]`)[0]
        ?.previousElementSibling?.querySelector?.('tbody tr:last-child input, tbody tr:last-child select')
        ?.focus();
    } else if (t.classList.contains('remove-row')) {
      read();
      s[t.dataset.list].splice(Number(t.dataset.i), 1);
      render();
    } else if (t.id === 'reload') {
      read();
      t.disabled = true;
      await loadCatalog(true);
      render();
      root.querySelector('#catalog-info')?.classList.add('flash');
    } else if (t.id === 'preview-btn' || t.id === 'filter-preview') await preview();
    else if (t.id === 'apply-linked') await applyToLinked(t);
    else if (t.id === 'delete-mapping') {
      if (!window.confirm(`Delete the mapping "${savedId}"? Records already linked keep their issues.`)) return;
      try {
        await api(`/api/v1/mappings/${encodeURIComponent(savedId)}`, { method: 'DELETE' });
        location.hash = '#/mappings';
      } catch (err) {
        issues = [{ path: '', message: err.message }];
        render();
      }
    }
  });
  root.addEventListener('submit', (e) => {
    e.preventDefault();
    void save();
  });

  /** Shows the run where it is (without redrawing the form) and keeps it for the next render. */
  function showApply() {
    const out = root.querySelector('#apply-out');
    if (out) out.innerHTML = applyHtml(applyRun, applyError);
  }

  /** Polls the run until it is over, while this mapping's screen is open. */
  async function followApply(runId) {
    const here = location.hash;
    while (applyRun?.id === runId && applyRun.state === 'running' && location.hash === here) {
      await new Promise((r) => setTimeout(r, 500));
      try {
        applyRun = await api(`/api/v1/mappings/${encodeURIComponent(savedId)}/apply/${encodeURIComponent(runId)}`);
        applyError = null;
      } catch (err) {
        applyError = err;
      }
      showApply();
    }
  }

  async function applyToLinked(button) {
    const ok = window.confirm(
      `Apply the mapping "${savedId}" as it is now to every record already linked through it?\n\nEach linked record is re-synced: its Jira issue is read and what differs from the mapping is written (the record's values win). Issues that already match are left as they are.`,
    );
    if (!ok) return;
    button.disabled = true;
    try {
      applyRun = await post(`/api/v1/mappings/${encodeURIComponent(savedId)}/apply`);
      applyError = null;
    } catch (err) {
      applyError = err;
    } finally {
      button.disabled = false;
    }
    showApply();
    if (applyRun?.state === 'running') await followApply(applyRun.id);
  }

  async function loadApplyRuns() {
    if (!savedId || !entry) return;
    try {
      applyRun = (await api(`/api/v1/mappings/${encodeURIComponent(savedId)}/apply`)).runs[0] ?? null;
    } catch {
      applyRun = null; // a token that cannot read them: nothing to show
    }
  }

  await Promise.all([loadCatalog(), loadRecords(), loadApplyRuns()]);
  render();
  if (applyRun?.state === 'running') void followApply(applyRun.id);
  await templatePreview();
  if (savedId) await preview();
}
