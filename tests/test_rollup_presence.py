"""A stop is evidence: clean stops, crashes and missing heartbeats in the shift are features, rules and
moments; the end of the shift, a quick restart and the admin's uninstall are not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from detectors.errors import InvalidInput
from detectors.policy import Policy
from detectors.presence import shift_on, stopped_in_shift
from detectors.rules import RuleSet
from tests.test_detectors_rollup import Day, ctx, rollup

START = {"version": "1", "os": "w", "hostname": "h", "user": "u"}


def _epoch(hhmm: str) -> float:
    """DAY at hh:mm local (+08:00) as epoch seconds."""
    h, m = map(int, hhmm.split(":"))
    return datetime(2024, 5, 6, h - 8, m, tzinfo=UTC).timestamp()


def _day_with_stop(stop: str, back: str | None, end: str = "18:00") -> Day:
    d = Day()
    d("08:55:00", "agent.start", **START)
    d.heartbeats("08:55", stop)
    d(f"{stop}:10", "agent.stop", reason="signal")
    if back is not None:
        d(f"{back}:00", "agent.start", **START)
        d.heartbeats(back, end)
    return d


def _stops(f: dict[str, float]) -> tuple[float, float, float]:
    return f["stops_in_shift"], f["stopped_shift_min"], f["silent_shift_min"]


def test_a_clean_stop_mid_shift_is_a_feature_a_rule_and_a_moment() -> None:
    r = rollup(_day_with_stop("12:00", "13:00").events)
    f = r.features()
    assert _stops(f) == (1, 59, 0)                        # 12:01 to 12:59: off from the minute after the stop
    hits = {h.rule.name: h.rule.severity for h in RuleSet().evaluate(f)}
    assert hits["stopped_in_shift"] == "high" and "agent_silenced" not in hits
    [moment] = [e for e in r.evidence() if e["kind"] == "stop"]
    assert moment["ts"][11:16] == "12:01" and "stopped at 12:00" in moment["what"] and "59 min" in moment["what"]


def test_a_clean_stop_that_never_restarts_counts_to_the_end_of_the_shift() -> None:
    f = rollup(_day_with_stop("15:00", None).events).features()
    assert _stops(f) == (1, 179, 0)                       # 15:01 to 18:00


@pytest.mark.parametrize(("stop", "back"), [("12:00", "12:04"), ("12:00", "12:11")])
def test_a_reboot_with_a_quick_restart_is_not_a_stop(stop: str, back: str) -> None:
    f = rollup(_day_with_stop(stop, back).events).features()
    assert _stops(f) == (0, 0, 0)                         # 3 or 10 min off: within stop_grace_min


def test_the_restart_grace_is_the_policys() -> None:
    d = _day_with_stop("12:00", "12:06")
    assert _stops(rollup(d.events, ctx(policy=Policy(stop_grace_min=2))).features()) == (1, 5, 0)
    assert _stops(rollup(d.events, ctx(policy=Policy(stop_grace_min=10))).features()) == (0, 0, 0)
    with pytest.raises(InvalidInput):
        Policy.from_dict({"stop_grace_min": 500})
    with pytest.raises(InvalidInput):
        Policy.from_dict({"retire_grace_min": -1})


def test_the_end_of_the_shift_is_not_a_stop() -> None:
    assert _stops(rollup(_day_with_stop("17:50", None).events).features()) == (0, 0, 0)
    assert _stops(rollup(_day_with_stop("17:30", None).events).features()) == (1, 29, 0)  # left half an hour early


def test_a_crash_or_missing_heartbeats_are_silence_not_stops() -> None:
    d = Day()
    d("08:55:00", "agent.start", **START)
    d.heartbeats("08:55", "11:00")
    d.heartbeats("11:30", "16:00")                        # a hole, then the heartbeats just end
    f = rollup(d.events).features()
    assert _stops(f) == (0, 0, 30 + 120)
    assert "agent_silenced" in {h.rule.name for h in RuleSet().evaluate(f)}


def test_a_stop_before_the_shift_that_lasts_into_it_is_a_stop() -> None:
    d = Day()
    d("08:00:00", "agent.start", **START)
    d.heartbeats("08:00", "08:40")
    d("08:40:10", "agent.stop", reason="signal")
    d("10:00:00", "agent.start", **START)
    d.heartbeats("10:00", "18:00")
    assert _stops(rollup(d.events).features()) == (1, 60, 0)   # 09:00 to 10:00 of the shift


def test_the_admins_uninstall_is_not_a_stop() -> None:
    d = _day_with_stop("15:00", None)
    retired = ctx(retired_at=_epoch("15:20"))
    assert _stops(rollup(d.events, retired).features()) == (0, 0, 0)
    late = ctx(retired_at=_epoch("17:00"))                # retired two hours after the stop: the stop counts
    assert _stops(rollup(d.events, late).features()) == (1, 119, 0)   # up to the retirement
    silent = Day()
    silent.heartbeats("09:00", "14:00")                   # revoked first, so the stop never arrived
    assert _stops(rollup(silent.events, ctx(retired_at=_epoch("14:10"))).features()) == (0, 0, 0)
    with pytest.raises(InvalidInput):
        ctx(retired_at="yesterday")


def test_a_stop_still_within_its_grace_is_not_counted_yet() -> None:
    d = Day()
    d.heartbeats("09:00", "12:00")
    d("12:00:10", "agent.stop", reason="signal")
    r = rollup(d.events)
    assert _stops(r.features(now=datetime(2024, 5, 6, 4, 9, tzinfo=UTC))) == (0, 0, 0)   # 12:09 local
    assert _stops(r.features(now=datetime(2024, 5, 6, 4, 30, tzinfo=UTC))) == (1, 29, 0)  # 12:30 local


def test_the_live_test_of_a_stop_in_shift() -> None:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    stop = datetime(2024, 5, 6, 12, 0, tzinfo=tz)
    at = datetime(2024, 5, 6, 12, 10, tzinfo=tz)
    assert stopped_in_shift(("09:00", "18:00"), 30, 5, stop, at)
    assert not stopped_in_shift(("09:00", "18:00"), 30, 10, stop, at)          # still within the grace
    assert not stopped_in_shift(("13:00", "18:00"), 30, 5, stop, at)           # shift not on
    assert not stopped_in_shift(("09:00", "18:00"), 30, 5, stop.replace(day=5), at)  # yesterday: absent
    assert shift_on("22:00", "06:00", 23 * 60) and not shift_on("09:00", "18:00", 18 * 60)
