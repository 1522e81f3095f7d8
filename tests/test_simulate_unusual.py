"""The simulator's newer days: legitimate unusual days (lead reviews, rota, overtime, training, flaky
networks) and the misconduct added for the held-out evaluation (presence without work, quiet versions)."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest

from contract.schema import validate_event
from simulator import SCENARIOS, simulate
from simulator.fleet import evaluation_mix
from simulator.roster import build_roster
from simulator.schedule import Schedule

END = date(2026, 3, 13)  # a Friday
NEW = sorted(n for n, cls in SCENARIOS.items() if not cls.in_default_mix)
Events = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[dict[str, Any]], Events]:
    out = tmp_path_factory.mktemp("unusual")
    start = END - timedelta(days=7)
    members = build_roster(21, 32, start, END)
    specs = evaluation_mix(21, members, Schedule(21, members, start, END), NEW)
    simulate(out, agents=32, days=8, seed=21, end=END, scenarios=specs)
    events = {p.stem: [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines()]
              for p in sorted((out / "events").glob("*.jsonl"))}
    truth = json.loads((out / "ground_truth.json").read_text(encoding="utf-8"))
    roster = json.loads((out / "fleet.json").read_text(encoding="utf-8"))
    return truth, roster, events


def _day(events: Events, agent_id: str, day: str) -> list[dict[str, Any]]:
    return [e for e in events[agent_id] if e["ts"].startswith(day)]


def _entry(truth: dict[str, Any], name: str) -> tuple[str, str, dict[str, Any]]:
    [entry] = [s for s in truth["scenarios"] if s["scenario"] == name]
    return entry["agent_id"], entry["date"], entry["detail"]


def _unusual(truth: dict[str, Any], kind: str) -> list[tuple[str, str]]:
    return [(u["agent_id"], u["date"]) for u in truth["unusual_but_normal"] if u["kind"] == kind]


def _median_cases(events: Events, roster: list[dict[str, Any]], day: str) -> float:
    counts = sorted(sum(e["kind"] == "case.close" for e in _day(events, m["agent_id"], day))
                    for m in roster if m["role"] == "agent" and _day(events, m["agent_id"], day))
    return counts[len(counts) // 2]


def test_every_new_scenario_is_injected_once_on_an_ordinary_agent(sim: tuple[Any, Any, Events]) -> None:
    truth, roster, events = sim
    assert len(NEW) == 10 and all(n.startswith("quiet_") for n in NEW if n != "presence_without_work")
    assert sorted(s["scenario"] for s in truth["scenarios"]) == NEW
    unusual = {u["agent_id"] for u in truth["unusual_but_normal"]}
    leads = {m["agent_id"] for m in roster if m["role"] == "lead"}
    agents = [s["agent_id"] for s in truth["scenarios"]]
    assert len(set(agents)) == len(agents) and not set(agents) & (unusual | leads)
    for items in events.values():
        for event in items[:400]:
            validate_event(event)


def test_presence_without_work_never_idles_and_handles_few_cases(sim: tuple[Any, Any, Events]) -> None:
    truth, roster, events = sim
    for name in ("presence_without_work", "quiet_presence_without_work"):
        agent_id, day, detail = _entry(truth, name)
        kinds = Counter(e["kind"] for e in _day(events, agent_id, day))
        assert kinds["input.idle"] == 0 and kinds["agent.heartbeat"] >= 5 * 60
        assert 0 < detail["work_share"] < 1
        assert kinds["case.close"] < 0.6 * _median_cases(events, roster, day), (name, kinds["case.close"])


def test_quiet_versions_stay_small(sim: tuple[Any, Any, Events]) -> None:
    truth, _, events = sim
    agent_id, day, detail = _entry(truth, "quiet_bulk_id_copy")
    ids = sum(e["classes"]["id_number"] for e in _day(events, agent_id, day) if e["kind"] == "clipboard.copy")
    assert 5 <= detail["id_numbers"] <= 14 and ids >= detail["id_numbers"]
    agent_id, day, detail = _entry(truth, "quiet_usb_export")
    assert len([e for e in _day(events, agent_id, day) if e["kind"] == "file.write" and e["removable"]]) == 1
    agent_id, day, detail = _entry(truth, "quiet_browse_without_case")
    assert 4 <= detail["pages"] <= 18
    agent_id, day, detail = _entry(truth, "quiet_killed_mid_shift")
    gap = [int(x) for x in detail["restarted_at"].split(":")[:2]], [int(x) for x in detail["killed_at"].split(":")[:2]]
    assert 12 <= (gap[0][0] - gap[1][0]) * 60 + gap[0][1] - gap[1][1] <= 28
    agent_id, day, detail = _entry(truth, "quiet_idle_free_no_work")
    assert 90 <= detail["minutes"] <= 240
    agent_id, day, detail = _entry(truth, "quiet_remote_access")
    assert detail["uses"] <= 2


def test_a_lead_reviews_customers_the_team_handled_that_day(sim: tuple[Any, Any, Events]) -> None:
    truth, roster, events = sim
    reviews = _unusual(truth, "lead_review")
    assert reviews
    teams = {m["agent_id"]: m["team"] for m in roster}
    for lead, day in reviews:
        bare = {e["url"] for e in _day(events, lead, day)
                if e["kind"] == "page.open" and re.search(r"/customers/\d+$", e["url"])}
        handled = {e["url"].split("?")[0] for a, items in events.items() if teams[a] == teams[lead] and a != lead
                   for e in items if e["ts"].startswith(day) and e["kind"] == "page.open" and "?case=" in e["url"]}
        assert len(bare & handled) >= 10


def test_rota_days_are_entered_and_worked(sim: tuple[Any, Any, Events]) -> None:
    truth, roster, events = sim
    rota = {m["agent_id"]: m["rota"] for m in roster if m["rota"]}
    for agent_id, day in _unusual(truth, "rota"):
        [entry] = [e for e in rota[agent_id] if e["date"] == day]
        first = min(e["ts"][11:16] for e in _day(events, agent_id, day))
        usual = next(m["shift"] for m in roster if m["agent_id"] == agent_id)
        assert (entry["start"], entry["end"]) != (usual["start"], usual["end"])
        assert abs(int(first[:2]) * 60 + int(first[3:]) - int(entry["start"][:2]) * 60
                   - int(entry["start"][3:])) < 60


def test_training_and_flaky_network_days_leave_their_marks(sim: tuple[Any, Any, Events]) -> None:
    truth, _, events = sim
    for agent_id, day in _unusual(truth, "training"):
        todays = _day(events, agent_id, day)
        assert sum(e["kind"] == "page.open" and "/training/" in e["url"] for e in todays) >= 3
        assert sum(e["kind"] == "input.idle" for e in todays) >= 2
    for agent_id, day in _unusual(truth, "flaky_network"):
        todays = _day(events, agent_id, day)
        assert sum(e["kind"] == "page.open" and e["title"] == "无法访问此网站" for e in todays) >= 3
        assert max(e["spool_depth"] for e in todays if e["kind"] == "agent.heartbeat") >= 5


def test_unusual_kinds_and_sizes_vary_with_the_seed() -> None:
    sizes = set()
    for seed in (1, 2, 3):
        start = END - timedelta(days=9)
        members = build_roster(seed, 40, start, END)
        schedule = Schedule(seed, members, start, END)
        infos = [schedule.info(m, d) for m in members for d in schedule.days]
        kinds = {i.kind for i in infos if i.kind}
        assert {"rota", "training", "flaky_network", "overtime", "half_day", "return_from_leave"} <= kinds
        sizes.add(tuple(sorted((i.kind, i.training_min + i.drops + i.overtime_min + i.reviews)
                               for i in infos if i.kind in ("training", "flaky_network", "overtime", "lead_review"))))
    assert len(sizes) == 3
