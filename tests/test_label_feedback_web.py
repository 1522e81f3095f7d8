"""Label feedback end to end: labels given through the API on one day's report are stored with the
finding's pattern and explained on the next day's findings, in the web view, the JSON and the HTML report.

Two days of real sealed batches: pc-b1 starts a screen recorder on both days and is marked benign
(a hard rule: never lowered); pc-a1 exports IDs on the first day and is confirmed; pc-a3 does the same
on the second day and is raised, without the explanation naming pc-a1.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.web_fixtures import AGENTS, SimAgent, World, csrf_of, signed_in, workday


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("label-feedback") / "collector")
    first = w.yesterday - timedelta(days=1)
    risky = {first: {"pc-a1": "exfiltration", "pc-b1": "offlist"},
             w.yesterday: {"pc-a3": "exfiltration", "pc-b1": "offlist"}}
    for index, (agent_id, team) in enumerate(AGENTS.items()):
        agent = SimAgent(agent_id)
        agent.enroll(w.post, w.collector.enrollment.create_token(team))
        for day in (first, w.yesterday):
            agent.send(w.post, workday(day, risky[day].get(agent_id, ""), index=index))
        w.agents[agent_id] = agent
    w.collector.reports.build(first.isoformat())
    yield w
    w.close()


def _label(client: TestClient, csrf: str, day: str, agent_id: str, label: str) -> None:
    resp = client.post(f"/api/v1/reports/{day}/labels", headers={"X-CSRF-Token": csrf},
                       json={"agent_id": agent_id, "label": label, "note": "checked with the lead"})
    assert resp.status_code == 200, resp.text


def _row(html: str, agent_id: str) -> str:
    row = html[html.index(f'id="finding-{agent_id}"'):]
    return row[:row.index("</tr>")]


@pytest.fixture(scope="module")
def labelled(world: World) -> dict[str, Any]:
    first, day = (world.yesterday - timedelta(days=1)).isoformat(), world.yesterday.isoformat()
    sec = signed_in(world.app, "sec")
    csrf = csrf_of(sec.get("/").text)
    _label(sec, csrf, first, "pc-b1", "benign")
    _label(sec, csrf, first, "pc-a1", "confirmed")
    assert sec.post("/report/build", data={"date": day, "csrf": csrf}).status_code == 200
    report = sec.get(f"/api/v1/reports/{day}").json()
    return {"sec": sec, "first": first, "day": day, "report": report}


def test_labels_are_stored_with_the_findings_pattern_and_audited(world: World, labelled: dict[str, Any]) -> None:
    rows = {r["agent_id"]: r for r in world.collector.store.reports.labels()}
    assert rows["pc-b1"]["note"] == "checked with the lead" and "rule:screen_capture" in rows["pc-b1"]["pattern"]
    labels = {lab.agent_id: lab for lab in world.collector.reports.labels()}
    assert labels["pc-a1"].pattern is not None and "removable_write" in labels["pc-a1"].pattern.rules
    assert labels["pc-b1"].note == "checked with the lead" and labels["pc-b1"].reviewer == "sec"
    audited = world.collector.access.search(actor="sec", action="label_finding")
    first = labelled["first"]
    assert {a["target"] for a in audited} == {f"pc-b1 {first} benign", f"pc-a1 {first} confirmed"}


def test_the_next_days_findings_explain_the_labels_in_json(labelled: dict[str, Any]) -> None:
    findings = {f["agent_id"]: f for f in labelled["report"]["findings"]}
    b1 = findings["pc-b1"]["feedback"]
    assert [n["text"] for n in b1] == ["not lowered: screen_capture is a hard rule (marked benign once by sec)"]
    a3 = findings["pc-a3"]["feedback"]
    assert [n["kind"] for n in a3] == ["raised"] and f"latest {labelled['first']}, by sec" in a3[0]["text"]
    assert "pc-a1" not in a3[0]["text"] and a3[0]["factor"] >= 1      # already at the top score here
    assert findings["pc-a3"]["pattern"]["rules"] and not findings.get("pc-a2", {}).get("feedback")


def test_the_web_finding_view_and_the_html_report_explain_them(world: World, labelled: dict[str, Any]) -> None:
    day = labelled["day"]
    page = labelled["sec"].get(f"/report?date={day}&lang=en").text
    assert "not lowered: screen_capture is a hard rule (marked benign once by sec)" in _row(page, "pc-b1")
    assert "raised: similar to 1 confirmed finding" in _row(page, "pc-a3")
    zh = labelled["sec"].get(f"/report?date={day}&lang=zh-CN").text
    assert "未降低：screen_capture 为硬性规则" in _row(zh, "pc-b1")
    manager = signed_in(world.app, "mgr-a").get(f"/report?date={day}&lang=en").text
    assert "raised: similar to 1 confirmed finding" in _row(manager, "pc-a3") and "pc-b1" not in manager
    html = world.collector.reports.html(day)
    assert "review feedback: not lowered: screen_capture is a hard rule" in html
    assert "复核反馈：已提高：与 1 个已确认的发现相似" in html


def test_a_manager_cannot_label(world: World, labelled: dict[str, Any]) -> None:
    mgr = signed_in(world.app, "mgr-a")
    resp = mgr.post(f"/api/v1/reports/{labelled['first']}/labels", headers={"X-CSRF-Token": csrf_of(mgr.get("/").text)},
                    json={"agent_id": "pc-a1", "label": "benign"})
    assert resp.status_code == 403
    assert {lab.agent_id: lab.verdict for lab in world.collector.reports.labels()}["pc-a1"] == "confirmed"


def test_a_label_note_never_stores_an_id_phone_or_card_number(world: World, labelled: dict[str, Any]) -> None:
    """Privacy rule 1 holds for what a reviewer types: the note is masked before it is stored."""
    from tests.conftest import RAW_IDS

    sec = labelled["sec"]
    note = f"customer {RAW_IDS[0]} called back on {RAW_IDS[2]}, card {RAW_IDS[3]}: legit"
    resp = sec.post(f"/api/v1/reports/{labelled['first']}/labels", headers={"X-CSRF-Token": csrf_of(sec.get("/").text)},
                    json={"agent_id": "pc-b1", "label": "benign", "note": note})
    assert resp.status_code == 200, resp.text
    stored = {r["agent_id"]: r for r in world.collector.store.reports.labels()}["pc-b1"]
    assert stored["label"] == "benign" and stored["note"].startswith("customer ") and "legit" in stored["note"]
    for raw in (RAW_IDS[0], RAW_IDS[2], RAW_IDS[3]):
        assert raw not in stored["note"] and raw not in str(stored.get("snapshot")), stored["note"]
    assert RAW_IDS[0][-4:] in stored["note"], "masked to the last four characters, as at ingest"
