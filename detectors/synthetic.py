"""Seeded synthetic agent-day features, for tests and benchmarks that need many agent-days fast.

This is not the fleet simulator (``simulator`` makes raw events); it draws feature rows
directly: every agent has stable habits, teams and roles differ, days vary, and a few named
anomalies can be planted. Nothing here is used when scoring real data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from detectors.context import AgentContext
from detectors.features import FEATURE_NAMES
from detectors.scoring import AgentDayInput

ANOMALIES = ("bulk_id_copy", "usb_export", "browse_without_case", "after_hours", "remote_access",
             "screen_recorder", "idle_free_no_work", "killed_mid_shift")


@dataclass(frozen=True)
class Habit:
    speed: float
    copy_rate: float
    idle: float
    start: float


def _habit(rng: np.random.Generator, role: str) -> Habit:
    return Habit(float(rng.lognormal(0, 0.2)), float(rng.uniform(0.1, 0.6)),
                 float(rng.uniform(0.05, 0.2) * (1.5 if role == "lead" else 1.0)), float(rng.normal(-10, 6)))


def normal_day(rng: np.random.Generator, habit: Habit, role: str) -> dict[str, float]:
    """One ordinary day of one agent, as features."""
    f = dict.fromkeys(FEATURE_NAMES, 0.0)
    active = max(60.0, rng.normal(430, 25))
    idle = max(0.0, rng.normal(540 * habit.idle, 12))
    cases = max(0.0, rng.normal(44 / habit.speed, 5)) * (0.35 if role == "lead" else 1.0)
    handle = max(60.0, rng.normal(560 * habit.speed, 50))
    first = 540 + habit.start + rng.normal(0, 5)
    f.update(
        active_min=active, idle_min=idle, first_activity=first, last_activity=first + active + idle,
        outside_shift_min=max(0.0, -habit.start + rng.normal(0, 4)), night_min=0.0,
        cases_closed=round(cases), handle_mean_s=handle, handle_median_s=handle * rng.uniform(0.85, 0.98),
        cases_per_hour=round(cases) / (active / 60), utilisation=min(1.0, rng.normal(0.82, 0.05)),
        customers_viewed=round(cases * rng.uniform(1.0, 1.3)),
        customer_pages=round(cases * rng.uniform(2, 3)),
        pages_without_case=float(rng.poisson(0.4)), copies=float(rng.poisson(cases * habit.copy_rate + 2)),
        copied_ids=float(rng.poisson(0.2)), copied_phones=float(rng.poisson(cases * habit.copy_rate * 0.3)),
        copied_cards=float(rng.poisson(0.05)), copies_to_offlist=float(rng.poisson(0.05)),
        messaging_min=float(rng.poisson(25 if role == "lead" else 8)), offlist_site_min=float(rng.poisson(2)),
        focus_switches=max(0.0, rng.normal(320 * (1.6 if role == "lead" else 1.0), 40)),
        pages=max(0.0, rng.normal(150, 20)), silent_shift_min=float(rng.choice([0, 0, 0, 0, 3, 4])),
        drive_mounts=float(rng.random() < 0.01),
    )
    return f


def plant(f: dict[str, float], anomaly: str, rng: np.random.Generator) -> dict[str, float]:
    """A copy of ``f`` with one named anomaly planted."""
    g = dict(f)
    if anomaly == "bulk_id_copy":
        g["copied_ids"] += rng.integers(12, 40)
        g["copies"] += g["copied_ids"]
        g["ids_to_messaging"] += rng.integers(0, 4)
    elif anomaly == "usb_export":
        g["drive_mounts"] += 1
        g["removable_writes"] += rng.integers(1, 6)
        g["removable_mb"] += rng.uniform(1, 50)
    elif anomaly == "browse_without_case":
        extra = float(rng.integers(15, 60))
        g["pages_without_case"] += extra
        g["customers_viewed"] += extra
        g["customer_pages"] += extra
    elif anomaly == "after_hours":
        extra = float(rng.uniform(90, 200))
        g["outside_shift_min"] += extra
        g["night_min"] += extra * 0.6
        g["last_activity"] = min(1439.0, g["last_activity"] + extra)
    elif anomaly == "remote_access":
        g["remote_access_starts"] += 1
        g["remote_access_min"] += rng.uniform(5, 60)
    elif anomaly == "screen_recorder":
        g["screen_capture_starts"] += 1
        g["screen_capture_min"] += rng.uniform(0, 5)
    elif anomaly == "idle_free_no_work":
        g["idle_min"] = 0.0
        g["active_min"] += 60
        g["cases_closed"] = round(g["cases_closed"] * 0.2)
        g["cases_per_hour"] = g["cases_closed"] / (g["active_min"] / 60)
        g["utilisation"] *= 0.3
        g["focus_switches"] *= 0.2
        g["pages"] *= 0.3
    elif anomaly == "killed_mid_shift":
        g["silent_shift_min"] += rng.uniform(60, 240)
        g["active_min"] -= g["silent_shift_min"] * 0.8
    else:
        raise ValueError(f"unknown anomaly {anomaly!r}")
    return g


@dataclass
class SyntheticDay:
    day: date
    today: list[AgentDayInput]
    history: dict[str, list[dict[str, float]]]
    planted: dict[str, str]


def fleet_day(seed: int, teams: int = 6, per_team: int = 12, history_days: int = 30,
              anomalies: int = 8, new_agents: int = 2, day: date = date(2024, 5, 6)) -> SyntheticDay:
    """One day of a synthetic fleet with history and ``anomalies`` planted agents (one lead per team)."""
    rng = np.random.default_rng(seed)
    today: list[AgentDayInput] = []
    history: dict[str, list[dict[str, float]]] = {}
    for t in range(teams):
        for k in range(per_team):
            role = "lead" if k == 0 else "agent"
            ctx = AgentContext(f"t{t:02d}-a{k:03d}", f"team-{t:02d}", role)
            habit = _habit(rng, role)
            fresh = k >= per_team - new_agents // max(1, teams) and t < new_agents
            days = 0 if fresh else history_days
            history[ctx.agent_id] = [normal_day(rng, habit, role) for _ in range(days)]
            today.append(AgentDayInput(ctx, normal_day(rng, habit, role)))
    planted: dict[str, str] = {}
    candidates = [i for i, r in enumerate(today) if r.ctx.role == "agent"]
    for n, i in enumerate(rng.choice(candidates, size=min(anomalies, len(candidates)), replace=False)):
        anomaly = ANOMALIES[n % len(ANOMALIES)]
        row = today[int(i)]
        today[int(i)] = AgentDayInput(row.ctx, plant(dict(row.features), anomaly, rng))
        planted[row.ctx.agent_id] = anomaly
    return SyntheticDay(day, today, history, planted)


def bulk_features(seed: int, n_agents: int, days: int) -> np.ndarray:
    """Vectorised ordinary days for benchmarks: an array (agents, days, features) in FEATURE_NAMES order."""
    rng = np.random.default_rng(seed)
    d = len(FEATURE_NAMES)
    col = {n: j for j, n in enumerate(FEATURE_NAMES)}
    speed = rng.lognormal(0, 0.2, (n_agents, 1))
    copy_rate = rng.uniform(0.1, 0.6, (n_agents, 1))
    start = rng.normal(-10, 6, (n_agents, 1))
    shape = (n_agents, days)
    out = np.zeros((n_agents, days, d))
    active = np.maximum(60, rng.normal(430, 25, shape))
    cases = np.round(np.maximum(0, rng.normal(44 / speed, 5, shape)))
    handle = np.maximum(60, rng.normal(560 * speed, 50, shape))
    first = 540 + start + rng.normal(0, 5, shape)
    idle = np.maximum(0, rng.normal(60, 12, shape))
    values = {
        "active_min": active, "idle_min": idle, "first_activity": first,
        "last_activity": first + active + idle,
        "outside_shift_min": np.maximum(0, -start + rng.normal(0, 4, shape)),
        "cases_closed": cases, "handle_mean_s": handle, "handle_median_s": handle * 0.92,
        "cases_per_hour": cases / (active / 60), "utilisation": np.minimum(1, rng.normal(0.82, 0.05, shape)),
        "customers_viewed": np.round(cases * 1.15), "customer_pages": np.round(cases * 2.5),
        "pages_without_case": rng.poisson(0.4, shape), "copies": rng.poisson(cases * copy_rate + 2),
        "copied_ids": rng.poisson(0.2, shape), "copied_phones": rng.poisson(cases * copy_rate * 0.3),
        "messaging_min": rng.poisson(8, shape), "offlist_site_min": rng.poisson(2, shape),
        "focus_switches": np.maximum(0, rng.normal(320, 40, shape)),
        "pages": np.maximum(0, rng.normal(150, 20, shape)),
    }
    for name, arr in values.items():
        out[:, :, col[name]] = arr
    return out

