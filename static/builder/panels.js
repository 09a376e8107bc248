/* The side panels: a step's form (server-rendered htmx partial) and its node view (input,
 * parameters, output, pinned data), the problems list, versions (htmx partial) with roll
 * back, publishing and importing — writes go to /api/v1.
 */
import { $, $$, ACTIONS, CAN, CIRCUIT, DATA, G, TRIGGER, URLS, actionMeta, api, container, errorText, esc, flash, openDialog, pretty, setBadge } from './util.js';
import { commit, draftPublished, getRevision, isSaved, model, reloadDocument, save, saveImported } from './document.js';
import { cardHtml, currentDoc, editor, fit, idOf, labelPorts, render, triggerPos, triggerSummary } from './canvas.js';
import { getRun, reapplyRunState, renderRunPanel, run, runNode, stepsOf } from './runs.js';

// --- problems (validation) ------------------------------------------------------------------
export function connectionEl(edge) {
  return G.connectionEl(container, idOf, model.ports, edge);
}
export function showProblems(list) {
  model.problems = list || [];
  $$('.drawflow-node.has-problem').forEach((el) => el.classList.remove('has-problem'));
  $$('.node-problem').forEach((el) => { el.hidden = true; el.textContent = ''; });
  $$('.connection.has-problem').forEach((el) => el.classList.remove('has-problem'));
  const doc = currentDoc();
  for (const p of model.problems) {
    if (p.node != null && idOf.has(p.node)) {
      const el = $(`#node-${idOf.get(p.node)}`);
      el.classList.add('has-problem');
      const box = $('.node-problem', el);
      if (box) {
        box.hidden = false;
        box.textContent = box.textContent ? box.textContent + ' · ' + p.message : p.message;
      }
    }
    if (p.edge != null && doc.edges[p.edge]) {
      const el = connectionEl(doc.edges[p.edge]);
      if (el) el.classList.add('has-problem');
    }
  }
  const count = $('#problem-count');
  count.textContent = model.problems.length ? String(model.problems.length) : '';
  count.classList.toggle('bad', model.problems.length > 0);
  const panel = $('#panel-problems');
  if (!model.problems.length) {
    panel.innerHTML = '<p class="ok-text">No problems found.</p>';
    return;
  }
  panel.innerHTML = '<ul class="problem-list">' + model.problems.map((p, i) => {
    const where = p.node ? `<button type="button" class="linklike" data-goto="${esc(p.node)}">${esc(p.node)}</button>` : p.edge != null ? `connection ${p.edge + 1}` : 'circuit';
    return `<li data-problem="${i}"><strong>${where}</strong>${p.field ? ` <small>(${esc(p.field)})</small>` : ''}: ${esc(p.message)}</li>`;
  }).join('') + '</ul>';
}
$('#panel-problems').addEventListener('click', (event) => {
  const btn = event.target.closest('[data-goto]');
  if (btn) select(btn.dataset.goto, true);
});

export async function validate() {
  await flushAll();
  let errors;
  if (!getRevision()) {
    // No draft: what is published passed validation when it was published.
    errors = model.order.length ? [] : [{ message: 'The circuit has no steps yet: drag an action onto the canvas.' }];
  } else {
    const res = await api.post(`${CIRCUIT}draft/validate`);
    if (!res.ok) { flash(errorText(res.json, 'Validation failed.'), 'bad'); return; }
    errors = res.json.errors;
  }
  showProblems(errors);
  showTab('problems');
  flash(errors.length ? `${errors.length} problem(s) found.` : 'The circuit is valid.', errors.length ? 'bad' : 'ok');
}

