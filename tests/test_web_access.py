"""Role-by-route matrix: every API route and page, for every role, answers as the scope rules say, and is audited.

Roles: admin, security, a manager of the agent's team, a manager of another team, an auditor, the
agent themselves, and an anonymous caller. Refusals (403) must leave an audit record with
allowed = false; reads of timelines, reports, the audit log and one's own activity leave one with
allowed = true. People use session cookies (with CSRF); a second test repeats the API rows with
bearer tokens, which must carry exactly the same scope.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from contract import wire
from tests.web_fixtures import PASSWORD, World

WHO = {"admin": "root", "security": "sec", "mgr_own": "mgr-a", "mgr_other": "mgr-b", "auditor": "aud",
       "agent": "pc-a1-person", "anon": None}
COLS = tuple(WHO)
LOGIN = 303  # a page asked for without a session sends the browser to the sign-in form


def row(*codes: int) -> dict[str, int]:
    assert len(codes) == len(COLS)
    return dict(zip(COLS, codes, strict=True))


#                               admin sec  own  other aud  agent anon
READ_PEOPLE = row(200, 200, 200, 200, 200, 200, 401)
TIMELINE_A1 = row(200, 200, 200, 403, 403, 200, 401)
TIMELINE_B1 = row(200, 200, 403, 200, 403, 403, 401)
REPORT = row(200, 200, 200, 200, 403, 403, 401)
REVIEW = row(200, 200, 403, 403, 403, 403, 401)
WALL = row(200, 200, 200, 200, 403, 403, 401)
AUDIT = row(200, 200, 403, 403, 200, 403, 401)
ME = row(403, 403, 403, 403, 403, 200, 401)
OPEN = row(200, 200, 200, 200, 200, 200, 200)
SHIFTS_A1 = row(200, 200, 200, 403, 403, 403, 401)       # security reads shifts, managers their teams'
SHIFT_EDIT_A1 = row(200, 403, 200, 403, 403, 403, 401)   # admins and the agent's own managers edit them
ADMIN_ONLY = row(200, 403, 403, 403, 403, 403, 401)


def page(codes: dict[str, int]) -> dict[str, int]:
    return {k: (LOGIN if v == 401 else v) for k, v in codes.items()}


ADMIN_PAGE = page(row(200, 403, 403, 403, 403, 403, 401))
ADMIN_ACTION = page(row(303, 403, 403, 403, 403, 403, 401))
KEY = wire.public_key_b64(wire.new_agent_key().public_key())


def api_matrix(day: str) -> list[tuple[str, str, Any, dict[str, int], str | None]]:
    """(method, path, body, expected status per role, audit action a 200 must record)."""
    labels = {"agent_id": "pc-a1", "label": "confirmed", "note": "matrix"}
    return [
        ("GET", "/api/v1/agents", None, READ_PEOPLE, None),
        ("GET", f"/api/v1/agents/pc-a1/timeline?date={day}", None, TIMELINE_A1, "read_timeline"),
        ("GET", f"/api/v1/agents/pc-b1/timeline?date={day}", None, TIMELINE_B1, "read_timeline"),
        ("GET", f"/api/v1/reports/{day}", None, REPORT, "read_report"),
        ("POST", f"/api/v1/reports/{day}/labels", labels, REVIEW, "label_finding"),
        ("GET", "/api/v1/wall", None, WALL, "read_wall"),
        ("GET", "/api/v1/wall/events?once=true", None, WALL, None),
        ("GET", "/api/v1/audit?actor=mgr", None, AUDIT, "read_audit"),
        ("GET", f"/api/v1/me?date={day}", None, ME, "read_timeline"),
        ("GET", f"/api/v1/alerts?date={day}", None, WALL, "read_alerts"),
        ("GET", "/api/v1/agents/pc-a1/screenshots/nope", None, row(404, 404, 403, 403, 403, 403, 401), None),
        ("POST", "/api/v1/blobs", b"not a blob", row(400, 400, 400, 400, 400, 400, 400), None),
        ("POST", "/api/v1/alerts/999999/ack", {"note": "matrix"}, row(404, 404, 404, 404, 404, 404, 401), None),
        ("GET", "/api/v1/agents/pc-a1/shifts", None, SHIFTS_A1, "read_shifts"),
        ("POST", "/api/v1/agents/pc-a1/shifts", {"date": "2099-01-05", "start": "18:00", "end": "20:00",
                                                "overtime": True}, SHIFT_EDIT_A1, "set_shift"),
        ("POST", "/api/v1/agents/pc-a1/shifts/clear", {"date": "2099-01-05"}, SHIFT_EDIT_A1, "clear_shift"),
        ("GET", "/api/v1/alerts/dead-letters", None, row(200, 403, 403, 403, 403, 403, 401), "read_dead_letters"),
        ("GET", "/api/v1/policy", None, row(200, 403, 403, 403, 403, 403, 401), "read_policy"),
        ("POST", "/api/v1/policy", {"policy": {"spy": True}}, row(400, 403, 403, 403, 403, 403, 401), None),
        ("POST", "/api/v1/alerts/dead-letters/999999/retry", None, row(404, 403, 403, 403, 403, 403, 401), None),
        ("GET", "/api/v1/holds", None, ADMIN_ONLY, "read_legal_holds"),
        ("POST", "/api/v1/agents/pc-a1/hold", {"reason": "matrix"}, ADMIN_ONLY, "set_legal_hold"),
        ("POST", "/api/v1/agents/pc-a1/hold/lift", {"reason": "matrix"}, ADMIN_ONLY, "lift_legal_hold"),
        # agent-facing routes: a person's session or token grants nothing there
        ("POST", "/api/v1/enroll", {"token": "sgt_nope", "public_key": KEY, "name": "pc-x"},
         row(401, 401, 401, 401, 401, 401, 401), None),
        ("POST", "/api/v1/batches", b"not a batch", row(400, 400, 400, 400, 400, 400, 400), None),
        ("POST", "/api/v1/signing-keys", b"not a sealed nonce", row(400, 400, 400, 400, 400, 400, 400), None),
        ("GET", "/healthz", None, OPEN, None),
        ("GET", "/metrics", None, OPEN, None),
    ]


def page_matrix(day: str) -> list[tuple[str, str, Any, dict[str, int], str | None]]:
    policy = json.dumps({"idle_threshold_s": 240})
    return [
        ("GET", "/", None, row(303, 303, 303, 303, 303, 303, 303), None),
        ("GET", "/login", None, row(303, 303, 303, 303, 303, 303, 200), None),
        ("GET", f"/report?date={day}", None, page(REPORT), "read_report"),
        ("GET", f"/report?date={day}&severity=high&team=cs-b", None, page(REPORT), "read_report"),
        ("GET", f"/agents/pc-a1/timeline?date={day}", None, page(TIMELINE_A1), "read_timeline"),
        ("GET", f"/agents/pc-b1/timeline?date={day}", None, page(TIMELINE_B1), "read_timeline"),
        ("GET", "/wall", None, page(WALL), "read_wall"),
        ("GET", "/alerts", None, page(WALL), "read_alerts"),
        ("GET", "/audit?allowed=no", None, page(AUDIT), "read_audit"),
        ("GET", "/audit.csv", None, page(AUDIT), "export_audit"),
        ("GET", f"/me?date={day}", None, page(ME), "read_timeline"),
        ("GET", "/admin", None, ADMIN_PAGE, "read_admin"),
        ("GET", "/shifts", None, page(row(200, 200, 200, 200, 403, 403, 401)), "read_shifts"),
        ("POST", "/shifts", {"agent_id": "pc-a1", "date": "2099-01-06", "start": "07:00", "end": "16:00"},
         page(row(303, 403, 303, 403, 403, 403, 401)), "set_shift"),
        ("POST", "/shifts/clear", {"agent_id": "pc-a1", "day": "2099-01-06"},
         page(row(303, 403, 303, 403, 403, 403, 401)), "clear_shift"),
        ("POST", "/report/build", {"date": day}, page(row(303, 303, 403, 403, 403, 403, 401)), "build_report"),
        ("POST", "/admin/enroll-token", {"team": "cs-c"}, ADMIN_PAGE, "create_enroll_token"),
        ("POST", "/admin/users", {"name": "newbie", "role": "auditor"}, ADMIN_PAGE, "add_user"),
        ("POST", "/admin/users/aud/enable", {}, ADMIN_ACTION, "enable_user"),
        ("POST", "/admin/policy", {"policy": policy}, ADMIN_PAGE, "update_policy"),
        ("POST", "/admin/holds", {"agent_id": "pc-a2", "reason": "matrix"}, ADMIN_ACTION, "set_legal_hold"),
        ("POST", "/admin/holds/pc-a2/lift", {"reason": "matrix"}, ADMIN_ACTION, "lift_legal_hold"),
        ("POST", "/admin/agents/pc-b2/revoke", {}, ADMIN_ACTION, "revoke_agent"),
    ]


class People:
    """One signed-in TestClient per person (cookies and CSRF token), one without a session."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.clients: dict[str, TestClient] = {}
        self.csrf: dict[str, str] = {}
        for col, name in WHO.items():
            client = TestClient(world.app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000),
                                follow_redirects=False)
            if name is not None:
                form = client.get("/login")
                token = re.search(r'name="csrf" value="([^"]+)"', form.text)
                assert token
                done = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": token.group(1)})
                assert done.status_code == 303, done.text
                home = client.get(done.headers["location"])
                meta = re.search(r'<meta name="csrf-token" content="([^"]+)">', home.text)
                assert meta, home.text[:500]
                self.csrf[col] = meta.group(1)
            self.clients[col] = client

    def call(self, col: str, method: str, path: str, body: Any) -> httpx.Response:
        client = self.clients[col]
        headers = {"x-csrf-token": self.csrf[col]} if col in self.csrf else {}
        if method == "GET":
            return client.get(path)
        if isinstance(body, bytes):
            return client.post(path, content=body, headers={**headers, "content-type": "application/json"})
        if path.startswith("/api/"):
            return client.post(path, json=body, headers=headers)
        return client.post(path, data={**body, "csrf": self.csrf.get(col, "")})

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("web-matrix") / "collector")
    w.populate()
    yield w
    w.close()


