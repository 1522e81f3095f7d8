"""The fleet simulator (agent/simulate): schema-valid, reproducible, and each scenario leaves its mark."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contract.schema import validate_event
from simulator import (
    SCENARIOS,
    Context,
    Scenario,
    ScenarioSpec,
    add_arguments,
    register,
    run_from_args,
    simulate,
)
from simulator.fleet import default_mix
from simulator.identifiers import is_national_id
from simulator.roster import build_roster
from simulator.schedule import Schedule

END = date(2026, 3, 13)  # a Friday
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+08:00$")
ALL_SCENARIOS = [
    ("bulk_id_copy", 1, -1),
    ("usb_export", 2, -2),
    ("browse_without_case", 3, -3),
    ("after_hours", 4, -4),
    ("remote_access", 5, -5),
    ("screen_recorder", 7, -1),
    ("idle_free_no_work", 8, -2),
    ("killed_mid_shift", 9, -3),
]

Events = dict[str, list[dict[str, Any]]]


def load(out: Path) -> Events:
    events = {}
    for path in sorted((out / "events").glob("*.jsonl")):
        events[path.stem] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return events


def digest(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def on_day(events: list[dict[str, Any]], day: str) -> list[dict[str, Any]]:
    return [e for e in events if e["ts"].startswith(day)]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Events]:
    out = tmp_path_factory.mktemp("fleet")
    specs = [ScenarioSpec(name, index, offset) for name, index, offset in ALL_SCENARIOS]
    simulate(out, agents=12, days=8, seed=11, end=END, scenarios=specs)
    return out, load(out)


@pytest.fixture(scope="module")
def truth(fleet: tuple[Path, Events]) -> dict[str, Any]:
    return json.loads((fleet[0] / "ground_truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def roster(fleet: tuple[Path, Events]) -> list[dict[str, Any]]:
    return json.loads((fleet[0] / "fleet.json").read_text(encoding="utf-8"))


def scenario_day(truth: dict[str, Any], name: str) -> tuple[str, str]:
    [entry] = [s for s in truth["scenarios"] if s["scenario"] == name]
    return entry["agent_id"], entry["date"]


# ------------------------------------------------------------------ files and schema


def test_every_event_is_valid_v1_and_written_canonically(fleet: tuple[Path, Events]) -> None:
    out, events = fleet
    for agent_id, items in events.items():
        lines = (out / "events" / f"{agent_id}.jsonl").read_text(encoding="utf-8").splitlines()
        for line, event in zip(lines, items, strict=True):
            assert validate_event(event) == event
            assert event["agent_id"] == agent_id
            assert TS_RE.match(event["ts"])
            assert line == json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def test_seq_strictly_increases_and_ts_is_sorted(fleet: tuple[Path, Events]) -> None:
    for items in fleet[1].values():
        seqs = [e["seq"] for e in items]
        assert seqs[0] >= 1
        assert all(a < b for a, b in zip(seqs, seqs[1:], strict=False))
        moments = [datetime.fromisoformat(e["ts"]) for e in items]
        assert moments == sorted(moments)


def test_roster_has_teams_leads_and_shifts(roster: list[dict[str, Any]], fleet: tuple[Path, Events]) -> None:
    assert len(roster) == 12
    assert {m["agent_id"] for m in roster} == set(fleet[1])
    teams = defaultdict(list)
    for member in roster:
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", member["agent_id"])
        assert member["role"] in ("agent", "lead")
        assert member["shift"] in ({"start": "09:00", "end": "18:00"}, {"start": "13:00", "end": "22:00"})
        date.fromisoformat(member["hired"])
        assert member["traits"]
        teams[member["team"]].append(member["role"])
    assert {name.split("-")[0] for name in teams} == {"cs", "col"}
    assert all(roles.count("lead") == 1 for roles in teams.values())


def test_heartbeats_every_minute(fleet: tuple[Path, Events]) -> None:
    for items in fleet[1].values():
        last = None
        for event in items:
            if event["kind"] in ("agent.start", "agent.stop"):
                last = None
            elif event["kind"] == "agent.heartbeat":
                moment = datetime.fromisoformat(event["ts"])
                if last is not None and (moment - last) < timedelta(minutes=10):
                    assert timedelta(seconds=59) < moment - last < timedelta(seconds=61)
                last = moment


def test_workday_volume_is_realistic(fleet: tuple[Path, Events], roster: list[dict[str, Any]]) -> None:
    per_day = Counter((e["agent_id"], e["ts"][:10]) for items in fleet[1].values() for e in items)
    counts = sorted(per_day.values())
    assert 600 <= counts[len(counts) // 2] <= 1600
    closes = Counter(
        (e["agent_id"], e["ts"][:10]) for items in fleet[1].values() for e in items if e["kind"] == "case.close"
    )
    agents = {m["agent_id"] for m in roster if m["role"] == "agent"}
    busy = sorted(n for (agent_id, _), n in closes.items() if agent_id in agents)
    assert 30 <= busy[len(busy) // 2] <= 110


# ------------------------------------------------------------------ determinism


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    simulate(first, agents=4, days=3, seed=5, end=END)
    simulate(second, agents=4, days=3, seed=5, end=END)
    simulate(other, agents=4, days=3, seed=6, end=END)
    assert digest(first) == digest(second)
    assert digest(first) != digest(other)


def test_rerun_into_the_same_folder_replaces_old_files(tmp_path: Path) -> None:
    simulate(tmp_path, agents=5, days=2, seed=1, end=END)
    simulate(tmp_path, agents=3, days=2, seed=1, end=END)
    assert len(list((tmp_path / "events").glob("*.jsonl"))) == 3


# ------------------------------------------------------------------ ground truth and scenarios


def test_every_requested_scenario_is_in_ground_truth(truth: dict[str, Any], roster: list[dict[str, Any]]) -> None:
    assert truth["seed"] == 11 and truth["start"] == "2026-03-06" and truth["end"] == "2026-03-13"
    days = [(END - timedelta(days=7) + timedelta(days=i)).isoformat() for i in range(8)]
    expected = {(name, roster[index]["agent_id"], days[offset]) for name, index, offset in ALL_SCENARIOS}
    got = {(s["scenario"], s["agent_id"], s["date"]) for s in truth["scenarios"]}
    assert got == expected
    assert all(isinstance(s["detail"], dict) and s["detail"] for s in truth["scenarios"])


def test_bulk_id_copy_signature(fleet: tuple[Path, Events], truth: dict[str, Any]) -> None:
    agent_id, day = scenario_day(truth, "bulk_id_copy")
    per_day = Counter(
        (e["agent_id"], e["ts"][:10])
        for items in fleet[1].values()
        for e in items
        if e["kind"] == "clipboard.copy" and e["classes"]["id_number"] > 0
    )
    assert per_day.pop((agent_id, day)) >= 20
    assert max(per_day.values(), default=0) <= 6  # legitimate ID copies stay rare
    todays = on_day(fleet[1][agent_id], day)
    copies = [e for e in todays if e["kind"] == "clipboard.copy" and e["classes"]["id_number"]]
    assert sum(e["app"] in ("chrome.exe", "msedge.exe") for e in copies) >= 20  # out of the CRM
    assert any(e["kind"] == "app.focus" and e["app"] in ("WeChat.exe", "WXWork.exe", "DingTalk.exe") for e in todays)


def test_usb_export_signature(fleet: tuple[Path, Events], truth: dict[str, Any]) -> None:
    agent_id, day = scenario_day(truth, "usb_export")
    todays = on_day(fleet[1][agent_id], day)
    assert any(e["kind"] == "device.mount" and e["removable"] for e in todays)
    writes = [e for e in todays if e["kind"] == "file.write" and e["removable"]]
    assert writes and all(e["path"].endswith((".xlsx", ".csv")) for e in writes)
    others = [e for a, items in fleet[1].items() if a != agent_id for e in items if e["kind"] == "device.mount"]
    assert others == []


def test_browse_without_case_signature(fleet: tuple[Path, Events], truth: dict[str, Any]) -> None:
    agent_id, day = scenario_day(truth, "browse_without_case")
    todays = on_day(fleet[1][agent_id], day)
    bare = [e for e in todays if e["kind"] == "page.open" and re.search(r"/customers/\d+$", e["url"])]
    assert len(bare) >= 30


def test_after_hours_signature(fleet: tuple[Path, Events], truth: dict[str, Any]) -> None:
    agent_id, day = scenario_day(truth, "after_hours")
    todays = on_day(fleet[1][agent_id], day)
    night = [e for e in todays if not "08:00" <= e["ts"][11:16] < "22:45" and e["kind"] == "page.open"]
    assert len(night) >= 5
    assert sum(e["kind"] == "agent.start" for e in todays) >= 2 or todays[0]["ts"][11:16] < "08:00"


def test_remote_access_signature(fleet: tuple[Path, Events], truth: dict[str, Any]) -> None:
    agent_id, day = scenario_day(truth, "remote_access")
    todays = on_day(fleet[1][agent_id], day)
    [start] = [e for e in todays if e["kind"] == "process.start" and e["category"] == "remote_access"]
    uses = [e for e in todays if e["kind"] == "app.focus" and e["app"] == start["name"]]
    assert len(uses) >= 3


def test_screen_recorder_signature(fleet: tuple[Path, Events], truth: dict[str, Any]) -> None:
    agent_id, day = scenario_day(truth, "screen_recorder")
    todays = on_day(fleet[1][agent_id], day)
    assert any(e["kind"] == "process.start" and e["category"] == "screen_capture" for e in todays)
    assert any(e["kind"] == "file.write" and e["path"].endswith(".mp4") for e in todays)


def test_idle_free_no_work_signature(fleet: tuple[Path, Events], truth: dict[str, Any]) -> None:
    agent_id, day = scenario_day(truth, "idle_free_no_work")
    kinds = Counter(e["kind"] for e in on_day(fleet[1][agent_id], day))
    assert kinds["input.idle"] == 0 and kinds["case.open"] == 0 and kinds["case.close"] == 0
    assert kinds["agent.heartbeat"] >= 5 * 60


def test_killed_mid_shift_signature(fleet: tuple[Path, Events], truth: dict[str, Any]) -> None:
    agent_id, day = scenario_day(truth, "killed_mid_shift")
    items = fleet[1][agent_id]
    todays = on_day(items, day)
    kinds = Counter(e["kind"] for e in todays)
    assert kinds["agent.stop"] == 0
    assert kinds["agent.start"] >= 2
    seqs = [e["seq"] for e in todays]
    assert any(b - a > 1 for a, b in zip(seqs, seqs[1:], strict=False))
    [entry] = [s for s in truth["scenarios"] if s["scenario"] == "killed_mid_shift"]
    assert entry["detail"]["lost_events"] >= 1
    # nobody else ever loses an event
    for other, events in fleet[1].items():
        if other != agent_id:
            assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_default_mix_is_about_one_per_eight_agents() -> None:
    start = END - timedelta(days=9)
    members = build_roster(3, 40, start, END)
    specs = default_mix(3, members, Schedule(3, members, start, END))
    assert len(specs) == 5
    assert len({s.name for s in specs}) == 5 and len({s.agent_index for s in specs}) == 5
    assert all(s.name in SCENARIOS and s.day_offset >= 5 for s in specs)
    assert all(members[s.agent_index].role == "agent" for s in specs)


def test_default_run_records_its_scenarios(tmp_path: Path) -> None:
    result = simulate(tmp_path, agents=8, days=3, seed=3, end=END)
    assert len(result.scenarios) == 1
    truth = json.loads((tmp_path / "ground_truth.json").read_text(encoding="utf-8"))
    assert truth["scenarios"] == result.scenarios


# ------------------------------------------------------------------ cases, identifiers, normal oddities


def test_cases_are_consistent(fleet: tuple[Path, Events]) -> None:
    unmatched = 0
    for items in fleet[1].values():
        opened: dict[str, datetime] = {}
        for event in items:
            if event["kind"] == "case.open":
                opened[event["case_id"]] = datetime.fromisoformat(event["ts"])
            elif event["kind"] == "case.close":
                assert event["active_s"] + event["idle_s"] <= event["wall_s"]
                start = opened.pop(event["case_id"], None)
                if start is None:
                    unmatched += 1
                    continue
                took = (datetime.fromisoformat(event["ts"]) - start).total_seconds()
                assert took > 0 and abs(took - event["wall_s"]) < 0.002
    assert unmatched <= 1  # only a killed agent can lose a case.open


def test_raw_identifiers_really_appear(fleet: tuple[Path, Events]) -> None:
    out, events = fleet
    raw = (out / "raw_identifiers.txt").read_text(encoding="utf-8").split()
    assert raw
    text = "\n".join((out / "events" / f"{a}.jsonl").read_text(encoding="utf-8") for a in events)
    ids = [r for r in raw if len(r) == 18]
    assert ids and all(is_national_id(r) for r in ids)
    assert all(re.fullmatch(r"1\d{10}", r) for r in raw if len(r) != 18)
    tokens = set(re.findall(r"\d{17}[\dX]|\d{11}", text))
    assert set(raw) <= tokens
    previews = [e.get("preview", "") for items in events.values() for e in items if e["kind"] == "clipboard.copy"]
    assert not any(re.search(r"\d{11}", p) for p in previews)


def test_unusual_but_normal_days(
    truth: dict[str, Any], fleet: tuple[Path, Events], roster: list[dict[str, Any]]
) -> None:
    kinds = {u["kind"] for u in truth["unusual_but_normal"]}
    assert {"new_hire", "team_lead", "overtime", "half_day", "return_from_leave", "rota", "training",
            "flaky_network"} <= kinds <= {"new_hire", "team_lead", "lead_review", "overtime", "half_day",
                                          "return_from_leave", "rota", "training", "flaky_network"}
    [back] = [u for u in truth["unusual_but_normal"] if u["kind"] == "return_from_leave"]
    returned = date.fromisoformat(back["date"])
    days = {e["ts"][:10] for e in fleet[1][back["agent_id"]]}
    assert back["date"] in days
    days -= {s["date"] for s in truth["scenarios"] if s["agent_id"] == back["agent_id"]}  # forced workdays
    assert not any(returned - timedelta(days=7) <= date.fromisoformat(d) < returned for d in days)
    hires = {u["agent_id"] for u in truth["unusual_but_normal"] if u["kind"] == "new_hire"}
    for member in roster:
        if member["agent_id"] in hires:
            assert fleet[1][member["agent_id"]][0]["ts"][:10] >= member["hired"]


# ------------------------------------------------------------------ API and command line


def test_scenario_spec_parsing() -> None:
    assert ScenarioSpec.parse("usb_export:3:-1") == ScenarioSpec("usb_export", 3, -1)
    for bad in ("usb_export:3", "nope:1:1", "usb_export:x:1"):
        with pytest.raises(ValueError):
            ScenarioSpec.parse(bad)
    with pytest.raises(ValueError, match="agent index"):
        simulate(Path("unused"), agents=2, days=1, end=END, scenarios=[ScenarioSpec("usb_export", 5, 0)])


def test_cli_runs_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="seatguard-simulate")
    add_arguments(parser)
    args = parser.parse_args(
        [
            "--out",
            str(tmp_path),
            "--agents",
            "3",
            "--days",
            "2",
            "--end",
            "2026-03-13",
            "--scenario",
            "after_hours:1:-1",
        ]
    )
    assert run_from_args(args) == 0
    assert "3 agents" in capsys.readouterr().out
    truth = json.loads((tmp_path / "ground_truth.json").read_text(encoding="utf-8"))
    assert [s["scenario"] for s in truth["scenarios"]] == ["after_hours"]
    with pytest.raises(SystemExit):
        parser.parse_args(["--out", str(tmp_path), "--scenario", "teleport:1:1"])


def test_an_extension_scenario_uses_the_same_registry(tmp_path: Path) -> None:
    class LongLunch(Scenario):
        name = "test_long_lunch"
        summary = "a very long lunch"

        def apply(self, ctx: Context) -> None:
            for item in ctx.plan.breaks:
                item.length *= 3
            ctx.detail["lunch"] = "long"

    register(LongLunch)
    try:
        result = simulate(tmp_path, agents=2, days=1, end=END, scenarios=[ScenarioSpec.parse("test_long_lunch:1:0")])
        assert result.scenarios[0]["detail"] == {"lunch": "long"}
    finally:
        del SCENARIOS["test_long_lunch"]
