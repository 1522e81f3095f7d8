"""Sessions, CSRF, lockout and languages of the web UI (in-process, no users' data needed)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from collector.accounts import MAX_FAILURES
from collector.storage import tables as t
from collector.web.i18n import STRINGS, Translator, from_accept_language
from collector.web.sessions import PREFIX, SESSION_COOKIE
from collector.web.site import TEMPLATES
from tests.web_fixtures import PASSWORD, World, csrf_of


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Shared by the tests here: each signs in as a different person, or only once locks someone out."""
    w = World(tmp_path_factory.mktemp("web-sessions") / "collector")
    yield w
    w.close()


def _client(world: World, base: str = "http://127.0.0.1", host: str = "127.0.0.1") -> TestClient:
    return TestClient(world.app, base_url=base, client=(host, 50000), follow_redirects=False)


def _login(client: TestClient, name: str, password: str = PASSWORD) -> httpx.Response:
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"name": name, "password": password, "csrf": token})


def _sessions(world: World) -> dict[str, str]:
    with world.collector.store._read() as conn:
        rows = conn.execute(select(t.kv.c.key, t.kv.c.value).where(t.kv.c.key.startswith(PREFIX))).all()
    return {str(k): str(v) for k, v in rows}


def _set_cookies(resp: httpx.Response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in resp.headers.get_list("set-cookie")}


def test_session_cookie_flags_over_loopback_http(world: World) -> None:
    with _client(world) as client:
        done = _login(client, "sec")
        assert done.status_code == 303 and done.headers["location"] == "/report"
        cookie = _set_cookies(done)[SESSION_COOKIE].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        assert "secure" not in cookie and "max-age" not in cookie and "expires" not in cookie
        sid = client.cookies[SESSION_COOKIE]
        assert len(sid) >= 40
        stored = _sessions(world)
        assert stored and not any(sid in key or sid in value for key, value in stored.items())  # only a hash


def test_session_cookie_is_secure_over_https(world: World) -> None:
    with _client(world, base="https://127.0.0.1") as client:
        login_form = client.get("/login")
        assert "secure" in _set_cookies(login_form)["seatguard_login"].lower()
        done = _login(client, "sec")
        assert "secure" in _set_cookies(done)[SESSION_COOKIE].lower()


def test_plain_http_sign_in_is_refused_for_remote_clients(world: World) -> None:
    with _client(world, host="10.20.30.40") as client:
        refused = _login(client, "sec")
        assert refused.status_code == 403 and "HTTPS" in refused.text
        assert SESSION_COOKIE not in client.cookies


def test_new_session_id_at_every_sign_in_and_logout_ends_it(world: World) -> None:
    with _client(world) as other:
        _login(other, "sec")
        first = other.cookies[SESSION_COOKIE]
    with _client(world) as client:
        client.cookies.set(SESSION_COOKIE, "planted-by-someone-else")  # session fixation attempt
        done = _login(client, "sec")
        second = _set_cookies(done)[SESSION_COOKIE].split(";")[0].split("=", 1)[1]
        assert second not in (first, "planted-by-someone-else")
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, second)
        page = client.get("/report")
        assert page.status_code == 200
        bye = client.post("/logout", data={"csrf": csrf_of(page.text)})
        assert bye.status_code == 303 and bye.headers["location"] == "/login?bye=1"
    with _client(world) as replay:  # the old cookie is dead on the server, not just in the browser
        replay.cookies.set(SESSION_COOKIE, second)
        assert replay.get("/report").status_code == 303
        assert replay.get("/api/v1/agents").status_code == 401


def test_idle_session_expires(world: World) -> None:
    with _client(world) as client:
        _login(client, "sec")
        assert client.get("/report").status_code == 200
        for key, value in _sessions(world).items():
            record = json.loads(value)
            record["seen_at"] -= 31 * 60
            world.collector.store.set_kv(key, json.dumps(record))
        gone = client.get("/report")
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login?next=%2Freport")


def test_csrf_is_required_on_forms_and_json_posts(world: World) -> None:
    with _client(world) as client:
        _login(client, "root")
        page = client.get("/admin")
        token = csrf_of(page.text)
        no_token = client.post("/admin/enroll-token", data={"team": "cs-z"})
        wrong = client.post("/admin/enroll-token", data={"team": "cs-z", "csrf": "x" * 43})
        assert no_token.status_code == wrong.status_code == 403
        assert "表单已过期" in no_token.text or "form expired" in no_token.text
        ok = client.post("/admin/enroll-token", data={"team": "cs-z", "csrf": token})
        assert ok.status_code == 200 and "sgt_" in ok.text
        label = {"agent_id": "pc-a1", "label": "benign"}
        day = world.yesterday.isoformat()
        bare = client.post(f"/api/v1/reports/{day}/labels", json=label)
        assert bare.status_code == 403 and bare.json()["error"]["code"] == "csrf"
        with_header = client.post(f"/api/v1/reports/{day}/labels", json=label, headers={"X-CSRF-Token": token})
        assert with_header.status_code == 404  # past the CSRF check: there is simply no report yet
        assert client.post("/logout").status_code == 303
        assert client.get("/admin").status_code == 200  # a logout without the token does nothing
    with _client(world) as fresh:
        assert fresh.post("/login", data={"name": "root", "password": PASSWORD}).status_code == 403
        assert SESSION_COOKIE not in fresh.cookies