@pytest.fixture(scope="module")
def people(world: World) -> Iterator[People]:
    p = People(world)
    yield p
    p.close()


def _last_audit_id(world: World) -> int:
    rows = world.collector.access.audit_log(limit=1)
    return int(rows[0]["id"]) if rows else 0


def _check(world: World, people: People, matrix: list[tuple[str, str, Any, dict[str, int], str | None]]) -> None:
    failures = []
    for method, path, body, expected, audited in matrix:
        for col in COLS:
            before = _last_audit_id(world)
            got = people.call(col, method, path, body)
            new = [r for r in world.collector.access.audit_log(limit=50) if r["id"] > before]
            name = WHO[col]
            if got.status_code != expected[col]:
                failures.append(f"{method} {path} as {col}: {got.status_code}, expected {expected[col]}")
                continue
            if got.status_code == 403 and not any(r["actor"] == name and not r["allowed"] for r in new):
                failures.append(f"{method} {path} as {col}: refused but not audited")
            if got.status_code == 403 and path.startswith("/api/"):
                assert got.json()["error"]["code"] == "forbidden", got.text
            recorded = any(r["actor"] == name and r["allowed"] and r["action"] == audited for r in new)
            if got.status_code in (200, 303) and audited and name is not None and not recorded:
                failures.append(f"{method} {path} as {col}: allowed but no {audited!r} audit record")
            if got.status_code == LOGIN and col == "anon" and path not in ("/", "/login"):
                assert got.headers["location"].startswith("/login?next="), got.headers
    assert not failures, "\n".join(failures)


