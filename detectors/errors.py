"""Exceptions raised by :mod:`detectors` (rollups, detectors, scoring, reports).

Every error the package raises on purpose derives from :class:`DetectorError`::

    DetectorError
    ├── InvalidInput         a caller passed something unusable (bad event, context, policy,
    │   │                    feature matrix, label, option); carries a readable ``reason``
    │   └── ConfigError      a scoring / rule / threshold setting is unknown or out of range
    ├── UnknownDetector      no detector is registered under that name
    ├── NotFitted            ``decision_function`` / ``predict`` called before ``fit``
    ├── ModelError           a third-party model (pyod, scikit-learn, numpy) failed
    └── RenderError          a report could not be rendered

Foreign exceptions are wrapped where they cross into this package (``raise ModelError(...) from exc``),
so callers such as the collector only ever need to catch :class:`DetectorError`.
"""

from __future__ import annotations


class DetectorError(Exception):
    """Base class of every deliberate error of the detectors package."""


class InvalidInput(DetectorError):
    """An argument (event, context, policy, features, label, option) is not usable."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConfigError(InvalidInput):
    """A scoring, rule or threshold setting is unknown or out of range."""


class UnknownDetector(DetectorError):
    """No detector is registered under the requested name."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown detector {name!r} (known: {', '.join(known)})")
        self.name = name
        self.known = known


class NotFitted(DetectorError):
    """A detector was asked to score before it was fitted."""


class ModelError(DetectorError):
    """A third-party model failed while fitting or scoring."""


class RenderError(DetectorError):
    """A report could not be rendered."""
