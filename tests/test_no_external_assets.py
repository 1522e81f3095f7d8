"""No page loads anything from a third-party host; the API docs page is off by default and, when on,
is rendered here under the site's Content-Security-Policy (issue 14 item 11)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from collector.api import create_app
from collector.cli import main as collector_main
from collector.service import Collector
from collector.web.site import CSP
from tests.conftest import DATA_DIRS
from tests.web_fixtures import World, signed_in

# src/href/action/poster/data attributes, srcset, CSS url() and @import naming a host of their own
EXTERNAL = re.compile(r"""(?:\b(?:src|href|action|poster|data|srcset|formaction)\s*=\s*["']?\s*(?:https?:)?//)"""
                      r"""|(?:url\(\s*["']?\s*(?:https?:)?//)|(?:@import\s+["']?(?:url\()?\s*["']?(?:https?:)?//)""",
                      re.IGNORECASE)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("assets") / "collector")
    w.populate()
    yield w
    w.close()


def _get_paths(app: object, values: dict[str, str]) -> list[str]:
    """Every GET route of the app, path parameters filled in with real values."""
    paths = []
    for route in app.routes:  # type: ignore[attr-defined]
        if not isinstance(route, APIRoute | Route) or "GET" not in (route.methods or set()):
            continue
        paths.append(re.sub(r"{(\w+)(?::\w+)?}", lambda m: values[m.group(1)], route.path))
    return sorted(set(paths))


def test_no_page_of_any_get_route_names_a_third_party_host(world: World) -> None:
    day = world.yesterday.isoformat()
    alerts = world.collector.alerts.store.search(None, None, None, None, None, 1)
    values = {"agent_id": "pc-a1", "blob_id": "none", "day": day, "date": day, "name": "mgr-a",
              "alert_id": str(alerts[0].id) if alerts else "1", "delivery_id": "1", "path": "app.css"}
    paths = _get_paths(world.app, values)
    assert {"/report", "/wall", "/alerts", "/audit", "/admin", "/login", "/me"} <= set(paths)
    checked = 0
    for who in ("root", "pc-a1-person"):
        client = signed_in(world.app, who)
        for path in paths:
            if path == "/api/v1/wall/events":
                path += "?once=true"
            resp = client.get(path, params={"date": day} if "timeline" in path else None)
            assert resp.status_code < 500, (path, resp.status_code)
            if not resp.headers.get("content-type", "").startswith("text/html"):
                continue
            checked += 1
            assert not EXTERNAL.search(resp.text), (who, path, EXTERNAL.search(resp.text))
            assert resp.headers.get("content-security-policy") == CSP, (who, path)
        for css in ("/static/app.css",):
            assert not EXTERNAL.search(client.get(css).text)
    assert checked >= 10
    assert "default-src 'self'" in CSP and "script-src 'self'" in CSP


def test_api_docs_are_off_by_default(world: World) -> None:
    client = signed_in(world.app, "root")
    for path in ("/api/docs", "/api/redoc", "/docs", "/redoc", "/api/docs/oauth2-redirect"):
        assert client.get(path).status_code == 404, path
    spec = client.get("/api/openapi.json")
    assert spec.status_code == 200 and "/api/v1/batches" in spec.json()["paths"]


def test_api_docs_when_enabled_are_rendered_here_under_the_site_csp(tmp_path: Path) -> None:
    data = tmp_path / "collector"
    assert collector_main(["init", "--data", str(data)]) == 0
    DATA_DIRS.append(data)
    collector = Collector.open(data, {"api_docs": True})
    try:
        client = TestClient(create_app(collector), base_url="http://127.0.0.1")
        resp = client.get("/api/docs")
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
        assert resp.headers["content-security-policy"] == CSP
        assert not EXTERNAL.search(resp.text) and "<script" not in resp.text
        assert 'id="op-post-/api/v1/batches"' in resp.text and 'id="op-get-/api/v1/agents"' in resp.text
        assert "swagger" not in resp.text.lower() and "cdn" not in resp.text.lower()
        assert client.get("/api/redoc").status_code == 404
        client.close()
    finally:
        collector.close()