// --- selection and the side panel -------------------------------------------------------------
export function markSelected() {
  // Drawflow marks the node it last saw clicked (.selected); keyboard focus and the panel select
  // others: only the one selected step keeps either mark.
  const current = model.selected && idOf.has(model.selected) ? $(`#node-${idOf.get(model.selected)}`) : null;
  $$('.drawflow-node.is-selected, .drawflow-node.selected').forEach((el) => { if (el !== current) el.classList.remove('is-selected', 'selected'); });
  if (current) current.classList.add('is-selected');
}
export function select(key, focus) {
  if (!key || (key !== TRIGGER && !model.specs.has(key))) return;
  const changed = key !== model.selected;
  model.selected = key;
  markSelected();
  // preventScroll: a focus must not scroll the (overflow: hidden) canvas; canvas-tools.js pans.
  if (focus && idOf.has(key)) $(`#node-${idOf.get(key)}`).focus({ preventScroll: true });
  if (changed || !$('#panel-step').dataset.key) loadPanel(key);
  else if ($('#tab-step').getAttribute('aria-selected') !== 'true') showTab('step'); // the node view: its form and its data
  renderRunPanel();
}
export function clearPanel() {
  $('#panel-step').dataset.key = '';
  $('#step-form').innerHTML = '<p class="muted">Select a step on the canvas to edit it, or the trigger to choose what starts the circuit.</p>';
  renderNodeData();
}
export function othersFor(key) {
  return model.order.filter((k) => k !== key).map((k) => ({ key: k, action: model.specs.get(k).action, label: model.specs.get(k).label }));
}
export function loadPanel(key) {
  const panel = $('#panel-step');
  const previous = $('#node-form');
  if (previous && formDirty && previous.getAttribute('hx-post')) {
    // Typed just before switching steps: send it now, before the form is replaced.
    htmx.ajax('POST', previous.getAttribute('hx-post'), { source: previous, swap: 'none' });
  }
  panel.dataset.key = key;
  showTab('step');
  renderNodeData();
  if (key === TRIGGER) {
    htmx.ajax('GET', URLS.trigger_form, { target: '#step-form', swap: 'innerHTML' });
    return;
  }
  const spec = model.specs.get(key);
  const params = new URLSearchParams({
    action: spec.action,
    key,
    node: JSON.stringify({ label: spec.label, config: spec.config, retry: spec.retry, timeout_seconds: spec.timeout_seconds, on_error: spec.on_error }),
    others: JSON.stringify(othersFor(key)),
    json: JSON.stringify([...(asJson.get(key) || [])]),
  });
  htmx.ajax('GET', URLS.node_form + '?' + params.toString(), { target: '#step-form', swap: 'innerHTML' });
}

