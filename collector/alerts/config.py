"""Alert settings, as the alert package uses them.

They are declared once, as the ``alert_*`` rows of the collector's settings table:
:class:`collector.config.AlertConfig` (fields, defaults, help and checks), built at start-up by
:func:`collector.config.load_settings` into ``Settings.alerts``. This module names them for the alert
package's modules; :func:`host_port` parses a syslog receiver's address.
"""

from __future__ import annotations

from collector.config import ALERT_SETTINGS, AlertConfig, host_port

__all__ = ["ALERT_SETTINGS", "AlertConfig", "host_port"]
