"""Built-in statistical members of the ensemble: pyod models and a robust z-score, per view.

Each member is fitted on one feature view of one day's agents of the same role (see
:mod:`detectors.views`): ``peer_*`` members see every agent's deviations from its peer group today,
``self_*`` members see every agent's deviations from its own trailing history. Fitting on the pooled
deviations, rather than on a 20-agent team or a 30-day history alone, gives the models enough rows
to learn what an ordinary deviation looks like.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from detectors.base import Detector, Matrix, Vector
from detectors.errors import InvalidInput
from detectors.registry import register


def _varying(X: Matrix) -> np.ndarray:
    """Columns that vary in the training rows (constant columns carry no information)."""
    return np.ptp(X, axis=0) > 1e-12


class _PyodMember(Detector):
    """Wraps one pyod model; constant training columns are dropped before fitting."""

    def _model(self) -> Any:
        raise NotImplementedError

    def _fit(self, X: Matrix) -> Vector:
        self.columns_ = _varying(X)
        if not self.columns_.any():
            self.model_ = None
            return np.zeros(X.shape[0])
        self.model_ = self._model()
        self.model_.fit(X[:, self.columns_])
        return np.asarray(self.model_.decision_scores_, dtype=np.float64)

    def _score(self, X: Matrix) -> Vector:
        if self.model_ is None:
            return np.zeros(X.shape[0])
        return np.asarray(self.model_.decision_function(X[:, self.columns_]), dtype=np.float64)


class _IForestMember(_PyodMember):
    def __init__(self, contamination: float = 0.1, random_state: int = 0, n_estimators: int = 100) -> None:
        super().__init__(contamination, random_state)
        if isinstance(n_estimators, bool) or not isinstance(n_estimators, int) or n_estimators < 1:
            raise InvalidInput("n_estimators must be a positive integer")
        self.n_estimators = n_estimators

    def get_params(self) -> dict[str, Any]:
        return {**super().get_params(), "n_estimators": self.n_estimators}

    def _model(self) -> Any:
        from pyod.models.iforest import IForest

        return IForest(n_estimators=self.n_estimators, contamination=self.contamination,
                       random_state=self.random_state)


class _ECODMember(_PyodMember):
    def _model(self) -> Any:
        from pyod.models.ecod import ECOD

        return ECOD(contamination=self.contamination)


class _ZScoreMember(Detector):
    """Mean of the ``top_k`` largest absolute deviations, each column re-standardised on the
    training rows (so a column on which everybody deviates today counts for less)."""

    def __init__(self, contamination: float = 0.1, random_state: int = 0, top_k: int = 3) -> None:
        super().__init__(contamination, random_state)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise InvalidInput("top_k must be a positive integer")
        self.top_k = top_k

    def get_params(self) -> dict[str, Any]:
        return {**super().get_params(), "top_k": self.top_k}

    def _fit(self, X: Matrix) -> Vector:
        self.center_ = np.median(X, axis=0)
        mad = np.median(np.abs(X - self.center_), axis=0) * 1.4826
        self.scale_ = np.maximum(mad, 1.0)
        return self._score(X)

    def _score(self, X: Matrix) -> Vector:
        z = np.abs((X - self.center_) / self.scale_)
        k = min(self.top_k, z.shape[1])
        top = np.partition(z, z.shape[1] - k, axis=1)[:, -k:]
        return np.asarray(top.mean(axis=1), dtype=np.float64)


@register
class PeerIForest(_IForestMember):
    name = "peer_iforest"
    view = "peer"
    help = "pyod IForest on today's deviations from the peer group (same team and role)."


@register
class PeerECOD(_ECODMember):
    name = "peer_ecod"
    view = "peer"
    help = "pyod ECOD (empirical tail probabilities) on today's deviations from the peer group."


@register
class PeerZScore(_ZScoreMember):
    name = "peer_zscore"
    view = "peer"
    help = "Mean of the largest robust z-scores against the peer group."


@register
class SelfECOD(_ECODMember):
    name = "self_ecod"
    view = "self"
    help = "pyod ECOD on today's deviations from the agent's own trailing history."


@register
class SelfIForest(_IForestMember):
    name = "self_iforest"
    view = "self"
    help = "pyod IForest on today's deviations from the agent's own trailing history."


@register
class SelfZScore(_ZScoreMember):
    name = "self_zscore"
    view = "self"
    help = "Mean of the largest robust z-scores against the agent's own trailing history."