document.body.addEventListener('htmx:afterSwap', (event) => {
  const form = $('#node-form');
  if (form && event.detail.target && (event.detail.target.id === 'step-form')) {
    const key = form.dataset.key;
    $('#node-form-taken').value = JSON.stringify(model.order.filter((k) => k !== key));
    if (CAN.edit) appendConnections(key);
  }
  const triggerPanel = $('#trigger-panel');
  if (triggerPanel && triggerPanel.dataset.triggers) {
    try { model.triggers = JSON.parse(triggerPanel.dataset.triggers); } catch (e) { /* keep the old list */ }
    const id = idOf.get(TRIGGER);
    const summary = id != null && $(`#node-${id} .trigger-summary`);
    if (summary) summary.textContent = triggerSummary();
  }
});
// Edits typed into the node form reach the model through the server (a debounced POST):
// actions that send the draft somewhere wait for those to land first.
export const formRequests = new Set();
export let formDirty = false;
export function markFormState() { document.body.dataset.formBusy = formDirty || formRequests.size > 0 ? '1' : ''; }
$('#panel-step').addEventListener('input', (event) => { if (event.target.closest('#node-form')) { formDirty = true; markFormState(); } });
$('#panel-step').addEventListener('change', (event) => { if (event.target.closest('#node-form')) { formDirty = true; markFormState(); } });
document.body.addEventListener('htmx:beforeRequest', (event) => {
  if (!event.detail.elt || event.detail.elt.id !== 'node-form') return;
  const xhr = event.detail.xhr;
  formDirty = false;
  formRequests.add(xhr);
  // loadend follows load, abort (a newer edit replaced it) and errors alike.
  xhr.addEventListener('loadend', () => { formRequests.delete(xhr); markFormState(); });
  markFormState();
});
export async function settleForms() {
  const form = $('#node-form');
  if (!form) { formDirty = false; markFormState(); return; }
  if (formDirty && form.getAttribute('hx-post')) htmx.trigger(form, 'change');
  const started = Date.now();
  while ((formDirty || formRequests.size > 0) && Date.now() - started < 8000) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
export async function flushAll() {
  await settleForms();
  if (CAN.edit) return save();
  return true;
}

document.body.addEventListener('htmx:afterSettle', () => {
  // htmx wires up swapped-in content when it settles: only then does typing reach the server.
  const form = $('#node-form') || $('#trigger-form');
  if (form) form.dataset.ready = '1';
});
document.body.addEventListener('htmx:afterRequest', (event) => {
  const elt = event.detail.elt;
  if (!elt || elt.id !== 'node-form' || !event.detail.successful) return;
  const doc = new DOMParser().parseFromString(event.detail.xhr.responseText, 'text/html');
  const holder = doc.getElementById('node-result');
  if (!holder) return;
  applyNodeResult(JSON.parse(holder.dataset.result));
});

export function applyNodeResult(result) {
  const oldKey = result.key;
  const spec = model.specs.get(oldKey);
  if (!spec) return;
  const node = result.node;
  let key = oldKey;
  if (node.key && node.key !== oldKey && !model.specs.has(node.key)) {
    key = node.key;
    model.specs.delete(oldKey);
    spec.key = key;
    model.specs.set(key, spec);
    model.order = model.order.map((k) => (k === oldKey ? key : k));
    model.ports[key] = model.ports[oldKey];
    delete model.ports[oldKey];
    const id = idOf.get(oldKey);
    idOf.delete(oldKey);
    idOf.set(key, id);
    editor.updateNodeDataFromId(id, { key });
    const el = $(`#node-${id}`);
    el.dataset.key = key;
    el.setAttribute('aria-label', `Step ${key}`);
    if (model.selected === oldKey) model.selected = key;
    const form = $('#node-form');
    if (form && form.dataset.key === oldKey) {
      form.dataset.key = key;
      form.querySelector('input[name=key]').value = key;
      $('#node-form-taken').value = JSON.stringify(model.order.filter((k) => k !== key));
    }
  }
  spec.label = node.label;
  spec.config = node.config;
  spec.retry = node.retry;
  spec.timeout_seconds = node.timeout_seconds;
  spec.on_error = node.on_error;
  const portsChanged = JSON.stringify(node.ports) !== JSON.stringify(model.ports[key]);
  if (portsChanged) {
    // Keep the connections of ports that still exist (switch cases, parallel branches).
    const doc = currentDoc();
    model.ports[key] = node.ports;
    doc.edges = doc.edges.filter((e) => e.source !== key || node.ports.includes(e.port));
    render(doc, triggerPos());
  } else {
    const id = idOf.get(key);
    const card = $(`#node-${id} .drawflow_content_node`);
    if (card) card.innerHTML = cardHtml(key);
    labelPorts(id, model.ports[key]);
  }
  markSelected();
  commit();
}

// Connections in the panel: the keyboard way to connect ports (dragging is the mouse way).
export function appendConnections(key) {
  const panel = $('#step-form');
  const old = $('#node-connections', panel);
  if (old) old.remove();
  const doc = currentDoc();
  const section = document.createElement('section');
  section.id = 'node-connections';
  section.className = 'form-section connections';
  const targets = model.order.filter((k) => k !== key);
  section.innerHTML = '<h3>Connections</h3>' + (model.ports[key] || []).map((port) => {
    const existing = doc.edges.filter((e) => e.source === key && e.port === port);
    return `<div class="conn-row"><code class="port-name">${esc(port)}</code> → ${existing.map((e) => `<span class="chip">${esc(e.target)} <button type="button" class="linklike" data-unlink="${esc(port)}|${esc(e.target)}" aria-label="Remove ${esc(port)} → ${esc(e.target)}">×</button></span>`).join(' ')}
      <select data-link="${esc(port)}" aria-label="Connect the ${esc(port)} port to"><option value="">+ connect to…</option>${targets.map((t) => `<option value="${esc(t)}">${esc(t)}</option>`).join('')}</select></div>`;
  }).join('');
  panel.appendChild(section);
}
$('#panel-step').addEventListener('change', (event) => {
  const sel = event.target.closest('select[data-link]');
  if (!sel || !sel.value || !model.selected) return;
  const index = (model.ports[model.selected] || []).indexOf(sel.dataset.link);
  editor.addConnection(idOf.get(model.selected), idOf.get(sel.value), `output_${index + 1}`, 'input_1');
  appendConnections(model.selected);
});
$('#panel-step').addEventListener('click', (event) => {
  const btn = event.target.closest('[data-unlink]');
  if (!btn || !model.selected) return;
  const [port, target] = btn.dataset.unlink.split('|');
  const index = (model.ports[model.selected] || []).indexOf(port);
  editor.removeSingleConnection(idOf.get(model.selected), idOf.get(target), `output_${index + 1}`, 'input_1');
  appendConnections(model.selected);
});

// Key/value editors (headers, query, variables, fields): rows added and removed here; the
// server turns the rows into the config and back. "Edit as JSON" asks it for the other form.
export const asJson = new Map(); // step key → names of key/value fields shown as JSON
export function formChanged(form) {
  formDirty = true;
  markFormState();
  htmx.trigger(form, 'change');
}
$('#panel-step').addEventListener('click', async (event) => {
  const add = event.target.closest('[data-pair-add]');
  const remove = event.target.closest('[data-pair-remove]');
  const toggle = event.target.closest('[data-json-toggle]');
  const form = event.target.closest('#node-form');
  if (!form || (!add && !remove && !toggle)) return;
  if (add) {
    const rows = $('.pair-rows', add.closest('[data-pairs]'));
    const row = rows.lastElementChild.cloneNode(true);
    $$('input', row).forEach((input) => { input.value = ''; });
    rows.appendChild(row);
    $('input', row).focus();
  } else if (remove) {
    const rows = remove.closest('.pair-rows');
    const row = remove.closest('.pair-row');
    if (rows.children.length > 1) row.remove();
    else $$('input', row).forEach((input) => { input.value = ''; });
    formChanged(form);
  } else if (toggle) {
    const key = form.dataset.key;
    const names = asJson.get(key) || new Set();
    if (toggle.dataset.to === 'json') names.add(toggle.dataset.jsonToggle);
    else names.delete(toggle.dataset.jsonToggle);
    asJson.set(key, names);
    await settleForms(); // the form's last edits are in the config the server renders from
    if (model.selected === key) loadPanel(key);
  }
});

// --- tabs --------------------------------------------------------------------------------------
export function showTab(name) {
  $$('.panel-tabs [role=tab]').forEach((tab) => {
    const on = tab.id === `tab-${name}`;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $('#' + tab.getAttribute('aria-controls')).hidden = !on;
  });
  layoutNodeView();
  if (name === 'versions') loadVersions();
}
$('.panel-tabs').addEventListener('click', (event) => {
  const tab = event.target.closest('[role=tab]');
  if (tab) showTab(tab.id.replace('tab-', ''));
});
$('.panel-tabs').addEventListener('keydown', (event) => {
  if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
  const tabs = $$('.panel-tabs [role=tab]');
  const i = tabs.indexOf(document.activeElement);
  const next = tabs[(i + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
  next.focus();
  showTab(next.id.replace('tab-', ''));
});

// --- versions, publish, rollback -------------------------------------------------------------------
export function loadVersions() {
  htmx.ajax('GET', URLS.versions, { target: '#panel-versions', swap: 'innerHTML' });
}
$('#btn-versions').addEventListener('click', () => showTab('versions'));
$('#panel-versions').addEventListener('click', async (event) => {
  const btn = event.target.closest('[data-rollback]');
  if (!btn) return;
  if (!window.confirm(`Publish version ${btn.dataset.rollback} again? Executions from now on use it.`)) return;
  await flushAll(); // edits not saved yet land in the draft first, which the roll back keeps
  const res = await api.post(`${CIRCUIT}rollback`, { version: Number(btn.dataset.rollback) });
  if (!res.ok) { flash(errorText(res.json, `Roll back failed (${res.status}).`), 'bad'); return; }
  const number = res.json.number;
  const current = await reloadDocument();
  flash(current && current.status === 'draft'
    ? `Version ${number} is published again. Your draft v${current.number} is kept: publishing it replaces v${number}.`
    : `Version ${number} is published again.`, 'ok');
  loadVersions();
});

$$('dialog [data-close]').forEach((btn) => btn.addEventListener('click', () => btn.closest('dialog').close()));

if ($('#btn-publish')) {
  $('#btn-publish').addEventListener('click', () => {
    $('#publish-errors').textContent = '';
    openDialog('#publish-dialog');
    $('#publish-note').focus();
  });
  $('#publish-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = $('#publish-confirm');
    button.disabled = true;
    try {
      if (CAN.edit && !(await flushAll()) && !isSaved()) {
        $('#publish-errors').textContent = 'Save the draft first (see the message above).';
        return;
      }
      const res = await api.post(`${CIRCUIT}publish`, { note: $('#publish-note').value });
      if (!res.ok) {
        if (res.json && res.json.graph_errors) showProblems(res.json.graph_errors);
        $('#publish-errors').textContent = errorText(res.json, `Publishing failed (${res.status}).`);
        return;
      }
      $('#publish-dialog').close();
      $('#publish-note').value = '';
      draftPublished();
      setBadge({ number: res.json.number, status: 'published' });
      flash(`Published version ${res.json.number}.`, 'ok');
      if (!$('#panel-versions').hidden) loadVersions();
    } finally {
      button.disabled = false;
    }
  });
}

// --- import into the draft ----------------------------------------------------------------------
if ($('#btn-import')) {
  $('#btn-import').addEventListener('click', () => {
    $('#import-errors').textContent = '';
    openDialog('#import-dialog');
  });
  $('#import-file').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    if (file) $('#import-text').value = await file.text();
  });
  $('#import-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    let doc;
    try { doc = JSON.parse($('#import-text').value); } catch (e) {
      $('#import-errors').textContent = `Not valid JSON: ${e.message}`;
      return;
    }
    if (!doc || !Array.isArray(doc.nodes) || !Array.isArray(doc.edges)) {
      $('#import-errors').textContent = 'A circuit document has "nodes" and "edges" lists (use Export to get one).';
      return;
    }
    const unknown = doc.nodes.filter((n) => !n || typeof n.key !== 'string' || !ACTIONS[n.action]);
    if (unknown.length) {
      $('#import-errors').textContent = `Unknown or malformed steps: ${unknown.map((n) => (n && n.key) || '?').join(', ')}.`;
      return;
    }
    // Save it as sent (the server checks it and answers each node's ports, e.g. switch
    // cases), then draw it: connections on dynamic ports survive the import.
    const imported = {
      nodes: doc.nodes.map((n) => {
        const out = { key: n.key, action: n.action, config: n.config || {}, position: n.position || { x: 0, y: 0 } };
        for (const k of ['label', 'retry', 'timeout_seconds', 'on_error', 'pinned']) if (n[k] !== undefined && n[k] !== null) out[k] = n[k];
        return out;
      }),
      edges: doc.edges.map((e) => ({ source: e.source, port: e.port || 'next', target: e.target })),
    };
    await settleForms();
    const res = await saveImported(imported);
    if (res.status === 409) { $('#import-errors').textContent = (res.json && res.json.detail) || 'Someone else changed this draft: reload first.'; return; }
    if (!res.ok) { $('#import-errors').textContent = errorText(res.json, `The import was refused (${res.status}).`); return; }
    $('#import-dialog').close();
    fit();
    flash(`Imported ${doc.nodes.length} step(s). Triggers are not changed by an import into a draft.`, 'ok');
  });
}