def _error_text(resp: httpx.Response) -> str:
    found = re.search(r'id="login-error">([^<]*)<', resp.text)
    assert found, "no sign-in error on the page"
    return found.group(1)


def test_repeated_failures_back_off_with_one_message_then_the_right_password_works(world: World) -> None:
    world.collector.accounts.add_user("gone", "security", password=PASSWORD)
    world.collector.accounts.set_disabled("gone", True)
    with _client(world, host="127.0.0.3") as client:  # an address of its own: its own rate-limit bucket
        for _ in range(MAX_FAILURES):
            wrong = _login(client, "mgr-a", "not the password")
            assert wrong.status_code == 401 and ("用户名或密码错误" in wrong.text or "Wrong user" in wrong.text)
        message = _error_text(wrong)
        backing_off = _login(client, "mgr-a")  # even the right password is not tried now ...
        unknown = _login(client, "no-such-user", "whatever")
        disabled = _login(client, "gone")
        assert backing_off.status_code == unknown.status_code == disabled.status_code == 401
        assert _error_text(backing_off) == _error_text(unknown) == _error_text(disabled) == message  # one message
        assert "锁定" not in backing_off.text and "locked" not in backing_off.text.lower()
        en = client.post("/login?lang=en", data={"name": "mgr-a", "password": PASSWORD,
                                                 "csrf": csrf_of(client.get("/login").text)})
        assert "Wrong user name or password" in en.text
        with _client(world, host="127.0.0.3") as other:
            assert _login(other, "sec").status_code == 303  # other accounts are unaffected
        with world.collector.store._write() as conn:  # the backoff runs out (at most BACKOFF_MAX_S) ...
            conn.execute(update(t.users).where(t.users.c.name == "mgr-a").values(locked_until=time.time() - 1))
        assert _login(client, "mgr-a").status_code == 303  # ... and the owner is let in
    with world.collector.store._read() as conn:
        row = conn.execute(select(t.users).where(t.users.c.name == "mgr-a")).one()
    assert row.failed == 0 and row.locked_until is None
    failures = world.collector.access.search(actor="mgr-a", action="login", allowed=False)
    assert len(failures) == MAX_FAILURES + 2 and {r["target"] for r in failures} == {"wrong_password", "backoff"}
    assert all(r["remote"] == "127.0.0.3" for r in failures)
    assert [r["target"] for r in world.collector.access.search(actor="no-such-user", action="login")] == [
        "unknown_user"]


def test_disabled_account_loses_its_session(world: World) -> None:
    with _client(world) as admin, _client(world) as victim:
        _login(victim, "mgr-b")
        assert victim.get("/report").status_code == 200
        _login(admin, "root")
        token = csrf_of(admin.get("/admin").text)
        assert admin.post("/admin/users/mgr-b/disable", data={"csrf": token}).status_code == 303
        assert victim.get("/report").status_code == 303
        assert admin.post("/admin/users/root/disable", data={"csrf": token}).status_code == 400


def test_next_parameter_only_redirects_within_the_site(world: World) -> None:
    with _client(world) as client:
        for target, expected in (("/wall", "/wall"), ("//evil.example/x", "/report"),
                                 ("https://evil.example/", "/report"), ("/\\evil", "/report")):
            token = csrf_of(client.get("/login").text)
            done = client.post("/login", data={"name": "sec", "password": PASSWORD, "csrf": token, "next": target})
            assert done.headers["location"] == expected, target
            client.cookies.clear()


def test_language_by_query_cookie_and_accept_language(world: World) -> None:
    with _client(world) as client:
        assert '<html lang="zh-CN">' in client.get("/login").text  # default
        en = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9,zh;q=0.5"})
        assert '<html lang="en">' in en.text and "Sign in" in en.text
        picked = client.get("/login?lang=zh-CN", headers={"Accept-Language": "en"})
        assert "登录" in picked.text and client.cookies["seatguard_lang"] == "zh-CN"
        remembered = client.get("/login", headers={"Accept-Language": "en"})
        assert '<html lang="zh-CN">' in remembered.text
    assert from_accept_language("fr, en;q=0.8, zh-TW;q=0.9") == "zh-CN"
    assert from_accept_language("de") is None


def test_every_template_string_exists_in_both_languages() -> None:
    used: set[str] = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_.]+)["']""", path.read_text(encoding="utf-8")))
    dynamic = {k for k in STRINGS if k.startswith(("role.", "severity.", "label.", "wall.state.", "timeline.lane."))}
    missing = sorted(k for k in used if k not in STRINGS and not k.endswith("."))
    assert not missing, f"template keys without text: {missing}"
    assert dynamic and all(all(pair) for pair in STRINGS.values())
    assert Translator("en")("admin.retention_text", days=180, tz="Asia/Shanghai").startswith("Events are purged")
