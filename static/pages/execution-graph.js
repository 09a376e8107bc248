/* The execution page's graph: the version the execution ran, drawn like the builder's canvas
 * (static/builder/graph.js), with each step's status and the path the run took. Selecting a
 * step opens its row in the steps table (input, output, logs). The live refresh of the page
 * keeps this element (hx-preserve) and brings new states in #execution-steps.
 */
(function () {
  'use strict';
  const holder = document.getElementById('execution-graph');
  const dataEl = document.getElementById('execution-graph-data');
  if (!holder || !dataEl || !window.Drawflow || !window.CircuitGraph) return;
  const G = window.CircuitGraph;
  const DATA = JSON.parse(dataEl.textContent);
  const doc = DATA.document;
  const meta = (action) => DATA.actions[action] || { label: action, category: 'unknown', container: false };
  const actionOf = Object.fromEntries(doc.nodes.map((n) => [n.key, n.action]));
  const isContainer = (key) => Boolean(actionOf[key] && meta(actionOf[key]).container);

  const editor = new Drawflow(holder);
  editor.reroute = false;
  editor.curvature = 0.45;
  editor.zoom_min = 0.3;
  editor.zoom_max = 1.6;
  editor.editor_mode = 'view'; // pan and zoom, no editing
  editor.start();

  const idOf = new Map();
  const ports = { [G.TRIGGER]: ['next'] };
  function place(key, id, label) {
    const el = document.getElementById(`node-${id}`);
    idOf.set(key, id);
    G.labelPorts(el, ports[key]);
    el.dataset.key = key;
    el.tabIndex = 0;
    el.setAttribute('role', 'button');
    el.setAttribute('aria-label', label);
  }
  const tpos = G.triggerPosition(doc);
  place(G.TRIGGER, editor.addNode('trigger', 0, 1, tpos.x, tpos.y, 'node-trigger', { key: G.TRIGGER }, G.triggerCard(DATA.trigger)), 'Trigger: the input');
  for (const n of doc.nodes) {
    ports[n.key] = DATA.ports[n.key] || ['next', 'error'];
    const pos = n.position || { x: 0, y: 0 };
    const id = editor.addNode(n.action, 1, ports[n.key].length, pos.x || 0, pos.y || 0, 'node-action', { key: n.key }, G.actionCard(n.key, n.label, meta(n.action)));
    place(n.key, id, `Step ${n.key}`);
  }
  for (const e of doc.edges) {
    const index = (ports[e.source] || []).indexOf(e.port || 'next');
    if (idOf.has(e.source) && idOf.has(e.target) && index >= 0) editor.addConnection(idOf.get(e.source), idOf.get(e.target), `output_${index + 1}`, 'input_1');
  }

  function apply() {
    const stepsEl = document.getElementById('execution-steps');
    const live = document.getElementById('execution-live');
    if (!stepsEl || !live) return;
    const steps = JSON.parse(stepsEl.textContent);
    const states = G.nodeStates(steps);
    const finished = live.dataset.finished === '1';
    for (const [key, id] of idOf) {
      const el = document.getElementById(`node-${id}`);
      if (key === G.TRIGGER) G.setRunState(el, 'succeeded');
      else G.setRunState(el, states[key] || (finished ? 'skipped' : 'pending'));
    }
    // While it runs, an edge not taken yet may still be: only a finished run dims the others.
    const taken = G.takenEdges(doc.edges, steps, isContainer);
    G.markTaken(holder, idOf, ports, doc.edges, finished ? taken : taken.map((t) => t || null));
  }
  apply();
  requestAnimationFrame(() => G.fit(editor, holder));
  document.body.addEventListener('htmx:afterSettle', apply);

  // A step opens its first row in the steps table; the trigger opens the input.
  function open(key) {
    const target = key === G.TRIGGER ? document.getElementById('d-input') : document.querySelector(`#execution-live [id="node-${CSS.escape(key)}"]`);
    if (!target) {
      if (window.CircuitLive) window.CircuitLive.announce(`Step ${key} did not run.`);
      return;
    }
    const row = target.closest('tr') || target;
    row.querySelectorAll('details').forEach((d) => { d.open = true; });
    if (row.tagName === 'DETAILS') row.open = true;
    row.scrollIntoView({ block: 'center' });
    row.classList.remove('flash');
    void row.offsetWidth; // restart the highlight
    row.classList.add('flash');
  }
  holder.addEventListener('click', (event) => {
    const node = event.target.closest('.drawflow-node');
    if (node && node.dataset.key) open(node.dataset.key);
  });
  holder.addEventListener('keydown', (event) => {
    const node = event.target.closest('.drawflow-node');
    if (node && node.dataset.key && (event.key === 'Enter' || event.key === ' ')) {
      event.preventDefault();
      open(node.dataset.key);
    }
  });
})();
