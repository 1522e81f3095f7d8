"""Privacy rule 4 end to end, on SQLite and PostgreSQL: retention per kind (``[retention] kinds``), at
ingest and in the purge, and a legal hold for one agent, set and lifted by an admin (audited with the
reason, masked), shown to the agent, and honoured by the purge. The purge's clock is injected; the data
folder joins the end-of-suite privacy scan (the hold's reason carries a raw ID number)."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from collector.api import create_app
from collector.cli import main as collector_main
from collector.service import Collector
from contract.schema import format_ts
from tests.conftest import RAW_IDS
from tests.storage_fixtures import BACKENDS, fresh_url
from tests.test_ingest_rejections import Harness
from tests.web_fixtures import PASSWORD, signed_in

TOML = '\n[retention.kinds]\nclipboard.copy = 30\nscreenshot = 14\n'


class Seat(Harness):
    """The ingest harness with ``[retention]`` in its collector.toml, an admin, a security officer and the
    person at pc-1 (an agent account)."""

    def __init__(self, data: Path, db_url: str | None) -> None:
        super().__init__(data, db_url)
        self.client.close()
        self.collector.close()
        with (data / "collector.toml").open("a", encoding="utf-8") as f:
            f.write(TOML)
        self.collector = Collector.open(data)
        self.app = create_app(self.collector)
        self.client = TestClient(self.app, base_url="http://t")
        self.tokens = {}
        for name, role, agent in (("root", "admin", None), ("sec", "security", None), ("chen", "agent", "pc-1")):
            self.collector.accounts.add_user(name, role, [], agent, password=PASSWORD)
            self.tokens[name] = {"Authorization": f"Bearer {self.collector.accounts.create_token(name)}"}

    def event(self, kind: str, age_days: float, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        ts = format_ts(datetime.now(UTC) - timedelta(days=age_days))
        return {"schema": 1, "agent_id": "pc-1", "seq": self.seq, "ts": ts, "kind": kind, **fields}

    def copy(self, age_days: float) -> dict[str, Any]:
        return self.event("clipboard.copy", age_days, app="crm.exe", title="customer", trigger="hotkey", chars=18,
                          classes={"id_number": 1, "phone": 0, "bank_card": 0}, action="allowed")

    def focus(self, age_days: float) -> dict[str, Any]:
        return self.event("app.focus", age_days, app="crm.exe", title="case", pid=7)

    def purge(self, days_ahead: int) -> dict[str, Any]:
        """The purge as the daily job runs it, ``days_ahead`` days from now (the injected clock)."""
        return self.collector.purge(datetime.now(self.collector.settings.tz) + timedelta(days=days_ahead))

    def as_(self, name: str, method: str, path: str, body: Any = None) -> Any:
        call = self.client.get if method == "GET" else self.client.post
        kwargs = {} if body is None else {"json": body}
        return call(path, headers=self.tokens[name], **kwargs)


@pytest.fixture(params=BACKENDS)
def seat(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Seat]:
    with fresh_url(request.param, tmp_path / "db") as url:
        harness = Seat(tmp_path / "c", None if request.param == "sqlite" else url)
        yield harness
        harness.client.close()
        harness.collector.close()


def test_privacy_rule_4_each_kind_is_kept_for_its_own_period(seat: Seat) -> None:
    periods = seat.collector.settings.periods
    assert (periods.days_for("clipboard.copy"), periods.days_for("app.focus"), periods.days_for("screenshot")) == (
        30, 180, 14)
    answer = seat.post(seat.seal(1, [seat.copy(40), seat.copy(20), seat.focus(40), seat.focus(0)]))
    assert answer.status_code == 200 and (answer.json()["stored"], answer.json()["quarantined"]) == (3, 1)
    reasons = [q["reason"] for q in seat.collector.store.quarantined("pc-1")]
    assert len(reasons) == 1 and "older than the retention period (30 days) of clipboard.copy" in reasons[0]
    now = datetime.now(seat.collector.settings.tz)
    shots = seat.collector.store.screenshots
    for blob, age in (("old", 20), ("new", 3)):  # the sealed blobs follow the screenshot kind's 14 days
        at = (now - timedelta(days=age)).timestamp()
        assert shots.add("pc-1", blob, format_ts(now), 10, "{}", at, _no_quota()) is None
    today = seat.purge(0)
    assert today["removed"]["events"] == 0 and today["removed"]["screenshots"] == 1
    assert shots.envelope("pc-1", "old") is None and shots.envelope("pc-1", "new") == "{}"
    out = seat.purge(15)  # the copy of 20 days ago is now 35 days old; the focus of 40 days ago is 55
    assert out["kinds"] == {"clipboard.copy": (now + timedelta(days=15 - 30)).date().isoformat(),
                            "screenshot": (now + timedelta(days=15 - 14)).date().isoformat()}
    assert out["removed"]["events"] == 1 and out["removed"]["screenshots"] == 1
    assert seat.stats()["events"] == 2
    assert seat.purge(200)["removed"]["events"] == 2 and seat.stats()["events"] == 0


def test_privacy_rule_4_a_legal_hold_suspends_retention_for_one_agent(seat: Seat) -> None:
    answer = seat.post(seat.seal(1, [seat.copy(40), seat.copy(20), seat.focus(40), seat.focus(0)]))
    assert answer.status_code == 200 and answer.json()["quarantined"] == 1
    reason = f"litigation 2026-17, customer {RAW_IDS[0]}"
    refused = seat.as_("sec", "POST", "/api/v1/agents/pc-1/hold", {"reason": reason})
    assert refused.status_code == 403 and seat.collector.holds.held() == frozenset()
    for agent_id, body, status, code in (("pc-1", {"reason": "  "}, 400, "bad_hold"),
                                         ("pc-1", {"reason": "x" * 501}, 400, "bad_hold"),
                                         ("pc-ghost", {"reason": "why"}, 404, "not_found")):
        bad = seat.as_("root", "POST", f"/api/v1/agents/{agent_id}/hold", body)
        assert (bad.status_code, bad.json()["error"]["code"]) == (status, code), bad.text
    lifted_early = seat.as_("root", "POST", "/api/v1/agents/pc-1/hold/lift", {"reason": "nothing to lift"})
    assert (lifted_early.status_code, lifted_early.json()["error"]["code"]) == (400, "bad_hold")
    metrics = seat.client.get("/metrics").text
    assert re.search(r'seatguard_legal_hold_actions_total\{outcome="refused"\} 5\.0', metrics), metrics[-800:]

    held = seat.as_("root", "POST", "/api/v1/agents/pc-1/hold", {"reason": reason})
    assert held.status_code == 200 and held.json()["held"] is True, held.text
    assert RAW_IDS[0] not in held.text and held.json()["hold"]["reason"].endswith(RAW_IDS[0][-4:])
    listed = seat.as_("root", "GET", "/api/v1/holds").json()["holds"]
    assert [(h["agent_id"], h["set_by"]) for h in listed] == [("pc-1", "root")]
    audit = [r for r in seat.collector.access.audit_log() if r["action"] == "set_legal_hold"]
    assert [(r["actor"], r["allowed"], r["agent_id"]) for r in audit[:1]] == [("root", True, "pc-1")]
    assert "litigation 2026-17" in audit[0]["target"] and RAW_IDS[0] not in audit[0]["target"]
    assert any(r["actor"] == "sec" and not r["allowed"] for r in seat.collector.access.audit_log())

    mine = seat.as_("chen", "GET", "/api/v1/me").json()["retention"]  # the agent sees the hold on their data
    assert mine["default_days"] == 180 and mine["kinds"] == {"clipboard.copy": 30, "screenshot": 14}
    assert mine["legal_hold"]["reason"] == held.json()["hold"]["reason"]
    page = signed_in(seat.app, "chen")
    me = page.get("/me").text
    assert 'id="legal-hold"' in me and "litigation 2026-17" in me and RAW_IDS[0] not in me
    page.close()

    out = seat.purge(400)  # far past every period: nothing of the held agent goes
    assert out["held_agents"] == 1 and out["removed"]["events"] == 0 and seat.stats()["events"] == 3
    assert out["removed"]["quarantine"] == 0 and len(seat.collector.store.quarantined("pc-1")) == 1

    lifted = seat.as_("root", "POST", "/api/v1/agents/pc-1/hold/lift", {"reason": "case closed"})
    assert lifted.status_code == 200 and seat.collector.holds.held() == frozenset()
    assert [r["action"] for r in seat.collector.access.audit_log()[:1]] == ["lift_legal_hold"]
    assert "legal-hold" not in (page := signed_in(seat.app, "chen")).get("/me").text
    page.close()
    out = seat.purge(400)
    assert out["removed"]["events"] == 3 and out["removed"]["quarantine"] == 1 and seat.stats()["events"] == 0


def test_privacy_rule_4_a_held_agents_old_events_are_kept_at_ingest(seat: Seat) -> None:
    """Under a hold, an event past its kind's period is stored, not quarantined as too old (back to
    ``retention_days``); the purge keeps it while the hold lasts, per kind, and removes it once lifted."""
    held = seat.as_("root", "POST", "/api/v1/agents/pc-1/hold", {"reason": "litigation 2026-17"})
    assert held.status_code == 200, held.text
    answer = seat.post(seat.seal(1, [seat.copy(40), seat.focus(100), seat.focus(190), seat.focus(0)]))
    assert answer.status_code == 200 and (answer.json()["stored"], answer.json()["quarantined"]) == (3, 1)
    reasons = [q["reason"] for q in seat.collector.store.quarantined("pc-1")]
    assert len(reasons) == 1 and "older than anything kept for an agent under a legal hold (180 days)" in reasons[0]
    tz = seat.collector.settings.tz
    copied = (datetime.now(tz) - timedelta(days=40)).date().isoformat()
    assert [e["kind"] for e in seat.collector.store.timeline("pc-1", copied)] == ["clipboard.copy"]
    assert seat.collector.store.rollup_state("pc-1", copied) is not None  # folded into its day, too
    out = seat.purge(0)  # the copy is past clipboard.copy's 30 days: kept for the hold
    assert out["held_agents"] == 1 and out["removed"]["events"] == 0 and seat.stats()["events"] == 3

    lifted = seat.as_("root", "POST", "/api/v1/agents/pc-1/hold/lift", {"reason": "case closed"})
    assert lifted.status_code == 200, lifted.text
    out = seat.purge(0)  # each kind's period again: the copy goes, the focus of 100 days ago stays
    assert out["removed"]["events"] == 1 and seat.stats()["events"] == 2
    assert seat.collector.store.timeline("pc-1", copied) == []
    again = seat.post(seat.seal(2, [seat.copy(40)]))  # and without a hold ingest quarantines it again
    assert (again.json()["stored"], again.json()["quarantined"]) == (0, 1)
    assert "retention period (30 days) of clipboard.copy" in seat.collector.store.quarantined("pc-1")[0]["reason"]


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = collector_main(["--log-level", "WARNING", *args])
    return code, out.getvalue(), err.getvalue()


def test_privacy_rule_4_the_cli_adds_lists_and_releases_a_hold(seat: Seat, tmp_path: Path) -> None:
    """``seatguard-collector hold add|list|release`` acts as the data folder's owner (an admin, actor
    ``cli``), with the checks and audit records of the routes; the serving collector honours it."""
    data = str(tmp_path / "c")
    assert seat.post(seat.seal(1, [seat.copy(40), seat.copy(20), seat.focus(0)])).json()["stored"] == 2
    for args, message in ((("--agent", "pc-ghost", "--reason", "why"), "no agent 'pc-ghost'"),
                          (("--agent", "pc-1", "--reason", "  "), "a legal hold needs a reason"),
                          (("--agent", "pc-1", "--reason", "x" * 501), "longer than 500 characters")):
        code, out, err = _cli("hold", "add", "--data", data, *args)
        assert (code, out) == (2, "") and message in err, err
    code, _, err = _cli("hold", "release", "--data", data, "--agent", "pc-1", "--reason", "early")
    assert code == 2 and "is not under a legal hold" in err
    assert seat.collector.holds.held() == frozenset()

    code, out, _ = _cli("hold", "add", "--data", data, "--agent", "pc-1", "--reason", f"HR case, ID {RAW_IDS[0]}")
    added = orjson.loads(out)
    assert code == 0 and added["held"] is True and added["new"] is True and RAW_IDS[0] not in out
    assert added["hold"]["set_by"] == "cli" and added["hold"]["reason"].endswith(RAW_IDS[0][-4:])
    assert seat.collector.holds.held() == {"pc-1"}  # the serving collector reads the same database
    code, out, _ = _cli("hold", "list", "--data", data)
    assert code == 0 and [(h["agent_id"], h["set_by"]) for h in orjson.loads(out)["holds"]] == [("pc-1", "cli")]
    assert seat.as_("chen", "GET", "/api/v1/me").json()["retention"]["legal_hold"]["set_by"] == "cli"
    assert seat.post(seat.seal(2, [seat.copy(40)])).json()["stored"] == 1  # kept for the hold at ingest too
    assert seat.purge(0)["removed"]["events"] == 0 and seat.stats()["events"] == 3

    code, out, _ = _cli("hold", "release", "--data", data, "--agent", "pc-1", "--reason", "case closed")
    assert code == 0 and orjson.loads(out) == {"agent_id": "pc-1", "held": False}
    assert seat.collector.holds.held() == frozenset() and seat.purge(0)["removed"]["events"] == 1
    audit = [(r["actor"], r["action"], r["allowed"]) for r in seat.collector.access.audit_log()
             if "legal_hold" in r["action"]]
    assert audit == [("cli", "lift_legal_hold", True), ("cli", "read_legal_holds", True),
                     ("cli", "set_legal_hold", True), ("cli", "lift_legal_hold", False),
                     ("cli", "set_legal_hold", False), ("cli", "set_legal_hold", False),
                     ("cli", "set_legal_hold", False)]
    assert all(RAW_IDS[0] not in r["target"] for r in seat.collector.access.audit_log())


def test_privacy_rule_4_admin_page_sets_and_lifts_a_hold(seat: Seat) -> None:
    page = signed_in(seat.app, "root")
    admin = page.get("/admin").text
    assert 'id="holds-none"' in admin and "clipboard.copy" in admin
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', admin)
    assert token
    empty = page.post("/admin/holds", data={"agent_id": "pc-1", "reason": "", "csrf": token.group(1)})
    assert empty.status_code == 400 and "needs a reason" in empty.text
    done = page.post("/admin/holds", data={"agent_id": "pc-1", "reason": "HR case 9", "csrf": token.group(1)},
                     follow_redirects=False)
    assert done.status_code == 303 and seat.collector.holds.held() == {"pc-1"}
    assert 'id="hold-pc-1"' in page.get("/admin").text
    lift = page.post("/admin/holds/pc-1/lift", data={"reason": "closed", "csrf": token.group(1)},
                     follow_redirects=False)
    assert lift.status_code == 303 and seat.collector.holds.held() == frozenset()
    page.close()


def _no_quota() -> Any:
    from collector.storage.screenshots import BlobQuota

    return BlobQuota(0.0)


def test_privacy_rule_4_an_event_past_its_period_keeps_nothing_it_recorded_in_quarantine(seat: Seat) -> None:
    """The quarantine is kept for retention_days: a copy already older than its kind's 30 days must not
    live on there with what it recorded (app, title, preview) for 180 more days."""
    late = seat.copy(40)
    late.update(app="secret-crm.exe", title="customer Wang", preview="Wang's card")
    answer = seat.post(seat.seal(1, [late, seat.focus(0)]))
    assert answer.status_code == 200 and answer.json()["quarantined"] == 1
    [row] = seat.collector.store.quarantined("pc-1")
    assert "older than the retention period (30 days) of clipboard.copy" in row["reason"]
    assert json.loads(row["raw"]) == {k: late[k] for k in ("schema", "agent_id", "seq", "ts", "kind")}
