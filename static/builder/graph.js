/* The circuit graph on a Drawflow canvas, shared by the builder and the execution page: node
 * cards, port labels, run states, the connections a run took, and fitting the view.
 *
 * Plain functions on window.CircuitGraph; each page keeps its own Drawflow editor and state.
 */
(function () {
  'use strict';

  const TRIGGER = 'trigger';
  const RUN_STATES = ['running', 'succeeded', 'failed', 'skipped', 'waiting', 'pending', 'cancelled'];
  const FINISHED = ['succeeded', 'failed', 'cancelled'];
  const READABLE_ZOOM = 0.85; // node text stays about 11 px or larger

  function esc(text) {
    return String(text == null ? '' : text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  }

  // Action families (the registry's categories, actions/sdk/registry.py CATEGORIES) and the icon
  // each one's node cards show, here so the builder and the execution page draw the same.
  // Icons are inline SVG (24 × 24, stroked in currentColor): no font or network needed.
  const FAMILIES = {
    trigger: { name: 'trigger', icon: '<path d="M13 3 5 14h6l-1 7 8-11h-6z"/>' },
    data: { name: 'data', icon: '<ellipse cx="12" cy="6" rx="7" ry="3"/><path d="M5 6v12c0 1.7 3.1 3 7 3s7-1.3 7-3V6M5 12c0 1.7 3.1 3 7 3s7-1.3 7-3"/>' },
    web: { name: 'web', icon: '<circle cx="12" cy="12" r="9"/><path d="M3 12h18M12 3c2.5 2.7 3.7 5.7 3.7 9s-1.2 6.3-3.7 9c-2.5-2.7-3.7-5.7-3.7-9S9.5 5.7 12 3z"/>' },
    ml: { name: 'ai / ml', icon: '<rect x="6" y="6" width="12" height="12" rx="2"/><path d="M9 2v4M15 2v4M9 18v4M15 18v4M2 9h4M2 15h4M18 9h4M18 15h4M10 10h4v4h-4z"/>' },
    rag: { name: 'rag', icon: '<path d="M4 4h9a3 3 0 0 1 3 3v13a2 2 0 0 0-2-2H4z"/><circle cx="17" cy="8" r="3"/><path d="m19.2 10.2 2.3 2.3"/>' },
    graph: { name: 'graph', icon: '<circle cx="5" cy="12" r="2.5"/><circle cx="18" cy="5" r="2.5"/><circle cx="18" cy="19" r="2.5"/><path d="m7.3 10.9 8.4-4.7M7.3 13.1l8.4 4.7"/>' },
    control: { name: 'flow', icon: '<circle cx="6" cy="5" r="2.5"/><circle cx="6" cy="19" r="2.5"/><circle cx="18" cy="12" r="2.5"/><path d="M6 7.5v9M6 12h4a5 5 0 0 0 5.5-0"/>' },
    notify: { name: 'notify', icon: '<path d="M6 16V11a6 6 0 1 1 12 0v5l2 2H4z"/><path d="M10 20a2 2 0 0 0 4 0"/>' },
    util: { name: 'utility', icon: '<path d="M14.5 6.5a4 4 0 0 0-5.3 5.3L3.5 17.5l3 3 5.7-5.7a4 4 0 0 0 5.3-5.3l-2.5 2.5-2.5-.5-.5-2.5z"/>' },
  };
  const UNKNOWN_FAMILY = { name: 'unknown', icon: '<circle cx="12" cy="12" r="9"/><path d="M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .9-1 1.6V14M12 17.5v.5"/>' };
  function family(category) {
    return FAMILIES[category] || UNKNOWN_FAMILY;
  }
  // The family icon followed by the category badge (side by side, never on top of its text).
  function kindHtml(category) {
    const fam = family(category);
    const svg = `<svg viewBox="0 0 24 24" width="16" height="16" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">${fam.icon}</svg>`;
    return `<span class="node-kind"><span class="node-icon fam-${esc(category)}" data-family="${esc(fam.name)}" title="${esc(fam.name)}">${svg}</span><span class="cat cat-${esc(category)}">${esc(category)}</span></span>`;
  }

  function triggerCard(summary) {
    return `<div class="node-card" data-key="trigger"><div class="node-top">${kindHtml('trigger')}<span class="node-status" aria-hidden="true"></span></div>
      <div class="node-label">Trigger</div><div class="node-meta trigger-summary">${esc(summary)}</div></div>`;
  }

  // `meta` is the action's catalogue entry ({label, category}); `label` the step's own label;
  // `pinned`: the step has pinned data (test runs use it instead of running the step).
  function actionCard(key, label, meta, pinned) {
    const pin = pinned ? '<span class="node-pin" title="Pinned data: test runs use it instead of running this step">pinned</span>' : '';
    return `<div class="node-card" data-key="${esc(key)}"><div class="node-top">${kindHtml(meta.category)}${pin}<span class="node-status" aria-hidden="true"></span></div>
      <div class="node-label">${esc(label || meta.label)}</div>
      <div class="node-meta"><code>${esc(key)}</code> · ${esc(meta.label)}</div>
      <div class="node-problem" hidden></div><div class="node-io" hidden></div></div>`;
  }

  // Name a drawn node's outputs after its ports (the label is CSS on data-port).
  function labelPorts(nodeEl, names) {
    names.forEach((name, i) => {
      const out = nodeEl.querySelector(`.outputs .output_${i + 1}`);
      if (!out) return;
      out.dataset.port = name;
      out.title = `${name} port`;
      out.classList.toggle('port-error', name === 'error');
    });
  }

  function setRunState(nodeEl, status) {
    RUN_STATES.forEach((s) => nodeEl.classList.remove(`run-${s}`));
    if (status) nodeEl.classList.add(`run-${status}`);
    const badge = nodeEl.querySelector('.node-status');
    if (badge) badge.textContent = status || '';
  }

  // One state per node from its step runs (loops and retries make several): a failure wins,
  // otherwise the latest.
  function nodeStates(steps) {
    const states = {};
    for (const s of steps) {
      if (states[s.node] === 'failed' && s.status !== 'running') continue;
      states[s.node] = s.status;
    }
    return states;
  }

  // Which edges the run went along: the target ran, and the source is the trigger, left by
  // that port, or is a container (loop, parallel) whose body edges lead to what it ran.
  function takenEdges(edges, steps, isContainer) {
    const ran = new Set();
    const leftBy = {};
    for (const s of steps) {
      if (s.status === 'skipped') continue;
      ran.add(s.node);
      if (s.port) (leftBy[s.node] = leftBy[s.node] || new Set()).add(s.port);
    }
    return edges.map((e) => {
      if (!ran.has(e.target)) return false;
      if (e.source === TRIGGER) return true;
      if (!ran.has(e.source)) return false;
      const ports = leftBy[e.source];
      if (ports && ports.has(e.port)) return true;
      return isContainer(e.source) && e.port !== 'error' && e.port !== 'done';
    });
  }

  // Fit the graph into the canvas. `readable`: the zoom never drops below READABLE_ZOOM (a graph
  // too large then starts at its left, the trigger, and can be panned).
  function fit(editor, container, readable) {
    const els = Array.from(editor.precanvas.querySelectorAll('.drawflow-node'));
    if (!els.length) return;
    let minX = Infinity; let minY = Infinity; let maxX = -Infinity; let maxY = -Infinity;
    for (const el of els) {
      minX = Math.min(minX, el.offsetLeft);
      minY = Math.min(minY, el.offsetTop);
      maxX = Math.max(maxX, el.offsetLeft + el.offsetWidth + 60); // room for port labels
      maxY = Math.max(maxY, el.offsetTop + el.offsetHeight);
    }
    const W = container.clientWidth;
    const H = container.clientHeight;
    const pad = 40;
    const fitted = Math.min(1, (W - 2 * pad) / (maxX - minX), (H - 2 * pad) / (maxY - minY));
    const zoom = Math.max(readable === true ? READABLE_ZOOM : editor.zoom_min, fitted);
    const pw = editor.precanvas.clientWidth;
    const ph = editor.precanvas.clientHeight;
    // The canvas scales around its centre: place the bounding box's corner at the padding
    // (centred when it fits, else at the left / top).
    const offsetX = Math.max(pad, (W - (maxX - minX) * zoom) / 2);
    const offsetY = Math.max(pad, (H - (maxY - minY) * zoom) / 2);
    editor.zoom = zoom;
    editor.canvas_x = offsetX - minX * zoom - (pw / 2) * (1 - zoom);
    editor.canvas_y = offsetY - minY * zoom - (ph / 2) * (1 - zoom);
    editor.zoom_last_value = editor.zoom;
    editor.precanvas.style.transform = `translate(${editor.canvas_x}px, ${editor.canvas_y}px) scale(${editor.zoom})`;
    editor.dispatch('zoom', editor.zoom);
  }

  // The connection element of edge (source key, port, target key), given key → Drawflow id.
  function connectionEl(root, idOf, ports, edge) {
    const from = idOf.get(edge.source);
    const to = idOf.get(edge.target);
    const index = (ports[edge.source] || []).indexOf(edge.port || 'next');
    if (from == null || to == null || index < 0) return null;
    return root.querySelector(`.connection.node_out_node-${from}.node_in_node-${to}.output_${index + 1}`);
  }

  // `taken`: per edge, whether the run went along it (true), or did not (false: dimmed once
  // the run is over), or null (not known yet); `taken` itself null clears every mark.
  function markTaken(root, idOf, ports, edges, taken) {
    root.querySelectorAll('.connection.is-taken, .connection.is-not-taken').forEach((el) => el.classList.remove('is-taken', 'is-error', 'is-not-taken'));
    if (!taken) return;
    edges.forEach((edge, i) => {
      const el = connectionEl(root, idOf, ports, edge);
      if (!el) return;
      if (taken[i]) el.classList.add('is-taken', ...(edge.port === 'error' ? ['is-error'] : []));
      else if (taken[i] === false) el.classList.add('is-not-taken');
    });
  }

  // Where the trigger goes: left of the first step (the document does not store it).
  function triggerPosition(doc) {
    if (!doc.nodes.length) return { x: 60, y: 160 };
    const xs = doc.nodes.map((n) => (n.position || {}).x || 0);
    const first = doc.edges.find((e) => e.source === TRIGGER);
    const target = first && doc.nodes.find((n) => n.key === first.target);
    const y = target ? (target.position || {}).y || 0 : Math.min(...doc.nodes.map((n) => (n.position || {}).y || 0));
    return { x: Math.min(...xs) - 260, y };
  }

  window.CircuitGraph = { TRIGGER, FINISHED, READABLE_ZOOM, FAMILIES, family, kindHtml, esc, triggerCard, actionCard, labelPorts, setRunState, nodeStates, takenEdges, fit, connectionEl, markTaken, triggerPosition };
})();
