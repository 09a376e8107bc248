/* Executions list: select-all for bulk actions, and rows that follow the tenant's live stream.
 *
 * Rows already on the page get their status, duration and error updated in place from the
 * event; executions not on the page are fetched from the server (which applies the page's
 * filters) and prepended — only on the first page, so older pages do not shift.
 */
(function () {
  "use strict";
  var form = document.getElementById("exec-bulk");
  if (!form) return;
  var listUrl = form.dataset.liveUrl;
  var PAGE_SIZE = 50;
  var wanted = new Set();
  var recentlyAsked = new Map(); // id → time asked, so a burst of events asks once
  var timer = null;

  function results() { return document.getElementById("exec-results"); }

  function updateCount() {
    var count = form.querySelectorAll('input[name="ids"]:checked').length;
    var label = form.querySelector("[data-selected-count]");
    if (label) label.textContent = count + " selected";
    var all = form.querySelector("[data-select-all]");
    var boxes = form.querySelectorAll('input[name="ids"]');
    if (all) {
      all.checked = boxes.length > 0 && count === boxes.length;
      all.indeterminate = count > 0 && count < boxes.length;
    }
  }

  form.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      form.querySelectorAll('input[name="ids"]').forEach(function (box) { box.checked = target.checked; });
    }
    updateCount();
  });
  document.body.addEventListener("htmx:afterSwap", updateCount);

  function updateRow(row, event) {
    var status = row.querySelector('[data-col="status"] .badge');
    if (status && event.status) {
      status.className = "badge " + event.status;
      status.textContent = window.CircuitFormat.statusLabel(event.status);
    }
    var duration = row.querySelector('[data-col="duration"]');
    if (duration && event.duration_ms !== undefined && event.duration_ms !== null) {
      duration.textContent = window.CircuitFormat.formatMs(event.duration_ms);
    }
    var error = row.querySelector('[data-col="error"]');
    if (error && event.error && event.error.message) {
      var text = String(event.error.message);
      error.textContent = text.length > 80 ? text.slice(0, 79) + "…" : text;
    }
  }

  // The "N executions" line follows the rows the stream adds (they match the page's filters:
  // the server chose them).
  function countAdded(added) {
    var label = document.querySelector("[data-result-count]");
    if (!label) return;
    var n = Number(label.dataset.resultCount) + added;
    label.dataset.resultCount = String(n);
    var one = n === 1;
    label.textContent = n + " execution" + (one ? "" : "s") + (label.hasAttribute("data-filtered") ? (one ? " matches" : " match") : "") + ".";
  }

  function fetchRows() {
    timer = null;
    var box = results();
    if (!box || box.dataset.live !== "1" || wanted.size === 0) { wanted.clear(); return; }
    var ids = Array.from(wanted).slice(0, 100);
    wanted.clear();
    var now = Date.now();
    ids.forEach(function (id) { recentlyAsked.set(id, now); });
    var query = (box.dataset.filters ? box.dataset.filters + "&" : "") + "ids=" + ids.join(",");
    fetch(listUrl + "?" + query, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        if (!html.trim()) return;
        var tbody = document.getElementById("exec-rows");
        if (!tbody) return;
        var template = document.createElement("template");
        template.innerHTML = html;
        var rows = Array.from(template.content.querySelectorAll("tr[data-execution]"));
        rows.sort(function (a, b) { return Number(a.dataset.execution) - Number(b.dataset.execution); });
        var added = 0;
        rows.forEach(function (row) {
          if (document.getElementById(row.id)) return;
          tbody.insertBefore(row, tbody.firstChild);
          row.classList.add("flash");
          added += 1;
        });
        if (added) countAdded(added);
        var empty = tbody.querySelector("tr.empty");
        if (empty && rows.length) empty.remove();
        var all = tbody.querySelectorAll("tr[data-execution]");
        for (var i = PAGE_SIZE; i < all.length; i++) all[i].remove();
        updateCount();
      })
      .catch(function () { /* the next event or a reconnect catches up */ });
  }

  if (window.CircuitLive) {
    window.CircuitLive.on(function (event) {
      if (typeof event.kind !== "string" || event.kind.indexOf("execution.") !== 0 || !event.execution) return;
      var row = document.getElementById("exec-" + event.execution);
      if (row) { updateRow(row, event); return; }
      var askedAt = recentlyAsked.get(event.execution);
      if (askedAt && Date.now() - askedAt < 2000 && event.kind !== "execution.finished") return;
      wanted.add(event.execution);
      if (!timer) timer = setTimeout(fetchRows, 600);
    });
    window.CircuitLive.onReconnect(function () {
      // Events sent while the socket was down are lost: re-read the current page.
      if (window.htmx) window.htmx.ajax("GET", location.pathname + location.search, { target: "#exec-results", swap: "outerHTML" });
    });
  }
  updateCount();
})();
