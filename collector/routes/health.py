"""``/healthz`` (the database answers) and ``/metrics`` (Prometheus text)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, Response

from collector.service import Collector


def register(app: FastAPI, collector: Collector) -> None:
    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        collector.store.get_kv("schema_version")
        return {"status": "ok"}

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> Response:
        return Response(collector.metrics.render(), media_type="text/plain; version=0.0.4")