// --- the node view: a step's parameters beside its last test-run data (or its pinned data) ---
export function lastStep(key) {
  const steps = stepsOf(key);
  return steps[steps.length - 1] || null;
}
export function layoutNodeView() {
  const wide = $('#tab-step').getAttribute('aria-selected') === 'true' && !$('#step-data').hidden;
  $('.builder-body').classList.toggle('has-node-data', wide);
}
export function renderNodeData() {
  const box = $('#step-data');
  const key = model.selected && model.selected !== TRIGGER && model.specs.has(model.selected) ? model.selected : null;
  const spec = key ? model.specs.get(key) : null;
  const step = key ? lastStep(key) : null;
  if (!key || (!step && !spec.pinned)) {
    box.hidden = true;
    box.innerHTML = '';
    layoutNodeView();
    return;
  }
  let html = '';
  if (getRun().detail) {
    // Input: what the steps leading here handed on in the last test run.
    const sources = [...new Set(currentDoc().edges.filter((e) => e.target === key).map((e) => e.source))];
    const inputs = sources.map((source) => {
      if (source === TRIGGER) return { name: 'trigger', value: getRun().detail.input, status: 'succeeded' };
      const s = lastStep(source);
      return { name: `steps.${source}.output`, value: s ? s.output : undefined, status: s ? s.status : 'skipped' };
    });
    html += `<section class="nv-input"><h3>Input <small class="muted">test run #${esc(getRun().id)}</small></h3>` + (inputs.length
      ? inputs.map((i) => `<details open><summary><code>${esc(i.name)}</code>${i.status !== 'succeeded' ? ` <span class="badge ${esc(i.status)}">${esc(i.status)}</span>` : ''}</summary>
          <pre class="json nv-input-value">${esc(i.value === undefined ? '(did not run)' : pretty(i.value))}</pre></details>`).join('')
      : '<p class="muted">No step leads here.</p>') + '</section>';
  }
  html += '<section class="nv-output"><h3>Output</h3>';
  if (spec.pinned) {
    const port = spec.pinned.port && spec.pinned.port !== 'next' ? ` leaving by <code>${esc(spec.pinned.port)}</code>` : '';
    html += `<p class="nv-pinned-note"><span class="node-pin">pinned</span> Test runs use this output${port} instead of running the step; published runs always run it.</p>
      <pre class="json nv-pinned">${esc(pretty(spec.pinned.output))}</pre>`;
    if (CAN.edit) html += '<button type="button" id="btn-unpin" class="small">Unpin</button>';
  }
  if (step) {
    html += `<p class="nv-status"><span class="badge ${esc(step.status)}">${esc(step.status)}</span>${step.pinned ? ' <small>pinned data used</small>' : ''}${step.port ? ` · port <code>${esc(step.port)}</code>` : ''}${step.duration_ms != null ? ` · ${Math.round(step.duration_ms)} ms` : ''}</p>`;
    if (step.error) html += `<p class="error">${esc(step.error.message)}</p>`;
    if (!spec.pinned || JSON.stringify(step.output) !== JSON.stringify(spec.pinned.output)) html += `<pre class="json nv-output-value">${esc(pretty(step.output))}</pre>`;
    if (CAN.edit && !spec.pinned && step.status === 'succeeded' && !actionMeta(spec.action).container) {
      html += '<button type="button" id="btn-pin" class="small" title="Later test runs use this output instead of running the step">Pin this output</button>';
    }
    if (step.input != null) html += `<details><summary>Parameters as run</summary><pre class="json">${esc(pretty(step.input))}</pre></details>`;
  }
  html += '</section>';
  if (CAN.run && !actionMeta(spec.action).container) {
    html += '<button type="button" id="btn-run-node" class="small" title="Run only this step, with the pinned data of the steps it reads">Run this step alone</button>';
  }
  box.innerHTML = html;
  box.hidden = false;
  layoutNodeView();
}
// Pinned data lives on the node in the draft (saved, undone and exported with it).
export function setPinned(key, pinned) {
  const spec = model.specs.get(key);
  if (!spec || !CAN.edit) return;
  spec.pinned = pinned;
  const id = idOf.get(key);
  const card = $(`#node-${id} .drawflow_content_node`);
  if (card) card.innerHTML = cardHtml(key);
  $(`#node-${id}`).classList.toggle('is-pinned', !!pinned);
  reapplyRunState(); // the new card shows the run's state again
  showProblems(model.problems);
  commit();
  renderNodeData();
}
$('#step-data').addEventListener('click', (event) => {
  if (!model.selected) return;
  if (event.target.closest('#btn-pin')) {
    const step = lastStep(model.selected);
    if (!step) return;
    setPinned(model.selected, { output: step.output, port: step.port || 'next' });
    flash(`Pinned the output of ${model.selected}: test runs use it instead of running the step.`, 'ok');
  } else if (event.target.closest('#btn-unpin')) {
    setPinned(model.selected, null);
  } else if (event.target.closest('#btn-run-node')) {
    runNode(model.selected).then((started) => { if (started) showTab('run'); });
  }
});


// --- export: the circuit file from GET /api/v1/circuits/<slug>/export ------------------------------
export async function exportCircuit() {
  const res = await api.get(`${CIRCUIT}export`);
  if (!res.ok) { flash(errorText(res.json, `Export failed (${res.status}).`), 'bad'); return; }
  const blob = new Blob([JSON.stringify(res.json, null, 2)], { type: 'application/json' });
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = `${DATA.circuit.slug}.circuit.json`;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}
if ($('#btn-export')) $('#btn-export').addEventListener('click', exportCircuit);
