// Timeline zoom: widen the lanes' canvas inside its scroll box (1x .. 32x), keeping the centre in view.
(function () {
  "use strict";
  var canvas = document.getElementById("tl-canvas");
  var box = document.getElementById("tl-scroll");
  var level = document.getElementById("tl-zoom-level");
  if (!canvas || !box) { return; }
  var zoom = 1;

  function setZoom(next, anchor) {
    next = Math.max(1, Math.min(32, next));
    var width = box.clientWidth;
    var focus = anchor === undefined ? width / 2 : anchor;
    var fraction = (box.scrollLeft + focus) / (width * zoom);
    zoom = next;
    canvas.style.width = (zoom * 100) + "%";
    box.scrollLeft = fraction * width * zoom - focus;
    canvas.classList.toggle("zoomed", zoom >= 4);
    if (level) { level.textContent = zoom + "\u00d7"; }
  }

  document.querySelectorAll("[data-zoom]").forEach(function (button) {
    button.addEventListener("click", function () {
      var how = button.getAttribute("data-zoom");
      setZoom(how === "in" ? zoom * 2 : how === "out" ? zoom / 2 : 1);
    });
  });
  box.addEventListener("wheel", function (event) {
    if (!event.ctrlKey) { return; }
    event.preventDefault();
    var rect = box.getBoundingClientRect();
    setZoom(event.deltaY < 0 ? zoom * 2 : zoom / 2, event.clientX - rect.left);
  }, { passive: false });

  var table = document.getElementById("events");
  var beats = document.getElementById("tl-heartbeats");
  function showBeats(on) {
    if (beats) { beats.checked = on; }
    if (table) { table.classList.toggle("hide-heartbeats", !on); }
  }
  if (beats) { beats.addEventListener("change", function () { showBeats(beats.checked); }); }
  showBeats(false);

  function highlight() {
    document.querySelectorAll("tr.target").forEach(function (row) { row.classList.remove("target"); });
    var id = decodeURIComponent(location.hash.slice(1));
    var row = id ? document.getElementById(id) : null;
    if (row && row.tagName === "TR") {
      if (row.classList.contains("kind-agent-heartbeat")) { showBeats(true); }
      row.classList.add("target");
      row.scrollIntoView({ block: "center" });
    }
  }
  window.addEventListener("hashchange", highlight);
  highlight();
})();
