"""Alert settings, signatures and the syslog wire format, checked without a collector."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from collector import config as collector_config
from collector.alerts import ALERT_SETTINGS, AlertConfig
from collector.alerts.errors import AlertConfigError
from collector.alerts.syslog import SD_ID, UDP_MAX, format_message
from collector.alerts.webhook import sign, verify
from collector.errors import ConfigError
from simulator.testing.alerts import parse_syslog


def test_alert_rows_are_the_config_object_and_part_of_the_collector_table() -> None:
    defaults = {f.name: f.default for f in fields(AlertConfig)}
    assert [s.name.removeprefix("alert_") for s in ALERT_SETTINGS] == list(defaults)  # one declaration
    listed = {s.name: s for s in collector_config.SETTINGS}
    for row in ALERT_SETTINGS:
        assert row.name.startswith("alert_") and row.help.startswith("Alerts: ")
        assert defaults[row.attr] == row.default and isinstance(row.default, row.type)
        assert listed[row.name] == row


def test_config_reads_the_collector_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "collector.toml").write_text('alert_webhook_url = "https://siem.example/hook"\n'
                                             "alert_rate_limit_s = 60\n", encoding="utf-8")
    monkeypatch.setenv("SEATGUARD_ALERT_WEBHOOK_SECRET", "k")
    config = collector_config.load_settings(tmp_path).alerts
    assert config.webhook_url == "https://siem.example/hook" and config.rate_limit_s == 60.0
    assert config.webhook_secret == "k"
    assert config.describe()["webhook_secret"] == "set" and "k" not in config.describe().values()


def test_a_bad_alert_setting_names_its_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "collector.toml"
    toml.write_text('alert_syslog_udp = "siem.example"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(toml))}: setting 'alert_syslog_udp' must look like "):
        collector_config.load_settings(tmp_path)
    toml.write_text('alert_webhook_url = "https://siem.example/hook"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"alert_webhook_secret' is required .*alert_webhook_url from "):
        collector_config.load_settings(tmp_path)   # a check across settings lists where they were set
    toml.unlink()
    monkeypatch.setenv("SEATGUARD_ALERT_WALL", "maybe")
    with pytest.raises(ConfigError, match="environment SEATGUARD_ALERT_WALL: setting 'alert_wall' must be one of"):
        collector_config.load_settings(tmp_path)


@pytest.mark.parametrize("options", [
    {"webhook_url": "http://127.0.0.1:9/hook"},
    {"webhook_url": "ftp://127.0.0.1/x", "webhook_secret": "k"},
    {"syslog_udp": "127.0.0.1"},
    {"syslog_tcp": "127.0.0.1:70000"},
    {"syslog_facility": 24},
    {"wall": "maybe"},
    {"retry_attempts": 0},
    {"base_url": "seatguard.example"},
])
def test_bad_settings_are_refused_when_built(options: dict[str, Any]) -> None:
    with pytest.raises(AlertConfigError):
        AlertConfig(**options)


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b"The quick brown fox jumps over the lazy dog"
    assert sign("key", body) == "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    assert verify("key", body, sign("key", body))
    assert not verify("key", body + b" ", sign("key", body)) and not verify("key", body, None)


def _payload(text: str) -> dict[str, Any]:
    alert = {"id": 3, "rule": "remote_access", "severity": "high", "agent_id": "pc-1", "team": 'cs "a"]\\',
             "date": "2026-11-24", "seq": 9, "value": 1.0, "threshold": 1.0, "state": "open", "repeats": 0,
             "link": "/agents/pc-1/timeline?date=2026-11-24#seq-9", "title": "remote access tool started",
             "reasons": [{"text": text}]}
    return {"event": "alert.raised", "delivery_id": "d1", "alert": alert}


def test_syslog_structured_data_is_escaped_and_udp_messages_fit() -> None:
    msg = parse_syslog(format_message(_payload("短"), 10))
    assert msg["sd"][SD_ID]["team"] == 'cs "a"]\\' and msg["severity"] == 3 and msg["facility"] == 10
    long = format_message(_payload("很长的原因" * 400), 16, UDP_MAX)
    assert len(long) <= UDP_MAX
    parsed = parse_syslog(long)
    assert parsed["msgid"] == "alert.raised" and parsed["msg"].startswith("remote access tool started")
