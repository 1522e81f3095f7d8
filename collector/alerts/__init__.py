"""Real-time alerts and SIEM export.

Rules of the daily report evaluated at ingest on the updated agent-day rollups (:mod:`.evaluate`),
"agent silent" noticed by the collector itself (:mod:`.silence`), alerts deduplicated, rate-limited
and acknowledged (stored through :mod:`collector.storage.alerts`), and delivered off the ingest thread
(:mod:`.outbox`) to the channels registered by name (:mod:`.channels`: the live wall, an HTTP webhook
(:mod:`.webhook`) and syslog (:mod:`.syslog`)); an ECS JSON-lines export of events and findings
(:mod:`.ecs`). :class:`~collector.alerts.service.AlertService` ties them together. Settings:
:data:`.config.ALERT_SETTINGS`.

This package's ``__init__`` imports only the settings and the model: the storage layer imports the model,
so the service (which imports the storage layer) is imported from :mod:`.service`.
"""

from __future__ import annotations

from collector.alerts.config import ALERT_SETTINGS, AlertConfig
from collector.alerts.model import Alert

__all__ = ["ALERT_SETTINGS", "Alert", "AlertConfig"]
