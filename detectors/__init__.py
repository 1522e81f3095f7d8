"""SeatGuard detection: per agent-day rollups, detectors, the daily anomaly report.

The collector calls three things (none of them touches storage or HTTP):

- :class:`detectors.rollup.DayRollup` at ingest: ``new`` / ``from_state``, ``add(event)``,
  ``add_integrity(kind, count)``, ``to_state()``, ``features()``, ``evidence()``, ``strip()``;
- :func:`detectors.scoring.score_day` once a day, with :class:`~detectors.scoring.AgentDayInput`
  rows and each agent's feature history, giving a :class:`~detectors.scoring.DailyReport`;
- :func:`detectors.render.render_html` / :func:`~detectors.render.render_csv` and
  ``DailyReport.to_json()`` for the three report formats.

Detectors follow one contract (:mod:`detectors.base`) and are registered by name
(:mod:`detectors.registry`); errors are described in :mod:`detectors.errors`.
"""
