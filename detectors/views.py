"""Feature views: one day's features turned into robust deviations the detectors can compare.

Both views divide a deviation from a median by a robust spread, ``max(1.4826 * MAD, IQR / 1.349,
floor)``, where ``floor`` is the feature's documented smallest meaningful spread (see
:data:`~detectors.features.FEATURES`). Deviations in the harmless direction of a one-sided feature
(fewer removable-drive writes than usual) are set to 0, and every deviation is capped at
:data:`Z_CAP` so that one absurd value cannot dominate a distance.

- peer view: against the median of the agent's peer group today, the same team and role; a group
  smaller than ``min_peers`` widens to everyone of the same role, then to everyone.
- self view: against the agent's own trailing history; agents with fewer than ``min_history`` days
  have no self view (cold start) and are scored against peers only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from detectors.base import Matrix
from detectors.features import FEATURES

Z_CAP = 50.0
FLOORS = np.array([f.floor for f in FEATURES], dtype=np.float64)
_UP = np.array([f.direction == "up" for f in FEATURES])
_DOWN = np.array([f.direction == "down" for f in FEATURES])


def directed(z: Matrix) -> Matrix:
    """Zero the harmless direction of one-sided features and cap the magnitude."""
    out = np.clip(z, -Z_CAP, Z_CAP)
    out[:, _UP] = np.maximum(out[:, _UP], 0.0)
    out[:, _DOWN] = np.minimum(out[:, _DOWN], 0.0)
    return out


@dataclass
class PeerView:
    z: Matrix                      # directed robust z against the peer group
    median: Matrix                 # the peer group's median, per row
    scope: list[str]               # "team", "role" or "all": how wide the peer group had to be
    group: NDArray[np.int_]        # peer group index per row
    members: list[NDArray[np.int_]]  # rows of each peer group


@dataclass
class SelfView:
    z: Matrix                      # directed robust z against own history (0 where no history)
    has: NDArray[np.bool_]         # has at least min_history days
    days: NDArray[np.int_]         # history days used
    median: Matrix                 # own median (NaN without history)
    low: Matrix                    # own minimum
    high: Matrix                   # own maximum


def _spread(values: Matrix, floors: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    q1, med, q3 = np.percentile(values, [25, 50, 75], axis=0)
    mad = np.median(np.abs(values - med), axis=0)
    return med, np.maximum(np.maximum(1.4826 * mad, (q3 - q1) / 1.349), floors)


def peer_view(F: Matrix, teams: list[str], roles: list[str], min_peers: int) -> PeerView:
    n = F.shape[0]
    by_key: dict[tuple[str, str], list[int]] = {}
    for i in range(n):
        by_key.setdefault((teams[i], roles[i]), []).append(i)
    by_role: dict[str, list[int]] = {}
    for i in range(n):
        by_role.setdefault(roles[i], []).append(i)
    scope = ["team"] * n
    group_rows: dict[tuple[str, str], list[int]] = {}
    for (team, role), rows in by_key.items():
        if len(rows) >= min_peers or len(rows) == n:
            group_rows[("team", f"{team}\x00{role}")] = rows
        elif len(by_role[role]) >= min_peers:
            group_rows.setdefault(("role", role), by_role[role])
        else:
            group_rows.setdefault(("all", ""), list(range(n)))
    z = np.zeros_like(F)
    median = np.zeros_like(F)
    group = np.zeros(n, dtype=np.int_)
    members: list[NDArray[np.int_]] = []
    assigned = np.zeros(n, dtype=bool)
    for gi, ((kind, _key), rows) in enumerate(group_rows.items()):
        idx = np.asarray(rows, dtype=np.int_)
        members.append(idx)
        med, spread = _spread(F[idx], FLOORS)
        # a widened group describes everyone in it, but only scores the rows that needed widening
        target = idx[~assigned[idx]] if kind != "team" else idx
        z[target] = (F[target] - med) / spread
        median[target] = med
        group[target] = gi
        assigned[target] = True
        for i in target:
            scope[i] = kind
    return PeerView(directed(z), median, scope, group, members)


def _order_stat(sorted_h: Matrix, counts: NDArray[np.int_], q: float) -> Matrix:
    """Linear-interpolated quantile q of each (row, column) over the first counts[row, column] entries."""
    pos = (np.maximum(counts, 1) - 1) * q
    lo = np.floor(pos).astype(np.int_)
    hi = np.minimum(lo + 1, np.maximum(counts - 1, 0))
    frac = pos - lo
    a = np.take_along_axis(sorted_h, lo[:, None, :], axis=1)[:, 0]
    b = np.take_along_axis(sorted_h, hi[:, None, :], axis=1)[:, 0]
    return np.asarray(a + (b - a) * frac, dtype=np.float64)


def self_view(F: Matrix, history: list[Matrix], min_history: int) -> SelfView:
    """``history[i]`` holds agent i's past days (rows) in feature order, already trimmed. A NaN cell is a
    feature that day's stored record does not have (a feature added since it was stored): each feature's
    own statistics use only the days that have it, and a feature no stored day has is not compared."""
    n, d = F.shape
    days = np.array([h.shape[0] for h in history], dtype=np.int_)
    width = max(1, int(days.max(initial=0)))
    cube = np.full((n, width, d), np.inf)
    for i, h in enumerate(history):
        if h.shape[0]:
            cube[i, : h.shape[0]] = np.where(np.isnan(h), np.inf, h)
    cube.sort(axis=1)  # +inf padding and missing cells sort last
    counts = np.isfinite(cube).sum(axis=1).astype(np.int_)  # per agent and feature: days that have it
    known = counts > 0
    cube[~known[:, None, :].repeat(width, axis=1)] = 0.0  # no value at all: placeholders, masked out below
    med = _order_stat(cube, counts, 0.5)
    q1 = _order_stat(cube, counts, 0.25)
    q3 = _order_stat(cube, counts, 0.75)
    low = cube[:, 0, :].copy()
    high = np.take_along_axis(cube, np.maximum(counts - 1, 0)[:, None, :], axis=1)[:, 0]
    finite = np.isfinite(cube)
    dev = np.where(finite, np.abs(cube - med[:, None, :]), np.inf)
    dev.sort(axis=1)
    mad = _order_stat(dev, counts, 0.5)
    spread = np.maximum(np.maximum(1.4826 * mad, (q3 - q1) / 1.349), FLOORS)
    has = days >= min_history
    compared = has[:, None] & (counts >= min_history)
    z = np.where(compared, (F - np.where(compared, med, 0.0)) / spread, 0.0)
    for arr in (med, low, high):
        arr[~known] = np.nan
    return SelfView(directed(np.nan_to_num(z)), has, days, med, low, high)
