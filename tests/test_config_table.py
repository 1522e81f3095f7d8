"""One configuration mechanism: typed settings tables for agent, collector, alerts and scoring.

Each settings class is the table (rows read off its fields); values are checked where they enter and
when the object is built, errors name the setting and its source, and the ``[scoring]`` table of
``collector.toml`` reaches the daily report and the real-time alerts.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, get_type_hints

import pytest

from agent.config import AgentConfig, load_config
from agent.errors import ConfigError as AgentConfigError
from collector.accounts import Principal
from collector.cli import main as collector_main
from collector.config import ALERTS, CORE, SCORING, SETTINGS, AlertConfig, Settings, load_settings
from collector.errors import ConfigError
from collector.retention import RetentionConfig
from collector.service import Collector
from contract.settings_table import rows
from detectors.scoring import ScoringConfig
from tests.web_fixtures import World

ROOT = Path(__file__).resolve().parent.parent
CLASSES: list[tuple[type, str]] = [(AgentConfig, ""), (Settings, ""), (AlertConfig, "alert_"), (ScoringConfig, ""),
                                   (RetentionConfig, "")]


@pytest.mark.parametrize(("cls", "prefix"), CLASSES)
def test_each_table_is_its_class_typed_fields(cls: type, prefix: str) -> None:
    table = rows(cls, prefix)
    hints = get_type_hints(cls)
    assert table and "__getattr__" not in vars(cls)          # typed attributes, no catch-all
    for row in table:
        assert row.name == prefix + row.attr and row.help.strip()
        assert hints[row.attr] == row.type                     # what mypy sees is what is loaded
        assert row.problem(row.default) is None, row.name      # every default passes its own check
    assert len({r.name for r in table}) == len(table)


def test_collector_layers_file_then_environment_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "collector.toml").write_text(
        'port = 8001\nhost = "0.0.0.0"\napi_docs = "true"\ntrusted_proxies = "10.0.0.1, 10.1.0.0/16"\n'
        'alert_rate_limit_s = 60\n[scoring]\nthreshold_high = 0.9\nweights = { rules = 2 }\n', encoding="utf-8")
    monkeypatch.setenv("SEATGUARD_PORT", "8002")
    monkeypatch.setenv("SEATGUARD_SCORING_MEMBERS", "peer_ecod, rules")
    settings = load_settings(tmp_path, {"port": 8003, "host": None})
    assert settings.port == 8003 and settings.host == "0.0.0.0" and settings.api_docs is True
    assert list(settings.trusted_proxies) == ["10.0.0.1", "10.1.0.0/16"]
    assert settings.alerts.rate_limit_s == 60.0
    assert settings.scoring.members == ("peer_ecod", "rules") and settings.scoring.weights == (("rules", 2.0),)
    assert settings.scoring.threshold_high == 0.9 and settings.scoring.thresholds().high == 0.9
    monkeypatch.delenv("SEATGUARD_PORT")
    monkeypatch.delenv("SEATGUARD_SCORING_MEMBERS")
    assert load_settings(tmp_path / "none") == Settings(tmp_path / "none")   # no file: every default


@pytest.mark.parametrize(("toml", "env", "flags", "message"), [
    ("port = 70000\n", {}, {}, r"collector\.toml: setting 'port' must be within \[0, 65535\], got 70000"),
    ('need_to_know_scope = "everyone"\n', {}, {}, r"collector\.toml: setting 'need_to_know_scope' must be one of"),
    ('report_time = "6am"\n', {}, {}, "setting 'report_time' must be a time of day HH:MM"),
    ('report_time = "0\u00b2:00"\n', {}, {}, "setting 'report_time' must be a time of day HH:MM"),  # superscript 2
    ("nope = 1\n", {}, {}, "collector.toml: unknown setting 'nope'"),
    ("", {"SEATGUARD_TIMEZONE": "Mars/Base"}, {}, "environment SEATGUARD_TIMEZONE: setting 'timezone' must name"),
    ("", {}, {"port": "http"}, "command line: setting 'port' must be int, got 'http'"),
    ("[scoring]\nthreshold_high = 1.5\n", {}, {},
     r"collector\.toml \[scoring\]: setting 'scoring\.threshold_high' must be within \(0, 1\]"),
    ("[scoring]\nmembers = [\"peer_ecod\", \"psychic\"]\n", {}, {}, "unknown detector.*psychic"),
    ("[scoring]\nweights = { rules = -1 }\n", {}, {}, "setting 'scoring.weights' must be finite and not negative"),
    ("[scoring]\nthreshold_low = 0.9\n", {}, {},
     r"low <= medium <= high.*scoring\.threshold_low from .*collector\.toml \[scoring\]"),
    ("[scoring]\nhistory = 3\n", {}, {}, "unknown setting scoring.history "),
    ("", {"SEATGUARD_SCORING_WEIGHTS": "{ self_ecod = 1.0 }", "SEATGUARD_SCORING_MEMBERS": "rules"}, {},
     r"'weights' names detector\(s\) that are not members: self_ecod .*environment SEATGUARD_SCORING_WEIGHTS"),
])
def test_a_bad_collector_setting_names_itself_and_its_source(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml: str, env: dict[str, str], flags: dict[str, Any],
        message: str) -> None:
    (tmp_path / "collector.toml").write_text(toml, encoding="utf-8")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load_settings(tmp_path, flags)


def test_agent_table_layers_and_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "agent.toml").write_text('spool_max_mb = 256\nallow_insecure_http = "no"\n', encoding="utf-8")
    monkeypatch.setenv("SEATGUARD_AGENT_HEARTBEAT_S", "15")
    config = load_config(tmp_path, {"batch_max_events": 50})
    assert (config.spool_max_mb, config.heartbeat_s, config.batch_max_events) == (256.0, 15.0, 50)
    assert config.allow_insecure_http is False and config.tls is True
    with pytest.raises(AgentConfigError, match="command line: setting 'batch_max_events' must be at least 1"):
        load_config(tmp_path, {"batch_max_events": 0})
    monkeypatch.setenv("SEATGUARD_AGENT_LOG_LEVEL", "LOUD")
    with pytest.raises(AgentConfigError, match="environment SEATGUARD_AGENT_LOG_LEVEL: setting 'log_level'"):
        load_config(tmp_path)
    monkeypatch.delenv("SEATGUARD_AGENT_LOG_LEVEL")
    (tmp_path / "agent.toml").write_text("backoff_min_s = 90\n", encoding="utf-8")
    with pytest.raises(AgentConfigError, match=r"'backoff_min_s' must not exceed 'backoff_max_s' \(set: "
                                               r"backoff_min_s from .*agent\.toml;"):
        load_config(tmp_path)
    with pytest.raises(AgentConfigError, match="setting 'watchdog_samples' must be at least 1"):
        AgentConfig(watchdog_samples=0)   # built directly, not loaded: the same checks


def test_the_documented_example_loads(tmp_path: Path) -> None:
    doc = (ROOT / "packaging" / "CONFIG.md").read_text(encoding="utf-8")
    example = re.search(r"Example `/var/lib/seatguard/collector.toml`:\n\n```toml\n(.*?)```", doc, re.S)
    assert example, "CONFIG.md has no collector.toml example"
    (tmp_path / "collector.toml").write_text(example.group(1), encoding="utf-8")
    settings = load_settings(tmp_path)
    assert settings.db_url.startswith("postgresql://") and settings.scoring.threshold_high == 0.85
    assert settings.scoring.rule_set().by_name["bulk_id_copy"].threshold == 40
    assert settings.periods.days == {**settings.periods.days, "clipboard.copy": 30, "screenshot": 14}
    assert settings.periods.days_for("app.focus") == settings.retention_days == 180
    for row in (*SETTINGS, *SCORING.rows):
        assert f"| `{row.name}` |" in doc
    assert {s.env_prefix for s in (CORE, ALERTS)} == {"SEATGUARD_"}   # deployments' variables keep their names


@pytest.fixture(scope="module")
def fleet_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[dict[str, Any]]]:
    """One populated data folder (default settings) and its default report's findings."""
    data = tmp_path_factory.mktemp("scoring") / "data"
    world = World(data)
    world.populate(build_report=False)
    day = world.yesterday.isoformat()
    findings = world.collector.reports.build(day)["findings"]
    world.close()
    return data, day, findings


