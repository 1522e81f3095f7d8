// Review labels: saved with a JSON POST that carries the session's CSRF token in a header.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var table = document.querySelector("table.findings");
  if (!meta || !table) { return; }
  var day = table.getAttribute("data-day");

  document.querySelectorAll("form.label-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var status = form.querySelector(".status");
      var label = form.elements.label.value;
      if (!label) { return; }
      status.textContent = "\u2026";
      fetch("/api/v1/reports/" + encodeURIComponent(day) + "/labels", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": meta.getAttribute("content") },
        body: JSON.stringify({ agent_id: form.getAttribute("data-agent"), label: label, note: form.elements.note.value })
      }).then(function (response) {
        status.textContent = status.getAttribute(response.ok ? "data-ok" : "data-fail");
        status.className = "status " + (response.ok ? "ok" : "error-text");
      }, function () {
        status.textContent = status.getAttribute("data-fail");
        status.className = "status error-text";
      });
    });
  });
})();
