// Draws an entity's neighbourhood (the subgraph in #graph-data) with Cytoscape.js; a click
// on another entity opens its page. The tables on the page carry the same facts without it.
(function () {
  "use strict";
  const script = document.currentScript;
  function draw() {
    const box = document.getElementById("graph-canvas");
    const data = JSON.parse(document.getElementById("graph-data").textContent);
    if (!box || typeof window.cytoscape !== "function") return;
    const base = script.dataset.entityUrl.replace(/0$/, "");
    const elements = [
      ...data.entities.map((e) => ({ data: { id: String(e.id), label: e.name, kind: e.kind, center: e.id === data.center } })),
      ...data.relations.map((r) => ({ data: { id: "r" + r.id, source: String(r.source), target: String(r.target), label: r.type, origin: r.origin } })),
    ];
    const cy = window.cytoscape({
      container: box,
      elements,
      maxZoom: 1.5, // a neighbourhood of two entities is not drawn at giant size
      layout: { name: "cose", animate: false, randomize: false, nodeRepulsion: 9000 },
      style: [
        { selector: "node", style: { label: "data(label)", "font-size": 11, "background-color": "#6b7a99", width: 18, height: 18 } },
        { selector: "node[kind = 'company']", style: { "background-color": "#2f6fdf" } },
        { selector: "node[kind = 'product'], node[kind = 'technology']", style: { "background-color": "#1f9d74", shape: "round-rectangle" } },
        { selector: "node[kind = 'market'], node[kind = 'industry'], node[kind = 'region']", style: { "background-color": "#c58a1b", shape: "diamond" } },
        { selector: "node[?center]", style: { width: 30, height: 30, "border-width": 3, "border-color": "#111" } },
        { selector: "edge", style: { label: "data(label)", "font-size": 9, width: 1.5, "curve-style": "bezier", "target-arrow-shape": "triangle", "line-color": "#aab" } },
        { selector: "edge[label = 'competes_with']", style: { "line-color": "#d33", "target-arrow-shape": "none" } },
        { selector: "edge[origin = 'inference']", style: { "line-style": "dashed" } },
      ],
    });
    box.cy = cy; // the drawing's handle (the browser test reads what was drawn through it)
    cy.on("tap", "node", (event) => {
      const id = event.target.id();
      if (Number(id) !== data.center) window.location.href = base + id;
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
