/* Parts of a page that read themselves again when the tenant's live stream says they moved.
 *
 *   <div id="record-live" data-refresh-on="record.changed" data-refresh-record="12">…</div>
 *
 * data-refresh-on: event kinds, space-separated; one ending in "." is a prefix ("execution.").
 * data-refresh-record / data-refresh-type: only record.changed events of that record / object type.
 * data-refresh-url: where the part is read from (default: this page's own URL).
 * data-refresh-gone: shown instead of a refresh when the record itself was deleted.
 * data-refresh-gap: the least time between two reads of the part, in ms (default MIN_GAP_MS).
 *
 * The live events say only *what* moved (a record id, an execution id): the part is fetched
 * again as a whole page through its own, permission-checked view, and the element with the
 * same id replaces it — at most once per gap per part. Open <details> stay open, and a
 * part being typed into waits until the focus leaves it. After the socket reconnects (events
 * sent meanwhile are lost) every part is read again.
 */
(function () {
  "use strict";
  if (!window.CircuitLive) return;
  var MIN_GAP_MS = 1000;
  var state = new Map(); // id → {timer, last, inFlight, again}

  function parts() { return Array.from(document.querySelectorAll("[data-refresh-on][id]")); }

  function wants(el, event) {
    var kinds = (el.dataset.refreshOn || "").split(/\s+/).filter(Boolean);
    var kind = String(event.kind || "");
    if (!kinds.some(function (k) { return k.endsWith(".") ? kind.indexOf(k) === 0 : kind === k; })) return false;
    if (kind === "record.changed") {
      if (el.dataset.refreshRecord && Number(el.dataset.refreshRecord) !== event.record) return false;
      if (el.dataset.refreshType && el.dataset.refreshType !== event.object_type) return false;
    }
    if (kind === "notification" && event.user_id !== null && event.user_id !== undefined && event.user_id !== window.CircuitLive.userId) return false;
    return true;
  }

  function of(id) {
    if (!state.has(id)) state.set(id, { timer: null, last: 0, inFlight: false, again: false });
    return state.get(id);
  }

  function schedule(id) {
    var s = of(id);
    if (s.timer) return;
    if (s.inFlight) { s.again = true; return; }
    var el = document.getElementById(id);
    var gap = Number(el && el.dataset.refreshGap) || MIN_GAP_MS;
    s.timer = setTimeout(function () { s.timer = null; reload(id); }, Math.max(150, gap - (Date.now() - s.last)));
  }

  function typingIn(el) {
    var active = document.activeElement;
    return active && el.contains(active) && active.matches("input, textarea, select, [contenteditable]");
  }

  function reload(id) {
    var el = document.getElementById(id);
    var s = of(id);
    if (!el) return;
    if (typingIn(el)) {
      el.addEventListener("focusout", function () { schedule(id); }, { once: true });
      return;
    }
    s.inFlight = true;
    s.last = Date.now();
    var url = el.dataset.refreshUrl || location.pathname + location.search;
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        var current = document.getElementById(id);
        if (html === null || !current) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(id);
        if (!fresh) return;
        var open = Array.from(current.querySelectorAll("details[id]")).filter(function (d) { return d.open; }).map(function (d) { return d.id; });
        var incoming = document.importNode(fresh, true);
        current.replaceWith(incoming);
        open.forEach(function (detailsId) {
          var details = document.getElementById(detailsId);
          if (details) details.open = true;
        });
        if (window.htmx) window.htmx.process(incoming);
        incoming.dispatchEvent(new CustomEvent("circuit:refreshed", { bubbles: true }));
      })
      .catch(function () { /* the next event or a reconnect reads it again */ })
      .finally(function () {
        s.inFlight = false;
        if (s.again) { s.again = false; schedule(id); }
      });
  }

  function gone(el, event) {
    if (event.kind !== "record.changed" || event.operation !== "deleted" || !el.dataset.refreshRecord || !el.dataset.refreshGone) return false;
    if (!el.querySelector("[data-refresh-gone-note]")) {
      var note = document.createElement("p");
      note.className = "msg msg-warning";
      note.setAttribute("role", "status");
      note.dataset.refreshGoneNote = "";
      note.textContent = el.dataset.refreshGone;
      el.insertBefore(note, el.firstChild);
    }
    return true;
  }

  window.CircuitLive.on(function (event) {
    parts().forEach(function (el) {
      if (!wants(el, event) || gone(el, event)) return;
      schedule(el.id);
    });
  });
  window.CircuitLive.onReconnect(function () { parts().forEach(function (el) { schedule(el.id); }); });
})();
