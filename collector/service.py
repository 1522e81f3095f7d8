"""The collector as one object: the composition root, and the scope-checked queries the HTTP layer calls.

:class:`Collector` opens the store and builds every service with what that service uses (the store or
its repository, access, rollups, labels, the key ring, metrics, the time zone and its own settings):
no service is handed the collector or reaches back into it. Ingest listeners are registered by name
(``self.listeners``: ``alerts`` here, ``wall`` by the web UI); :func:`collector.api.create_app` mounts
the HTTP parts.
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson

from collector.access import AccessService
from collector.accounts import AccountService, Principal
from collector.alerts.channels import Channel
from collector.alerts.clock import Clock
from collector.alerts.config import AlertConfig
from collector.alerts.service import AlertService
from collector.config import Settings, load_settings
from collector.enrollment import EnrollmentService
from collector.errors import CollectorError, ConfigError, Forbidden, NotFound
from collector.holds import HoldService
from collector.ingest import HEARTBEAT_LOOKBACK, IngestService, IngestSettings
from collector.jobs import DailyJobs, JobScheduler
from collector.keys import KeyRing
from collector.listeners import IngestListeners
from collector.metrics import Metrics
from collector.policy import PolicyService, known_policy_keys, left_out, policy_problem
from collector.ratelimit import RateLimiter
from collector.reports import ReportService
from collector.rollups import RollupUpdater
from collector.screenshots import BlobLimits, ScreenshotService
from collector.shift_entries import ShiftEntries
from collector.shifts import ShiftService
from collector.signing import AnswerSigner
from collector.storage import Store, open_store
from collector.storage.notify import open_feed
from collector.wall import WallService, ingest_listener
from contract.schema import AGENT_ID_RE

log = logging.getLogger(__name__)


REVIEWERS = ("admin", "security")
LABELS = ("confirmed", "benign", "follow_up")
WALL_ROLES = ("admin", "security", "manager")
AUDIT_ROLES = ("admin", "security", "auditor")


class Collector:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: Store = open_store(settings.database_url)  # any backend (collector.storage.BACKENDS)
        self.store.create_schema()
        self.keyring = KeyRing(settings.data_dir, float(settings.max_clock_skew_s))
        self.metrics = Metrics()
        self.feed = open_feed(self.store)  # change notices between collector processes
        self.jobs = JobScheduler(self.store)
        self.policy = PolicyService(self.store, self.feed)
        self.shift_entries = ShiftEntries(self.store, self.feed)  # the days' shift entries, kept in memory
        self.rollups = RollupUpdater(self.store, self.policy, settings.timezone, settings.data_dir,
                                     self.shift_entries)
        self.ingest = IngestService(self.store, self.keyring, IngestSettings.from_settings(settings), self.metrics,
                                    issued_policies=self.policy.issued, customers=self.rollups.customer,
                                    rollup_hook=self.rollups, held=self._is_held)
        self.signer = AnswerSigner(self.keyring, self.metrics, self.policy, self.ingest)
        self.enrollment = EnrollmentService(self.store, self.policy, settings.enroll_token_ttl_h, self.signer)
        self.accounts = AccountService(self.store, settings.api_token_days)
        refused = self.metrics.rate_limited
        self.login_limit = RateLimiter("login", settings.login_rate_burst, settings.login_rate_per_min,
                                       on_refused=lambda route: refused.labels(route).inc())
        self.enroll_limit = RateLimiter("enroll", settings.enroll_rate_burst, settings.enroll_rate_per_min,
                                        on_refused=lambda route: refused.labels(route).inc())
        self.access = AccessService(self.store)
        self.holds = HoldService(self.store.holds, self.access, self.metrics)
        self.wall = WallService(self.store, settings.tz, settings.alerts.silent_after_min,
                                contexts=self.rollups.live_context)
        self.reports = ReportService(self.store, self.rollups, settings.tz, settings.need_to_know_scope,
                                     settings.scoring)
        self.listeners = IngestListeners(self.ingest.listeners)
        self.install_alerts(self.build_alert_service())
        self.screenshots = ScreenshotService(self.store, self.ingest, self.access, self.metrics,
                                             BlobLimits.from_settings(settings))
        self.shifts = ShiftService(self.store, self.access, self.rollups, self.metrics, settings.tz,
                                   self.shift_entries)

    def build_alert_service(self, config: AlertConfig | None = None, clock: Clock | None = None,
                            channels: list[Channel] | None = None) -> AlertService:
        """A new alert service wired to this collector's parts (``config``: the settings' by default);
        it hears no batches until :meth:`install_alerts`."""
        return AlertService(self.store, self.access, self.rollups, self.reports.labels, self.settings.scoring,
                            self.jobs, self.settings.tz, config or self.settings.alerts, clock, channels)

    def install_alerts(self, service: AlertService) -> AlertService:
        """Make ``service`` this collector's alert service, listening to ingest as ``alerts``; the one it
        replaces is closed."""
        old = getattr(self, "alerts", None)
        self.listeners.register("alerts", service.on_ingest, replace=True)
        self.alerts = service
        if isinstance(old, AlertService) and old is not service:
            old.close()
        return service

    def daily_jobs(self, tick_s: float = 60.0) -> DailyJobs:
        """Inside ``serve``: retention and yesterday's report once a day, once per cluster."""
        return DailyJobs(self.jobs, self.settings.tz, str(self.settings.report_time), self.purge,
                         self.reports.build, self.reports.get, tick_s)

    @classmethod
    def open(cls, data_dir: Path, overrides: dict[str, Any] | None = None) -> Collector:
        if not data_dir.is_dir():
            raise ConfigError(f"{data_dir} is not a collector data folder: run `seatguard-collector init` first")
        return cls(load_settings(data_dir, overrides))

    def start_cluster(self) -> None:
        """Inside ``serve``: hear other processes' change notices and fan this one's out to them (the batches
        stored here wake every process's live-wall viewers, whether or not this one mounts the web UI)."""
        self.feed.start()
        self.wall.attach(self.feed)
        self.listeners.register("wall", ingest_listener)

    def close(self) -> None:
        self.alerts.close()
        self.feed.close()
        self.store.close()

    # -- queries (scope enforced and audited) -----------------------------------------------------------
    def agents_for(self, who: Principal, remote: str | None = None) -> list[dict[str, Any]]:
        """The agents in the caller's scope; the list is audited once per agent listed."""
        if who.role == "agent":  # a person with an agent account sees that one PC only
            own = self.store.get_agent(who.agent_id) if who.agent_id else None
            rows = [own] if own is not None else []
        else:
            rows = self.store.list_agents(self.access.visible_teams(who))
        self.access.audit_shown(who, "list_agents", "agents", (r["agent_id"] for r in rows), remote)
        return [{"agent_id": r["agent_id"], "team": r["team"], "role": r["role"], "events": r["events"],
                 "last_seen": r["last_seen"], "revoked": r["revoked_at"] is not None} for r in rows]

    def timeline_for(self, who: Principal, agent_id: str, day: str, remote: str | None = None) -> dict[str, Any]:
        _check_day(day)
        self.access.require_agent(who, agent_id, "read_timeline", remote)
        return self.timeline(agent_id, day)

    def _is_held(self, agent_id: str) -> bool:
        """Whether the agent is under a legal hold now (ingest keeps its events past their period)."""
        return self.holds.of(agent_id) is not None

    def purge(self, now: datetime | None = None) -> dict[str, Any]:
        """Privacy rule 4: drop what is older than its retention period (calendar days in the collector's
        zone): events per kind, screenshots by the ``screenshot`` kind's period, the rest by
        ``retention_days`` (:mod:`collector.retention`); nothing of an agent under a legal hold."""
        now = now or datetime.now(self.settings.tz)
        cut = self.settings.periods.cutoffs(now, self.holds.held())
        removed = self.store.purge(cut.before_day, cut.before_ts, cut.kind_days, cut.held)
        removed.update(self.alerts.purge(cut.before_ts, cut.held))
        removed.update(self.screenshots.purge(cut.screenshots_ts, cut.held))
        removed["job_runs"] = self.jobs.runs.purge(cut.before_ts)
        log.info("retention purge before %s (per kind: %s; %d agents held): %s", cut.before_day,
                 cut.kind_days or "none", len(cut.held), removed)
        return {"before": cut.before_day, "kinds": dict(cut.kind_days), "held_agents": len(cut.held),
                "removed": removed}

    def report_for(self, who: Principal, day: str, remote: str | None = None) -> dict[str, Any]:
        """The day's report as the caller may see it (managers: their teams' findings only)."""
        _check_day(day)
        self.access.refuse_unless(who, ("admin", "security", "manager"), "read_report", day, remote)
        report = self.reports.get(day)
        if report is None:
            self.access.audit(who, "read_report", day, True, remote)
            raise NotFound(f"no report for {day} yet: run `seatguard-collector report --date {day}`")
        if who.role == "manager":
            report = {**report, "findings": [f for f in report["findings"] if f.get("team") in who.teams],
                      "teams": [t for t in report.get("teams", []) if t.get("team") in who.teams]}
        self.access.audit_shown(who, "read_report", day, (str(f.get("agent_id", "")) for f in report["findings"]),
                                remote)
        return report

    def label_for(self, who: Principal, agent_id: str, day: str, label: str, note: str = "",
                  remote: str | None = None) -> None:
        _check_day(day)
        target = f"{agent_id} {day} {label}"
        self.access.refuse_unless(who, REVIEWERS, "label_finding", target, remote)
        if label not in LABELS:
            raise CollectorError(f"label must be one of {', '.join(LABELS)}", code="bad_label", status=400)
        self.access.audit(who, "label_finding", target, True, remote, agent_id)
        self.reports.label(agent_id, day, label, who.name, note)

    def build_report_for(self, who: Principal, day: str, remote: str | None = None) -> dict[str, Any]:
        _check_day(day)
        self.access.require_role(who, REVIEWERS, "build_report", day, remote)
        return self.reports.build(day)

    def wall_for(self, who: Principal, remote: str | None = None, audit: bool | str = True) -> list[dict[str, Any]]:
        """Live-wall state of the agents in scope, audited once per agent shown under the action ``audit``
        (``True``: ``read_wall``; ``False``: a stream tick, which audits only a refusal)."""
        self.access.refuse_unless(who, WALL_ROLES, "read_wall", "wall", remote)
        rows = self.wall.states(self.store.list_agents(self.access.visible_teams(who)))
        if audit:
            action = "read_wall" if audit is True else str(audit)
            self.access.audit_shown(who, action, "wall", (str(r["agent_id"]) for r in rows), remote)
        return rows

    def audit_for(self, who: Principal, filters: dict[str, Any], remote: str | None = None,
                  action: str = "read_audit") -> list[dict[str, Any]]:
        summary = " ".join(f"{k}={v}" for k, v in sorted(filters.items())
                           if v not in (None, "") and k != "limit") or "all"
        self.access.require_role(who, AUDIT_ROLES, action, summary, remote)
        return self.access.search(**filters)

    def activity_for(self, who: Principal, day: str, remote: str | None = None) -> dict[str, Any]:
        """An agent's own day and who looked at it (their right under personal-information law)."""
        _check_day(day)
        agent_id = who.agent_id if who.role == "agent" else None
        if not agent_id:
            self.access.audit(who, "read_own_activity", "-", False, remote)
            raise Forbidden("only an agent's own account has a 'my activity' page")
        timeline = None
        if self.store.get_agent(agent_id) is not None:
            timeline = self.timeline_for(who, agent_id, day, remote)
        viewers = [v for v in self.access.viewers_of(agent_id) if v["actor"] != who.name]
        return {"agent_id": agent_id, "date": day, "timeline": timeline, "viewers": viewers,
                "retention": {**self.settings.periods.describe(), "legal_hold": self.holds.of(agent_id)}}

    # -- administration (admin only; every action is audited) -------------------------------------------
    def admin_overview(self, who: Principal, remote: str | None = None) -> dict[str, Any]:
        self.access.refuse_unless(who, ("admin",), "read_admin", "admin", remote)
        agents = self.store.list_agents()
        self.access.audit_shown(who, "read_admin", "admin", (str(a["agent_id"]) for a in agents), remote)
        tokens = self.store.enroll_tokens(50)
        for tok in tokens:
            tok.pop("token_hash", None)
        users = self.accounts.list_users()
        teams: dict[str, dict[str, Any]] = {}
        for a in agents:
            newest = int(a.get("last_seq") or 0) + 1  # the agent's own transport setting, in its latest stretch
            beat = self.store.last_heartbeat(str(a["agent_id"]), newest, max(1, newest - HEARTBEAT_LOOKBACK))
            a["insecure_transport"] = bool(beat and beat.get("insecure_transport") is True)
            teams.setdefault(a["team"], {"team": a["team"], "agents": 0, "managers": []})["agents"] += 1
        for u in users:
            for team in u["teams"] if u["role"] == "manager" else []:
                entry = teams.setdefault(team, {"team": team, "agents": 0, "managers": []})
                entry["managers"].append(u["name"])
        policy = self.policy.current()
        return {"agents": agents, "tokens": tokens, "users": users, "policy": policy,
                "policy_left_out": left_out(policy),
                "teams": sorted(teams.values(), key=lambda x: str(x["team"])),
                "retention_days": self.settings.retention_days, "timezone": self.settings.timezone,
                "retention_kinds": self.settings.periods.overrides, "holds": self.holds.all(),
                "jobs": self.jobs.runs.summary()}

    def create_enroll_token_for(self, who: Principal, team: str, role: str = "agent",
                                shift: str | None = None, remote: str | None = None) -> str:
        self.access.require_role(who, ("admin",), "create_enroll_token", team, remote)
        return self.enrollment.create_token(team, role, shift or None)

    def revoke_agent_for(self, who: Principal, agent_id: str, remote: str | None = None) -> None:
        self.access.require_role(who, ("admin",), "revoke_agent", agent_id, remote)
        if not self.store.revoke_agent(agent_id, time.time()):
            raise NotFound(f"no agent {agent_id!r}")

    def add_user_for(self, who: Principal, name: str, role: str, teams: list[str], agent_id: str | None,
                     remote: str | None = None) -> str:
        self.access.require_role(who, ("admin",), "add_user", f"{name} ({role})", remote)
        if not AGENT_ID_RE.match(name):
            raise CollectorError("user names use letters, digits, '.', '_' and '-' (1-64)", code="bad_name",
                                 status=400)
        if role == "agent" and not agent_id:
            raise CollectorError("an agent user needs the agent_id that is this person", code="bad_role",
                                 status=400)
        return self.accounts.add_user(name, role, teams, agent_id or None)

    def set_user_disabled_for(self, who: Principal, name: str, disabled: bool,
                              remote: str | None = None) -> None:
        self.access.require_role(who, ("admin",), "disable_user" if disabled else "enable_user", name, remote)
        if name == who.name and disabled:
            raise CollectorError("you cannot disable your own account", code="bad_request", status=400)
        self.accounts.set_disabled(name, disabled)

    def policy_for(self, who: Principal, remote: str | None = None) -> dict[str, Any]:
        self.access.require_role(who, ("admin",), "read_policy", "policy", remote)
        return self.policy.current()

    def set_policy_for(self, who: Principal, text: str, remote: str | None = None,
                       expected_version: int | None = None) -> dict[str, Any]:
        """Save an edited policy; ``expected_version`` is the version the editor started from (a save
        made meanwhile, through any collector, makes this one a 409 :class:`Conflict`)."""
        self.access.require_role(who, ("admin",), "update_policy", "policy", remote)
        return self.policy.update(validated_policy(text), expected_version, who.name)

    def timeline(self, agent_id: str, day: str) -> dict[str, Any]:
        _check_day(day)
        if self.store.get_agent(agent_id) is None:
            raise NotFound(f"no agent {agent_id!r}")
        events = self.store.timeline(agent_id, day)
        return {"agent_id": agent_id, "date": day, "events": events, "cases": cases_from(events)}


