"""Pages with previous/next-day links answer for the calendar's first and last day (no 500)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector.api import create_app
from collector.cli import main
from collector.service import Collector
from collector.web.site import shift_day


def test_shift_day_stays_on_the_calendar() -> None:
    assert shift_day("2026-03-01", -1) == "2026-02-28"
    assert shift_day("0001-01-01", -1) == "0001-01-01"
    assert shift_day("9999-12-31", 1) == "9999-12-31"


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_the_report_page_of_the_calendars_ends(tmp_path: Path, day: str) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["init", "--data", str(tmp_path)]) == 0
        assert main(["user", "add", "--data", str(tmp_path), "--name", "root", "--role", "admin"]) == 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["token", "create", "--data", str(tmp_path), "--user", "root"]) == 0
    collector = Collector.open(tmp_path)
    try:
        client = TestClient(create_app(collector), raise_server_exceptions=False)
        answer = client.get(f"/report?date={day}", headers={"Authorization": "Bearer " + out.getvalue().split()[-1]})
        assert answer.status_code == 200, answer.text[:300]
        assert f"date={day}" in answer.text
    finally:
        collector.close()
