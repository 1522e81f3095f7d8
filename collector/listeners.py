"""Ingest listeners by name: what hears each committed batch (real-time alerts, the live wall).

:class:`IngestListeners` keeps the names of the callables in one :class:`collector.ingest.IngestService`'s
listener list, one listener per name. The built-ins register exactly as an extension would:
``alerts`` (:meth:`collector.alerts.service.AlertService.on_ingest`, by the collector) and ``wall``
(:func:`collector.wall.ingest_listener`, when the web UI is mounted and inside ``serve``). A listener is called
after the commit, on the ingest thread: it must queue and return, and a failing one never fails an ingest.
"""

from __future__ import annotations

import logging

from collector.errors import ConfigError
from collector.ingest import IngestListener

log = logging.getLogger(__name__)


class IngestListeners:
    def __init__(self, target: list[IngestListener]) -> None:
        self._target = target  # IngestService.listeners: the list ingest calls in order
        self._named: dict[str, IngestListener] = {}

    def register(self, name: str, listener: IngestListener, replace: bool = False) -> None:
        """Call ``listener`` after every committed batch. A name already taken by another listener is
        refused unless ``replace`` (then the old one stops hearing batches); the same pair again is a no-op."""
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"an ingest listener needs a plain name, not {name!r}")
        old = self._named.get(name)
        if old is listener or (old is not None and old == listener):
            return
        if old is not None:
            if not replace:
                raise ConfigError(f"ingest listener name {name!r} is already taken")
            self._drop(old)
        self._named[name] = listener
        self._target.append(listener)
        log.debug("ingest listener %s registered", name)

    def unregister(self, name: str) -> None:
        listener = self._named.pop(name, None)
        if listener is None:
            raise ConfigError(f"no ingest listener named {name!r} (known: {', '.join(self.names()) or 'none'})")
        self._drop(listener)

    def _drop(self, listener: IngestListener) -> None:
        if listener in self._target:
            self._target.remove(listener)

    def names(self) -> list[str]:
        """The registered names, in the order ingest calls them."""
        order = {id(fn): i for i, fn in enumerate(self._target)}
        return sorted(self._named, key=lambda n: order.get(id(self._named[n]), len(order)))

    def get(self, name: str) -> IngestListener | None:
        return self._named.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._named
