// Live wall: a server-sent-event stream sends a snapshot, then one "agent" event per changed tile;
// "alert" events go on top of today's open alerts the page was served with.
(function () {
  "use strict";
  var wall = document.getElementById("wall");
  var live = document.getElementById("wall-live");
  var template = document.getElementById("tile-template");
  if (!wall || !window.EventSource) { return; }
  var STATES = ["active", "idle", "agent_silent", "agent_stopped", "offline"];

  function tile(row) {
    var el = document.getElementById("agent-" + row.agent_id);
    if (!el) {
      el = template.content.firstElementChild.cloneNode(true);
      el.id = "agent-" + row.agent_id;
      el.setAttribute("data-agent", row.agent_id);
      el.href = "/agents/" + encodeURIComponent(row.agent_id) + "/timeline";
      el.querySelector(".name").textContent = row.agent_id;
      wall.appendChild(el);
    }
    return el;
  }

  function update(row) {
    var el = tile(row);
    STATES.forEach(function (s) { el.classList.remove("state-" + s); });
    el.classList.add("state-" + row.state);
    el.setAttribute("data-state", row.state);
    var fields = {
      state: wall.getAttribute("data-label-" + row.state) || row.state,
      app: row.app || "\u2014",
      cases_today: String(row.cases_today),
      last_event: row.last_clock || "\u2014",
      team: row.team
    };
    Object.keys(fields).forEach(function (key) {
      var node = el.querySelector('[data-field="' + key + '"]');
      if (node && node.textContent !== fields[key]) {
        node.textContent = fields[key];
        if (key !== "state") { node.classList.remove("flash"); void node.offsetWidth; node.classList.add("flash"); }
      }
    });
  }

  function counts() {
    STATES.forEach(function (s) {
      var node = document.querySelector('[data-count="' + s + '"]');
      if (node) { node.textContent = String(wall.querySelectorAll(".tile.state-" + s).length); }
    });
  }

  function setLive(on) {
    live.classList.toggle("off", !on);
    live.textContent = live.getAttribute(on ? "data-live" : "data-off");
  }

  var source = new EventSource("/api/v1/wall/events");
  source.addEventListener("open", function () { setLive(true); });
  source.addEventListener("error", function () { setLive(false); });
  source.addEventListener("snapshot", function (event) {
    JSON.parse(event.data).forEach(update);
    counts();
    setLive(true);
  });
  source.addEventListener("agent", function (event) {
    update(JSON.parse(event.data));
    counts();
  });
  var alerts = document.getElementById("wall-alerts");
  source.addEventListener("alert", function (event) {
    if (!alerts) { return; }
    var alert = JSON.parse(event.data);
    if (alert.id !== undefined && alert.id !== null) {  // an update of an alert already listed moves to the top
      var listed = document.getElementById("wall-alert-" + alert.id);
      if (listed) { alerts.removeChild(listed); }
    }
    var item = document.createElement("li");
    item.className = "alert sev-" + (alert.severity || "low");
    if (alert.id !== undefined && alert.id !== null) {
      item.id = "wall-alert-" + alert.id;
      item.setAttribute("data-alert", String(alert.id));
    }
    var link = document.createElement("a");
    link.href = alert.link || ("/agents/" + encodeURIComponent(alert.agent_id) + "/timeline");
    var why = alert.title || (alert.reasons || []).map(function (r) { return r.text || ""; }).join("; ") || alert.rule;
    link.textContent = (alert.severity || "") + " · " + alert.agent_id + " · " + why;
    item.appendChild(link);
    alerts.insertBefore(item, alerts.firstChild);
    alerts.hidden = false;
    var max = parseInt(alerts.getAttribute("data-max") || "20", 10);
    while (alerts.children.length > max) { alerts.removeChild(alerts.lastChild); }
  });
})();