def _report(data: Path, scoring: str, day: str) -> dict[str, Any]:
    (data / "collector.toml").write_text(f"[scoring]\n{scoring}", encoding="utf-8")
    try:
        collector = Collector.open(data)
        try:
            return collector.reports.build(day)
        finally:
            collector.close()
    finally:
        (data / "collector.toml").unlink()


def test_scoring_in_collector_toml_changes_the_daily_report(
        fleet_data: tuple[Path, str, list[dict[str, Any]]]) -> None:
    data, day, default = fleet_data
    severity = {f["agent_id"]: f["severity"] for f in default}
    assert severity["pc-b1"] == "high"                       # the screen recorder rule grades it
    score = next(f["score"] for f in default if f["agent_id"] == "pc-b1")
    assert 0.5 <= score < 0.62                               # its model score alone: low
    lowered = _report(data, 'rules = { screen_capture = { severity = "low" } }\n', day)
    assert {f["agent_id"]: f["severity"] for f in lowered["findings"]}["pc-b1"] == "low"
    moved = _report(data, 'threshold_medium = 0.6\nrules = { screen_capture = { severity = "low" } }\n', day)
    assert {f["agent_id"]: f["severity"] for f in moved["findings"]}["pc-b1"] == "medium"   # the threshold moved it
    assert moved["thresholds"]["medium"] == 0.6 and moved["rules"]["screen_capture"]["severity"] == "low"
    few = _report(data, 'members = ["peer_ecod", "rules"]\n', day)
    assert few["members"] == ["peer_ecod", "rules"]
    assert _report(data, "", day)["findings"] == default     # an empty table changes nothing


