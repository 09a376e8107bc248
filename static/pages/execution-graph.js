/* The execution page's graph: the version the execution ran, drawn like the builder's canvas
 * (static/builder/graph.js), with each step's status and the path the run took. Selecting a
 * step shows its runs beside the graph (input, output, logs) and opens its rows in the steps
 * table. The live refresh of the page
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

  // Selecting a step shows its runs beside the graph — status, input, output and logs, laid out
  // like the builder's run panel — copied from its rows in the steps table (which open too).
  // The trigger shows the execution's input. The live refresh brings new rows: shown again.
  const panel = document.getElementById('execution-node');
  let selected = null;
  function heading(text, key) {
    const h = document.createElement('h3');
    h.append(text);
    if (key) {
      const code = document.createElement('code');
      code.textContent = key;
      h.append(' ', code);
    }
    return h;
  }
  function showPanel() {
    if (!panel || selected === null) return;
    const key = selected;
    const parts = [];
    if (key === G.TRIGGER) {
      const input = document.getElementById('d-input');
      parts.push(heading('Trigger'));
      if (input) {
        const copy = input.cloneNode(true);
        copy.removeAttribute('id');
        copy.open = true;
        parts.push(copy);
      }
    } else {
      parts.push(heading('Step', key));
      const rows = Array.from(document.querySelectorAll('#execution-live tr[data-node]')).filter((row) => row.dataset.node === key);
      if (!rows.length) {
        const none = document.createElement('p');
        none.className = 'muted';
        none.textContent = 'This step did not run.';
        parts.push(none);
      }
      for (const row of rows) {
        const cells = row.cells;
        const run = document.createElement('div');
        const badge = cells[3].querySelector('.badge');
        run.className = `step-run step-${badge ? badge.classList[1] || '' : ''}`;
        const facts = document.createElement('p');
        if (badge) facts.append(badge.cloneNode(true));
        const scope = cells[0].querySelector('small');
        if (scope) facts.append(' ', scope.cloneNode(true));
        facts.append(` attempt ${cells[2].textContent.trim()} · ${cells[5].textContent.trim()}`);
        const port = cells[4].textContent.trim();
        if (port && port !== '—') {
          const code = document.createElement('code');
          code.textContent = port;
          facts.append(' · port ', code);
        }
        run.append(facts);
        for (const child of cells[6].children) {
          const copy = child.cloneNode(true);
          copy.removeAttribute('id');
          if (copy.tagName === 'DETAILS' && !copy.querySelector('.step-logs')) copy.open = true;
          run.append(copy);
        }
        parts.push(run);
      }
    }
    panel.replaceChildren(...parts);
  }
  document.body.addEventListener('htmx:afterSettle', showPanel);

  function open(key) {
    selected = key;
    for (const el of holder.querySelectorAll('.drawflow-node')) el.classList.toggle('is-selected', el.dataset.key === key);
    showPanel();
    const rows = key === G.TRIGGER ? [document.getElementById('d-input')] : Array.from(document.querySelectorAll('#execution-live tr[data-node]')).filter((row) => row.dataset.node === key);
    if (!rows.length || !rows[0]) {
      if (window.CircuitLive) window.CircuitLive.announce(`Step ${key} did not run.`);
      return;
    }
    for (const row of rows) {
      if (row.tagName === 'DETAILS') row.open = true;
      else row.querySelectorAll('details').forEach((d) => { d.open = true; });
    }
    if (panel && panel.getBoundingClientRect().top > window.innerHeight) panel.scrollIntoView({ block: 'nearest' });
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
