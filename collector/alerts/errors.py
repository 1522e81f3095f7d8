"""Exceptions of the real-time alerts package.

Every one derives from :class:`collector.errors.CollectorError`, so the HTTP layer answers with the
collector's one error shape::

    CollectorError
    ├── ConfigError
    │   └── AlertConfigError (500 config)   an alert setting is invalid (raised at start-up; declared in
    │                                        collector.errors with the settings table it guards)
    └── AlertError (500 alerts)             base of this package
        └── DeliveryFailed (502 delivery)    one channel could not take one payload; ``permanent``
                                             says whether retrying can help (a 4xx answer cannot)

Foreign exceptions (``OSError``, ``http.client`` errors) are wrapped at the channel boundary.
"""

from __future__ import annotations

from collector.errors import AlertConfigError, CollectorError

__all__ = ["AlertConfigError", "AlertError", "DeliveryFailed"]


class AlertError(CollectorError):
    code = "alerts"


class DeliveryFailed(AlertError):
    status = 502
    code = "delivery"

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
