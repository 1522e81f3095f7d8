"""Alert channels by name: the built-ins through the registry, and a new channel as one class + one registration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collector.alerts.channels import (
    BUILTIN_CHANNELS,
    CHANNELS,
    WallChannel,
    build_channels,
    register_channel,
    unregister_channel,
)
from collector.alerts.config import AlertConfig
from collector.alerts.errors import AlertConfigError
from collector.alerts.model import Alert
from collector.alerts.syslog import SyslogTcpChannel, SyslogUdpChannel
from collector.alerts.webhook import WebhookChannel
from collector.cli import main as collector_main
from collector.service import Collector
from tests.conftest import DATA_DIRS


class MemoryChannel:
    """A channel an extension might add: keeps what it was sent (on when ``alert_base_url`` is set)."""

    name = "memory"
    durable = True
    sent: list[dict[str, Any]] = []

    @classmethod
    def from_config(cls, config: AlertConfig) -> MemoryChannel | None:
        return cls() if config.base_url else None

    def send(self, payload: dict[str, Any]) -> None:
        self.sent.append(payload)

    def close(self) -> None:
        return None


@pytest.fixture
def memory() -> Iterator[type[MemoryChannel]]:
    register_channel(MemoryChannel)
    MemoryChannel.sent = []
    yield MemoryChannel
    unregister_channel("memory")


def test_builtins_are_registered_in_order() -> None:
    assert BUILTIN_CHANNELS == ("wall", "webhook", "syslog_udp", "syslog_tcp", "syslog_tls")
    assert [c.name for c in build_channels(AlertConfig(wall="off"))] == []
    built = build_channels(AlertConfig(webhook_url="https://siem.example/hook", webhook_secret="k",
                                       syslog_udp="127.0.0.1:514", syslog_tcp="127.0.0.1:6514",
                                       syslog_facility=4, webhook_timeout_s=2.0))
    assert [c.name for c in built] == ["wall", "webhook", "syslog_udp", "syslog_tcp"]
    wall, hook, udp, tcp = built
    assert isinstance(wall, WallChannel) and not wall.durable
    assert isinstance(hook, WebhookChannel) and hook.url.hostname == "siem.example" and hook.timeout_s == 2.0
    assert isinstance(udp, SyslogUdpChannel) and udp.address == ("127.0.0.1", 514) and udp.facility == 4
    assert isinstance(tcp, SyslogTcpChannel) and tcp.address == ("127.0.0.1", 6514) and tcp.timeout_s == 2.0


def test_a_new_channel_is_one_class_and_one_registration(memory: type[MemoryChannel]) -> None:
    assert "memory" in CHANNELS
    assert [c.name for c in build_channels(AlertConfig(wall="off"))] == []
    built = build_channels(AlertConfig(wall="off", base_url="https://seatguard.example"))
    assert [c.name for c in built] == ["memory"] and isinstance(built[0], MemoryChannel)
    register_channel(MemoryChannel)  # the same class again: nothing changes


def test_bad_registrations_are_refused(memory: type[MemoryChannel]) -> None:
    class Other(MemoryChannel):
        pass

    with pytest.raises(AlertConfigError, match="already taken"):
        register_channel(Other)

    class Nameless:
        name = ""

    with pytest.raises(AlertConfigError, match="not a channel class"):
        register_channel(Nameless)
    with pytest.raises(AlertConfigError, match="no alert channel named 'nope'"):
        unregister_channel("nope")

    class Liar(MemoryChannel):
        name = "liar"

        @classmethod
        def from_config(cls, config: AlertConfig) -> MemoryChannel | None:
            return MemoryChannel()  # a channel under another name than it was registered by

    register_channel(Liar)
    try:
        with pytest.raises(AlertConfigError, match="built a channel named 'memory'"):
            build_channels(AlertConfig(wall="off", base_url="https://seatguard.example"))
    finally:
        unregister_channel("liar")


def test_a_registered_channel_delivers_through_the_outbox(memory: type[MemoryChannel], tmp_path: Path) -> None:
    data = tmp_path / "c"
    assert collector_main(["init", "--data", str(data)]) == 0
    DATA_DIRS.append(data)
    collector = Collector.open(data, {"alert_wall": "off", "alert_base_url": "https://seatguard.example"})
    try:
        service = collector.alerts
        assert service.dispatcher.lanes.keys() == {"memory"}
        alert = Alert(key="pc-x|test|2026-01-05", rule="test", severity="high", agent_id="pc-x", team="cs",
                      day="2026-01-05", seq=1, title="a test alert", title_zh="测试", value=3.0, threshold=1.0,
                      reasons=[])
        assert service.record(alert) is not None
        assert service.wait_idle(10), "the memory lane went idle"
        assert [(p["event"], p["alert"]["rule"]) for p in MemoryChannel.sent] == [("alert.raised", "test")]
        assert service.store.counts().get("sent") == 1
    finally:
        collector.close()
