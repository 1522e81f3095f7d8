"""schemathesis against the collector's own OpenAPI document: no input makes it answer 5xx."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from collector.api import create_app
from collector.cli import main as collector_main
from collector.service import Collector
from tests.conftest import DATA_DIRS

_DATA = Path(__import__("tempfile").mkdtemp(prefix="sg-fuzz-")) / "collector"
assert collector_main(["init", "--data", str(_DATA)]) == 0
DATA_DIRS.append(_DATA)
_COLLECTOR = Collector.open(_DATA)
APP = create_app(_COLLECTOR)
schema = schemathesis.openapi.from_asgi("/api/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_collector_fail(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.path} -> {response.status_code}: {response.text[:300]}"
    if response.status_code >= 400 and response.headers.get("content-type", [""])[0].startswith("application/json"):
        body = response.json()
        assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body


def test_schema_lists_the_contract_routes() -> None:
    paths = set(APP.openapi()["paths"])
    assert {"/api/v1/enroll", "/api/v1/batches", "/api/v1/agents", "/api/v1/agents/{agent_id}/timeline",
            "/healthz", "/metrics"} <= paths


@pytest.fixture(scope="module", autouse=True)
def _close() -> object:
    yield None
    _COLLECTOR.close()
