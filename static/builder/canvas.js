/* The Drawflow canvas: drawing a document, reading it back (currentDoc), the palette, adding
 * and connecting steps, zoom/fit/layout, copy/paste/delete and the keyboard.
 */
import { $, $$, ACTIONS, CAN, DATA, G, TRIGGER, actionMeta, container, esc, flash } from './util.js';
import { commit, commitSoon, history, markConnectedPorts, model, redo, undo } from './document.js';
import { appendConnections, clearPanel, flushAll, markSelected, select, showProblems } from './panels.js';
import { reapplyRunState } from './runs.js';

// --- the editor -----------------------------------------------------------------------------
export const editor = new Drawflow(container);
editor.reroute = false;
editor.curvature = 0.45;
editor.zoom_min = 0.3;
editor.zoom_max = 1.6;
editor.key = function () {}; // our own keyboard handling (below) records undo history
editor.editor_mode = CAN.edit ? 'edit' : 'view';
editor.start();
export const idOf = new Map(); // key → Drawflow id
export let rendering = false; // the canvas is being drawn from a document: its events are not edits
export function isRendering() { return rendering; }

export function keyOfId(id) {
  const node = editor.getNodeFromId(String(id));
  return node && node.data ? node.data.key : null;
}
export function triggerSummary() {
  if (!model.triggers.length) return 'Manual (not saved yet)';
  return model.triggers.map((t) => t.label + (t.enabled ? '' : ' (off)')).join(', ');
}
export function cardHtml(key) {
  if (key === TRIGGER) return G.triggerCard(triggerSummary());
  const spec = model.specs.get(key);
  return G.actionCard(key, spec.label, actionMeta(spec.action), !!spec.pinned);
}
export function labelPorts(id, names) {
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
export function addDfNode(key, x, y) {
  let id;
  if (key === TRIGGER) {
    id = editor.addNode('trigger', 0, 1, x, y, 'node-trigger', { key: TRIGGER }, cardHtml(TRIGGER));
    model.ports[TRIGGER] = ['next'];
  } else {
    const spec = model.specs.get(key);
    const names = model.ports[key] || actionMeta(spec.action).ports;
    model.ports[key] = names;
    id = editor.addNode(spec.action, 1, names.length, x, y, 'node-action', { key }, cardHtml(key));
  }
  idOf.set(key, id);
  labelPorts(id, model.ports[key]);
  const el = $(`#node-${id}`);
  el.tabIndex = 0;
  el.setAttribute('role', 'button');
  el.setAttribute('aria-label', key === TRIGGER ? 'Trigger' : `Step ${key}`);
  el.dataset.key = key;
  el.classList.toggle('is-pinned', key !== TRIGGER && !!model.specs.get(key).pinned);
  return id;
}

export const triggerPosition = G.triggerPosition;

export function render(doc, keepTriggerAt) {
  rendering = true;
  try {
    const tpos = keepTriggerAt || triggerPosition(doc);
    editor.clear();
    model.specs.clear();
    idOf.clear();
    model.order = [];
    addDfNode(TRIGGER, tpos.x, tpos.y);
    for (const n of doc.nodes) {
      model.specs.set(n.key, {
        key: n.key, action: n.action, label: n.label || '', config: n.config || {},
        retry: n.retry || {}, timeout_seconds: n.timeout_seconds == null ? null : n.timeout_seconds, on_error: n.on_error || 'fail',
        pinned: n.pinned || null,
      });
      if (n.ports) model.ports[n.key] = n.ports;
      else if (!model.ports[n.key]) model.ports[n.key] = actionMeta(n.action).ports;
      model.order.push(n.key);
      addDfNode(n.key, (n.position || {}).x || 0, (n.position || {}).y || 0);
    }
    for (const e of doc.edges) {
      const from = idOf.get(e.source);
      const to = idOf.get(e.target);
      const index = (model.ports[e.source] || []).indexOf(e.port || 'next');
      if (from == null || to == null || index < 0) continue; // a dangling edge cannot be drawn
      editor.addConnection(from, to, `output_${index + 1}`, 'input_1');
    }
  } finally {
    rendering = false;
  }
  $('#canvas-hint').hidden = doc.nodes.length > 0;
  markConnectedPorts();
  showProblems(model.problems);
  if (model.selected && !model.specs.has(model.selected) && model.selected !== TRIGGER) model.selected = null;
  markSelected();
  reapplyRunState();
}

export function currentDoc() {
  const data = editor.export().drawflow.Home.data;
  const byKey = {};
  for (const node of Object.values(data)) byKey[node.data.key] = node;
  const nodes = [];
  const edges = [];
  for (const key of model.order) {
    const node = byKey[key];
    const spec = model.specs.get(key);
    if (!node || !spec) continue;
    const out = { key, action: spec.action, config: spec.config, position: { x: Math.round(node.pos_x), y: Math.round(node.pos_y) } };
    if (spec.label) out.label = spec.label;
    if (spec.retry && Object.keys(spec.retry).length) out.retry = spec.retry;
    if (spec.timeout_seconds != null) out.timeout_seconds = spec.timeout_seconds;
    if (spec.on_error && spec.on_error !== 'fail') out.on_error = spec.on_error;
    if (spec.pinned) out.pinned = spec.pinned;
    nodes.push(out);
  }
  for (const key of [TRIGGER, ...model.order]) {
    const node = byKey[key];
    if (!node) continue;
    const names = model.ports[key] || [];
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
export function triggerPos() {
  const id = idOf.get(TRIGGER);
  const node = id != null && editor.getNodeFromId(String(id));
  return node ? { x: node.pos_x, y: node.pos_y } : null;
}

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
  model.specs.delete(key[0]);
  model.order = model.order.filter((k) => k !== key[0]);
  if (model.selected === key[0]) { model.selected = null; clearPanel(); }
  commit();
});
editor.on('nodeMoved', () => commit());
editor.on('connectionCreated', (c) => {
  if (rendering) return;
  commit();
  if (model.selected) appendConnectionsIfOpen();
});
editor.on('connectionRemoved', () => {
  if (rendering) return;
  // Deleting a node removes its connections first, each with this event: record the change
  // once, after the node is gone too, so one undo brings back the node and its connections.
  commitSoon();
  appendConnectionsIfOpen();
});
export function appendConnectionsIfOpen() {
  if (CAN.edit && model.selected && model.selected !== TRIGGER && $('#node-form')) appendConnections(model.selected);
}
editor.on('nodeSelected', (id) => select(keyOfId(id)));
container.addEventListener('click', (event) => {
  const node = event.target.closest('.drawflow-node');
  if (node && node.dataset.key) select(node.dataset.key);
});
container.addEventListener('focusin', (event) => {
  const node = event.target.closest('.drawflow-node');
  if (node && node.dataset.key && node.dataset.key !== model.selected) select(node.dataset.key);
});

// Palette: drag an action onto the canvas (or press Enter on it).
export function uniqueKey(base) {
  const clean = (base || 'step').toLowerCase().replace(/[^a-z0-9_]/g, '_').replace(/^[^a-z]+/, '') || 'step';
  const stem = clean.replace(/_\d+$/, '').slice(0, 58);
  let n = 1;
  while (model.specs.has(`${stem}_${n}`)) n += 1;
  return `${stem}_${n}`;
}
// Where a new step goes: (x, y) unless it would cover a step already there; then the first
// free place below it (steps are about 210 × 90 px; a gap of 20).
export const NODE_W = 230;
export const NODE_H = 110;
export function freeSpot(x, y) {
  const boxes = [...idOf.values()].map((id) => {
    const el = $(`#node-${id}`);
    return { x: el.offsetLeft, y: el.offsetTop, w: el.offsetWidth + 20, h: el.offsetHeight + 20 };
  });
  const hits = (px, py) => boxes.some((b) => px < b.x + b.w && px + NODE_W > b.x && py < b.y + b.h && py + NODE_H > b.y);
  let py = y;
  for (let tries = 0; tries < 200 && hits(x, py); tries += 1) py += 30;
  return { x, y: py };
}
export function addAction(action, x, y, template, connectFrom) {
  if (!CAN.edit) return null;
  const meta = actionMeta(action);
  ({ x, y } = freeSpot(Math.round(x), Math.round(y)));
  const key = uniqueKey(template ? template.key : action.split('.')[1]);
  model.specs.set(key, {
    key, action, label: template ? template.label : '', config: template ? JSON.parse(JSON.stringify(template.config)) : {},
    retry: template ? { ...template.retry } : {}, timeout_seconds: template ? template.timeout_seconds : null, on_error: template ? template.on_error : 'fail',
    pinned: template && template.pinned ? JSON.parse(JSON.stringify(template.pinned)) : null,
  });
  model.ports[key] = template && template.ports ? template.ports : meta.ports;
  model.order.push(key);
  rendering = true;
  try {
    addDfNode(key, x, y);
    if (connectFrom) {
      const index = (model.ports[connectFrom.key] || []).indexOf(connectFrom.port);
      if (index >= 0 && idOf.has(connectFrom.key)) editor.addConnection(idOf.get(connectFrom.key), idOf.get(key), `output_${index + 1}`, 'input_1');
    }
  } finally { rendering = false; }
  commit();
  select(key, true);
  return key;
}

// The "+" on an output port: choose the next step in the palette; it is placed to the right
// of this step and connected from that port.
export let pendingConnect = null;
export function startAddNext(key, port) {
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
export function cancelAddNext() {
  pendingConnect = null;
  $('#add-next').hidden = true;
}
export function addNext(action) {
  const from = pendingConnect;
  cancelAddNext();
  const node = editor.getNodeFromId(String(idOf.get(from.key)));
  const index = Math.max(0, (model.ports[from.key] || []).indexOf(from.port));
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
export function viewCenter() {
  const rect = container.getBoundingClientRect();
  const pre = editor.precanvas.getBoundingClientRect();
  return { x: (rect.left + rect.width / 2 - pre.left) / editor.zoom - 90, y: (rect.top + rect.height / 2 - pre.top) / editor.zoom - 40 };
}
export function buildPalette() {
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
  addAction(item.dataset.action, c.x + (model.order.length % 4) * 24, c.y + (model.order.length % 4) * 24);
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
export const paletteToggle = $('#palette-toggle');
paletteToggle.addEventListener('click', () => {
  const open = paletteToggle.getAttribute('aria-expanded') !== 'true';
  paletteToggle.setAttribute('aria-expanded', String(open));
  $('#palette').classList.toggle('is-open', open);
});
export function closePaletteIfOverlay() {
  if (window.matchMedia('(max-width: 1100px)').matches) {
    paletteToggle.setAttribute('aria-expanded', 'false');
    $('#palette').classList.remove('is-open');
  }
}
if (window.matchMedia('(max-width: 1100px)').matches) closePaletteIfOverlay();

// --- view: zoom, fit, layout --------------------------------------------------------------------
// Fit the graph into the canvas; on open (`readable`) at a zoom whose text can be read.
export function fit(readable) {
  G.fit(editor, container, readable);
}
export function autoLayout() {
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
export let clipboard = null;
export function copySelected() {
  if (!model.selected || model.selected === TRIGGER) return;
  const spec = model.specs.get(model.selected);
  const node = editor.getNodeFromId(String(idOf.get(model.selected)));
  clipboard = { ...JSON.parse(JSON.stringify(spec)), ports: model.ports[model.selected], x: node.pos_x, y: node.pos_y };
  flash(`Copied ${model.selected}.`);
}
export function paste() {
  if (!clipboard || !CAN.edit) return;
  clipboard.x += 40;
  clipboard.y += 40;
  addAction(clipboard.action, clipboard.x, clipboard.y, clipboard);
}
export function deleteSelected() {
  if (!CAN.edit) return;
  if (editor.connection_selected) { editor.removeConnection(); editor.connection_selected = null; return; }
  if (!model.selected || model.selected === TRIGGER) return;
  editor.removeNodeId(`node-${idOf.get(model.selected)}`);
}
export function moveSelected(dx, dy) {
  if (!CAN.edit || !model.selected) return;
  const id = idOf.get(model.selected);
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
export function isTyping(target) {
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

