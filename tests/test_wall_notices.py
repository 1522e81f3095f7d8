"""The live wall tells other collector processes about stored batches in one notice per short window
(collector.wall.WallHub), not one NOTIFY per batch, and every agent still reaches them within a second."""

from __future__ import annotations

import time
from typing import Any

import orjson

from collector.storage.notify import MAX_PAYLOAD, ChangeFeed
from collector.wall import WALL_NOTICE_S, WallHub
from tests.conftest import wait_for


class RecordingFeed(ChangeFeed):
    reaches_others = True

    def __init__(self) -> None:
        super().__init__()
        self.published: list[tuple[float, str, dict[str, Any]]] = []

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self.published.append((time.monotonic(), topic, payload))

    def agents(self) -> list[str]:
        return [a for _, topic, p in self.published if topic == WallHub.WALL for a in p["agents"]]


def test_the_batches_of_a_window_travel_in_one_notice_within_a_second() -> None:
    assert WALL_NOTICE_S <= 0.5
    hub, feed = WallHub(), RecordingFeed()
    hub.attach(feed)
    agents = [f"pc-{i:03d}" for i in range(200)]
    started = time.monotonic()
    for _ in range(5):  # five batches of every agent, as fast as ingest can store them
        for agent_id in agents:
            hub.publish(agent_id)
    wait_for(lambda: len(feed.agents()) >= len(agents), timeout=1.0, what="the window's wall notice")
    assert feed.published[-1][0] - started < 1.0
    assert sorted(feed.agents()) == agents  # each agent named once, none lost
    assert len(feed.published) == 1
    hub.publish("pc-late")  # a batch after the window went out: the next notice names it
    wait_for(lambda: "pc-late" in feed.agents(), timeout=1.0, what="the next window's notice")
    assert len(feed.published) == 2 and feed.published[1][2] == {"agents": ["pc-late"]}


def test_a_window_with_more_agents_than_one_notice_holds_is_cut_into_notices_that_fit() -> None:
    hub, feed = WallHub(window_s=0.05), RecordingFeed()
    hub.attach(feed)
    agents = [f"agent-with-a-long-name-{i:05d}" for i in range(1500)]
    for agent_id in agents:
        hub.publish(agent_id)
    wait_for(lambda: len(feed.agents()) >= len(agents), timeout=2.0, what="every agent's notice")
    assert sorted(feed.agents()) == agents
    assert len(feed.published) > 1
    for _, topic, payload in feed.published:
        body = orjson.dumps({"t": topic, "o": "0" * 12, "p": payload})
        assert len(body) < MAX_PAYLOAD


def test_without_other_processes_to_tell_nothing_is_gathered() -> None:
    hub = WallHub()
    hub.publish("pc-1")
    assert hub.flush() == 0 and hub.notices == 0
    hub.attach(ChangeFeed())  # SQLite: the feed reaches no other process
    hub.publish("pc-1")
    assert hub.flush() == 0 and hub._sender is None
