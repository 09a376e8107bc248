/* Canvas tools for the builder: a minimap, box selection (shift + drag) with group move and
 * delete, copy / paste of several steps as JSON text on the system clipboard, pinned data typed
 * by hand, and keeping the selected step in view when the canvas narrows.
 *
 * It works only through `window.circuitBuilder` (see static/builder/main.js) and the document
 * events `builder:ready` / `builder:run`, so the builder's own modules can change underneath.
 * Every change to the graph goes through `changeDocument` (one undo step, autosaved).
 */
import { createApi, problemText } from './api.js';
import { flash } from './util.js';

const CLIP_FORMAT = 'circuitos.steps/v1'; // what Ctrl+C puts on the clipboard
const EXPORT_FORMAT = 'circuitos.circuit/v1'; // an exported circuit pastes too
const TRIGGER = 'trigger';
const PIN_LIMIT = 256 * 1024; // graph.check_pinned's limit, checked here first for a clear message
const KEY_RE = /^[a-z][a-z0-9_]{0,63}$/;

const $ = (sel, root) => (root || document).querySelector(sel);
const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

function whenReady() {
  if (window.circuitBuilder) return Promise.resolve(window.circuitBuilder);
  return new Promise((resolve) => document.addEventListener('builder:ready', (e) => resolve(e.detail || window.circuitBuilder), { once: true }));
}

const dataEl = document.getElementById('builder-data');
if (dataEl) whenReady().then((B) => start(B, JSON.parse(dataEl.textContent)));