def validated_policy(text: str) -> dict[str, Any]:
    """Parse an edited policy: a JSON object whose every key is understood by the agent's sensors or by
    the detectors, and that both accept (each validates the keys it uses)."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise CollectorError(f"the policy is not valid JSON: {exc}", code="bad_policy", status=400) from exc
    if not isinstance(data, dict):
        raise CollectorError("the policy must be a JSON object", code="bad_policy", status=400)
    data.pop("version", None)
    unknown = sorted(set(data) - known_policy_keys())
    if unknown:
        raise CollectorError(f"unknown policy key(s) {', '.join(unknown)}", code="bad_policy", status=400)
    problem = policy_problem(data)
    if problem:
        raise CollectorError(problem, code="bad_policy", status=400)
    return data


_JSON_TYPE = {list: "array", dict: "object", int: "integer", bool: "boolean", str: "string", float: "number"}


def _check_day(day: str) -> None:
    try:
        date.fromisoformat(day)
    except ValueError as exc:
        raise NotFound(f"not a date: {day!r} (expected YYYY-MM-DD)") from exc


def cases_from(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pair case.open / case.close into handled cases (handling times as the agent measured them)."""
    open_at: dict[str, str] = {}
    cases = []
    for e in events:
        if e["kind"] == "case.open":
            open_at[e["case_id"]] = e["ts"]
        elif e["kind"] == "case.close":
            cases.append({"case_id": e["case_id"], "opened": open_at.pop(e["case_id"], None), "closed": e["ts"],
                          "active_s": e["active_s"], "idle_s": e["idle_s"], "wall_s": e["wall_s"]})
    for case_id, ts in open_at.items():
        cases.append({"case_id": case_id, "opened": ts, "closed": None, "active_s": None, "idle_s": None,
                      "wall_s": None})
    return cases