def test_a_bad_scoring_value_stops_serve_with_a_clear_message(
        fleet_data: tuple[Path, str, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]) -> None:
    data = fleet_data[0]
    (data / "collector.toml").write_text("[scoring]\nthreshold_high = 2\n", encoding="utf-8")
    try:
        assert collector_main(["serve", "--data", str(data), "--port", "0"]) == 2
    finally:
        (data / "collector.toml").unlink()
    err = capsys.readouterr().err
    assert f"{data / 'collector.toml'} [scoring]: setting 'scoring.threshold_high' must be within (0, 1], got 2" in err


def test_scoring_rules_reach_the_real_time_alerts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "collector.toml").write_text("[scoring]\nrules = { screen_capture = { enabled = false } }\n",
                                         encoding="utf-8")
    world = World(data)
    try:
        world.populate(build_report=False)
        assert world.collector.alerts.wait_idle(30.0)
        raised = {(a["agent_id"], a["rule"]) for a in world.collector.alerts.list_for(Principal("sec", "security"))}
    finally:
        world.close()
    assert ("pc-a1", "remote_access") in raised              # other rules still alert
    assert ("pc-b1", "screen_capture") not in raised         # the disabled one does not


def test_the_collectors_log_level_setting_is_applied(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert collector_main(["init", "--data", str(data)]) == 0
    (data / "collector.toml").write_text('log_level = "error"\n', encoding="utf-8")
    root = logging.getLogger()
    before = root.level
    try:
        assert collector_main(["migrate", "--data", str(data)]) == 0
        assert root.level == logging.ERROR
        assert collector_main(["--log-level", "DEBUG", "migrate", "--data", str(data)]) == 0
        assert root.level == logging.DEBUG                  # the flag wins over the file
    finally:
        root.setLevel(before)


@pytest.mark.parametrize(("name", "value"), [
    ("retention_days", -1),  # the cut-off would lie in the future: every event purged
    ("retention_days", 0),
    ("max_clock_skew_s", -5),  # every batch refused
    ("max_batch_age_days", 0),
    ("max_inflate_ratio", 0),
    ("max_inflated_bytes", 0),
    ("max_json_containers", 0),
    ("max_quarantine_per_batch", -1),
    ("policy_grace_s", -1),
    ("blob_quota_bytes_per_day", -1),
    ("blob_rate_per_min", -1),
    ("enroll_token_ttl_h", 0),
    ("api_token_days", -1),
    ("login_rate_burst", -1),
    ("login_rate_per_min", 0),
    ("enroll_rate_per_min", -1),
    ("alert_rate_limit_s", -1),
    ("alert_silent_after_min", -1),
    ("alert_retry_base_s", 0),
    ("alert_retry_max_s", -1),
])
def test_values_no_deployment_can_mean_are_refused_naming_the_setting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: float) -> None:
    for key in [k for k in __import__("os").environ if k.startswith("SEATGUARD_")]:
        monkeypatch.delenv(key)
    (tmp_path / "collector.toml").write_text(f"{name} = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"'{name}'")):
        load_settings(tmp_path)


@pytest.mark.parametrize(("text", "tls"), [
    ("tls_verify = true\n", True), ("tls_verify = false\n", False), ('tls_verify = "true"\n', True),
    ("tls_verify = 'C:\\ca.pem'\n", "C:\\ca.pem")])
def test_tls_verify_written_as_a_toml_boolean_still_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          text: str, tls: bool | str) -> None:
    """agent.toml files of earlier releases say ``tls_verify = true`` (a TOML boolean): they must still load."""
    monkeypatch.delenv("SEATGUARD_AGENT_TLS_VERIFY", raising=False)
    (tmp_path / "agent.toml").write_text(text, encoding="utf-8")
    assert load_config(tmp_path).tls == tls
    (tmp_path / "agent.toml").write_text("tls_verify = []\n", encoding="utf-8")
    with pytest.raises(AgentConfigError, match="'tls_verify'"):
        load_config(tmp_path)


