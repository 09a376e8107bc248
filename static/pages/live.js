/* One WebSocket per page to the tenant's live stream (ws/t/<slug>/events/).
 *
 * Pages subscribe with CircuitLive.on(fn) instead of opening their own sockets, and with
 * CircuitLive.onReconnect(fn) to catch up after a drop (the stream itself has no replay:
 * the database is the truth, so pages re-read it). The notification bell lives here too.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !("WebSocket" in window)) return;
  var path = script.dataset.tenantSocket;
  var userId = Number(script.dataset.userId);
  var listeners = [];
  var reconnectListeners = [];
  var attempts = 0;
  var everOpened = false;
  var socket = null;

  function socketUrl() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }

  function dispatch(event) {
    listeners.forEach(function (fn) {
      try { fn(event); } catch (err) { /* one page handler must not break the others */ setTimeout(function () { throw err; }); }
    });
  }

  function connect() {
    socket = new WebSocket(socketUrl());
    socket.addEventListener("open", function () {
      document.body.dataset.live = "open"; // for tests and styles: events flow from now on
      if (everOpened) reconnectListeners.forEach(function (fn) { fn(); });
      everOpened = true;
      attempts = 0;
    });
    socket.addEventListener("message", function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (err) { return; }
      if (event && typeof event === "object") dispatch(event);
    });
    socket.addEventListener("close", function (closed) {
      document.body.dataset.live = "closed";
      // 4403: not (or no longer) a member; 4404: nothing there. Retrying cannot help.
      if (closed.code === 4403 || closed.code === 4404) return;
      var delay = Math.min(30000, 1000 * Math.pow(2, attempts++)) + Math.random() * 500;
      setTimeout(connect, delay);
    });
  }

  function announce(text) {
    var region = document.getElementById("live-announcer");
    if (region) region.textContent = text;
  }

  window.CircuitLive = {
    userId: userId,
    on: function (fn) { listeners.push(fn); },
    onReconnect: function (fn) { reconnectListeners.push(fn); },
    announce: announce,
  };

  // The bell: a notification for me or for everyone reloads its count.
  window.CircuitLive.on(function (event) {
    if (event.kind !== "notification") return;
    if (event.user_id !== null && event.user_id !== undefined && event.user_id !== userId) return;
    if (window.htmx) window.htmx.trigger(document.body, "notifications-changed");
    announce("New notification: " + (event.title || ""));
  });
  window.CircuitLive.onReconnect(function () {
    if (window.htmx) window.htmx.trigger(document.body, "notifications-changed");
  });

  connect();
})();
