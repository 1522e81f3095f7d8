"""The collector runs on any :class:`collector.storage.base.Store`, not only on the SQL stores.

``InterfaceOnly`` is a backend made of nothing but the interface: every abstract method and
repository of ``Store`` forwards to a SQLite store it keeps, and nothing else is reachable. A
collector on it enrolls PCs, takes their sealed batches, signs people in, saves a policy, builds
the day's report, shows the wall and audits the reads; a service that reached past the interface
(a connection, a table, a backend's class) would fail here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from collector.storage import BACKENDS, Store, open_store
from collector.storage.sql import SqlStore
from tests.web_fixtures import AGENTS, World, signed_in


def interface_only(inner: Store) -> Store:
    """A Store that forwards exactly the interface to ``inner``."""
    def repository(name: str) -> property:
        return property(lambda _self: getattr(inner, name))

    def method(name: str) -> Any:
        return lambda _self, *args, **kwargs: getattr(inner, name)(*args, **kwargs)

    ns: dict[str, Any] = {"is_sqlite": inner.is_sqlite}
    for name in sorted(Store.__abstractmethods__):
        ns[name] = repository(name) if isinstance(getattr(Store, name), property) else method(name)
    store: Store = type("InterfaceOnly", (Store,), ns)()
    return store


def _open(url: str) -> Store:
    return interface_only(open_store("sqlite" + url[len("iface"):]))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("any-backend") / "collector"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(BACKENDS, "iface", _open)
        mp.setenv("SEATGUARD_DB_URL", f"iface:///{data / 'seatguard.db'}")
        w = World(data)
        w.populate()
        yield w
        w.close()


def test_the_collector_serves_on_a_store_that_is_only_the_interface(world: World) -> None:
    store = world.collector.store
    assert isinstance(store, Store) and not isinstance(store, SqlStore)
    stats = store.stats()
    assert stats["agents"] == len(AGENTS) and stats["events"] > 0
    day = world.yesterday.isoformat()
    sec = signed_in(world.app, "sec")
    report = sec.get(f"/api/v1/reports/{day}")
    assert report.status_code == 200 and report.json()["findings"]
    assert sec.get(f"/api/v1/agents/pc-a1/timeline?date={day}").json()["events"]
    assert signed_in(world.app, "mgr-a").get("/api/v1/wall").status_code == 200
    alerts = sec.get("/api/v1/alerts").json()["alerts"]  # the risky agents' days raised some
    assert {a["agent_id"] for a in alerts} & {"pc-a1", "pc-b1"}
    assert sec.get("/api/v1/agents/pc-b2/screenshots/none").status_code == 404
    from fastapi.testclient import TestClient

    bearer = {"authorization": f"Bearer {world.collector.accounts.create_token('root')}"}
    with TestClient(world.app, base_url="http://127.0.0.1") as root:
        policy = root.get("/api/v1/policy", headers=bearer).json()["policy"]
        saved = root.post("/api/v1/policy", headers=bearer,
                          json={"policy": {**policy, "idle_threshold_s": 240}, "version": policy["version"]})
        assert saved.status_code == 200, saved.text
        stale = root.post("/api/v1/policy", headers=bearer, json={"policy": policy, "version": policy["version"]})
        assert stale.status_code == 409
    assert world.collector.policy.current()["idle_threshold_s"] == 240
    actions = {r["action"] for r in world.collector.access.audit_log(500)}
    assert {"read_report", "read_timeline", "read_wall", "read_alerts", "read_screenshot"} <= actions
