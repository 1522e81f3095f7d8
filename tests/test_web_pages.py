"""What the pages show: ranked findings and filters, the timeline's lanes and markers (masked values
only), reviewer labels, the audit log and its export, "my activity", admin actions, the live wall."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from datetime import time as dt_time

import pytest
from fastapi.testclient import TestClient

from collector.wall import SILENT_AFTER_S, hub, ingest_listener, notify_ingest
from contract.schema import format_ts
from tests.conftest import RAW_IDS
from tests.web_fixtures import PASSWORD, TZ, SimAgent, World, csrf_of, live_events


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("web-pages") / "collector")
    w.populate()
    yield w
    w.close()


class Person:
    def __init__(self, world: World, name: str) -> None:
        self.client = TestClient(world.app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000))
        token = csrf_of(self.client.get("/login").text)
        assert self.client.post("/login", data={"name": name, "password": PASSWORD, "csrf": token}).status_code == 200
        self.csrf = csrf_of(self.client.get("/").text)

    def get(self, path: str) -> str:
        resp = self.client.get(path)
        assert resp.status_code == 200, (path, resp.status_code)
        return resp.text


@pytest.fixture(scope="module")
def sec(world: World) -> Person:
    return Person(world, "sec")


def _finding_ids(html: str) -> list[str]:
    return re.findall(r'<tr id="finding-([^"]+)"', html)


def test_report_ranks_findings_with_reasons_evidence_and_filters(world: World, sec: Person) -> None:
    day = world.yesterday.isoformat()
    html = sec.get(f"/report?date={day}&lang=en")
    assert _finding_ids(html)[:2] == ["pc-a1", "pc-b1"]
    assert "copied 240 ID numbers" in html and 'class="chip sev-critical"' in html
    assert f'href="/agents/pc-a1/timeline?date={day}#seq-' in html
    assert _finding_ids(sec.get(f"/report?date={day}&severity=high")) == ["pc-b1"]
    assert _finding_ids(sec.get(f"/report?date={day}&team=cs-a")) == ["pc-a1"]
    zh = sec.get(f"/report?date={day}&lang=zh-CN")
    assert "复制了 240 个身份证号" in zh or "身份证" in zh
    empty = sec.get("/report?date=2020-01-01&lang=en")
    assert "There is no report for this day yet" in empty and 'action="/report/build"' in empty


def test_manager_report_holds_only_own_team(world: World) -> None:
    day = world.yesterday.isoformat()
    assert _finding_ids(Person(world, "mgr-a").get(f"/report?date={day}")) == ["pc-a1"]
    mgr_b = Person(world, "mgr-b").get(f"/report?date={day}")
    assert _finding_ids(mgr_b) == ["pc-b1"] and "label-form" not in mgr_b


def test_review_label_is_saved_and_shown(world: World, sec: Person) -> None:
    day = world.yesterday.isoformat()
    resp = sec.client.post(f"/api/v1/reports/{day}/labels", headers={"X-CSRF-Token": sec.csrf},
                           json={"agent_id": "pc-b1", "label": "follow_up", "note": "ask the team lead"})
    assert resp.status_code == 200, resp.text
    bad = sec.client.post(f"/api/v1/reports/{day}/labels", headers={"X-CSRF-Token": sec.csrf},
                          json={"agent_id": "pc-b1", "label": "guilty"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_label"
    sec.client.post("/report/build", data={"date": day, "csrf": sec.csrf})
    html = sec.get(f"/report?date={day}")
    row = html[html.index('id="finding-pc-b1"'):]
    assert '<option value="follow_up" selected>' in row[:row.index("</tr>")]
    audited = world.collector.access.search(actor="sec", action="label_finding")
    assert audited and audited[0]["target"] == f"pc-b1 {day} follow_up"


def test_timeline_lanes_markers_flags_and_table(world: World) -> None:
    day = world.yesterday.isoformat()
    html = Person(world, "mgr-a").get(f"/agents/pc-a1/timeline?date={day}&lang=en")
    lanes = re.findall(r'data-lane="([^"]+)"', html)
    assert {"app:chrome.exe", "app:softphone.exe", "app:wechat.exe", "pages", "cases", "idle", "markers",
            "flags"} <= set(lanes)
    assert "C-" in html and 'class="bar case"' in html and "12m00s" in html  # case bars with handling time
    assert 'class="bar idle"' in html and "1h00m" in html  # the lunch break as an idle gap
    assert 'class="mk danger"' in html and "▲" in html and "◆" in html  # USB write, bulk copy
    flagged = re.findall(r'<tr id="seq-(\d+)" class="[^"]*flagged', html)
    assert flagged and 'class="mk flag"' in html
    assert f'href="#seq-{flagged[0]}"' in html
    assert 'id="events"' in html and html.count('<tr id="seq-') > 500
    for raw in RAW_IDS:
        assert raw not in html
    assert RAW_IDS[0][-4:] in html  # masked to the last four, exactly as stored
    assert "/static/timeline.js" in html


def test_audit_search_and_csv_export(world: World) -> None:
    day = world.yesterday.isoformat()
    Person(world, "mgr-b").client.get(f"/agents/pc-a1/timeline?date={day}")  # refused, audited
    aud = Person(world, "aud")
    html = aud.get("/audit?actor=mgr-b&allowed=no")
    assert "read_timeline" in html and "pc-a1" in html and 'class="refused"' in html
    assert "read_report" not in html
    export = aud.client.get("/audit.csv?actor=mgr-b&allowed=no")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert rows and all(r["actor"] == "mgr-b" and r["allowed"] == "no" for r in rows)
    assert rows[0]["remote"] == "127.0.0.1" and re.match(r"\d{4}-\d\d-\d\dT", rows[0]["at"])
    assert world.collector.access.search(actor="aud", action="export_audit")
    assert aud.client.get("/audit?from=not-a-day").status_code == 400


def test_audit_csv_defuses_formulas(world: World) -> None:
    from collector.access import audit_csv

    text = audit_csv([{"id": 1, "at": 0, "actor": "=cmd|' /C calc'!A0", "action": "login", "target": "+1",
                       "allowed": False, "remote": None}], world.collector.settings.tz)
    assert "'=cmd" in text and ",'+1," in text


def test_my_activity_shows_own_day_viewers_and_notice(world: World) -> None:
    day = world.yesterday.isoformat()
    Person(world, "mgr-a").get(f"/agents/pc-a1/timeline?date={day}")
    me = Person(world, "pc-a1-person")
    html = me.get(f"/me?date={day}&lang=en")
    assert "It never records which keys you press" in html
    viewers = html[html.index('id="viewers"'):html.index("</section>", html.index('id="viewers"'))]
    assert "mgr-a" in viewers and "pc-a1-person" not in viewers
    assert 'data-lane="app:wechat.exe"' in html
    zh = me.get(f"/me?date={day}&lang=zh-CN")
    assert "从不记录您按了哪些键" in zh
    api = me.client.get(f"/api/v1/me?date={day}").json()
    assert api["agent_id"] == "pc-a1" and api["timeline"]["events"] and "NOTICE" not in api["notice"]
    assert me.client.get(f"/agents/pc-b1/timeline?date={day}").status_code == 403


def test_admin_tokens_users_policy_and_revoke(world: World) -> None:
    admin = Person(world, "root")
    page = admin.get("/admin?lang=en")
    assert "Events are purged after 180 days" in page and "idle_threshold_s&#34;: 300" in page
    made = admin.client.post("/admin/enroll-token", data={"team": "cs-c", "shift": "09:00-18:00",
                                                          "csrf": admin.csrf})
    token = re.search(r"<code>(sgt_[^<]+)</code>", made.text)
    assert made.status_code == 200 and token
    newbie = SimAgent("pc-c1")
    newbie.enroll(world.post, token.group(1))
    user = admin.client.post("/admin/users", data={"name": "mgr-c", "role": "manager", "teams": "cs-c",
                                                   "csrf": admin.csrf})
    password = re.search(r'id="new-password">.*?<code>([^<]+)</code>', user.text, re.S)
    assert password
    mgr_c = TestClient(world.app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000))
    login = mgr_c.post("/login", data={"name": "mgr-c", "password": password.group(1),
                                       "csrf": csrf_of(mgr_c.get("/login").text)})
    assert login.status_code == 200 and mgr_c.get("/api/v1/agents").json()["agents"][0]["agent_id"] == "pc-c1"
    bad = admin.client.post("/admin/policy", data={"policy": '{"idle_threshold_s": "soon"}', "csrf": admin.csrf})
    assert bad.status_code == 400 and "idle_threshold_s" in bad.text
    unknown = admin.client.post("/admin/policy", data={"policy": '{"spy": true}', "csrf": admin.csrf})
    assert unknown.status_code == 400
    regex = admin.client.post("/admin/policy", data={"policy": '{"case_id_patterns": ["("]}', "csrf": admin.csrf})
    assert regex.status_code == 400
    version = world.collector.policy.current()["version"]
    good = admin.client.post("/admin/policy", data={"policy": '{"idle_threshold_s": 240}', "csrf": admin.csrf})
    assert good.status_code == 200 and world.collector.policy.current()["idle_threshold_s"] == 240
    assert world.collector.policy.current()["version"] == version + 1
    assert admin.client.post("/admin/agents/pc-c1/revoke", data={"csrf": admin.csrf}).status_code == 200
    with pytest.raises(AssertionError, match="revoked"):
        newbie.send(world.post, live_events())
    actions = {r["action"] for r in world.collector.access.search(actor="root")}
    assert {"create_enroll_token", "add_user", "update_policy", "revoke_agent", "read_admin"} <= actions


def test_wall_states_and_live_update(world: World) -> None:
    wall = world.collector.wall
    agents = world.collector.store.list_agents()
    states = {s["agent_id"]: s for s in wall.states(agents)}
    assert states["pc-a2"]["state"] == "offline" and states["pc-a2"]["cases_today"] == 0  # only yesterday
    world.agents["pc-a2"].send(world.post, live_events("excel.exe", case="C-2026-7654321"))
    states = {s["agent_id"]: s for s in wall.states(world.collector.store.list_agents())}
    assert states["pc-a2"]["state"] == "active" and states["pc-a2"]["app"] == "excel.exe"
    assert states["pc-a2"]["cases_today"] == 1 and states["pc-a2"]["last_clock"]
    silent_after = world.collector.settings.alerts.silent_after_min * 60
    assert silent_after != SILENT_AFTER_S and wall.silent_after_s() == silent_after  # the configured setting
    sooner = time.time() + silent_after - 60
    still = {s["agent_id"]: s for s in wall.states(world.collector.store.list_agents(), now=sooner)}
    assert still["pc-a2"]["state"] == "active"
    later = time.time() + silent_after + 60
    silent = {s["agent_id"]: s for s in wall.states(world.collector.store.list_agents(), now=later)}
    assert silent["pc-a2"]["state"] == "agent_silent"
    world.agents["pc-a2"].send(world.post, [{"ts": live_events()[1]["ts"], "kind": "input.idle",
                                             "threshold_s": 300.0}])
    idle = {s["agent_id"]: s for s in wall.states(world.collector.store.list_agents())}
    assert idle["pc-a2"]["state"] == "idle"
    snapshot = Person(world, "mgr-a").client.get("/api/v1/wall/events?once=true")
    assert snapshot.headers["content-type"].startswith("text/event-stream")
    data = snapshot.text.split("data: ", 1)[1]
    assert '"pc-a2"' in data and '"pc-b1"' not in data


def test_the_wall_carries_a_running_agent_past_midnight(world: World) -> None:
    """A night-shift agent active at 23:58 is still active at 00:01, with no cases today yet; an agent
    whose last event is a full day old is offline. Independent of the hour the test runs at."""
    midnight = datetime.combine(datetime.now(TZ).date(), dt_time(0), TZ)
    agent = SimAgent("pc-night")
    agent.enroll(world.post, world.collector.enrollment.create_token("cs-a"))
    late = midnight - timedelta(minutes=2)
    agent.send(world.post, [
        {"ts": format_ts(late - timedelta(seconds=30)), "kind": "agent.start", "version": "0.1.0",
         "os": "Windows 11", "hostname": "pc", "user": "u"},
        {"ts": format_ts(late), "kind": "app.focus", "app": "excel.exe", "title": "night", "pid": 51}])
    row = next(a for a in world.collector.store.list_agents() if a["agent_id"] == "pc-night")
    just_after = midnight.timestamp() + 60
    state = world.collector.wall.state({**row, "last_seen": just_after - 90}, midnight.date().isoformat(),
                                       just_after)
    assert state["state"] == "active" and state["app"] == "excel.exe" and state["cases_today"] == 0
    next_day = midnight.timestamp() + 86400 + 60
    gone = world.collector.wall.state({**row, "last_seen": next_day - 90},
                                      (midnight.date() + timedelta(days=1)).isoformat(), next_day)
    assert gone["state"] == "offline" and gone["app"] is None


def test_a_stored_batch_wakes_the_live_wall(world: World) -> None:
    assert world.collector.ingest.listeners.count(ingest_listener) == 1

    async def listen() -> set[str]:
        sub = hub().subscribe()
        try:
            sender = threading.Thread(target=world.agents["pc-a3"].send, args=(world.post, live_events()))
            sender.start()
            got = await sub.wait(10.0)
            await asyncio.to_thread(sender.join)
            return got
        finally:
            hub().unsubscribe(sub)

    assert asyncio.run(listen()) == {"pc-a3"}


def test_notify_ingest_wakes_listeners_from_another_thread() -> None:
    async def listen() -> set[str]:
        sub = hub().subscribe()
        try:
            threading.Thread(target=notify_ingest, args=("pc-x",)).start()
            got = await sub.wait(5.0)
            got |= await sub.wait(0.01)
            return got
        finally:
            hub().unsubscribe(sub)

    assert asyncio.run(listen()) == {"pc-x"}
    assert hub().listeners == 0
    notify_ingest("nobody-listens")  # harmless without listeners
