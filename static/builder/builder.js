/* Circuit OS builder: the canvas (Drawflow), the draft model, autosave, validation, test runs.
 *
 * The draft document ({nodes, edges}) is derived from the canvas after every change and pushed
 * on the undo stack; undo/redo and imports re-render the canvas from a document. Config forms
 * are server-rendered (htmx) from each action's JSON Schema; the server parses them back into
 * a config, so this file never interprets JSON Schema itself.
 */
(function () {
  'use strict';

  const DATA = JSON.parse(document.getElementById('builder-data').textContent);
  const CAN = DATA.perms;
  const URLS = DATA.urls;
  const ACTIONS = Object.fromEntries(DATA.actions.map((a) => [a.name, a]));
  const TRIGGER = 'trigger';
  const container = document.getElementById('drawflow');
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // --- small helpers ------------------------------------------------------------------------
  const G = window.CircuitGraph; // static/builder/graph.js: what the execution page draws the same way
  const esc = G.esc;
  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    try { return JSON.parse(document.body.getAttribute('hx-headers') || '{}')['X-CSRFToken'] || ''; } catch (e) { return ''; }
  }
  async function request(method, url, body, form) {
    const headers = { 'X-CSRFToken': csrfToken(), Accept: 'application/json' };
    let payload;
    if (form) {
      payload = new URLSearchParams(body);
    } else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const response = await fetch(url, { method, headers, body: payload, credentials: 'same-origin' });
    let json = null;
    const type = response.headers.get('Content-Type') || '';
    if (type.includes('application/json')) json = await response.json();
    return { status: response.status, ok: response.ok, json, text: json ? '' : await response.text() };
  }
  function errorText(json, fallback) {
    if (!json || !json.errors) return fallback;
    return Object.entries(json.errors).map(([field, msgs]) => (field === '__all__' ? '' : field + ': ') + msgs.join(' ')).join('\n');
  }
  function pretty(value) {
    if (value === undefined) return '';
    try { return JSON.stringify(value, null, 2); } catch (e) { return String(value); }
  }
  let flashTimer = null;
  function flash(message, kind) {
    const box = $('#flash');
    box.textContent = message;
    box.className = 'banner ' + (kind === 'bad' ? 'banner-bad' : kind === 'ok' ? 'banner-ok' : '');
    box.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => { box.hidden = true; }, kind === 'bad' ? 9000 : 4000);
  }
  function setBadge(version) {
    $('#version-badge').textContent = version ? `v${version.number} · ${version.status}` : 'new';
  }
  function setSaveState(text, kind) {
    const el = $('#save-state');
    el.textContent = text;
    el.dataset.state = kind || '';
  }

  // htmx: a 400 answer carries the form with its errors, so swap it like a 200.
  if (window.htmx) {
    htmx.config.responseHandling = [
      { code: '204', swap: false },
      { code: '[23]..', swap: true },
      { code: '400', swap: true, error: false },
      { code: '[45]..', swap: false, error: true },
      { code: '...', swap: false },
    ];
  }

  // --- the editor -----------------------------------------------------------------------------
  const editor = new Drawflow(container);
  editor.reroute = false;
  editor.curvature = 0.45;
  editor.zoom_min = 0.3;
  editor.zoom_max = 1.6;
  editor.key = function () {}; // our own keyboard handling (below) records undo history
  editor.editor_mode = CAN.edit ? 'edit' : 'view';
  editor.start();

  const specs = new Map(); // key → {key, action, label, config, retry, timeout_seconds, on_error}
  const ports = {}; // key → output port names, in Drawflow output order
  let order = []; // node keys in document order
  const idOf = new Map(); // key → Drawflow id
  let rendering = false;
  let selectedKey = null;
  let problems = [];
  let triggers = DATA.triggers.slice();

  function keyOfId(id) {
    const node = editor.getNodeFromId(String(id));
    return node && node.data ? node.data.key : null;
  }
  function actionMeta(name) {
    return ACTIONS[name] || { name, label: name, category: 'unknown', description: 'Unknown action', ports: ['next', 'error'] };
  }
  function triggerSummary() {
    if (!triggers.length) return 'Manual (not saved yet)';
    return triggers.map((t) => t.label + (t.enabled ? '' : ' (off)')).join(', ');
  }
  function cardHtml(key) {
    if (key === TRIGGER) return G.triggerCard(triggerSummary());
    const spec = specs.get(key);
    return G.actionCard(key, spec.label, actionMeta(spec.action), !!spec.pinned);
  }
  function labelPorts(id, names) {
    const nodeEl = $(`#node-${id}`);
    if (nodeEl) G.labelPorts(nodeEl, names);
    names.forEach((name, i) => {
      const out = $(`#node-${id} .outputs .output_${i + 1}`);
      if (out) {
        out.title = `${name} port: drag to a step to connect`;
        if (CAN.edit && !$('.port-add', out)) {
          // Inside the port, so it moves with it; Drawflow starts no connection drag from it
          // (it only reacts to elements whose first class is "output").
          const button = document.createElement('button');
          button.type = 'button';
          button.className = 'port-add';
          button.textContent = '+';
          out.appendChild(button);
        }
        const plus = $('.port-add', out);
        if (plus) {
          plus.dataset.addPort = name;
          plus.title = `Add the step that follows on ${name}`;
          plus.setAttribute('aria-label', `Add a step after the ${name} port`);
        }
      }
    });
  }
  function addDfNode(key, x, y) {
    let id;
    if (key === TRIGGER) {
      id = editor.addNode('trigger', 0, 1, x, y, 'node-trigger', { key: TRIGGER }, cardHtml(TRIGGER));
      ports[TRIGGER] = ['next'];
    } else {
      const spec = specs.get(key);
      const names = ports[key] || actionMeta(spec.action).ports;
      ports[key] = names;
      id = editor.addNode(spec.action, 1, names.length, x, y, 'node-action', { key }, cardHtml(key));
    }
    idOf.set(key, id);
    labelPorts(id, ports[key]);
    const el = $(`#node-${id}`);
    el.tabIndex = 0;
    el.setAttribute('role', 'button');
    el.setAttribute('aria-label', key === TRIGGER ? 'Trigger' : `Step ${key}`);
    el.dataset.key = key;
    el.classList.toggle('is-pinned', key !== TRIGGER && !!specs.get(key).pinned);
    return id;
  }

  const triggerPosition = G.triggerPosition;

  function render(doc, keepTriggerAt) {
    rendering = true;
    try {
      const tpos = keepTriggerAt || triggerPosition(doc);
      editor.clear();
      specs.clear();
      idOf.clear();
      order = [];
      addDfNode(TRIGGER, tpos.x, tpos.y);
      for (const n of doc.nodes) {
        specs.set(n.key, {
          key: n.key, action: n.action, label: n.label || '', config: n.config || {},
          retry: n.retry || {}, timeout_seconds: n.timeout_seconds == null ? null : n.timeout_seconds, on_error: n.on_error || 'fail',
          pinned: n.pinned || null,
        });
        if (n.ports) ports[n.key] = n.ports;
        else if (!ports[n.key]) ports[n.key] = actionMeta(n.action).ports;
        order.push(n.key);
        addDfNode(n.key, (n.position || {}).x || 0, (n.position || {}).y || 0);
      }
      for (const e of doc.edges) {
        const from = idOf.get(e.source);
        const to = idOf.get(e.target);
        const index = (ports[e.source] || []).indexOf(e.port || 'next');
        if (from == null || to == null || index < 0) continue; // a dangling edge cannot be drawn
        editor.addConnection(from, to, `output_${index + 1}`, 'input_1');
      }
    } finally {
      rendering = false;
    }
    $('#canvas-hint').hidden = doc.nodes.length > 0;
    markConnectedPorts();
    showProblems(problems);
    if (selectedKey && !specs.has(selectedKey) && selectedKey !== TRIGGER) selectedKey = null;
    markSelected();
    reapplyRunState();
  }

  function currentDoc() {
    const data = editor.export().drawflow.Home.data;
    const byKey = {};
    for (const node of Object.values(data)) byKey[node.data.key] = node;
    const nodes = [];
    const edges = [];
    for (const key of order) {
      const node = byKey[key];
      const spec = specs.get(key);
      if (!node || !spec) continue;
      const out = { key, action: spec.action, config: spec.config, position: { x: Math.round(node.pos_x), y: Math.round(node.pos_y) } };
      if (spec.label) out.label = spec.label;
      if (spec.retry && Object.keys(spec.retry).length) out.retry = spec.retry;
      if (spec.timeout_seconds != null) out.timeout_seconds = spec.timeout_seconds;
      if (spec.on_error && spec.on_error !== 'fail') out.on_error = spec.on_error;
      if (spec.pinned) out.pinned = spec.pinned;
      nodes.push(out);
    }
    for (const key of [TRIGGER, ...order]) {
      const node = byKey[key];
      if (!node) continue;
      const names = ports[key] || [];
      Object.entries(node.outputs).forEach(([outputClass, output]) => {
        const port = names[parseInt(outputClass.split('_')[1], 10) - 1];
        for (const c of output.connections) {
          const target = keyOfId(c.node);
          if (port && target && target !== TRIGGER) edges.push({ source: key, port, target });
        }
      });
    }
    return { nodes, edges };
  }
  function triggerPos() {
    const id = idOf.get(TRIGGER);
    const node = id != null && editor.getNodeFromId(String(id));
    return node ? { x: node.pos_x, y: node.pos_y } : null;
  }

  // --- history and autosave -------------------------------------------------------------------
  const history = [];
  const future = [];
  let revision = DATA.revision;
  let lastSaved = null;
  let saveTimer = null;
  let saving = null;
  let conflict = false;

  function snapshot() {
    return JSON.stringify(currentDoc());
  }
  function updateHistoryButtons() {
    if ($('#btn-undo')) $('#btn-undo').disabled = history.length < 2;
    if ($('#btn-redo')) $('#btn-redo').disabled = future.length === 0;
  }
  // A port with a connection shows its "+" only while its step is hovered or selected.
  function markConnectedPorts() {
    for (const node of Object.values(editor.drawflow.drawflow.Home.data)) {
      for (const [outputClass, output] of Object.entries(node.outputs)) {
        const el = $(`#node-${node.id} .outputs .${outputClass}`);
        if (el) el.classList.toggle('is-connected', output.connections.length > 0);
      }
    }
  }
  function commit() {
    if (rendering) return;
    markConnectedPorts();
    const snap = snapshot();
    if (history.length && history[history.length - 1] === snap) return;
    history.push(snap);
    if (history.length > 200) history.shift();
    future.length = 0;
    updateHistoryButtons();
    $('#canvas-hint').hidden = order.length > 0;
    scheduleSave();
  }
  let commitQueued = false;
  function commitSoon() {
    if (commitQueued) return;
    commitQueued = true;
    queueMicrotask(() => { commitQueued = false; commit(); });
  }
  function undo() {
    if (!CAN.edit || history.length < 2) return;
    future.push(history.pop());
    render(JSON.parse(history[history.length - 1]), triggerPos());
    updateHistoryButtons();
    reselect();
    scheduleSave();
  }
  function redo() {
    if (!CAN.edit || !future.length) return;
    const snap = future.pop();
    history.push(snap);
    render(JSON.parse(snap), triggerPos());
    updateHistoryButtons();
    reselect();
    scheduleSave();
  }
  function reselect() {
    if (selectedKey && (selectedKey === TRIGGER || specs.has(selectedKey))) loadPanel(selectedKey);
    else clearPanel();
  }

  function scheduleSave() {
    if (!CAN.edit || conflict) return;
    if (snapshot() === lastSaved) { // e.g. undone back to what is saved: nothing to send
      clearTimeout(saveTimer);
      if (!saving) setSaveState('All changes saved', 'ok');
      return;
    }
    setSaveState('Unsaved changes…', 'dirty');
    clearTimeout(saveTimer);
    saveTimer = setTimeout(() => { save(); }, 800);
  }
  async function save() {
    clearTimeout(saveTimer);
    if (!CAN.edit || conflict) return false;
    if (saving) { await saving; return save(); }
    const snap = snapshot();
    if (snap === lastSaved) { setSaveState('All changes saved', 'ok'); return true; }
    setSaveState('Saving…', 'saving');
    saving = (async () => {
      try {
        const res = await request('POST', URLS.save, { document: JSON.parse(snap), base_revision: revision });
        if (res.status === 409) {
          conflict = true;
          $('#conflict-message').textContent = (res.json && res.json.message) || 'Someone else changed this draft. Reload to see their changes.';
          $('#conflict-banner').hidden = false;
          setSaveState('Not saved: conflict', 'bad');
          return false;
        }
        if (!res.ok) {
          setSaveState('Not saved', 'bad');
          flash(errorText(res.json, `Saving failed (${res.status}).`), 'bad');
          return false;
        }
        revision = res.json.revision;
        lastSaved = snap;
        setSaveState('All changes saved', 'ok');
        // After an undo the dynamic ports (switch cases, branches) follow the config again.
        const stale = Object.entries(res.json.ports || {}).filter(([k, v]) => JSON.stringify(ports[k]) !== JSON.stringify(v));
        if (stale.length && snapshot() === snap) {
          for (const [k, v] of stale) ports[k] = v;
          render(JSON.parse(snap), triggerPos());
        }
        setBadge({ number: res.json.version, status: 'draft' });
        showProblems(res.json.errors || []);
        return true;
      } catch (err) {
        setSaveState('Offline: not saved', 'bad');
        return false;
      } finally {
        saving = null;
      }
    })();
    const ok = await saving;
    if (ok && snapshot() !== lastSaved) scheduleSave();
    return ok;
  }
  window.addEventListener('beforeunload', (event) => {
    if (CAN.edit && !conflict && lastSaved !== null && snapshot() !== lastSaved) {
      event.preventDefault();
      event.returnValue = '';
    }
  });

  // --- problems (validation) ------------------------------------------------------------------
  function connectionEl(edge) {
    return G.connectionEl(container, idOf, ports, edge);
  }
  function showProblems(list) {
    problems = list || [];
    $$('.drawflow-node.has-problem').forEach((el) => el.classList.remove('has-problem'));
    $$('.node-problem').forEach((el) => { el.hidden = true; el.textContent = ''; });
    $$('.connection.has-problem').forEach((el) => el.classList.remove('has-problem'));
    const doc = currentDoc();
    for (const p of problems) {
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
    count.textContent = problems.length ? String(problems.length) : '';
    count.classList.toggle('bad', problems.length > 0);
    const panel = $('#panel-problems');
    if (!problems.length) {
      panel.innerHTML = '<p class="ok-text">No problems found.</p>';
      return;
    }
    panel.innerHTML = '<ul class="problem-list">' + problems.map((p, i) => {
      const where = p.node ? `<button type="button" class="linklike" data-goto="${esc(p.node)}">${esc(p.node)}</button>` : p.edge != null ? `connection ${p.edge + 1}` : 'circuit';
      return `<li data-problem="${i}"><strong>${where}</strong>${p.field ? ` <small>(${esc(p.field)})</small>` : ''}: ${esc(p.message)}</li>`;
    }).join('') + '</ul>';
  }
  $('#panel-problems').addEventListener('click', (event) => {
    const btn = event.target.closest('[data-goto]');
    if (btn) select(btn.dataset.goto, true);
  });

  async function validate() {
    await flushAll();
    const res = await request('GET', URLS.validate);
    if (!res.ok) { flash(errorText(res.json, 'Validation failed.'), 'bad'); return; }
    showProblems(res.json.errors);
    showTab('problems');
    flash(res.json.errors.length ? `${res.json.errors.length} problem(s) found.` : 'The circuit is valid.', res.json.errors.length ? 'bad' : 'ok');
  }

  // --- selection and the side panel -------------------------------------------------------------
  function markSelected() {
    // Drawflow marks the node it last saw clicked (.selected); keyboard focus and the panel select
    // others: only the one selected step keeps either mark.
    const current = selectedKey && idOf.has(selectedKey) ? $(`#node-${idOf.get(selectedKey)}`) : null;
    $$('.drawflow-node.is-selected, .drawflow-node.selected').forEach((el) => { if (el !== current) el.classList.remove('is-selected', 'selected'); });
    if (current) current.classList.add('is-selected');
  }
  function select(key, focus) {
    if (!key || (key !== TRIGGER && !specs.has(key))) return;
    const changed = key !== selectedKey;
    selectedKey = key;
    markSelected();
    // preventScroll: a focus must not scroll the (overflow: hidden) canvas; canvas-tools.js pans.
    if (focus && idOf.has(key)) $(`#node-${idOf.get(key)}`).focus({ preventScroll: true });
    if (changed || !$('#panel-step').dataset.key) loadPanel(key);
    else if ($('#tab-step').getAttribute('aria-selected') !== 'true') showTab('step'); // the node view: its form and its data
    renderRunPanel();
  }
  function clearPanel() {
    $('#panel-step').dataset.key = '';
    $('#step-form').innerHTML = '<p class="muted">Select a step on the canvas to edit it, or the trigger to choose what starts the circuit.</p>';
    renderNodeData();
  }
  function othersFor(key) {
    return order.filter((k) => k !== key).map((k) => ({ key: k, action: specs.get(k).action, label: specs.get(k).label }));
  }
  function loadPanel(key) {
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
    const spec = specs.get(key);
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
      $('#node-form-taken').value = JSON.stringify(order.filter((k) => k !== key));
      if (CAN.edit) appendConnections(key);
    }
    const triggerPanel = $('#trigger-panel');
    if (triggerPanel && triggerPanel.dataset.triggers) {
      try { triggers = JSON.parse(triggerPanel.dataset.triggers); } catch (e) { /* keep the old list */ }
      const id = idOf.get(TRIGGER);
      const summary = id != null && $(`#node-${id} .trigger-summary`);
      if (summary) summary.textContent = triggerSummary();
    }
  });
  // Edits typed into the node form reach the model through the server (a debounced POST):
  // actions that send the draft somewhere wait for those to land first.
  const formRequests = new Set();
  let formDirty = false;
  function markFormState() { document.body.dataset.formBusy = formDirty || formRequests.size > 0 ? '1' : ''; }
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
  async function settleForms() {
    const form = $('#node-form');
    if (!form) { formDirty = false; markFormState(); return; }
    if (formDirty && form.getAttribute('hx-post')) htmx.trigger(form, 'change');
    const started = Date.now();
    while ((formDirty || formRequests.size > 0) && Date.now() - started < 8000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  async function flushAll() {
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

  function applyNodeResult(result) {
    const oldKey = result.key;
    const spec = specs.get(oldKey);
    if (!spec) return;
    const node = result.node;
    let key = oldKey;
    if (node.key && node.key !== oldKey && !specs.has(node.key)) {
      key = node.key;
      specs.delete(oldKey);
      spec.key = key;
      specs.set(key, spec);
      order = order.map((k) => (k === oldKey ? key : k));
      ports[key] = ports[oldKey];
      delete ports[oldKey];
      const id = idOf.get(oldKey);
      idOf.delete(oldKey);
      idOf.set(key, id);
      editor.updateNodeDataFromId(id, { key });
      const el = $(`#node-${id}`);
      el.dataset.key = key;
      el.setAttribute('aria-label', `Step ${key}`);
      if (selectedKey === oldKey) selectedKey = key;
      const form = $('#node-form');
      if (form && form.dataset.key === oldKey) {
        form.dataset.key = key;
        form.querySelector('input[name=key]').value = key;
        $('#node-form-taken').value = JSON.stringify(order.filter((k) => k !== key));
      }
    }
    spec.label = node.label;
    spec.config = node.config;
    spec.retry = node.retry;
    spec.timeout_seconds = node.timeout_seconds;
    spec.on_error = node.on_error;
    const portsChanged = JSON.stringify(node.ports) !== JSON.stringify(ports[key]);
    if (portsChanged) {
      // Keep the connections of ports that still exist (switch cases, parallel branches).
      const doc = currentDoc();
      ports[key] = node.ports;
      doc.edges = doc.edges.filter((e) => e.source !== key || node.ports.includes(e.port));
      render(doc, triggerPos());
    } else {
      const id = idOf.get(key);
      const card = $(`#node-${id} .drawflow_content_node`);
      if (card) card.innerHTML = cardHtml(key);
      labelPorts(id, ports[key]);
    }
    markSelected();
    commit();
  }

  // Connections in the panel: the keyboard way to connect ports (dragging is the mouse way).
  function appendConnections(key) {
    const panel = $('#step-form');
    const old = $('#node-connections', panel);
    if (old) old.remove();
    const doc = currentDoc();
    const section = document.createElement('section');
    section.id = 'node-connections';
    section.className = 'form-section connections';
    const targets = order.filter((k) => k !== key);
    section.innerHTML = '<h3>Connections</h3>' + (ports[key] || []).map((port) => {
      const existing = doc.edges.filter((e) => e.source === key && e.port === port);
      return `<div class="conn-row"><code class="port-name">${esc(port)}</code> → ${existing.map((e) => `<span class="chip">${esc(e.target)} <button type="button" class="linklike" data-unlink="${esc(port)}|${esc(e.target)}" aria-label="Remove ${esc(port)} → ${esc(e.target)}">×</button></span>`).join(' ')}
        <select data-link="${esc(port)}" aria-label="Connect the ${esc(port)} port to"><option value="">+ connect to…</option>${targets.map((t) => `<option value="${esc(t)}">${esc(t)}</option>`).join('')}</select></div>`;
    }).join('');
    panel.appendChild(section);
  }
  $('#panel-step').addEventListener('change', (event) => {
    const sel = event.target.closest('select[data-link]');
    if (!sel || !sel.value || !selectedKey) return;
    const index = (ports[selectedKey] || []).indexOf(sel.dataset.link);
    editor.addConnection(idOf.get(selectedKey), idOf.get(sel.value), `output_${index + 1}`, 'input_1');
    appendConnections(selectedKey);
  });
  $('#panel-step').addEventListener('click', (event) => {
    const btn = event.target.closest('[data-unlink]');
    if (!btn || !selectedKey) return;
    const [port, target] = btn.dataset.unlink.split('|');
    const index = (ports[selectedKey] || []).indexOf(port);
    editor.removeSingleConnection(idOf.get(selectedKey), idOf.get(target), `output_${index + 1}`, 'input_1');
    appendConnections(selectedKey);
  });

  // Key/value editors (headers, query, variables, fields): rows added and removed here; the
  // server turns the rows into the config and back. "Edit as JSON" asks it for the other form.
  const asJson = new Map(); // step key → names of key/value fields shown as JSON
  function formChanged(form) {
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
      if (selectedKey === key) loadPanel(key);
    }
  });

  // --- canvas events ---------------------------------------------------------------------------
  editor.on('nodeRemoved', (id) => {
    if (rendering) return;
    const key = [...idOf.entries()].find(([, v]) => String(v) === String(id));
    if (!key) return;
    if (key[0] === TRIGGER) { // the trigger cannot be deleted: put it back
      render(JSON.parse(history[history.length - 1] || '{"nodes":[],"edges":[]}'));
      return;
    }
    idOf.delete(key[0]);
    specs.delete(key[0]);
    order = order.filter((k) => k !== key[0]);
    if (selectedKey === key[0]) { selectedKey = null; clearPanel(); }
    commit();
  });
  editor.on('nodeMoved', () => commit());
  editor.on('connectionCreated', (c) => {
    if (rendering) return;
    commit();
    if (selectedKey) appendConnectionsIfOpen();
  });
  editor.on('connectionRemoved', () => {
    if (rendering) return;
    // Deleting a node removes its connections first, each with this event: record the change
    // once, after the node is gone too, so one undo brings back the node and its connections.
    commitSoon();
    appendConnectionsIfOpen();
  });
  function appendConnectionsIfOpen() {
    if (CAN.edit && selectedKey && selectedKey !== TRIGGER && $('#node-form')) appendConnections(selectedKey);
  }
  editor.on('nodeSelected', (id) => select(keyOfId(id)));
  container.addEventListener('click', (event) => {
    const node = event.target.closest('.drawflow-node');
    if (node && node.dataset.key) select(node.dataset.key);
  });
  container.addEventListener('focusin', (event) => {
    const node = event.target.closest('.drawflow-node');
    if (node && node.dataset.key && node.dataset.key !== selectedKey) select(node.dataset.key);
  });

  // Palette: drag an action onto the canvas (or press Enter on it).
  function uniqueKey(base) {
    const clean = (base || 'step').toLowerCase().replace(/[^a-z0-9_]/g, '_').replace(/^[^a-z]+/, '') || 'step';
    const stem = clean.replace(/_\d+$/, '').slice(0, 58);
    let n = 1;
    while (specs.has(`${stem}_${n}`)) n += 1;
    return `${stem}_${n}`;
  }
  // Where a new step goes: (x, y) unless it would cover a step already there; then the first
  // free place below it (steps are about 210 × 90 px; a gap of 20).
  const NODE_W = 230;
  const NODE_H = 110;
  function freeSpot(x, y) {
    const boxes = [...idOf.values()].map((id) => {
      const el = $(`#node-${id}`);
      return { x: el.offsetLeft, y: el.offsetTop, w: el.offsetWidth + 20, h: el.offsetHeight + 20 };
    });
    const hits = (px, py) => boxes.some((b) => px < b.x + b.w && px + NODE_W > b.x && py < b.y + b.h && py + NODE_H > b.y);
    let py = y;
    for (let tries = 0; tries < 200 && hits(x, py); tries += 1) py += 30;
    return { x, y: py };
  }
  function addAction(action, x, y, template, connectFrom) {
    if (!CAN.edit) return null;
    const meta = actionMeta(action);
    ({ x, y } = freeSpot(Math.round(x), Math.round(y)));
    const key = uniqueKey(template ? template.key : action.split('.')[1]);
    specs.set(key, {
      key, action, label: template ? template.label : '', config: template ? JSON.parse(JSON.stringify(template.config)) : {},
      retry: template ? { ...template.retry } : {}, timeout_seconds: template ? template.timeout_seconds : null, on_error: template ? template.on_error : 'fail',
      pinned: template && template.pinned ? JSON.parse(JSON.stringify(template.pinned)) : null,
    });
    ports[key] = template && template.ports ? template.ports : meta.ports;
    order.push(key);
    rendering = true;
    try {
      addDfNode(key, x, y);
      if (connectFrom) {
        const index = (ports[connectFrom.key] || []).indexOf(connectFrom.port);
        if (index >= 0 && idOf.has(connectFrom.key)) editor.addConnection(idOf.get(connectFrom.key), idOf.get(key), `output_${index + 1}`, 'input_1');
      }
    } finally { rendering = false; }
    commit();
    select(key, true);
    return key;
  }

  // The "+" on an output port: choose the next step in the palette; it is placed to the right
  // of this step and connected from that port.
  let pendingConnect = null;
  function startAddNext(key, port) {
    pendingConnect = { key, port };
    const banner = $('#add-next');
    banner.hidden = false;
    $('#add-next-text').textContent = `Choose the step that follows ${key} → ${port} (Esc cancels).`;
    if (!$('#palette').classList.contains('is-open') || window.matchMedia('(max-width: 1100px)').matches) {
      paletteToggle.setAttribute('aria-expanded', 'true');
      $('#palette').classList.add('is-open');
    }
    $('#palette-search').focus();
  }
  function cancelAddNext() {
    pendingConnect = null;
    $('#add-next').hidden = true;
  }
  function addNext(action) {
    const from = pendingConnect;
    cancelAddNext();
    const node = editor.getNodeFromId(String(idOf.get(from.key)));
    const index = Math.max(0, (ports[from.key] || []).indexOf(from.port));
    const key = addAction(action, node.pos_x + 290, node.pos_y + index * 40, null, from);
    closePaletteIfOverlay();
    return key;
  }
  container.addEventListener('click', (event) => {
    const plus = event.target.closest('.port-add');
    if (!plus || !CAN.edit) return;
    event.stopPropagation();
    startAddNext(plus.closest('.drawflow-node').dataset.key, plus.dataset.addPort);
  }, true);
  function viewCenter() {
    const rect = container.getBoundingClientRect();
    const pre = editor.precanvas.getBoundingClientRect();
    return { x: (rect.left + rect.width / 2 - pre.left) / editor.zoom - 90, y: (rect.top + rect.height / 2 - pre.top) / editor.zoom - 40 };
  }
  function buildPalette() {
    const list = $('#palette-list');
    const groups = {};
    for (const a of DATA.actions) (groups[a.category] = groups[a.category] || []).push(a);
    list.innerHTML = Object.entries(groups).map(([cat, items]) => `<section class="palette-group" data-category="${esc(cat)}">
      <h3>${esc(cat)}</h3>${items.map((a) => `<div class="palette-item" role="button" tabindex="0" draggable="${CAN.edit}" data-action="${esc(a.name)}"
        data-search="${esc((a.label + ' ' + a.name + ' ' + a.description + ' ' + cat).toLowerCase())}" title="${esc(a.description)}">
        <span class="cat-dot cat-${esc(cat)}" aria-hidden="true"></span><span class="pi-label">${esc(a.label)}</span><small>${esc(a.name)}</small></div>`).join('')}</section>`).join('');
  }
  buildPalette();
  $('#palette-search').addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && pendingConnect) { cancelAddNext(); return; }
    if (event.key !== 'Enter' || !pendingConnect) return;
    const first = $$('.palette-item').find((i) => !i.hidden && !i.closest('.palette-group').hidden);
    if (first) { event.preventDefault(); addNext(first.dataset.action); }
  });
  $('#palette-search').addEventListener('input', (event) => {
    const q = event.target.value.trim().toLowerCase();
    $$('.palette-item').forEach((item) => { item.hidden = q && !q.split(/\s+/).every((w) => item.dataset.search.includes(w)); });
    $$('.palette-group').forEach((g) => { g.hidden = !$$('.palette-item', g).some((i) => !i.hidden); });
  });
  $('#palette-list').addEventListener('dragstart', (event) => {
    const item = event.target.closest('.palette-item');
    if (!item || !CAN.edit) return;
    event.dataTransfer.setData('application/x-circuit-action', item.dataset.action);
    event.dataTransfer.setData('text/plain', item.dataset.action);
    event.dataTransfer.effectAllowed = 'copy';
  });
  $('#palette-list').addEventListener('keydown', (event) => {
    const item = event.target.closest('.palette-item');
    if (!item || (event.key !== 'Enter' && event.key !== ' ')) return;
    event.preventDefault();
    if (pendingConnect) { addNext(item.dataset.action); return; }
    const c = viewCenter();
    addAction(item.dataset.action, c.x + (order.length % 4) * 24, c.y + (order.length % 4) * 24);
  });
  $('#palette-list').addEventListener('click', (event) => {
    // A tap adds the action on touch screens, where HTML drag and drop is not available.
    const item = event.target.closest('.palette-item');
    if (item && pendingConnect) { addNext(item.dataset.action); return; }
    if (!item || !window.matchMedia('(pointer: coarse)').matches) return;
    const c = viewCenter();
    addAction(item.dataset.action, c.x, c.y);
    closePaletteIfOverlay();
  });
  container.addEventListener('dragover', (event) => {
    if (CAN.edit) { event.preventDefault(); event.dataTransfer.dropEffect = 'copy'; }
  });
  container.addEventListener('drop', (event) => {
    event.preventDefault();
    const action = event.dataTransfer.getData('application/x-circuit-action') || event.dataTransfer.getData('text/plain');
    if (!ACTIONS[action]) return;
    const pre = editor.precanvas.getBoundingClientRect();
    addAction(action, (event.clientX - pre.left) / editor.zoom - 20, (event.clientY - pre.top) / editor.zoom - 20);
  });
  const paletteToggle = $('#palette-toggle');
  paletteToggle.addEventListener('click', () => {
    const open = paletteToggle.getAttribute('aria-expanded') !== 'true';
    paletteToggle.setAttribute('aria-expanded', String(open));
    $('#palette').classList.toggle('is-open', open);
  });
  function closePaletteIfOverlay() {
    if (window.matchMedia('(max-width: 1100px)').matches) {
      paletteToggle.setAttribute('aria-expanded', 'false');
      $('#palette').classList.remove('is-open');
    }
  }
  if (window.matchMedia('(max-width: 1100px)').matches) closePaletteIfOverlay();

  // --- view: zoom, fit, layout --------------------------------------------------------------------
  // Fit the graph into the canvas; on open (`readable`) at a zoom whose text can be read.
  function fit(readable) {
    G.fit(editor, container, readable);
  }
  function autoLayout() {
    if (!CAN.edit) return;
    const doc = currentDoc();
    const depth = { [TRIGGER]: 0 };
    const keys = doc.nodes.map((n) => n.key);
    // Longest path from the trigger (the graph is a DAG; a cycle is cut after n rounds).
    for (let round = 0; round < keys.length + 1; round += 1) {
      let changed = false;
      for (const e of doc.edges) {
        const d = (depth[e.source] ?? (e.source === TRIGGER ? 0 : undefined));
        if (d === undefined) continue;
        if ((depth[e.target] ?? -1) < d + 1) { depth[e.target] = d + 1; changed = true; }
      }
      if (!changed) break;
    }
    for (const k of keys) if (depth[k] === undefined) depth[k] = 1;
    const layers = {};
    for (const n of doc.nodes) (layers[depth[n.key]] = layers[depth[n.key]] || []).push(n);
    const tallest = Math.max(1, ...Object.values(layers).map((l) => l.length));
    const positions = { [TRIGGER]: { x: 40, y: 40 + ((tallest - 1) * 150) / 2 } };
    for (const [d, nodes] of Object.entries(layers)) {
      nodes.sort((a, b) => a.position.y - b.position.y);
      const top = 40 + ((tallest - nodes.length) * 150) / 2;
      nodes.forEach((n, i) => { positions[n.key] = { x: 40 + d * 290, y: top + i * 150 }; });
    }
    for (const [key, pos] of Object.entries(positions)) {
      const id = idOf.get(key);
      const node = editor.drawflow.drawflow.Home.data[id];
      if (!node) continue;
      node.pos_x = pos.x;
      node.pos_y = pos.y;
      const el = $(`#node-${id}`);
      el.style.left = pos.x + 'px';
      el.style.top = pos.y + 'px';
    }
    for (const id of idOf.values()) editor.updateConnectionNodes(`node-${id}`);
    commit();
    fit();
  }

  // --- copy, paste, delete, keyboard ----------------------------------------------------------------
  let clipboard = null;
  function copySelected() {
    if (!selectedKey || selectedKey === TRIGGER) return;
    const spec = specs.get(selectedKey);
    const node = editor.getNodeFromId(String(idOf.get(selectedKey)));
    clipboard = { ...JSON.parse(JSON.stringify(spec)), ports: ports[selectedKey], x: node.pos_x, y: node.pos_y };
    flash(`Copied ${selectedKey}.`);
  }
  function paste() {
    if (!clipboard || !CAN.edit) return;
    clipboard.x += 40;
    clipboard.y += 40;
    addAction(clipboard.action, clipboard.x, clipboard.y, clipboard);
  }
  function deleteSelected() {
    if (!CAN.edit) return;
    if (editor.connection_selected) { editor.removeConnection(); editor.connection_selected = null; return; }
    if (!selectedKey || selectedKey === TRIGGER) return;
    editor.removeNodeId(`node-${idOf.get(selectedKey)}`);
  }
  function moveSelected(dx, dy) {
    if (!CAN.edit || !selectedKey) return;
    const id = idOf.get(selectedKey);
    const node = editor.drawflow.drawflow.Home.data[id];
    node.pos_x += dx;
    node.pos_y += dy;
    const el = $(`#node-${id}`);
    el.style.left = node.pos_x + 'px';
    el.style.top = node.pos_y + 'px';
    editor.updateConnectionNodes(`node-${id}`);
    clearTimeout(moveSelected.timer);
    moveSelected.timer = setTimeout(commit, 400);
  }
  function isTyping(target) {
    return target && (target.closest('input, textarea, select, [contenteditable]') !== null);
  }
  document.addEventListener('keydown', (event) => {
    const mod = event.ctrlKey || event.metaKey;
    const key = event.key.toLowerCase();
    if (mod && key === 's') {
      event.preventDefault();
      if (CAN.edit) flushAll().then((ok) => { if (ok) flash('Saved.', 'ok'); });
      return;
    }
    if (event.key === 'Escape' && pendingConnect) { cancelAddNext(); return; }
    if (isTyping(event.target) || $('dialog[open]')) return;
    if (mod && key === 'z' && !event.shiftKey) { event.preventDefault(); undo(); }
    else if (mod && (key === 'y' || (key === 'z' && event.shiftKey))) { event.preventDefault(); redo(); }
    else if (mod && key === 'c') { copySelected(); }
    else if (mod && key === 'v') { event.preventDefault(); paste(); }
    else if (event.key === 'Delete' || (event.key === 'Backspace' && event.metaKey)) { event.preventDefault(); deleteSelected(); }
    else if (event.target.closest && event.target.closest('.drawflow-node') && event.key.startsWith('Arrow')) {
      event.preventDefault();
      const step = event.shiftKey ? 50 : 10;
      moveSelected(key === 'arrowleft' ? -step : key === 'arrowright' ? step : 0, key === 'arrowup' ? -step : key === 'arrowdown' ? step : 0);
    } else if (event.key === 'Enter' && event.target.closest && event.target.closest('.drawflow-node')) {
      const first = $('#panel-step input:not([type=hidden]), #panel-step select, #panel-step textarea');
      if (first) first.focus();
    }
  });

  // --- tabs --------------------------------------------------------------------------------------
  function showTab(name) {
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
  function loadVersions() {
    htmx.ajax('GET', URLS.versions, { target: '#panel-versions', swap: 'innerHTML' });
  }
  $('#btn-versions').addEventListener('click', () => showTab('versions'));
  $('#panel-versions').addEventListener('click', async (event) => {
    const btn = event.target.closest('[data-rollback]');
    if (!btn) return;
    if (!window.confirm(`Publish version ${btn.dataset.rollback} again? Executions from now on use it.`)) return;
    await flushAll(); // edits not saved yet land in the draft first, which the roll back keeps
    const res = await request('POST', URLS.rollback, { number: btn.dataset.rollback }, true);
    if (!res.ok) { flash(errorText(res.json, `Roll back failed (${res.status}).`), 'bad'); return; }
    adopt(res.json.current);
    const current = res.json.current.version;
    flash(current && current.status === 'draft'
      ? `Version ${res.json.version} is published again. Your draft v${current.number} is kept: publishing it replaces v${res.json.version}.`
      : `Version ${res.json.version} is published again.`, 'ok');
    loadVersions();
  });

  // Show what the server holds now (after a roll back): its graph on the canvas, its revision
  // for the next save, and a fresh undo history, so no edit is made on top of a stale graph.
  function adopt(state) {
    const doc = { nodes: state.document.nodes.map((n) => ({ ...n, ports: state.ports[n.key] })), edges: state.document.edges };
    clearTimeout(saveTimer);
    render(doc, triggerPos());
    revision = state.revision;
    history.length = 0;
    future.length = 0;
    history.push(snapshot());
    lastSaved = history[0];
    updateHistoryButtons();
    setBadge(state.version);
    setSaveState('All changes saved', 'ok');
    reselect();
  }

  function openDialog(id) {
    const dialog = $(id);
    dialog.showModal();
    return dialog;
  }
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
        if (CAN.edit && !(await flushAll()) && (conflict || snapshot() !== lastSaved)) {
          $('#publish-errors').textContent = 'Save the draft first (see the message above).';
          return;
        }
        const res = await request('POST', URLS.publish, { note: $('#publish-note').value });
        if (!res.ok) {
          if (res.json && res.json.graph_errors) showProblems(res.json.graph_errors);
          $('#publish-errors').textContent = errorText(res.json, `Publishing failed (${res.status}).`);
          return;
        }
        $('#publish-dialog').close();
        $('#publish-note').value = '';
        revision = 0; // the draft became the published version; the next change starts a new draft
        setBadge({ number: res.json.version, status: 'published' });
        flash(`Published version ${res.json.version}.`, 'ok');
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
      const res = await request('POST', URLS.save, { document: imported, base_revision: revision });
      if (res.status === 409) { $('#import-errors').textContent = (res.json && res.json.message) || 'Someone else changed this draft: reload first.'; return; }
      if (!res.ok) { $('#import-errors').textContent = errorText(res.json, `The import was refused (${res.status}).`); return; }
      revision = res.json.revision;
      for (const n of imported.nodes) n.ports = res.json.ports[n.key];
      problems = res.json.errors || [];
      render(imported);
      lastSaved = snapshot();
      $('#import-dialog').close();
      commit();
      fit();
      flash(`Imported ${doc.nodes.length} step(s). Triggers are not changed by an import into a draft.`, 'ok');
    });
  }

  // --- test runs: start, watch live, re-run from a step ---------------------------------------------
  let run = { id: DATA.last_test_execution, status: null, steps: {}, detail: null, socket: null };

  function setNodeRun(key, status) {
    const id = idOf.get(key);
    if (id != null) G.setRunState($(`#node-${id}`), status);
  }
  function reapplyRunState() {
    for (const [key, step] of Object.entries(run.steps)) setNodeRun(key, step.status);
    if (run.detail) showNodeIO();
    showTaken();
  }
  // After a run, the connections it went along are highlighted (cleared when the next starts).
  function showTaken() {
    const over = run.detail && G.FINISHED.includes(run.detail.status);
    const edges = currentDoc().edges;
    const taken = over ? G.takenEdges(edges, run.detail.steps, (key) => specs.has(key) && actionMeta(specs.get(key).action).container) : null;
    G.markTaken(container, idOf, ports, edges, taken);
  }
  function mergeStep(step) {
    // A node that ran in several loop iterations shows its worst/latest state.
    const prev = run.steps[step.node];
    if (prev && prev.status === 'failed' && step.status !== 'running') return;
    run.steps[step.node] = { ...(prev || {}), ...step };
    setNodeRun(step.node, step.status);
  }
  function watch(executionId, wsPath) {
    if (run.socket) { run.socket.onclose = null; run.socket.close(); }
    run = { id: executionId, status: 'queued', steps: {}, detail: null, socket: null, tries: 0 };
    showTaken();
    for (const key of order) setNodeRun(key, 'pending');
    setNodeRun(TRIGGER, 'succeeded');
    $$('.node-io').forEach((el) => { el.hidden = true; el.textContent = ''; });
    renderRunPanel();
    connect(wsPath);
  }
  function connect(wsPath) {
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    const socket = new WebSocket(scheme + location.host + wsPath);
    run.socket = socket;
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.execution !== run.id) return;
      if (event.kind === 'execution.snapshot') {
        run.status = event.status;
        event.steps.forEach(mergeStep);
        if (['succeeded', 'failed', 'cancelled'].includes(event.status)) finished(event);
      } else if (event.kind === 'step.started' || event.kind === 'step.finished' || event.kind === 'step.waiting') {
        mergeStep(event);
        if (run.status === 'queued') run.status = 'running';
      } else if (event.kind === 'execution.started') {
        run.status = 'running';
      } else if (event.kind === 'execution.waiting') {
        run.status = 'waiting';
      } else if (event.kind === 'execution.finished') {
        finished(event);
      }
      renderRunPanel();
    };
    socket.onclose = (closed) => {
      // Reconnect while the run is going: the snapshot on connect catches up on what was missed.
      // 4403 (refused) and 4404 (no such execution) will not change by retrying.
      if (closed.code !== 4403 && closed.code !== 4404 && !['succeeded', 'failed', 'cancelled'].includes(run.status) && run.tries < 20) {
        run.tries += 1;
        setTimeout(() => { if (run.socket === socket) connect(wsPath); }, 1000);
      }
    };
  }
  async function finished(event) {
    run.status = event.status;
    run.error = event.error;
    for (const key of order) if (!run.steps[key]) setNodeRun(key, 'skipped');
    if (run.socket) { const s = run.socket; run.socket = null; s.onclose = null; s.close(); }
    await loadRunDetail();
    flash(`Test run ${run.id} ${event.status}.`, event.status === 'succeeded' ? 'ok' : 'bad');
  }
  async function loadRunDetail() {
    if (!run.id) return;
    const res = await request('GET', `${URLS.steps}${run.id}/steps`);
    if (!res.ok) return;
    run.detail = res.json;
    run.status = res.json.status;
    const over = ['succeeded', 'failed', 'cancelled'].includes(res.json.status);
    // A finished run's stored steps are the last word: a cancel closes waiting steps without
    // a step event, so only they say "cancelled".
    if (over || !Object.keys(run.steps).length) {
      for (const s of res.json.steps) mergeStep(s);
      if (over) for (const key of order) if (!run.steps[key]) setNodeRun(key, 'skipped');
    }
    showNodeIO();
    showTaken();
    renderRunPanel();
    document.dispatchEvent(new CustomEvent('builder:run', { detail: run })); // for canvas-tools.js
  }
  function stepsOf(key) {
    return run.detail ? run.detail.steps.filter((s) => s.node === key) : [];
  }
  function short(value) {
    const text = JSON.stringify(value);
    return text && text.length > 60 ? text.slice(0, 57) + '…' : text || '';
  }
  function showNodeIO() {
    for (const key of order) {
      const id = idOf.get(key);
      const box = id != null && $(`#node-${id} .node-io`);
      if (!box) continue;
      const steps = stepsOf(key);
      const last = steps[steps.length - 1];
      if (!last) { box.hidden = true; continue; }
      box.hidden = false;
      box.textContent = last.status === 'failed' && last.error ? `✗ ${last.error.message}` : `in ${short(last.input)} → out ${short(last.output)}`;
    }
  }
  function renderRunPanel() {
    drawRunPanel();
    renderNodeData();
  }
  function drawRunPanel() {
    const panel = $('#panel-run');
    if (!run.id) {
      panel.innerHTML = '<p class="muted">Start a test run to see each step\'s input and output here.</p>';
      return;
    }
    const status = run.status || 'queued';
    let html = `<div class="run-head"><h2>Test run #${run.id}</h2> <span class="badge ${esc(status)}" id="run-status">${esc(status)}</span>
      <a href="${esc(URLS.execution_page + run.id + '/')}" id="run-link">Open the execution page</a></div>`;
    if (run.detail && run.detail.error) html += `<p class="error">${esc(run.detail.error.message)}</p>`;
    const key = selectedKey && selectedKey !== TRIGGER ? selectedKey : null;
    if (key) {
      const steps = stepsOf(key);
      html += `<h3>Step <code>${esc(key)}</code></h3>`;
      if (!steps.length) {
        html += `<p class="muted">${run.steps[key] ? esc(run.steps[key].status) : 'This step did not run.'}</p>`;
      }
      for (const s of steps) {
        html += `<div class="step-run step-${esc(s.status)}"><p><span class="badge ${esc(s.status)}">${esc(s.status)}</span>${s.scope ? ` <small>${esc(s.scope)}</small>` : ''} attempt ${s.attempt}${s.pinned ? ' · pinned data' : ''}${s.duration_ms != null ? ` · ${Math.round(s.duration_ms)} ms` : ''}${s.port ? ` · port <code>${esc(s.port)}</code>` : ''}</p>
          ${s.error ? `<p class="error step-error">${esc(s.error.message)}</p>` : ''}
          <details open><summary>Input</summary><pre class="json step-input">${esc(pretty(s.input))}</pre></details>
          <details open><summary>Output</summary><pre class="json step-output">${esc(pretty(s.output))}</pre></details>
          ${s.logs && s.logs.length ? `<details><summary>Logs (${s.logs.length})</summary><pre class="json">${esc(s.logs.map((l) => `[${l.level}] ${l.message}`).join('\n'))}</pre></details>` : ''}</div>`;
      }
      if (CAN.run && run.detail && ['succeeded', 'failed', 'cancelled'].includes(run.status)) {
        html += `<button type="button" id="btn-rerun-step" data-node="${esc(key)}">Re-run from this step</button>
          <p class="helptext">Keeps the results of the steps before it from run #${run.id} and runs this step and the rest again, with the draft as it is now.</p>`;
      }
    } else if (run.detail) {
      html += '<p class="muted">Select a step to see its input and output.</p><ul class="run-steps">' +
        run.detail.steps.map((s) => `<li><button type="button" class="linklike" data-goto="${esc(s.node)}">${esc(s.node)}</button>${s.scope ? ` <small>${esc(s.scope)}</small>` : ''} <span class="badge ${esc(s.status)}">${esc(s.status)}</span></li>`).join('') + '</ul>';
      html += `<details><summary>Trigger payload</summary><pre class="json">${esc(pretty(run.detail.input))}</pre></details>`;
      if (run.detail.output !== null) html += `<details open><summary>Execution output</summary><pre class="json">${esc(pretty(run.detail.output))}</pre></details>`;
    }
    panel.innerHTML = html;
  }
  // --- the node view: a step's parameters beside its last test-run data (or its pinned data) ---
  function lastStep(key) {
    const steps = stepsOf(key);
    return steps[steps.length - 1] || null;
  }
  function layoutNodeView() {
    const wide = $('#tab-step').getAttribute('aria-selected') === 'true' && !$('#step-data').hidden;
    $('.builder-body').classList.toggle('has-node-data', wide);
  }
  function renderNodeData() {
    const box = $('#step-data');
    const key = selectedKey && selectedKey !== TRIGGER && specs.has(selectedKey) ? selectedKey : null;
    const spec = key ? specs.get(key) : null;
    const step = key ? lastStep(key) : null;
    if (!key || (!step && !spec.pinned)) {
      box.hidden = true;
      box.innerHTML = '';
      layoutNodeView();
      return;
    }
    let html = '';
    if (run.detail) {
      // Input: what the steps leading here handed on in the last test run.
      const sources = [...new Set(currentDoc().edges.filter((e) => e.target === key).map((e) => e.source))];
      const inputs = sources.map((source) => {
        if (source === TRIGGER) return { name: 'trigger', value: run.detail.input, status: 'succeeded' };
        const s = lastStep(source);
        return { name: `steps.${source}.output`, value: s ? s.output : undefined, status: s ? s.status : 'skipped' };
      });
      html += `<section class="nv-input"><h3>Input <small class="muted">test run #${esc(run.id)}</small></h3>` + (inputs.length
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
    box.innerHTML = html;
    box.hidden = false;
    layoutNodeView();
  }
  // Pinned data lives on the node in the draft (saved, undone and exported with it).
  function setPinned(key, pinned) {
    const spec = specs.get(key);
    if (!spec || !CAN.edit) return;
    spec.pinned = pinned;
    const id = idOf.get(key);
    const card = $(`#node-${id} .drawflow_content_node`);
    if (card) card.innerHTML = cardHtml(key);
    $(`#node-${id}`).classList.toggle('is-pinned', !!pinned);
    reapplyRunState(); // the new card shows the run's state again
    showProblems(problems);
    commit();
    renderNodeData();
  }
  $('#step-data').addEventListener('click', (event) => {
    if (!selectedKey) return;
    if (event.target.closest('#btn-pin')) {
      const step = lastStep(selectedKey);
      if (!step) return;
      setPinned(selectedKey, { output: step.output, port: step.port || 'next' });
      flash(`Pinned the output of ${selectedKey}: test runs use it instead of running the step.`, 'ok');
    } else if (event.target.closest('#btn-unpin')) {
      setPinned(selectedKey, null);
    }
  });

  $('#panel-run').addEventListener('click', async (event) => {
    const go = event.target.closest('[data-goto]');
    if (go) { select(go.dataset.goto, true); showTab('run'); return; }
    const btn = event.target.closest('#btn-rerun-step');
    if (!btn) return;
    btn.disabled = true;
    await flushAll();
    const res = await request('POST', URLS.test_run, { from_execution: run.id, from_node: btn.dataset.node });
    if (!res.ok) {
      btn.disabled = false;
      if (res.json && res.json.graph_errors) showProblems(res.json.graph_errors);
      flash(errorText(res.json, `Could not re-run (${res.status}).`), 'bad');
      return;
    }
    watch(res.json.execution, res.json.ws);
    showTab('run');
  });

  // The test payload starts as the last one tested here, else a sample set on the trigger,
  // else one of the shape the circuit's trigger sends (a webhook's {body, query, headers}).
  function samplePayload() {
    const stored = localStorage.getItem(`circuitos.payload.${DATA.circuit.slug}`);
    if (stored) return stored;
    const withSample = triggers.find((t) => t.config && t.config.sample_payload);
    if (withSample) return pretty(withSample.config.sample_payload);
    const shaped = triggers.find((t) => t.sample);
    return pretty(shaped ? shaped.sample : {});
  }
  async function api(path) {
    const res = await fetch(URLS.api + path, { headers: { Accept: 'application/json', 'X-Tenant': DATA.tenant }, credentials: 'same-origin' });
    return { ok: res.ok, status: res.status, json: res.ok ? await res.json() : null };
  }
  async function lastRealPayload() {
    const list = await api(`executions?circuit=${encodeURIComponent(DATA.circuit.slug)}&is_test=false&page_size=1`);
    if (!list.ok) return { error: `Could not read the executions (${list.status}).` };
    const newest = list.json.results[0];
    if (!newest) return { error: 'This circuit has no real execution yet: trigger it once (e.g. call its webhook URL), or type a payload.' };
    const detail = await api(`executions/${newest.id}`);
    if (!detail.ok) return { error: `Could not read execution ${newest.id} (${detail.status}).` };
    return { id: newest.id, payload: detail.json.input };
  }
  if ($('#btn-test')) {
    $('#btn-test').addEventListener('click', () => {
      $('#test-errors').textContent = '';
      $('#test-payload').value = samplePayload();
      const help = triggers.map((t) => t.payload_help).filter(Boolean);
      $('#test-shape').textContent = help.join(' ');
      $('#test-shape').hidden = !help.length;
      $('#test-listen').hidden = !triggers.some((t) => t.test_webhook_url);
      stopListening();
      openDialog('#test-dialog');
      $('#test-payload').focus();
    });
    $('#test-last-real').addEventListener('click', async () => {
      const button = $('#test-last-real');
      button.disabled = true;
      try {
        const found = await lastRealPayload();
        if (found.error) { $('#test-errors').textContent = found.error; return; }
        $('#test-errors').textContent = '';
        $('#test-payload').value = pretty(found.payload);
        flash(`The payload of execution ${found.id} is filled in.`);
      } finally {
        button.disabled = false;
      }
    });
    // "Listen for test event": the next call to the webhook's test URL runs the draft (the
    // server starts that test run); this page asks every second whether it came.
    $('#test-listen').addEventListener('click', async () => {
      const button = $('#test-listen');
      const status = $('#test-listen-status');
      if (listening) { stopListening(true); return; }
      $('#test-errors').textContent = '';
      await flushAll();
      const res = await request('POST', URLS.listen, {});
      if (!res.ok) { $('#test-errors').textContent = errorText(res.json, `Could not listen (${res.status}).`); return; }
      listening = { id: res.json.listen, until: Date.now() + res.json.seconds * 1000 };
      button.textContent = 'Stop listening';
      status.hidden = false;
      status.innerHTML = `Waiting for a call to <code id="test-url">${esc(res.json.test_url)}</code> (POST, any JSON or form body)…`;
      pollListen(listening);
    });
    $('#test-dialog').addEventListener('close', () => stopListening(true));
    $('#test-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      let payload;
      try { payload = JSON.parse($('#test-payload').value || '{}'); } catch (e) {
        $('#test-errors').textContent = `The payload is not valid JSON: ${e.message}`;
        return;
      }
      const button = $('#test-start');
      button.disabled = true;
      try {
        await flushAll();
        const res = await request('POST', URLS.test_run, { payload });
        if (!res.ok) {
          if (res.json && res.json.graph_errors) showProblems(res.json.graph_errors);
          $('#test-errors').textContent = errorText(res.json, `The test run could not start (${res.status}).`);
          return;
        }
        localStorage.setItem(`circuitos.payload.${DATA.circuit.slug}`, $('#test-payload').value);
        $('#test-dialog').close();
        watch(res.json.execution, res.json.ws);
        showTab('run');
      } finally {
        button.disabled = false;
      }
    });
  }

  let listening = null;
  function stopListening(tellServer) {
    const was = listening;
    listening = null;
    if ($('#test-listen')) $('#test-listen').textContent = 'Listen for test event';
    if ($('#test-listen-status')) $('#test-listen-status').hidden = true;
    if (was && tellServer) request('POST', URLS.listen, { cancel: was.id });
  }
  async function pollListen(current) {
    while (listening === current) {
      if (Date.now() > current.until) {
        stopListening(false);
        $('#test-errors').textContent = 'No test event came: listen again, then call the test URL.';
        return;
      }
      const res = await request('GET', `${URLS.listen}?listen=${encodeURIComponent(current.id)}`);
      if (listening !== current) return;
      if (res.ok && res.json.execution) {
        listening = null;
        $('#test-dialog').close();
        watch(res.json.execution, `${URLS.ws}${res.json.execution}/`);
        showTab('run');
        flash(`A test event arrived: test run ${res.json.execution} started.`, 'ok');
        return;
      }
      if (res.ok && res.json.error) {
        stopListening(false);
        $('#test-errors').textContent = `A test event arrived but the draft could not run: ${res.json.error}`;
        return;
      }
      if (res.ok && res.json.waiting === false) {
        stopListening(false);
        $('#test-errors').textContent = 'Stopped listening (someone else started listening on this webhook).';
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  // --- toolbar ---------------------------------------------------------------------------------------
  const on = (id, fn) => { const el = $(id); if (el) el.addEventListener('click', fn); };
  on('#btn-undo', undo);
  on('#btn-redo', redo);
  on('#btn-zoom-in', () => editor.zoom_in());
  on('#btn-zoom-out', () => editor.zoom_out());
  on('#btn-fit', () => fit());
  on('#btn-layout', autoLayout);
  on('#btn-validate', validate);
  on('#btn-reload', () => { window.location.reload(); });
  on('#add-next-cancel', cancelAddNext);

  // --- start ---------------------------------------------------------------------------------------
  const initial = { nodes: DATA.document.nodes.map((n) => ({ ...n, ports: DATA.ports[n.key] })), edges: DATA.document.edges };
  render(initial);
  history.push(snapshot());
  lastSaved = history[0];
  updateHistoryButtons();
  if (order.length) requestAnimationFrame(() => fit(true));
  if (run.id) loadRunDetail();
  // canvas-tools.js (minimap, box selection, clipboard, pin editor) works only through this
  // object and the builder:ready / builder:run events: keep their shape when refactoring.
  // applyDocument(doc): redraw from a document (nodes may carry `ports`) as ONE undo step.
  function applyDocument(doc) {
    if (!CAN.edit) return;
    render(doc, triggerPos());
    commit();
    reselect();
  }
  window.circuitBuilder = {
    editor, currentDoc, save, select, fit, applyDocument, setPinned, watch,
    get revision() { return revision; }, get run() { return run; }, get selectedKey() { return selectedKey; },
  };
  document.dispatchEvent(new CustomEvent('builder:ready', { detail: window.circuitBuilder }));
})();
