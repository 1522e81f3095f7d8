"""The detector contract every ensemble member follows (modelled on pyod's ``BaseDetector``).

- The constructor only validates and stores its arguments; it never looks at data.
- ``fit(X)`` learns from a feature matrix and sets the fitted state, whose names end in ``_``:
  ``n_features_in_``, ``decision_scores_`` (scores of the training rows), ``threshold_`` and ``labels_``.
- ``decision_function(X)`` scores new rows: higher means more unusual.
- Subclasses implement only ``_fit`` (returning the training rows' scores) and ``_score``; the base
  class owns input checks, the contamination threshold and the 0/1 labels, and wraps third-party
  failures in :class:`~detectors.errors.ModelError`.

``view`` names the feature view the ensemble feeds a member: ``"peer"`` (deviations from the agent's
peer group today), ``"self"`` (deviations from the agent's own trailing history) or ``"raw"`` (the
day's features as they are, in :data:`~detectors.features.FEATURE_NAMES` order).
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray

from detectors.errors import InvalidInput, ModelError, NotFitted

Matrix = NDArray[np.float64]
Vector = NDArray[np.float64]
VIEWS = ("peer", "self", "raw")


def check_matrix(X: Any, n_features: int | None = None) -> Matrix:
    """Return X as a finite 2-D float array or raise InvalidInput."""
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"X must be numeric ({exc})") from exc
    if arr.ndim != 2:
        raise InvalidInput(f"X must be 2-D (samples x features), got {arr.ndim}-D")
    if not np.isfinite(arr).all():
        raise InvalidInput("X contains NaN or infinite values")
    if n_features is not None and arr.shape[1] != n_features:
        raise InvalidInput(f"X has {arr.shape[1]} features, the detector was fitted with {n_features}")
    return arr


class Detector(abc.ABC):
    """Base class of every detector (see the module docstring for the contract)."""

    name: ClassVar[str] = ""
    view: ClassVar[str] = "peer"
    help: ClassVar[str] = ""
    min_samples: ClassVar[int] = 2
    learns: ClassVar[bool] = True  # False: fit only checks the rows (rules), so any number will do

    def __init__(self, contamination: float = 0.1, random_state: int = 0) -> None:
        if isinstance(contamination, bool) or not isinstance(contamination, int | float) \
                or not 0.0 < contamination <= 0.5:
            raise InvalidInput("contamination must be a number in (0, 0.5]")
        if isinstance(random_state, bool) or not isinstance(random_state, int):
            raise InvalidInput("random_state must be an integer")
        self.contamination = float(contamination)
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> Self:
        """Learn from X (rows are agent-days); ``y`` is ignored (unsupervised)."""
        arr = check_matrix(X)
        if arr.shape[0] < self.min_samples:
            raise InvalidInput(f"{self.name or type(self).__name__} needs at least {self.min_samples} rows")
        try:
            scores = np.asarray(self._fit(arr), dtype=np.float64)
        except (ValueError, ArithmeticError, IndexError, np.linalg.LinAlgError) as exc:
            raise ModelError(f"{self.name}: fit failed ({exc})") from exc
        self.n_features_in_ = arr.shape[1]
        self.decision_scores_ = np.nan_to_num(scores, nan=0.0, posinf=0.0, neginf=0.0)
        self.threshold_ = float(np.percentile(self.decision_scores_, 100 * (1 - self.contamination)))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        return self

    def decision_function(self, X: Any) -> Vector:
        """Anomaly scores of new rows (higher is more unusual)."""
        if not hasattr(self, "n_features_in_"):
            raise NotFitted(f"{self.name or type(self).__name__} is not fitted yet")
        arr = check_matrix(X, self.n_features_in_)
        try:
            scores = np.asarray(self._score(arr), dtype=np.float64)
        except (ValueError, ArithmeticError, IndexError, np.linalg.LinAlgError) as exc:
            raise ModelError(f"{self.name}: scoring failed ({exc})") from exc
        return np.nan_to_num(scores, nan=0.0, posinf=0.0, neginf=0.0)

    def predict(self, X: Any) -> NDArray[np.int_]:
        """1 for rows scoring above ``threshold_``, else 0."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def get_params(self) -> dict[str, Any]:
        return {"contamination": self.contamination, "random_state": self.random_state}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    @abc.abstractmethod
    def _fit(self, X: Matrix) -> Vector:
        """Learn from X and return the training rows' scores."""

    @abc.abstractmethod
    def _score(self, X: Matrix) -> Vector:
        """Score rows with the fitted state."""
