"""Every agent shown by a read is audited under that agent, so its "who viewed my data" lists every
viewer: reports, alert lists, the wall and its stream, the agents list (issue 14 item 8)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.web_fixtures import AGENTS, World, signed_in

TEAM_A = sorted(a for a, team in AGENTS.items() if team == "cs-a")
TEAM_B = sorted(a for a, team in AGENTS.items() if team == "cs-b")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("audit-per-agent") / "collector")
    w.populate()
    yield w
    w.close()


def _viewer_actions(world: World, agent_id: str, actor: str) -> set[str]:
    return {v["action"] for v in world.collector.access.viewers_of(agent_id, 1000) if v["actor"] == actor}


def test_every_read_shows_the_manager_on_each_agents_me_page(world: World) -> None:
    day = world.yesterday.isoformat()
    alerted = {a.agent_id for a in world.collector.alerts.store.search(["cs-a"], None, None, None, None, 100)}
    assert alerted, "the fixture's risky agent raised no alert"
    mgr = signed_in(world.app, "mgr-a")
    before = len(world.collector.access.audit_log(100_000))
    for path in (f"/report?date={day}", f"/api/v1/reports/{day}", "/alerts?state=all", "/api/v1/alerts",
                 "/wall", "/api/v1/wall", "/api/v1/wall/events?once=true", "/api/v1/agents"):
        assert mgr.get(path).status_code == 200, path
    written = len(world.collector.access.audit_log(100_000)) - before
    findings = [f["agent_id"] for f in world.collector.reports.get(day)["findings"] if f["team"] == "cs-a"]
    assert findings
    # the wall page also starts with today's open alerts: one read_alerts record per agent they show, or one
    # record of the read when they show none (Access.audit_shown)
    today = datetime.now(world.collector.settings.tz).date().isoformat()
    on_wall = {a.agent_id for a in world.collector.alerts.store.search(["cs-a"], "open", None, today, None, 20)}
    # one record per agent shown: reports twice, alerts twice, the wall three times, the list once
    assert written == 2 * len(findings) + 2 * len(alerted) + 4 * len(TEAM_A) + max(1, len(on_wall))

    for agent_id in TEAM_A:
        actions = _viewer_actions(world, agent_id, "mgr-a")
        assert {"read_wall", "open_wall_stream", "list_agents"} <= actions, (agent_id, actions)
        assert ("read_report" in actions) == (agent_id in findings)
        assert ("read_alerts" in actions) == (agent_id in alerted)
    for agent_id in TEAM_B:  # outside the manager's scope: shown nothing, so no record
        assert not _viewer_actions(world, agent_id, "mgr-a")

    me = signed_in(world.app, "pc-a1-person")
    viewers = me.get("/api/v1/me").json()["viewers"]
    mine = {v["action"] for v in viewers if v["actor"] == "mgr-a"}
    assert {"read_report", "read_wall", "open_wall_stream", "list_agents"} <= mine
    assert all(v["agent_id"] == "pc-a1" for v in viewers)
    page = me.get("/me?lang=en").text
    section = page[page.index('id="viewers"'):]
    assert "mgr-a" in section and "open_wall_stream" in section and "read_report" in section


def test_refused_reads_and_screenshot_reads_name_the_agent(world: World) -> None:
    agent = signed_in(world.app, "pc-a1-person")
    assert agent.get("/api/v1/wall").status_code == 403
    sec = signed_in(world.app, "sec")
    assert sec.get("/api/v1/agents/pc-b2/screenshots/none").status_code == 404
    assert "read_screenshot" in _viewer_actions(world, "pc-b2", "sec")
    mgr_b = signed_in(world.app, "mgr-b")
    assert mgr_b.get(f"/api/v1/agents/pc-a2/timeline?date={world.yesterday.isoformat()}").status_code == 403
    refused = [v for v in world.collector.access.viewers_of("pc-a2") if v["actor"] == "mgr-b"]
    assert refused and not refused[0]["allowed"]
    # the auditor's search by target finds records by the agent they showed, and the CSV says whose
    aud = signed_in(world.app, "aud")
    rows = aud.get("/api/v1/audit?target=pc-a3&actor=mgr-a").json()["records"]
    assert rows and {r["agent_id"] for r in rows} == {"pc-a3"}
    export = aud.get("/audit.csv?target=pc-a3&actor=mgr-a").text
    header, *body = list(csv.reader(io.StringIO(export)))
    assert header[5] == "agent_id" and body and {row[5] for row in body} == {"pc-a3"}
