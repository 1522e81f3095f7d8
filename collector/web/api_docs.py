"""The API reference at ``/api/docs``: off unless the ``api_docs`` setting is true.

FastAPI's own documentation pages load Swagger UI or ReDoc from a CDN, a third-party host no
SeatGuard page may name; no package in this build ships those assets. So the collector turns them
off and, when asked to, renders its own reference instead: one server-made page (no script) listing
every route of the OpenAPI document (``/api/openapi.json``, always served) with its parameters and
answers, under the same Content-Security-Policy as every other page.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from collector.web.site import Web

METHODS = ("get", "post", "put", "patch", "delete")


def routes(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's operations, in path order: method, path, summary, parameters and answer codes."""
    out = []
    for path, item in sorted(spec.get("paths", {}).items()):
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            params = [{"name": p.get("name", ""), "where": p.get("in", ""), "required": bool(p.get("required"))}
                      for p in op.get("parameters", []) if isinstance(p, dict)]
            out.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                        "description": op.get("description", ""), "params": params,
                        "body": "requestBody" in op, "answers": sorted(str(c) for c in op.get("responses", {}))})
    return out


def register(app: FastAPI, web: Web) -> None:
    if not web.collector.settings.api_docs:
        return

    @app.get("/api/docs", include_in_schema=False)
    def api_docs(request: Request) -> Response:
        spec = app.openapi()
        return web.render(request, "api_docs.html", {"routes": routes(spec), "title": spec["info"]["title"],
                                                     "version": spec["info"]["version"]},
                          who=web.maybe_who(request))
