/* Small formatting helpers shared by the live pages (the same rules as the server's format_ms). */
(function () {
  "use strict";
  function formatMs(ms) {
    if (ms === null || ms === undefined || isNaN(ms)) return "—";
    if (ms === 0) return "0 ms";
    if (ms < 1) return ms.toFixed(2) + " ms";
    if (ms < 1000) return Math.round(ms) + " ms";
    var seconds = ms / 1000;
    if (seconds < 60) return seconds.toFixed(1) + " s";
    var minutes = Math.floor(seconds / 60), rest = Math.floor(seconds % 60);
    if (minutes < 60) return minutes + " min " + String(rest).padStart(2, "0") + " s";
    return Math.floor(minutes / 60) + " h " + String(minutes % 60).padStart(2, "0") + " min";
  }
  function statusLabel(status) {
    return status ? status.charAt(0).toUpperCase() + status.slice(1) : "";
  }
  window.CircuitFormat = { formatMs: formatMs, statusLabel: statusLabel };
})();
