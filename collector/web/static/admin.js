// Admin: confirm destructive forms; check the policy JSON while it is typed (the server checks it again).
(function () {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
  var text = document.getElementById("policy-text");
  var check = document.getElementById("policy-check");
  if (!text || !check) { return; }
  text.addEventListener("input", function () {
    try {
      var value = JSON.parse(text.value);
      var ok = value !== null && typeof value === "object" && !Array.isArray(value);
      check.textContent = ok ? "JSON \u2713" : "JSON: { \u2026 }";
      check.className = "status " + (ok ? "ok" : "error-text");
    } catch (err) {
      check.textContent = String(err.message || err);
      check.className = "status error-text";
    }
  });
})();
