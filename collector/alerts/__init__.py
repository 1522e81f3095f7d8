"""Real-time alerts and SIEM export.

Rules of the daily report evaluated at ingest on the updated agent-day rollups (:mod:`.evaluate`),
"agent silent" noticed by the collector itself (:mod:`.silence`), alerts deduplicated, rate-limited
and acknowledged (:mod:`.store`), and delivered off the ingest thread (:mod:`.outbox`) to the live
wall, an HTTP webhook (:mod:`.webhook`) and syslog (:mod:`.syslog`); an ECS JSON-lines export of
events and findings (:mod:`.ecs`). Settings: :data:`.config.ALERT_SETTINGS`.
"""

from __future__ import annotations

from collector.alerts.config import ALERT_SETTINGS, AlertConfig
from collector.alerts.model import Alert
from collector.alerts.service import AlertService

__all__ = ["ALERT_SETTINGS", "Alert", "AlertConfig", "AlertService"]
