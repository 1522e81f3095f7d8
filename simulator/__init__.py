"""The fleet simulator: realistic event-schema-v1 data for a consumer-finance call center.

Used by ``make demo``, by the tests and to train and evaluate the anomaly detectors::

    seatguard-simulate --out DIR [--agents N] [--days D] [--seed S] [--end YYYY-MM-DD]
                             [--scenario NAME:AGENT_INDEX:DAY_OFFSET ...] [--no-scenarios]

or from Python: ``simulate(Path("DIR"), agents=40, days=15, seed=7, end=date(2026, 3, 13))``.

What is simulated
    Teams of about ten (customer service ``cs-*`` taking inbound calls, collections ``col-*`` dialling
    their portfolio), each with a lead; a day shift 09:00-18:00 and a late shift 13:00-22:00; meal and
    short breaks, meetings, late arrivals, sick days, a Saturday rota, the odd reboot or upload outage.
    Each person has stable traits (speed, window switching, copy habits, idleness, punctuality, browser,
    personal WeChat, personal browsing...) listed in ``fleet.json``. Days are calendar days in
    Asia/Shanghai; every timestamp carries the +08:00 offset and millisecond precision.

Files written into ``DIR``
    ``events/<agent_id>.jsonl``
        One v1 event per line (UTF-8, ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))``),
        each checked with :func:`contract.schema.validate_event`, sorted by ``ts``. ``seq`` runs 1..N over
        the whole window; events a killed agent held in memory keep their number but are missing.
    ``fleet.json``
        ``[{"agent_id", "team", "role": "agent"|"lead", "shift": {"start", "end"}, "hired", "traits"}]``;
        the list order is the AGENT_INDEX of ``--scenario``.
    ``ground_truth.json``
        ``{"seed", "start", "end", "scenarios": [{"agent_id", "date", "scenario", "detail"}],
        "unusual_but_normal": [{"agent_id", "date", "kind"}]}``; kinds are ``new_hire``, ``team_lead``,
        ``lead_review``, ``overtime``, ``rota``, ``half_day``, ``return_from_leave``, ``training`` and
        ``flaky_network``. ``fleet.json`` also lists each person's ``rota``: days whose shift was entered.
    ``raw_identifiers.txt``
        Every unmasked national ID number (valid GB 11643 check digit) and phone number that appears in
        a written event (a few window titles show them, as real screens do), one per line, sorted.

Scenarios (``SCENARIOS``; add one with :func:`register`)
    ``bulk_id_copy``, ``usb_export``, ``browse_without_case``, ``after_hours``, ``remote_access``,
    ``screen_recorder``, ``idle_free_no_work``, ``killed_mid_shift``, ``presence_without_work``, and a
    quiet version ``quiet_<name>`` of each (simulator/quiet.py). Without ``--scenario`` the default
    mix (loud ones but presence_without_work) puts about one scenario agent-day per eight agents on
    ordinary agents in the last few days.
    A scenario that needs a shift, placed on the person's day off, makes them work that day.

The output is a pure function of the arguments (``end`` defaults to today in Asia/Shanghai).
"""

from __future__ import annotations

from simulator.command import add_arguments, run_from_args
from simulator.fleet import ScenarioSpec, SimulationResult, simulate
from simulator.scenarios import SCENARIOS, Context, Scenario, register

__all__ = [
    "SCENARIOS",
    "Context",
    "Scenario",
    "ScenarioSpec",
    "SimulationResult",
    "add_arguments",
    "register",
    "run_from_args",
    "simulate",
]
