"""Sign-in: Argon2 outside the write lock, a capped backoff instead of a lock, one refusal for all,
and the per-client token buckets (the HTTP side is in test_signin_http.py)."""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from collector.accounts import BACKOFF_BASE_S, BACKOFF_MAX_S, MAX_FAILURES, AccountService, backoff_s
from collector.errors import RateLimited, SignInRefused
from collector.ratelimit import RateLimiter, client_key, retry_after
from collector.storage import tables as t
from collector.storage.sql import SqlStore

PASSWORD = "a long and right password"


def _refusal(accounts: AccountService, name: str, password: str) -> str:
    with pytest.raises(SignInRefused) as refused:
        accounts.login(name, password)
    assert refused.value.message == "wrong user name or password" and refused.value.code == "unauthorized"
    return refused.value.reason


def _row(store: SqlStore, name: str) -> Any:
    with store._read() as conn:
        return conn.execute(select(t.users).where(t.users.c.name == name)).one()


def _expire_backoff(store: SqlStore, name: str) -> None:
    with store._write() as conn:
        conn.execute(update(t.users).where(t.users.c.name == name).values(locked_until=time.time() - 1))


def test_the_backoff_doubles_from_the_fifth_failure_and_is_capped() -> None:
    assert [backoff_s(n) for n in range(MAX_FAILURES)] == [0.0] * MAX_FAILURES
    waits = [backoff_s(n) for n in range(MAX_FAILURES, MAX_FAILURES + 12)]
    assert waits[:3] == [BACKOFF_BASE_S, 2 * BACKOFF_BASE_S, 4 * BACKOFF_BASE_S]
    assert waits == sorted(waits) and max(waits) == BACKOFF_MAX_S == 15 * 60
    assert backoff_s(10**6) == BACKOFF_MAX_S


def test_nobody_locks_an_account_for_good(store: SqlStore) -> None:
    accounts = AccountService(store)
    accounts.add_user("admin", "admin", password=PASSWORD)
    for n in range(1, MAX_FAILURES + 1):
        assert _refusal(accounts, "admin", "guess") == "wrong_password"
        assert _row(store, "admin").failed == n
    before = time.time()
    until = _row(store, "admin").locked_until
    assert until is not None and before < until <= before + BACKOFF_BASE_S + 1
    # while it backs off, not even the right password is tried, and nothing more is counted
    assert _refusal(accounts, "admin", PASSWORD) == "backoff"
    assert _refusal(accounts, "admin", "guess") == "backoff"
    assert _row(store, "admin").failed == MAX_FAILURES
    # each failure after a backoff ran out waits twice as long, never longer than BACKOFF_MAX_S
    for n in range(12):
        _expire_backoff(store, "admin")
        assert _refusal(accounts, "admin", "guess") == "wrong_password"
        row = _row(store, "admin")
        assert row.locked_until - time.time() <= min(BACKOFF_BASE_S * 2 ** (n + 1), BACKOFF_MAX_S) + 1
    assert row.locked_until - time.time() > BACKOFF_MAX_S - 60
    # the backoff runs out: the owner's password works and clears the count
    _expire_backoff(store, "admin")
    assert accounts.login("admin", PASSWORD).role == "admin"
    row = _row(store, "admin")
    assert (row.failed, row.locked_until) == (0, None)
    assert _refusal(accounts, "admin", "guess") == "wrong_password" and _row(store, "admin").locked_until is None


def test_unknown_and_disabled_names_get_the_same_refusal_after_the_same_work(store: SqlStore) -> None:
    accounts = AccountService(store)
    accounts.add_user("real", "security", password=PASSWORD)
    accounts.add_user("gone", "security", password=PASSWORD)
    accounts.set_disabled("gone", True)
    assert _refusal(accounts, "gone", PASSWORD) == "disabled"
    accounts.login("real", PASSWORD)  # the dummy hash and Argon2 are warm

    def took(name: str) -> float:
        t0 = time.perf_counter()
        _refusal(accounts, name, "guess")
        return time.perf_counter() - t0

    wrong = statistics.median(took("real") for _ in range(3))
    unknown = statistics.median(took("nobody") for _ in range(3))
    # without the dummy Argon2 check an unknown name answers in about a millisecond
    assert unknown > wrong * 0.4, (unknown, wrong)
    assert _row(store, "real").failed == 3


