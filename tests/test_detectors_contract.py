"""One contract test sweeping every registered detector (the pyod contract), with a quality floor."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from detectors import registry
from detectors.base import Detector
from detectors.errors import InvalidInput, NotFitted, UnknownDetector
from detectors.scoring import ScoringConfig, compute
from detectors.synthetic import fleet_day

AUC_FLOOR = 0.8
NAMES = registry.names()


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    sd = fleet_day(11, teams=8, per_team=25, anomalies=16, new_agents=0)
    cfg = ScoringConfig()
    ds = compute(sd.today, sd.history, cfg, cfg.rule_set())
    y = np.array([r.ctx.agent_id in sd.planted for r in ds.rows])
    return {"peer": ds.peer.z, "self": ds.own.z, "raw": ds.F, "y": y}


def test_the_builtins_are_registered() -> None:
    assert {"peer_iforest", "peer_ecod", "self_ecod", "self_zscore", "rules"} <= set(NAMES)
    with pytest.raises(UnknownDetector):
        registry.get("nope")


@pytest.mark.parametrize("name", NAMES)
def test_constructor_only_validates_and_stores(name: str) -> None:
    det = registry.create(name, contamination=0.2, random_state=3)
    assert det.contamination == 0.2 and det.random_state == 3
    assert not [a for a in vars(det) if a.endswith("_") and not a.startswith("__")]
    assert isinstance(det, Detector) and det.view in ("peer", "self", "raw") and det.help
    for bad in ({"contamination": 0.0}, {"contamination": 0.7}, {"contamination": "x"}, {"random_state": 1.5}):
        with pytest.raises(InvalidInput):
            registry.create(name, **bad)
    with pytest.raises(InvalidInput):
        registry.create(name, no_such_option=1)


@pytest.mark.parametrize("name", NAMES)
def test_fit_and_score(name: str, data: dict[str, Any]) -> None:
    X = data[registry.get(name).view]
    det = registry.create(name, contamination=0.1)
    with pytest.raises(NotFitted):
        det.decision_function(X)
    assert det.fit(X) is det
    fitted = [a for a in vars(det) if a.endswith("_")]
    assert {"n_features_in_", "decision_scores_", "threshold_", "labels_"} <= set(fitted)
    assert det.decision_scores_.shape == (X.shape[0],)
    assert set(np.unique(det.labels_)) <= {0, 1}
    assert abs(det.labels_.mean() - 0.1) <= 0.1
    scores = det.decision_function(X[:7])
    assert scores.shape == (7,) and np.isfinite(scores).all()
    assert set(np.unique(det.predict(X))) <= {0, 1}
    with pytest.raises(InvalidInput):
        det.decision_function(X[:, :-1])
    bad = X[:3].copy()
    bad[0, 0] = np.nan
    with pytest.raises(InvalidInput):
        det.decision_function(bad)
    with pytest.raises(InvalidInput):
        registry.create(name).fit(X[0])


@pytest.mark.parametrize("name", NAMES)
def test_quality_floor_and_determinism(name: str, data: dict[str, Any]) -> None:
    X = data[registry.get(name).view]
    first = registry.create(name, random_state=5).fit(X).decision_scores_
    again = registry.create(name, random_state=5).fit(X).decision_scores_
    np.testing.assert_allclose(first, again)
    assert roc_auc_score(data["y"], first) >= AUC_FLOOR


@pytest.mark.parametrize("name", NAMES)
def test_constant_columns_do_no_harm(name: str, data: dict[str, Any]) -> None:
    X = data[registry.get(name).view].copy()
    X[:, :3] = 0.0
    scores = registry.create(name).fit(X).decision_scores_
    assert np.isfinite(scores).all()


def test_an_extension_registers_like_a_builtin() -> None:
    @registry.register
    class Loudest(Detector):
        name = "test_loudest"
        view = "peer"
        help = "largest absolute value"

        def _fit(self, X: np.ndarray) -> np.ndarray:
            return self._score(X)

        def _score(self, X: np.ndarray) -> np.ndarray:
            return np.abs(X).max(axis=1)

    try:
        assert registry.get("test_loudest") is Loudest
        assert "test_loudest" in registry.names()

        class Other(Loudest):
            pass

        with pytest.raises(InvalidInput):
            registry.register(Other)        # same name, another class
        with pytest.raises(InvalidInput):
            registry.register(int)          # type: ignore[type-var]
    finally:
        registry.unregister("test_loudest")
    assert "test_loudest" not in registry.names()
