"""API tokens expire and can be listed (never their secret) and revoked: CLI, a real serve, migration."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from collector.accounts import AccountService
from collector.errors import Unauthorized
from collector.storage import schema
from collector.storage.postgres import driver_url
from tests.conftest import COLLECTOR, CollectorProcess, run_cli, wait_for
from tests.storage_fixtures import BACKENDS, fresh_url, sql_store


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    c = CollectorProcess(tmp_path_factory.mktemp("api-tokens") / "collector")
    c.start()
    yield c
    c.kill()


def _create(c: CollectorProcess, *extra: str) -> tuple[str, str]:
    proc = subprocess.run([COLLECTOR, "token", "create", "--data", str(c.data), "--user", "admin", *extra],
                          capture_output=True, text=True, timeout=120, check=True)
    return proc.stdout.strip(), proc.stderr


def _status(c: CollectorProcess, token: str) -> tuple[int, str]:
    r = requests.get(c.url + "/api/v1/agents", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return r.status_code, r.json().get("error", {}).get("code", "")


def _list(c: CollectorProcess) -> tuple[str, list[dict[str, object]]]:
    out = run_cli(COLLECTOR, "token", "list", "--data", str(c.data))
    return out, json.loads(out)["tokens"]


def test_tokens_expire_list_without_their_secret_and_revoke(served: CollectorProcess) -> None:
    token, note = _create(served)
    assert token.startswith("sgk_") and "expires 20" in note and token not in note
    assert _status(served, token) == (200, "")
    short, _ = _create(served, "--expires-days", "0.0001")  # about 8.6 s: still valid on a loaded machine
    assert _status(served, short)[0] == 200
    out, tokens = _list(served)
    full = {hashlib.sha256(x.encode()).hexdigest() for x in (token, short)}
    assert token not in out and short not in out and not any(h in out for h in full)
    mine = {e["id"]: e for e in tokens}
    tid = hashlib.sha256(token.encode()).hexdigest()[:12]
    assert mine[tid]["state"] == "active" and mine[tid]["user"] == "admin"
    lifetime = float(mine[tid]["expires_at"]) - float(mine[tid]["created_at"])  # type: ignore[arg-type]
    assert abs(lifetime - 90 * 86400) < 5  # the default, setting api_token_days
    wait_for(lambda: _status(served, short) == (401, "unauthorized"), 30, what="the short token to expire")
    assert {e["id"]: e["state"] for e in _list(served)[1]}[hashlib.sha256(short.encode()).hexdigest()[:12]] == \
        "expired"
    revoked = json.loads(run_cli(COLLECTOR, "token", "revoke", "--data", str(served.data), "--id", tid))
    assert revoked == {"revoked": [tid]}
    assert _status(served, token) == (401, "unauthorized")
    assert {e["id"]: e["state"] for e in _list(served)[1]}[tid] == "revoked"
    # all of one user's live tokens at once; a wrong id or lifetime is a clear error
    a, _ = _create(served)
    b, _ = _create(served, "--expires-days", "7")
    both = json.loads(run_cli(COLLECTOR, "token", "revoke", "--data", str(served.data), "--user", "admin"))
    assert sorted(both["revoked"]) == sorted(hashlib.sha256(x.encode()).hexdigest()[:12] for x in (a, b))
    assert _status(served, a)[0] == _status(served, b)[0] == 401
    for bad in (["revoke", "--id", "xyz"], ["revoke", "--id", "0" * 12], ["create", "--user", "admin",
                                                                           "--expires-days", "0"]):
        proc = subprocess.run([COLLECTOR, "token", bad[0], "--data", str(served.data), *bad[1:]],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and proc.stderr.startswith("error: "), (bad, proc.stderr)


@pytest.mark.parametrize("backend", BACKENDS)
def test_revision_0005_gives_existing_tokens_a_lifetime(backend: str, tmp_path: Path) -> None:
    token = "sgk_made-before-expiry-existed"
    with fresh_url(backend, tmp_path) as url:
        engine = create_engine(driver_url(url))
        try:
            with engine.begin() as conn:
                schema.upgrade(conn, "0004")
                conn.execute(text("INSERT INTO users (name, role, teams, password_hash, failed, created_at, disabled)"
                                  " VALUES ('ops', 'security', '', 'x', 0, 1.0, false)"))
                conn.execute(text("INSERT INTO api_tokens (token_hash, \"user\", created_at) VALUES (:h, 'ops', 1.0)"),
                             {"h": hashlib.sha256(token.encode()).hexdigest()})
                schema.upgrade(conn)
                expires = conn.execute(text("SELECT expires_at FROM api_tokens")).scalar()
        finally:
            engine.dispose()
        assert expires is not None and abs(expires - (time.time() + 90 * 86400)) < 120
        store = sql_store(url)
        try:
            store.create_schema()
            accounts = AccountService(store)
            assert accounts.from_token(token).name == "ops"  # scripts keep working after the upgrade
            with store._write() as conn:
                conn.execute(text("UPDATE api_tokens SET expires_at = NULL"))
            with pytest.raises(Unauthorized, match="expired"):
                accounts.from_token(token)  # no expiry is no token
            with store._write() as conn:
                schema.downgrade(conn, "0004")
            assert store.schema_revision() == "0004" and store.get_kv("schema_version") == "4"
            assert store.migrate() == ("0004", schema.HEAD)
        finally:
            store.close()
