"""The ensemble: fit every member on its view, turn scores into ranks, combine the ranks.

Member scores live on different scales (a tree path length, a sum of log tail probabilities, rule
weights), so each member's scores are first turned into empirical tail probabilities among today's
agents it could score: ``p = #(agents scoring at least as high) / (n + 1)``. Ties share the larger
p, so the many agents with no rule breach get p close to 1 and add nothing.

Combinations (``combine``):

- ``fisher`` (default): the weighted mean of ``-log p`` over the members that scored the agent,
  divided by ``log(n + 1)`` so the score lies in (0, 1]. Like Fisher's method, one very small p
  counts for a lot and several moderately small ones add up.

Weights are balanced by view: each view (peer, self, rules) weighs the same in total, shared by its
members, so adding a second model of one view does not drown the others; a configured weight
multiplies a member's share.
- ``max``: the largest ``-log p / log(n + 1)`` (plus 1 % of the mean, to break ties).
- ``mean_rank``: the mean percentile rank, ``1 - p``.

Members that could not score an agent (no history yet: cold start) are left out of its mean.

An evaluation that scores one day under many combinations (weights, rule thresholds) can wrap the
work in ``with member_cache():``: a member without options, fitted again on exactly the same rows with
the same parameters, then reuses its scores instead of fitting again. Nothing is cached outside it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detectors import registry
from detectors.base import Matrix, Vector
from detectors.errors import ConfigError, InvalidInput

COMBINATIONS = ("fisher", "max", "mean_rank")
DEFAULT_MEMBERS = ("peer_iforest", "peer_ecod", "peer_zscore", "self_iforest", "self_ecod", "self_zscore",
                   "rules")


_CACHE: ContextVar[dict[tuple[Any, ...], Vector] | None] = ContextVar("member_cache", default=None)


@contextmanager
def member_cache() -> Iterator[None]:
    """Reuse fitted member scores for identical inputs while the block runs (see the module notes)."""
    token = _CACHE.set({})
    try:
        yield
    finally:
        _CACHE.reset(token)


def tail_pvalues(scores: Vector) -> Vector:
    """Empirical upper-tail probability of each score among the non-NaN scores (NaN stays NaN)."""
    out = np.full(scores.shape, np.nan)
    valid = ~np.isnan(scores)
    s = scores[valid]
    if s.size == 0:
        return out
    ordered = np.sort(s)
    at_least = s.size - np.searchsorted(ordered, s, side="left")
    out[valid] = at_least / (s.size + 1)
    return out


def combine(pvalues: Matrix, method: str = "fisher", weights: Sequence[float] | None = None) -> Vector:
    """Combine a (members x agents) matrix of tail probabilities into one score per agent."""
    if method not in COMBINATIONS:
        raise ConfigError(f"combine must be one of {', '.join(COMBINATIONS)}")
    k, n = pvalues.shape
    w = np.ones(k) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (k,) or (w < 0).any():
        raise ConfigError("weights must be one non-negative number per member")
    have = ~np.isnan(pvalues)
    counts = (~np.isnan(pvalues)).sum(axis=1)
    scale = np.log(np.maximum(counts, 1) + 1.0)[:, None]
    surprise = np.where(have, -np.log(np.where(have, pvalues, 1.0)) / scale, 0.0)
    wsum = (w[:, None] * have).sum(axis=0)
    mean = np.where(wsum > 0, (w[:, None] * surprise).sum(axis=0) / np.maximum(wsum, 1e-12), 0.0)
    if method == "fisher":
        return np.asarray(mean, dtype=np.float64)
    if method == "max":
        return np.asarray((w[:, None] * surprise).max(axis=0) + 0.01 * mean, dtype=np.float64)
    rank = np.where(have, 1.0 - np.where(have, pvalues, 1.0), 0.0)
    return np.asarray(np.where(wsum > 0, (w[:, None] * rank).sum(axis=0) / np.maximum(wsum, 1e-12), 0.0),
                      dtype=np.float64)


@dataclass
class MemberResult:
    name: str
    view: str
    scores: Vector     # raw member scores, NaN where the member could not score the agent
    pvalues: Vector    # empirical tail probabilities, NaN likewise


@dataclass
class EnsembleResult:
    members: list[MemberResult]
    score: Vector


class Ensemble:
    """Members by registry name, each fitted on today's rows of its view, combined by rank."""

    def __init__(self, members: Sequence[str] = DEFAULT_MEMBERS, combine: str = "fisher",
                 weights: Mapping[str, float] | None = None, min_fit: int = 5, contamination: float = 0.1,
                 random_state: int = 0, options: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        if not members:
            raise ConfigError("the ensemble needs at least one member")
        for name in members:
            registry.get(name)
        if combine not in COMBINATIONS:
            raise ConfigError(f"combine must be one of {', '.join(COMBINATIONS)}")
        if isinstance(min_fit, bool) or not isinstance(min_fit, int) or min_fit < 2:
            raise ConfigError("min_fit must be an integer >= 2")
        unknown = set(weights or {}) - set(members)
        if unknown:
            raise ConfigError(f"weights for members not in the ensemble: {', '.join(sorted(unknown))}")
        self.members = tuple(members)
        self.combine = combine
        self.weights = dict(weights or {})
        self.min_fit = min_fit
        self.contamination = contamination
        self.random_state = random_state
        self.options = {k: dict(v) for k, v in (options or {}).items()}

    def _member(self, name: str) -> Any:
        return registry.create(name, contamination=self.contamination, random_state=self.random_state,
                               **self.options.get(name, {}))

    def _run_member(self, name: str, X: Matrix, available: NDArray[np.bool_]) -> Vector:
        """Fit on every available row at once: the views are already relative to each agent's own peer
        group (team and role) or own past, so one model compares like with like and scores of
        different roles stay on one scale."""
        cache = _CACHE.get() if not self.options.get(name) else None
        key = (name, self.min_fit, self.contamination, self.random_state, X.shape, X.tobytes(),
               available.tobytes())
        if cache is not None and key in cache:
            return cache[key].copy()
        scores = np.full(X.shape[0], np.nan)
        pool = np.flatnonzero(available)
        det = self._member(name)
        if pool.size >= (max(self.min_fit, det.min_samples) if det.learns else det.min_samples):
            scores[pool] = det.fit(X[pool]).decision_scores_
        if cache is not None:
            cache[key] = scores.copy()
        return scores

    def fit_score(self, views: Mapping[str, Matrix],
                  available: Mapping[str, NDArray[np.bool_]]) -> EnsembleResult:
        """Fit every member on today's rows of its view and return member and combined scores."""
        results = []
        for name in self.members:
            view = registry.get(name).view
            if view not in views or view not in available:
                raise InvalidInput(f"member {name!r} needs the {view!r} view")
            scores = self._run_member(name, views[view], available[view])
            results.append(MemberResult(name, view, scores, tail_pvalues(scores)))
        pvals = np.vstack([r.pvalues for r in results])
        per_view = {v: sum(1 for r in results if r.view == v) for v in {r.view for r in results}}
        weights = [self.weights.get(r.name, 1.0) / per_view[r.view] for r in results]
        return EnsembleResult(results, combine(pvals, self.combine, weights))