def _slow_hash(store: SqlStore, name: str) -> None:
    """Give ``name`` a hash that takes Argon2 seconds to check, to see what waits for it."""
    slow = PasswordHasher(time_cost=12).hash(PASSWORD)
    with store._write() as conn:
        conn.execute(update(t.users).where(t.users.c.name == name).values(password_hash=slow))


def test_a_failed_sign_in_does_not_hold_the_write_lock_while_argon2_runs(store: SqlStore) -> None:
    accounts = AccountService(store)
    accounts.add_user("slow", "security", password=PASSWORD)
    _slow_hash(store, "slow")
    done = threading.Event()
    reasons: list[str] = []

    def attempt() -> None:
        try:
            accounts.login("slow", "a wrong guess")
        except SignInRefused as exc:
            reasons.append(exc.reason)
        finally:
            done.set()

    started = time.monotonic()
    worker = threading.Thread(target=attempt)
    worker.start()
    writes: list[float] = []
    while not done.is_set():  # what ingest does meanwhile: short write transactions
        t0 = time.monotonic()
        store.set_kv("probe", str(len(writes)))
        writes.append(time.monotonic() - t0)
    worker.join(60)
    login_s = time.monotonic() - started
    assert reasons == ["wrong_password"] and _row(store, "slow").failed == 1
    assert login_s > 0.3 and len(writes) >= 5
    assert max(writes) < login_s / 2, f"a write waited {max(writes):.2f} s during a {login_s:.2f} s sign-in"


def test_a_right_password_is_checked_while_another_writer_holds_the_lock(store: SqlStore) -> None:
    accounts = AccountService(store)
    accounts.add_user("sec", "security", password=PASSWORD)
    roles: list[str] = []
    worker = threading.Thread(target=lambda: roles.append(accounts.login("sec", PASSWORD).role))
    with store._write():  # a long ingest transaction is open the whole time
        worker.start()
        worker.join(60)
        assert roles == ["security"], "the sign-in waited for the write lock"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_the_refill_rate() -> None:
    clock, refused = FakeClock(), []
    limiter = RateLimiter("login", burst=3, per_min=6, on_refused=refused.append, clock=clock)
    for _ in range(3):
        limiter.take("198.51.100.7")
    with pytest.raises(RateLimited) as over:
        limiter.take("198.51.100.7")
    assert over.value.status == 429 and over.value.code == "rate_limited"
    assert 9.9 < over.value.retry_after_s <= 10.0 and retry_after(over.value) == {"Retry-After": "10"}
    assert refused == ["login"]
    limiter.take("198.51.100.8")  # another client has its own bucket
    clock.now += 10.0  # 6 a minute: one attempt back every 10 s
    limiter.take("198.51.100.7")
    with pytest.raises(RateLimited):
        limiter.take("198.51.100.7")
    clock.now += 3600
    for _ in range(3):  # refilled to the burst, never beyond it
        limiter.take("198.51.100.7")
    with pytest.raises(RateLimited):
        limiter.take("198.51.100.7")


def test_successful_attempts_are_given_back() -> None:
    limiter = RateLimiter("enroll", burst=2, per_min=1, clock=FakeClock())
    for _ in range(50):  # 50 PCs behind one NAT enroll one after another
        limiter.take("203.0.113.1")
        limiter.give_back("203.0.113.1")
    limiter.take("203.0.113.1")
    limiter.take("203.0.113.1")
    with pytest.raises(RateLimited):
        limiter.take("203.0.113.1")


def test_ipv6_clients_share_their_64_and_memory_is_bounded() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.9") == "192.0.2.9" and client_key(None) == "-"
    limiter = RateLimiter("login", burst=1, per_min=1, clock=FakeClock(), max_clients=100)
    limiter.take("2001:db8:1:2::1")
    with pytest.raises(RateLimited):
        limiter.take("2001:db8:1:2::ffff")  # a fresh address in the same /64 gains nothing
    for n in range(1000):
        limiter.take(f"10.0.{n // 250}.{n % 250}")
    assert len(limiter._buckets) == 100
    off = RateLimiter("login", burst=0, per_min=0)
    for _ in range(100):
        off.take("192.0.2.1")  # burst 0: no limit
