"""The application factory: :func:`create_app` assembles the HTTP layer from named parts.

Each part is a ``register(app, collector)`` function, registered by name in :data:`APP_PARTS` (an
extension adds one with :func:`register_part`):

- ``health``: ``/healthz`` and ``/metrics`` (:mod:`collector.routes.health`);
- ``ingest``: what agents call, enrollment, batches, blobs, signing keys (:mod:`collector.routes.ingest`);
- ``query``: agents, timelines, reports and screenshots for people and scripts (:mod:`collector.routes.query`);
- ``alerts``: :mod:`collector.alerts.routes`; ``shifts``: :mod:`collector.shift_routes`;
- ``holds``: legal holds, set and lifted by admins (:mod:`collector.routes.holds`);
- ``web``: the server-rendered UI (:func:`collector.web.mount_web`; skipped, with a warning, in a build
  without it).

The JSON error shape and its handlers belong to the app, whatever parts it has. ``create_app(collector)``
mounts them all (:data:`DEFAULT_PARTS`); ``create_app(collector, ("health", "ingest"))`` is an
ingest-only collector (``seatguard-collector serve --parts health,ingest``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from collector import shift_routes
from collector.alerts import routes as alert_routes
from collector.errors import CollectorError, ConfigError, RateLimited, Rejected
from collector.ratelimit import retry_after
from collector.routes import health, holds, ingest, query
from collector.routes.common import error
from collector.service import Collector

log = logging.getLogger(__name__)
Part = Callable[[FastAPI, Collector], None]
APP_PARTS: dict[str, Part] = {}


def register_part(name: str, part: Part) -> None:
    """Make ``part`` mountable by ``name``; a name taken by another part is refused."""
    existing = APP_PARTS.get(name)
    if existing is not None and existing is not part:
        raise ConfigError(f"app part name {name!r} is already taken")
    APP_PARTS[name] = part


def _mount_web(app: FastAPI, collector: Collector) -> None:
    try:
        from collector.web import mount_web  # the UI's templates and pages; a build may leave them out
    except ImportError:
        log.warning("web UI not available in this build")
        return
    mount_web(app, collector)


for _name, _part in (("ingest", ingest.register), ("query", query.register), ("health", health.register),
                     ("alerts", alert_routes.register), ("shifts", shift_routes.register),
                     ("holds", holds.register), ("web", _mount_web)):
    register_part(_name, _part)
DEFAULT_PARTS = tuple(APP_PARTS)


def parse_parts(text: str | None) -> tuple[str, ...]:
    """``serve --parts``: comma-separated part names (None or empty: :data:`DEFAULT_PARTS`), checked."""
    parts = tuple(p.strip() for p in (text or "").split(",") if p.strip()) or DEFAULT_PARTS
    _check(parts)
    return parts


def _check(parts: Sequence[str]) -> None:
    unknown = [p for p in parts if p not in APP_PARTS]
    if unknown:
        raise ConfigError(f"unknown app part(s) {', '.join(unknown)} (known: {', '.join(APP_PARTS)})")
    if len(set(parts)) != len(parts):
        raise ConfigError(f"app parts named twice: {', '.join(parts)}")


def create_app(collector: Collector, parts: Sequence[str] = DEFAULT_PARTS) -> FastAPI:
    _check(parts)
    # FastAPI's Swagger UI and ReDoc pages load their scripts from a CDN: off (collector.web.api_docs)
    app = FastAPI(title="SeatGuard collector", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json")
    app.state.collector = collector
    app.state.accounts = collector.accounts  # collector.routes.common.principal: who is calling
    app.state.parts = tuple(parts)
    _error_handlers(app, collector)
    for name in parts:
        APP_PARTS[name](app, collector)
    log.debug("app assembled from %s", ", ".join(parts))
    return app


def _error_handlers(app: FastAPI, collector: Collector) -> None:
    @app.exception_handler(CollectorError)
    async def _collector_error(request: Request, exc: CollectorError) -> JSONResponse:
        if isinstance(exc, Rejected) and exc.code == "too_large":
            collector.ingest.reject("too_large", exc.message)
        headers = retry_after(exc) if isinstance(exc, RateLimited) else None
        return error(exc.status, exc.code, exc.message, headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        return error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error(400, "malformed", f"{where}: {first.get('msg', 'invalid request')}")