def test_api_routes_by_role(world: World, people: People) -> None:
    _check(world, people, api_matrix(world.yesterday.isoformat()))


def test_pages_by_role(world: World, people: People) -> None:
    _check(world, people, page_matrix(world.yesterday.isoformat()))


def test_every_api_route_is_in_the_matrix(world: World) -> None:
    covered = {re.sub(r"\?.*", "", p) for _m, p, *_ in api_matrix("D")}
    covered = {re.sub(r"/agents/pc-[ab]1/", "/agents/{agent_id}/", p).replace("/D", "/{day}") for p in covered}
    covered = {p.replace("/alerts/999999/", "/alerts/{alert_id}/")
               .replace("/dead-letters/999999/", "/dead-letters/{delivery_id}/")
               .replace("/screenshots/nope", "/screenshots/{blob_id}") for p in covered}
    routes = {getattr(r, "path", "") for r in world.app.routes}
    api = {p for p in routes if p.startswith("/api/v1/") or p in ("/healthz", "/metrics")}
    assert api <= covered, f"routes missing from the matrix: {sorted(api - covered)}"


def test_bearer_tokens_carry_the_same_scope(world: World) -> None:
    day = world.yesterday.isoformat()
    client = world.client
    for col, name in WHO.items():
        if name is None:
            continue
        headers = {"Authorization": f"Bearer {world.collector.accounts.create_token(name)}"}
        for method, path, body, expected, _audited in api_matrix(day)[:9]:
            if method == "GET":
                got = client.get(path, headers=headers)
            else:
                got = client.post(path, json=body, headers=headers)  # no CSRF needed: no cookie involved
            assert got.status_code == expected[col], f"{method} {path} as {col} (token): {got.status_code}"


