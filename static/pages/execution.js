/* One execution's page: a snapshot, then live events, over ws/t/<slug>/executions/<id>/.
 *
 * Any change re-renders the live part on the server (timeline, steps, actions), at most a
 * few times a second; open <details> stay open across the refresh.
 */
(function () {
  "use strict";
  var root = document.getElementById("execution-page");
  if (!root || !("WebSocket" in window) || !window.htmx) return;
  var timer = null;
  var inFlight = false;
  var again = false;
  var attempts = 0;

  function live() { return document.getElementById("execution-live"); }

  function refresh() {
    if (timer) return;
    timer = setTimeout(function () { timer = null; reload(); }, 300);
  }

  function reload() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    var state = Array.from(document.querySelectorAll("#execution-live details[id]")).map(function (d) { return [d.id, d.open]; });
    var focusedId = document.activeElement && document.activeElement.id;
    window.htmx.ajax("GET", root.dataset.url, { target: "#execution-live", swap: "outerHTML" }).then(function () {
      state.forEach(function (pair) {
        var details = document.getElementById(pair[0]);
        if (details) details.open = pair[1];
      });
      if (focusedId && document.getElementById(focusedId)) document.getElementById(focusedId).focus();
    }).finally(function () {
      inFlight = false;
      if (again) { again = false; refresh(); }
    });
  }

  function connect() {
    var socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + root.dataset.socket);
    socket.addEventListener("open", function () { attempts = 0; });
    socket.addEventListener("message", function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (err) { return; }
      var el = live();
      if (!el || !event) return;
      if (event.kind === "execution.snapshot") {
        // The page was rendered before the socket opened: catch up if anything moved since.
        if (event.status !== el.dataset.status || (event.steps || []).length !== Number(el.dataset.steps)) refresh();
        return;
      }
      if (event.kind === "log") return; // logs arrive with their step's next update
      if (event.kind === "execution.finished" && window.CircuitLive) {
        window.CircuitLive.announce("Execution " + event.execution + " " + event.status + ".");
      }
      refresh();
    });
    socket.addEventListener("close", function (closed) {
      if (closed.code === 4403 || closed.code === 4404) return; // refused or gone: do not retry
      setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, attempts++)) + Math.random() * 500);
    });
  }
  connect();
})();
