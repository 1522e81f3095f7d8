"""Shift entries at the edges, over real HTTP on SQLite and PostgreSQL: the last representable day is a day
like any other, an agent id longer than any stored one is a 404 (not a 5xx from the audit insert), and a
refused entry leaves what was stored untouched."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import COLLECTOR, DATA_DIRS, CollectorProcess, free_port, run_cli
from tests.storage_fixtures import BACKENDS, fresh_url


class _OnDatabase(CollectorProcess):
    """A collector process whose data folder was made with ``init --db`` (SQLite or PostgreSQL)."""

    def __init__(self, data: Path, db_url: str) -> None:
        self.data, self.port, self.proc = data, free_port(), None
        self.url = f"http://127.0.0.1:{self.port}"
        run_cli(COLLECTOR, "init", "--data", str(data), "--db", db_url)
        DATA_DIRS.append(data)


@pytest.fixture(scope="module", params=BACKENDS)
def served(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CollectorProcess, str]]:
    root = tmp_path_factory.mktemp("shift-edges")
    with fresh_url(request.param, root / "db") as url:
        c = _OnDatabase(root / "collector", url)
        c.start()
        try:
            c.enroll(root / "pc", "pc-edge", team="cs-a")
            token = subprocess.run([COLLECTOR, "token", "create", "--data", str(c.data), "--user", "admin"],
                                   capture_output=True, text=True, timeout=120, check=True).stdout.strip()
            yield c, token
        finally:
            c.kill()


def _api(served: tuple[CollectorProcess, str], method: str, path: str, **kw: object) -> requests.Response:
    c, token = served
    return requests.request(method, c.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30,
                            **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("when", [{"date": "9999-12-31"}, {"from": "9999-12-25", "to": "9999-12-31"},
                                  {"date": "0001-01-01"}])
def test_the_first_and_last_days_of_the_calendar_are_stored_listed_and_cleared(
        served: tuple[CollectorProcess, str], when: dict[str, str]) -> None:
    got = _api(served, "POST", "/api/v1/agents/pc-edge/shifts", json={**when, "start": "22:00", "end": "06:00"})
    assert got.status_code == 200, got.text
    last = when.get("date") or when["to"]
    first = when.get("date") or when["from"]
    assert got.json()["days"][-1] == last and got.json()["days"][0] == first
    listed = _api(served, "GET", f"/api/v1/agents/pc-edge/shifts?from={first}&to={last}")
    assert listed.status_code == 200, listed.text
    assert {s["day"] for s in listed.json()["shifts"]} >= {first, last}
    cleared = _api(served, "POST", "/api/v1/agents/pc-edge/shifts/clear", json=when)
    assert cleared.status_code == 200 and cleared.json()["removed"] >= 1, cleared.text


def test_out_of_range_and_malformed_dates_are_a_clear_400(served: tuple[CollectorProcess, str]) -> None:
    for bad in ({"date": "10000-01-01"}, {"date": "2026-02-30"}, {"date": "２０２６-12-03"},
                {"from": "9999-12-31", "to": "0001-01-01"}):
        got = _api(served, "POST", "/api/v1/agents/pc-edge/shifts", json={**bad, "start": "09:00", "end": "18:00"})
        assert got.status_code == 400 and got.json()["error"]["code"] in ("bad_shift", "malformed"), got.text
    got = _api(served, "GET", "/api/v1/agents/pc-edge/shifts?from=0001-01-01&to=0001-12-31")
    assert got.status_code == 200 and got.json()["shifts"] == [], got.text  # nothing refused was stored
    got = _api(served, "GET", "/api/v1/agents/pc-edge/shifts?from=9999-12-31&to=9999-12-31")
    assert got.status_code == 200 and got.json()["shifts"] == [], got.text


@pytest.mark.parametrize("agent_id", ["a" * 80, "é" * 70, "pc-" + "9" * 200])
def test_an_agent_id_longer_than_any_stored_one_is_a_404_and_audited(served: tuple[CollectorProcess, str],
                                                                      agent_id: str) -> None:
    for method, path, body in (("GET", "", None),
                               ("POST", "", {"date": "2026-12-01", "start": "09:00", "end": "18:00"}),
                               ("POST", "/clear", {"date": "2026-12-01"})):
        got = _api(served, method, f"/api/v1/agents/{agent_id}/shifts{path}", json=body)
        assert got.status_code == 404 and got.json()["error"]["code"] == "not_found", got.text
    for action in ("read_shifts", "set_shift", "clear_shift"):
        records = _api(served, "GET", f"/api/v1/audit?action={action}&allowed=false&limit=50").json()["records"]
        assert any(agent_id in r["target"] and not r["allowed"] for r in records), (action, records[:3])


def test_an_id_number_typed_as_an_agent_id_is_audited_and_logged_masked(served: tuple[CollectorProcess, str]) -> None:
    """Privacy rule 1 for what a caller types: an unknown agent id is written to the audit and the log."""
    from tests.conftest import RAW_IDS

    raw = RAW_IDS[1]
    entry = {"date": "2026-12-01", "start": "09:00", "end": "18:00"}
    for method, path, body in (("GET", "", None), ("POST", "", entry), ("POST", "/clear", {"date": "2026-12-01"})):
        got = _api(served, method, f"/api/v1/agents/{raw}/shifts{path}", json=body)
        assert got.status_code == 404, got.text
    records = _api(served, "GET", f"/api/v1/audit?target={raw[-4:]}&limit=50").json()["records"]
    assert len(records) >= 3 and not any(raw in str(r) for r in records), records[:3]
    c, _ = served
    for name in ("serve.out", "collector.log", "seatguard.db"):
        written = c.data / name
        assert not written.exists() or raw.encode() not in written.read_bytes(), f"{name} holds the raw number"


@pytest.mark.parametrize("hhmm", ["0\uff19:00", "\u0661\u0662:30", "09:00\n", "9:00", "09:0"])
def test_times_are_ascii_hh_mm_only(served: tuple[CollectorProcess, str], hhmm: str) -> None:
    """Full-width or other scripts' digits and a trailing newline match ``\\d`` and ``$``: refused, never
    stored as a shift the rest of the collector reads differently."""
    got = _api(served, "POST", "/api/v1/agents/pc-edge/shifts", json={"date": "2026-11-02", "start": hhmm,
                                                                       "end": "18:00"})
    assert got.status_code == 400 and got.json()["error"]["code"] in ("bad_shift", "malformed"), got.text
    listed = _api(served, "GET", "/api/v1/agents/pc-edge/shifts?from=2026-11-02&to=2026-11-02").json()["shifts"]
    assert listed == []