def test_manager_sees_only_own_team_in_lists(world: World, people: People) -> None:
    day = world.yesterday.isoformat()
    mine = people.call("mgr_own", "GET", "/api/v1/agents", None).json()["agents"]
    assert {a["team"] for a in mine} == {"cs-a"}
    report = people.call("mgr_own", "GET", f"/api/v1/reports/{day}", None).json()
    assert report["findings"] and {f["team"] for f in report["findings"]} == {"cs-a"}
    other = people.call("mgr_other", "GET", f"/api/v1/reports/{day}", None).json()
    assert {f["agent_id"] for f in other["findings"]} == {"pc-b1"}
    wall = people.call("mgr_other", "GET", "/api/v1/wall", None).json()["agents"]
    assert {a["agent_id"] for a in wall} <= {"pc-b1", "pc-b2"} and wall
    assert people.call("agent", "GET", "/api/v1/agents", None).json()["agents"][0]["agent_id"] == "pc-a1"
    assert people.call("auditor", "GET", "/api/v1/agents", None).json()["agents"] == []


def test_refused_timeline_is_audited_with_who_what_when_where(world: World, people: People) -> None:
    day = world.yesterday.isoformat()
    before = _last_audit_id(world)
    assert people.call("mgr_other", "GET", f"/agents/pc-a1/timeline?date={day}", None).status_code == 403
    rec = [r for r in world.collector.access.audit_log(limit=20) if r["id"] > before]
    assert [(r["actor"], r["action"], r["target"], r["allowed"], r["remote"]) for r in rec] == [
        ("mgr-b", "read_timeline", "pc-a1", False, "127.0.0.1")]
    assert rec[0]["at"] > 0


def test_errors_keep_the_json_shape_on_api_and_are_pages_elsewhere(people: People) -> None:
    api = people.call("auditor", "GET", "/api/v1/agents/pc-a1/timeline?date=2026-01-01", None)
    assert api.status_code == 403 and set(api.json()) == {"error"}
    html = people.call("auditor", "GET", "/agents/pc-a1/timeline?date=2026-01-01", None)
    assert html.status_code == 403 and html.headers["content-type"].startswith("text/html")
    assert "Content-Security-Policy" in html.headers
    missing = people.call("security", "GET", "/agents/nobody/timeline?date=2026-01-01", None)
    assert missing.status_code == 404
    bad_day = people.call("security", "GET", "/report?date=yesterday", None)
    assert bad_day.status_code == 404


def test_pages_keep_working_after_the_run(people: People) -> None:
    """The matrix revoked pc-b2 and changed the policy; the admin page shows both."""
    text = people.call("admin", "GET", "/admin", None).text
    assert 'id="agent-row-pc-b2" class="revoked"' in text
    assert "240" in text
