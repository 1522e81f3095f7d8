"""Shift entries at the edges of the calendar, over real HTTP: the last representable day is a day like any
other (no 5xx), and a refused entry leaves what was stored untouched."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
import requests

from tests.conftest import COLLECTOR, CollectorProcess


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CollectorProcess, str]]:
    root = tmp_path_factory.mktemp("shift-edges")
    c = CollectorProcess(root / "collector")
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