def test_weights_that_silence_every_member_are_refused(tmp_path: Path) -> None:
    """All weights 0 make every score 0: no finding ever, with nothing said. Refused at start."""
    zero = ", ".join(f"{m} = 0" for m in ScoringConfig().members)
    (tmp_path / "collector.toml").write_text(f"[scoring]\nweights = {{{zero}}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'weights'.*every member"):
        load_settings(tmp_path)
    (tmp_path / "collector.toml").write_text("[scoring]\nmembers = ['rules']\nweights = { rules = 0 }\n",
                                             encoding="utf-8")
    with pytest.raises(ConfigError, match="'weights'.*every member"):
        load_settings(tmp_path)
    (tmp_path / "collector.toml").write_text("[scoring]\nweights = { rules = 0 }\n", encoding="utf-8")
    assert dict(load_settings(tmp_path).scoring.weights) == {"rules": 0.0}  # one member off is fine


@pytest.mark.parametrize(("text", "message"), [
    ('[retention.kinds]\nclipbord.copy = 30\n', "names unknown kind(s) clipbord.copy (known: agent.heartbeat"),
    ('[retention.kinds]\n"notice.ack" = 30\n', "names unknown kind(s) notice.ack"),  # not in this release's catalog
    ('[retention.kinds]\npage.open = 181\n', "keeps page.open (181) longer than retention_days (180)"),
    ('retention_days = 20\n[retention.kinds]\nscreenshot = 30\n', "keeps screenshot (30) longer than"),
    ('[retention.kinds]\nscreenshot = 0\n', "must keep every kind at least 1 day (not screenshot)"),
    ('[retention.kinds]\nscreenshot = 1.5\n', "the days of 'screenshot' must be a whole number"),
    ('[retention]\nkind = { screenshot = 3 }\n', "unknown setting retention.kind (known: kinds)"),
])
def test_retention_per_kind_refuses_unknown_kinds_and_longer_periods_at_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str) -> None:
    for key in [k for k in __import__("os").environ if k.startswith("SEATGUARD_")]:
        monkeypatch.delenv(key)
    (tmp_path / "collector.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(tmp_path)


def test_retention_per_kind_from_the_file_and_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in __import__("os").environ if k.startswith("SEATGUARD_")]:
        monkeypatch.delenv(key)
    (tmp_path / "collector.toml").write_text('retention_days = 90\n[retention]\nkinds = { "page.open" = 60 }\n',
                                             encoding="utf-8")
    periods = load_settings(tmp_path).periods
    assert (periods.days_for("page.open"), periods.days_for("case.open"), periods.overrides) == (
        60, 90, {"page.open": 60})
    monkeypatch.setenv("SEATGUARD_RETENTION_KINDS", "{ clipboard = { copy = 7 } }")  # a dotted key, as TOML reads it
    assert load_settings(tmp_path).periods.overrides == {"clipboard.copy": 7}