function start(B, DATA) {
  const CAN = DATA.perms;
  const ACTIONS = Object.fromEntries(DATA.actions.map((a) => [a.name, a]));
  const api = createApi({ tenant: DATA.tenant });
  const editor = B.editor;
  const container = document.getElementById('drawflow');
  const wrap = container.closest('.canvas-wrap');
  const pre = () => editor.precanvas;

  // --- small helpers --------------------------------------------------------------------------
  const say = flash; // the builder's own banner (util.js)
  const nodeEls = () => $$('.drawflow-node', pre());
  const elOf = (key) => $(`.drawflow-node[data-key="${CSS.escape(key)}"]`, pre());
  const dfNode = (el) => editor.drawflow.drawflow.Home.data[el.id.replace('node-', '')];
  function portsOf(el) {
    return $$('.outputs .output', el).map((o) => o.dataset.port).filter(Boolean);
  }
  function isTyping(target) {
    return !!(target && target.closest && target.closest('input, textarea, select, [contenteditable]'));
  }
  function applyTransform() {
    pre().style.transform = `translate(${editor.canvas_x}px, ${editor.canvas_y}px) scale(${editor.zoom})`;
    editor.dispatch('translate', { x: editor.canvas_x, y: editor.canvas_y });
  }
  // Pan by (dx, dy) screen pixels.
  function panBy(dx, dy) {
    if (!dx && !dy) return;
    editor.canvas_x += dx;
    editor.canvas_y += dy;
    applyTransform();
  }
  // A graph point (canvas coordinates) to the middle of the visible canvas.
  function centreOn(gx, gy) {
    const c = container.getBoundingClientRect();
    const p = pre().getBoundingClientRect();
    panBy(c.left + c.width / 2 - (p.left + gx * editor.zoom), c.top + c.height / 2 - (p.top + gy * editor.zoom));
  }
  function boxes() {
    return nodeEls().map((el) => ({ key: el.dataset.key, el, x: el.offsetLeft, y: el.offsetTop, w: el.offsetWidth, h: el.offsetHeight }));
  }
  // The part of the graph the canvas shows, in canvas coordinates.
  function viewport() {
    const c = container.getBoundingClientRect();
    const p = pre().getBoundingClientRect();
    return { x: (c.left - p.left) / editor.zoom, y: (c.top - p.top) / editor.zoom, w: c.width / editor.zoom, h: c.height / editor.zoom };
  }

  // --- minimap ---------------------------------------------------------------------------------
  const map = document.createElement('div');
  map.className = 'minimap';
  map.id = 'minimap';
  map.setAttribute('role', 'group');
  map.setAttribute('aria-label', 'Minimap: click or drag to move the view');
  map.title = 'Minimap: click or drag to move the view';
  map.innerHTML = '<svg aria-hidden="true"><g class="mm-nodes"></g><rect class="mm-view"></rect></svg>';
  wrap.appendChild(map);
  let mapping = null; // {bx, by, scale, ox, oy}: minimap pixel ↔ canvas coordinate
  let mapDrag = false;
  function drawMap() {
    const svg = $('svg', map);
    const mw = map.clientWidth;
    const mh = map.clientHeight;
    if (!mw || !mh) return;
    svg.setAttribute('viewBox', `0 0 ${mw} ${mh}`);
    const bs = boxes();
    const v = viewport();
    if (!mapDrag || !mapping) {
      // The graph and the visible part together, so the view's frame never leaves the map.
      let minX = v.x; let minY = v.y; let maxX = v.x + v.w; let maxY = v.y + v.h;
      for (const b of bs) {
        minX = Math.min(minX, b.x); minY = Math.min(minY, b.y);
        maxX = Math.max(maxX, b.x + b.w); maxY = Math.max(maxY, b.y + b.h);
      }
      const pad = 40;
      minX -= pad; minY -= pad; maxX += pad; maxY += pad;
      const scale = Math.min(mw / (maxX - minX), mh / (maxY - minY));
      mapping = { bx: minX, by: minY, scale, ox: (mw - (maxX - minX) * scale) / 2, oy: (mh - (maxY - minY) * scale) / 2 };
    }
    const m = mapping;
    const sx = (x) => m.ox + (x - m.bx) * m.scale;
    const sy = (y) => m.oy + (y - m.by) * m.scale;
    const selected = B.selectedKey;
    $('.mm-nodes', svg).innerHTML = bs.map((b) => `<rect data-key="${b.key.replace(/"/g, '')}" class="${b.key === selected || multi.has(b.key) ? 'is-selected' : ''}${b.key === TRIGGER ? ' is-trigger' : ''}" x="${sx(b.x).toFixed(1)}" y="${sy(b.y).toFixed(1)}" width="${Math.max(2, b.w * m.scale).toFixed(1)}" height="${Math.max(2, b.h * m.scale).toFixed(1)}" rx="2"></rect>`).join('');
    const view = $('.mm-view', svg);
    view.setAttribute('x', sx(v.x).toFixed(1));
    view.setAttribute('y', sy(v.y).toFixed(1));
    view.setAttribute('width', (v.w * m.scale).toFixed(1));
    view.setAttribute('height', (v.h * m.scale).toFixed(1));
  }
  function mapPan(event) {
    const r = map.getBoundingClientRect();
    const m = mapping;
    if (!m) return;
    centreOn(m.bx + (event.clientX - r.left - m.ox) / m.scale, m.by + (event.clientY - r.top - m.oy) / m.scale);
  }
  map.addEventListener('pointerdown', (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    mapDrag = true; // the map's scale stays put while dragging, so the pointer stays on its spot
    map.setPointerCapture(event.pointerId);
    mapPan(event);
  });
  map.addEventListener('pointermove', (event) => { if (mapDrag) mapPan(event); });
  const endMapDrag = () => { mapDrag = false; scheduleDraw(); };
  map.addEventListener('pointerup', endMapDrag);
  map.addEventListener('pointercancel', endMapDrag);

  let drawQueued = false;
  function scheduleDraw() {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(() => { drawQueued = false; afterCanvasChange(); });
  }
  // Moves, pans, zooms, redraws (undo, paste) all change the precanvas' subtree.
  new MutationObserver(scheduleDraw).observe(pre(), { attributes: true, attributeFilter: ['style', 'class'], childList: true, subtree: true });

  // --- multi-select: shift + drag on the empty canvas ------------------------------------------
  const multi = new Set(); // keys of the steps in the box selection
  let box = null; // {x0, y0, el}
  let group = null; // dragging one selected step moves them all: {key, start: Map(key → {x, y})}
  function markMulti() {
    for (const key of [...multi]) if (!elOf(key)) multi.delete(key); // gone (deleted, undone)
    nodeEls().forEach((el) => el.classList.toggle('is-multi-selected', multi.has(el.dataset.key)));
    document.body.dataset.multiSelected = String(multi.size);
  }
  function clearMulti() {
    if (!multi.size) return;
    multi.clear();
    markMulti();
  }
  window.addEventListener('mousedown', (event) => {
    if (event.button !== 0 || !container.contains(event.target)) return;
    const nodeEl = event.target.closest('.drawflow-node');
    if (event.shiftKey && !nodeEl) {
      // Ours, not Drawflow's (it would pan the canvas).
      event.preventDefault();
      event.stopImmediatePropagation();
      const r = wrap.getBoundingClientRect();
      const el = document.createElement('div');
      el.className = 'select-box';
      wrap.appendChild(el);
      box = { x0: event.clientX - r.left, y0: event.clientY - r.top, el };
      updateBox(event);
      return;
    }
    if (event.shiftKey && nodeEl && nodeEl.dataset.key !== TRIGGER) {
      // Shift + click adds a step to the selection (with the one selected before), or takes it out.
      if (!multi.size && B.selectedKey && B.selectedKey !== TRIGGER) multi.add(B.selectedKey);
      const key = nodeEl.dataset.key;
      if (multi.has(key)) multi.delete(key);
      else multi.add(key);
      markMulti();
      return;
    }
    if (nodeEl && multi.has(nodeEl.dataset.key) && multi.size > 1 && CAN.edit && !event.target.closest('.output, .input, .port-add')) {
      const start = new Map();
      for (const key of multi) {
        const el = elOf(key);
        const n = el && dfNode(el);
        if (n) start.set(key, { x: n.pos_x, y: n.pos_y });
      }
      group = { key: nodeEl.dataset.key, start };
      return;
    }
    if (!nodeEl || !multi.has(nodeEl.dataset.key)) clearMulti();
  }, true);
  function updateBox(event) {
    const r = wrap.getBoundingClientRect();
    const x1 = event.clientX - r.left;
    const y1 = event.clientY - r.top;
    Object.assign(box.el.style, {
      left: `${Math.min(box.x0, x1)}px`, top: `${Math.min(box.y0, y1)}px`,
      width: `${Math.abs(x1 - box.x0)}px`, height: `${Math.abs(y1 - box.y0)}px`,
    });
  }
  function moveGroup() {
    const dragged = elOf(group.key);
    const n = dragged && dfNode(dragged);
    const from = group.start.get(group.key);
    if (!n || !from) return;
    const dx = n.pos_x - from.x;
    const dy = n.pos_y - from.y;
    for (const [key, s] of group.start) {
      if (key === group.key) continue;
      const el = elOf(key);
      const other = el && dfNode(el);
      if (!other) continue;
      other.pos_x = s.x + dx;
      other.pos_y = s.y + dy;
      el.style.left = `${other.pos_x}px`;
      el.style.top = `${other.pos_y}px`;
      editor.updateConnectionNodes(el.id);
    }
  }
  window.addEventListener('mousemove', (event) => {
    if (box) updateBox(event);
    else if (group) moveGroup();
  });
  window.addEventListener('mouseup', (event) => {
    if (group) {
      // Before Drawflow records the move (one undo step). Drawflow's data for the dragged step is
      // one mouse move ahead of its drawn place: draw it where it is saved, as the others are.
      moveGroup();
      const el = elOf(group.key);
      const n = el && dfNode(el);
      if (n) { el.style.left = `${n.pos_x}px`; el.style.top = `${n.pos_y}px`; editor.updateConnectionNodes(el.id); }
      group = null;
    }
    if (!box) return;
    const r = box.el.getBoundingClientRect();
    box.el.remove();
    box = null;
    if (!event.shiftKey) multi.clear();
    for (const el of nodeEls()) {
      const n = el.getBoundingClientRect();
      const cx = n.left + n.width / 2;
      const cy = n.top + n.height / 2;
      if (cx >= r.left && cx <= r.right && cy >= r.top && cy <= r.bottom) multi.add(el.dataset.key);
    }
    markMulti();
    if (multi.size) say(`${multi.size} step(s) selected: drag one to move them all; Delete removes them; Ctrl+C copies them.`);
  }, true);

  function selectedSteps() {
    const keys = multi.size ? [...multi] : B.selectedKey ? [B.selectedKey] : [];
    return keys.filter((k) => k !== TRIGGER);
  }
  function deleteSteps(keys) {
    const gone = new Set(keys);
    const doc = B.currentDoc();
    doc.nodes = doc.nodes.filter((n) => !gone.has(n.key));
    doc.edges = doc.edges.filter((e) => !gone.has(e.source) && !gone.has(e.target));
    multi.clear();
    B.changeDocument(doc);
    markMulti();
    say(`Deleted ${keys.length} step(s). Undo (Ctrl+Z) brings them back.`);
  }
  let moveTimer = null;
  function nudge(dx, dy) {
    let last = null;
    for (const key of multi) {
      const el = elOf(key);
      const n = el && dfNode(el);
      if (!n) continue;
      n.pos_x += dx;
      n.pos_y += dy;
      el.style.left = `${n.pos_x}px`;
      el.style.top = `${n.pos_y}px`;
      editor.updateConnectionNodes(el.id);
      last = n.id;
    }
    clearTimeout(moveTimer);
    // The builder records a move on Drawflow's nodeMoved: once, after the last key press.
    if (last != null) moveTimer = setTimeout(() => editor.dispatch('nodeMoved', last), 400);
  }

  // --- copy / paste as JSON on the clipboard ------------------------------------------------------
  function clipDocument(keys) {
    const wanted = new Set(keys);
    const doc = B.currentDoc();
    const nodes = doc.nodes.filter((n) => wanted.has(n.key)).map((n) => {
      const el = elOf(n.key);
      return { ...n, ports: el ? portsOf(el) : undefined };
    });
    const edges = doc.edges.filter((e) => wanted.has(e.source) && wanted.has(e.target));
    return { format: CLIP_FORMAT, circuit: DATA.circuit.slug, nodes, edges };
  }
  let pendingCopy = null;
  async function copySteps(keys) {
    const clip = clipDocument(keys);
    const text = JSON.stringify(clip, null, 2);
    pendingCopy = text; // the copy event that follows the key press writes it
    // Where no copy event comes (a focused node, not text), the async clipboard writes it.
    setTimeout(async () => {
      if (pendingCopy !== text) return;
      pendingCopy = null;
      try { await navigator.clipboard.writeText(text); } catch (e) { say('The browser refused the clipboard: nothing was copied.', 'bad'); return; }
    }, 0);
    say(`Copied ${clip.nodes.length} step(s) and ${clip.edges.length} connection(s) as JSON: paste them here or into another circuit.`);
  }
  document.addEventListener('beforecopy', (event) => { if (pendingCopy) event.preventDefault(); });
  document.addEventListener('copy', (event) => {
    if (!pendingCopy) return;
    event.clipboardData.setData('text/plain', pendingCopy);
    event.preventDefault();
    pendingCopy = null;
  });
  let pastePending = false;
  document.addEventListener('beforepaste', (event) => { if (pastePending) event.preventDefault(); });
  document.addEventListener('paste', (event) => {
    if (!pastePending) return;
    pastePending = false;
    event.preventDefault();
    pasteText(event.clipboardData.getData('text/plain'));
  });

  // What the clipboard's text holds: {nodes, edges}, or {error} saying why it is not steps.
  function readClip(text) {
    let doc;
    try { doc = JSON.parse(text); } catch (e) {
      return { error: `Nothing pasted: the clipboard does not hold Circuit OS steps (it is not JSON: ${e.message}).` };
    }
    const ours = doc && typeof doc === 'object' && !Array.isArray(doc) && (doc.format === CLIP_FORMAT || doc.format === EXPORT_FORMAT);
    if (!ours || !Array.isArray(doc.nodes) || !Array.isArray(doc.edges || [])) {
      return { error: `Nothing pasted: the clipboard holds JSON, but not Circuit OS steps (expected {"format": "${CLIP_FORMAT}", "nodes": [...], "edges": [...]}, as Ctrl+C in a builder copies).` };
    }
    const bad = doc.nodes.map((n, i) => (n && typeof n === 'object' && typeof n.key === 'string' && typeof n.action === 'string' ? null : `nodes/${i}`)).filter(Boolean);
    if (bad.length) return { error: `Nothing pasted: malformed steps in the clipboard (${bad.join(', ')}: each needs a "key" and an "action").` };
    if (!doc.nodes.length) return { error: 'Nothing pasted: the clipboard holds no steps.' };
    return { nodes: doc.nodes, edges: (doc.edges || []).filter((e) => e && typeof e === 'object') };
  }
  function uniqueKey(key, taken) {
    const clean = String(key).toLowerCase().replace(/[^a-z0-9_]/g, '_').replace(/^[^a-z]+/, '') || 'step';
    if (!taken.has(clean) && KEY_RE.test(clean)) return clean;
    const stem = clean.replace(/_\d+$/, '').slice(0, 58) || 'step';
    let n = 1;
    while (taken.has(`${stem}_${n}`)) n += 1;
    return `${stem}_${n}`;
  }
  async function pasteText(text) {
    if (!CAN.edit) return;
    const clip = readClip(text);
    if (clip.error) { say(clip.error, 'bad'); return; }
    const doc = B.currentDoc();
    const taken = new Set([TRIGGER, ...doc.nodes.map((n) => n.key)]);
    const rename = new Map();
    for (const n of clip.nodes) {
      const key = uniqueKey(n.key, taken);
      taken.add(key);
      rename.set(n.key, key);
    }
    // Placed as copied, moved down as a group until no pasted step covers one already there.
    const existing = boxes();
    const placed = clip.nodes.map((n) => ({ x: Math.round(((n.position || {}).x || 0) + 40), y: Math.round(((n.position || {}).y || 0) + 40) }));
    const hits = (dy) => placed.some((p) => existing.some((b) => p.x < b.x + b.w + 20 && p.x + 230 > b.x && p.y + dy < b.y + b.h + 20 && p.y + dy + 110 > b.y));
    let dy = 0;
    for (let tries = 0; tries < 300 && hits(dy); tries += 1) dy += 30;
    const nodes = clip.nodes.map((n, i) => {
      const out = { ...n, key: rename.get(n.key), position: { x: placed[i].x, y: placed[i].y + dy } };
      if (!Array.isArray(out.ports) || !out.ports.every((p) => typeof p === 'string')) delete out.ports;
      return out;
    });
    const edges = clip.edges
      .filter((e) => rename.has(e.source) && rename.has(e.target))
      .map((e) => ({ source: rename.get(e.source), port: e.port || 'next', target: rename.get(e.target) }));
    const merged = { nodes: [...doc.nodes, ...nodes], edges: [...doc.edges, ...edges] };
    // The server's validation decides (the same as on save): a document it refuses, or a step
    // whose action it does not know, is not pasted.
    const strip = (n) => { const { ports, ...rest } = n; return rest; };
    const res = await api.post(`circuits/${encodeURIComponent(DATA.circuit.slug)}/draft/validate`, { nodes: merged.nodes.map(strip), edges: merged.edges });
    if (!res.ok) { say(`Nothing pasted: ${problemText(res.json, `the server refused the steps (${res.status}).`)}`, 'bad'); return; }
    const fresh = new Set(nodes.map((n) => n.key));
    const unknown = (res.json.errors || []).filter((p) => p.node && fresh.has(p.node) && p.field === 'action');
    if (unknown.length) {
      say(`Nothing pasted: ${unknown.map((p) => `${p.node}: ${p.message}`).join('; ')}.`, 'bad');
      return;
    }
    B.changeDocument(merged);
    multi.clear();
    for (const key of fresh) multi.add(key);
    markMulti();
    const renamed = [...rename].filter(([a, b]) => a !== b).map(([a, b]) => `${a} → ${b}`);
    say(`Pasted ${nodes.length} step(s) and ${edges.length} connection(s)${renamed.length ? ` (renamed ${renamed.join(', ')})` : ''}.`, 'ok');
  }

  // Ahead of the builder's own keys (window, capture): the clipboard, Delete and the arrows act
  // on every selected step.
  window.addEventListener('keydown', (event) => {
    if (isTyping(event.target) || $('dialog[open]')) return;
    const mod = event.ctrlKey || event.metaKey;
    const key = event.key.toLowerCase();
    if (event.key === 'Escape' && multi.size) { clearMulti(); return; }
    if (mod && key === 'c' && !event.shiftKey) {
      if (String(window.getSelection() || '')) return; // copying text from a panel: the browser's
      const keys = selectedSteps();
      if (!keys.length) return;
      event.stopImmediatePropagation();
      copySteps(keys);
    } else if (mod && key === 'v' && !event.shiftKey) {
      if (!CAN.edit) return;
      event.stopImmediatePropagation(); // the browser's paste event brings the clipboard's text
      pastePending = true;
      setTimeout(async () => {
        if (!pastePending) return;
        pastePending = false; // no paste event (nothing focused that takes one): ask the clipboard
        try { pasteText(await navigator.clipboard.readText()); } catch (e) { say('The browser did not let the page read the clipboard.', 'bad'); }
      }, 50);
    } else if ((event.key === 'Delete' || (event.key === 'Backspace' && event.metaKey)) && CAN.edit && multi.size > 0) {
      const keys = [...multi].filter((k) => k !== TRIGGER);
      event.preventDefault();
      event.stopImmediatePropagation();
      if (keys.length) deleteSteps(keys);
    } else if (event.key.startsWith('Arrow') && CAN.edit && multi.size > 1 && container.contains(event.target)) {
      event.preventDefault();
      event.stopImmediatePropagation();
      const step = event.shiftKey ? 50 : 10;
      nudge(key === 'arrowleft' ? -step : key === 'arrowright' ? step : 0, key === 'arrowup' ? -step : key === 'arrowdown' ? step : 0);
    }
  }, true);

  // --- keep the selected step in view ------------------------------------------------------------
  // When the node view opens (the canvas narrows) or a step is chosen from a list, pan as little
  // as needed so that the selected step is inside the visible canvas.
  let keepPending = false;
  function keepSelectedInView() {
    const key = B.selectedKey;
    const el = key && elOf(key);
    if (!el) return;
    // Mid-gesture (the click that selected it is still down): once the pointer is up.
    if (box || group || editor.drag || mouseIsDown) { keepPending = true; return; }
    keepPending = false;
    const c = container.getBoundingClientRect();
    const n = el.getBoundingClientRect();
    const m = Math.min(24, c.width / 10);
    let dx = 0;
    let dy = 0;
    if (n.width + 2 * m > c.width || n.left < c.left + m) dx = c.left + m - n.left;
    else if (n.right > c.right - m) dx = c.right - m - n.right;
    if (n.height + 2 * m > c.height || n.top < c.top + m) dy = c.top + m - n.top;
    else if (n.bottom > c.bottom - m) dy = c.bottom - m - n.bottom;
    panBy(Math.round(dx), Math.round(dy));
  }
  let lastSelected = B.selectedKey;
  function afterCanvasChange() {
    markMulti();
    if (B.selectedKey !== lastSelected) {
      lastSelected = B.selectedKey;
      // Chosen from a list in the side panel (problems, run steps): bring it into view. A step
      // chosen, dropped or added on the canvas itself does not move the canvas.
      if (chosenInPanel) keepSelectedInView();
    }
    drawMap();
  }
  let mouseIsDown = false;
  let chosenInPanel = false;
  window.addEventListener('mousedown', (event) => {
    mouseIsDown = true;
    chosenInPanel = !!(event.target.closest && event.target.closest('#panel'));
  }, true);
  window.addEventListener('mouseup', (event) => {
    mouseIsDown = false;
    // Drawflow ends a drag on a mouseup over the canvas only. When the click opened the node
    // view, the canvas narrowed under the pointer and the release lands on the panel: without
    // this the step would follow the mouse from then on.
    if (!container.contains(event.target) && (editor.drag || editor.editor_selected || editor.connection)) editor.dragEnd(event);
    if (keepPending) setTimeout(keepSelectedInView, 0); // after Drawflow ended its drag
  }, true);
  new ResizeObserver(() => { keepSelectedInView(); drawMap(); }).observe(container);
  // Focusing a step (Tab) makes the browser scroll the overflow-hidden canvas, which Drawflow
  // does not know of (drops and the minimap would be off by it): turn the scroll into a pan.
  container.addEventListener('scroll', () => {
    const dx = container.scrollLeft;
    const dy = container.scrollTop;
    if (!dx && !dy) return;
    container.scrollLeft = 0;
    container.scrollTop = 0;
    panBy(-dx, -dy);
  });

  // --- pinned data typed by hand -------------------------------------------------------------------
  function pinEditor() {
    const form = $('#node-form');
    if (!CAN.edit || !form || $('#pin-editor')) return;
    const key = form.dataset.key;
    const el = elOf(key);
    const node = B.currentDoc().nodes.find((n) => n.key === key);
    if (!el || !node || (ACTIONS[node.action] && ACTIONS[node.action].container)) return;
    const ports = portsOf(el);
    const pinned = node.pinned;
    const run = B.run;
    const last = run && run.detail ? run.detail.steps.filter((s) => s.node === key).pop() : null;
    const initial = pinned ? pinned.output : last && last.status === 'succeeded' ? last.output : {};
    const section = document.createElement('details');
    section.id = 'pin-editor';
    section.className = 'form-section pin-editor';
    section.dataset.key = key;
    section.innerHTML = `<summary>Pinned data${pinned ? ' <span class="node-pin">pinned</span>' : ''}</summary>
      <p class="helptext">Type the output this step hands on (JSON): test runs use it instead of running the step; published runs always run it.</p>
      <label for="pin-json">Output (JSON)</label>
      <textarea id="pin-json" class="mono" rows="6" spellcheck="false"></textarea>
      <label for="pin-port">Leaves by the port</label>
      <select id="pin-port">${ports.filter((p) => p !== 'error').map((p) => `<option${pinned && pinned.port === p ? ' selected' : ''}>${p.replace(/[<&"]/g, '')}</option>`).join('')}</select>
      <div class="error" id="pin-errors" role="alert"></div>
      <div class="form-actions"><button type="button" id="pin-save" class="small">Pin this data</button>${pinned ? '<button type="button" id="pin-clear" class="small">Unpin</button>' : ''}</div>`;
    $('#pin-json', section).value = JSON.stringify(initial, null, 2);
    $('#step-form').appendChild(section);
  }
  $('#step-form').addEventListener('click', (event) => {
    const editorEl = event.target.closest('#pin-editor');
    if (!editorEl) return;
    const key = editorEl.dataset.key;
    if (event.target.closest('#pin-clear')) {
      B.setPinned(key, null);
      editorEl.remove();
      pinEditor();
      return;
    }
    if (!event.target.closest('#pin-save')) return;
    const errors = $('#pin-errors', editorEl);
    const text = $('#pin-json', editorEl).value;
    let output;
    try { output = JSON.parse(text); } catch (e) {
      errors.textContent = `Not pinned: the output is not valid JSON (${e.message}).`;
      $('#pin-json', editorEl).setAttribute('aria-invalid', 'true');
      return;
    }
    if (new Blob([text]).size > PIN_LIMIT) { errors.textContent = 'Not pinned: pinned data is limited to 256 kB.'; return; }
    errors.textContent = '';
    $('#pin-json', editorEl).removeAttribute('aria-invalid');
    B.setPinned(key, { output, port: $('#pin-port', editorEl).value || 'next' });
    say(`Pinned data on ${key}: test runs use it instead of running the step.`, 'ok');
    editorEl.remove();
    pinEditor();
    $('#pin-editor').open = true;
  });
  new MutationObserver(() => pinEditor()).observe($('#step-form'), { childList: true });
  document.addEventListener('builder:run', () => { scheduleDraw(); });

  pinEditor();
  drawMap();
  window.circuitCanvasTools = { multi, copySteps, pasteText, keepSelectedInView, drawMap };
}
