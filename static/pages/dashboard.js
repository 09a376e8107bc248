/* Dashboard charts (Chart.js from our own static files). The numbers come from the page's
 * json_script block; every chart has a table with the same figures next to it. The body
 * re-renders on the server when the range changes and, at most every 15 s, when
 * executions finish (from the tenant's live stream).
 */
(function () {
  "use strict";
  var COLORS = {
    queued: "#a0aec0", running: "#d69e2e", waiting: "#ecc94b",
    succeeded: "#2f9e5b", failed: "#c53030", cancelled: "#718096",
  };
  var charts = [];
  var REFRESH_MS = 15000;
  var lastRefresh = Date.now();
  var refreshTimer = null;

  function destroy() {
    charts.forEach(function (chart) { chart.destroy(); });
    charts = [];
  }

  function make(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) return;
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    charts.push(new window.Chart(canvas, config));
  }

  function draw() {
    destroy();
    var body = document.getElementById("dashboard-body");
    if (body) body.dataset.drawn = "1";
    var source = document.getElementById("dashboard-data");
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    var fmt = window.CircuitFormat.formatMs;

    make("chart-volume", {
      type: "bar",
      data: {
        labels: data.series.map(function (row) { return row.label; }),
        datasets: data.statuses.map(function (status) {
          return { label: window.CircuitFormat.statusLabel(status), data: data.series.map(function (row) { return row[status]; }), backgroundColor: COLORS[status] };
        }),
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
    });

    var names = data.circuits.map(function (c) { return c.name; });
    make("chart-success", {
      type: "bar",
      data: {
        labels: names,
        datasets: [{
          label: "Success rate (%)",
          data: data.circuits.map(function (c) { return c.success_rate === null ? null : Math.round(c.success_rate * 1000) / 10; }),
          backgroundColor: COLORS.succeeded,
        }],
      },
      options: { scales: { y: { beginAtZero: true, max: 100 } }, plugins: { legend: { display: false } } },
    });

    make("chart-duration", {
      type: "bar",
      data: {
        labels: names,
        datasets: [
          { label: "p50", data: data.circuits.map(function (c) { return c.p50_ms; }), backgroundColor: "#3559e0" },
          { label: "p95", data: data.circuits.map(function (c) { return c.p95_ms; }), backgroundColor: "#9bb0ff" },
        ],
      },
      options: {
        scales: { y: { beginAtZero: true, ticks: { callback: function (value) { return fmt(value); } } } },
        plugins: { tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + fmt(ctx.raw); } } } },
      },
    });

    make("chart-slowest", {
      type: "bar",
      data: {
        labels: data.slowest.map(function (s) { return s.label; }),
        datasets: [{ label: "Average", data: data.slowest.map(function (s) { return s.avg_ms; }), backgroundColor: COLORS.running }],
      },
      options: {
        indexAxis: "y",
        scales: { x: { beginAtZero: true, ticks: { callback: function (value) { return fmt(value); } } } },
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (ctx) { return fmt(ctx.raw); } } } },
      },
    });
  }

  function reload() {
    refreshTimer = null;
    lastRefresh = Date.now();
    var body = document.getElementById("dashboard-body");
    if (body && window.htmx) window.htmx.ajax("GET", body.dataset.url, { target: "#dashboard-body", swap: "outerHTML" });
  }

  // A swapped-in body has no `data-drawn` yet (outerHTML swaps replace the element itself).
  document.body.addEventListener("htmx:afterSettle", function () {
    var body = document.getElementById("dashboard-body");
    if (body && !body.dataset.drawn) draw();
  });

  if (window.CircuitLive) {
    window.CircuitLive.on(function (event) {
      if (event.kind !== "execution.finished" || refreshTimer) return;
      refreshTimer = setTimeout(reload, Math.max(0, REFRESH_MS - (Date.now() - lastRefresh)));
    });
    window.CircuitLive.onReconnect(function () { if (!refreshTimer) refreshTimer = setTimeout(reload, 1000); });
  }
  draw();
})();
