// kolokasi console: live run progress over server-sent events. The page works without it.
(function () {
  "use strict";
  function start() {
    var runs = document.getElementById("runs");
    var request = document.getElementById("request");
    if (!runs || !window.EventSource) return;
    var status = document.getElementById("live-status");
    var source = new EventSource(runs.getAttribute("data-live"));
    source.addEventListener("runs", function (e) {
      var data = JSON.parse(e.data);
      if (status) status.textContent = data.live_label;
      if (request && data.state !== request.getAttribute("data-state")) {
        // The request moved (e.g. handed over): show its new actions and timeline.
        source.close();
        window.location.reload();
        return;
      }
      var known = runs.querySelectorAll("[data-run]").length;
      if (data.runs.length !== known) { source.close(); window.location.reload(); return; }
      data.runs.forEach(function (run) {
        var box = runs.querySelector('[data-run="' + run.id + '"]');
        if (!box) return;
        var badge = box.querySelector("[data-run-status]");
        badge.textContent = run.status_label;
        badge.className = "badge r-" + run.status;
        run.steps.forEach(function (s) {
          var row = box.querySelector('tr[data-step="' + s.name + '"]');
          if (!row) return;
          var b = row.querySelector("[data-step-status]");
          b.textContent = s.status_label;
          b.className = "badge st-" + s.status;
          row.querySelector("[data-step-attempt]").textContent = s.attempt;
          row.querySelector("[data-step-detail]").textContent = s.detail;
        });
      });
    });
    source.onerror = function () { if (status) status.textContent = ""; };
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
