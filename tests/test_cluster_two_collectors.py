"""Two real `serve` processes on one PostgreSQL act as one service (issue 16, item 1).

- a policy saved through collector A is what B serves (API and batch answers) within a second, and a
  heartbeat naming it reaches B without being taken for a policy B never issued;
- two saves based on the same version, one through each collector at the same moment: one lands,
  the other is a 409 conflict that says why;
- a batch stored through A wakes a live-wall stream open on B before that stream's own poll, and an
  alert raised on A reaches B's wall;
- the daily jobs (retention, report) run once although both processes find them due, the silence
  check runs once per period for the cluster, and every run is recorded (``stats`` shows them).
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from collector.customer_secret import SECRET_FILE
from collector.keys import KEY_FILE, SIGNING_KEY_FILE
from contract.schema import format_ts
from contract.signed_policy import policy_hash
from tests.conftest import COLLECTOR, CollectorProcess, run_cli, wait_for
from tests.storage_fixtures import pg_schema
from tests.web_fixtures import SimAgent

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
SILENCE_CHECK_S = 1.0


@dataclass
class Cluster:
    url: str
    a: CollectorProcess
    b: CollectorProcess
    admin: dict[str, str]

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        schema = self.url.rsplit("%3D", 1)[1]
        with psycopg.connect(self.url.split("?")[0], options=f"-csearch_path={schema}") as conn:
            return list(conn.execute(query, args))

    def poster(self, collector: CollectorProcess) -> Any:
        def post(path: str, body: bytes) -> requests.Response:
            return requests.post(collector.url + path, data=body, headers={"Content-Type": "application/json"},
                                 timeout=10)

        return post


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    with pg_schema() as url:
        first = root / "collector-a"
        first.mkdir()
        (first / "collector.toml").write_text(
            f'db_url = "{url}"\nreport_time = "00:00"\nalert_silence_check_s = {SILENCE_CHECK_S}\n', encoding="utf-8")
        a = CollectorProcess(first)
        second = root / "collector-b"
        second.mkdir()
        for name in ("collector.toml", KEY_FILE, SIGNING_KEY_FILE, SECRET_FILE):  # one deployment: same settings, keys
            shutil.copy2(first / name, second / name)
        b = CollectorProcess(second)
        run_cli(COLLECTOR, "user", "add", "--data", str(first), "--name", "boss", "--role", "admin")
        token = run_cli(COLLECTOR, "token", "create", "--data", str(first), "--user", "boss").strip()
        try:
            a.start()
            b.start()
            yield Cluster(url, a, b, {"Authorization": f"Bearer {token}"})
        finally:
            a.kill()
            b.kill()


def _policy(cluster: Cluster, collector: CollectorProcess) -> dict[str, Any]:
    answer = requests.get(collector.url + "/api/v1/policy", headers=cluster.admin, timeout=10)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["policy"])


def _save(cluster: Cluster, collector: CollectorProcess, changes: dict[str, Any],
          version: int | None) -> requests.Response:
    return requests.post(collector.url + "/api/v1/policy", json={"policy": changes, "version": version},
                         headers=cluster.admin, timeout=10)


def _beat(policy: dict[str, Any]) -> dict[str, Any]:
    return {"ts": format_ts(datetime.now(UTC)), "kind": "agent.heartbeat", "spool_depth": 0, "dropped_total": 0,
            "cpu_pct": 1.0, "rss_mb": 50.0, "policy_version": policy["version"], "policy_hash": policy_hash(policy),
            "unsigned_answers": 0}


def _focus(app: str) -> dict[str, Any]:
    return {"ts": format_ts(datetime.now(UTC)), "kind": "app.focus", "app": app, "title": "t", "pid": 1}


def test_a_policy_saved_through_a_is_served_by_b_within_a_second(cluster: Cluster) -> None:
    answers: list[requests.Response] = []
    post_b = cluster.poster(cluster.b)

    def recording(path: str, body: bytes) -> Any:
        answers.append(post_b(path, body))
        return answers[-1]

    agent = SimAgent("pc-policy")
    agent.enroll(cluster.poster(cluster.a), cluster.a.token())
    before = _policy(cluster, cluster.b)
    for idle in (200, 210, 220):
        saved = _save(cluster, cluster.a, {"idle_threshold_s": idle}, before["version"])
        assert saved.status_code == 200, saved.text
        new = saved.json()["policy"]
        assert new["version"] == before["version"] + 1 and new["idle_threshold_s"] == idle
        started = time.monotonic()
        # at once, before B can have heard of it: an agent that got it from A reports it to B
        agent.send(recording, [_beat(new)])
        while _policy(cluster, cluster.b)["version"] != new["version"]:
            assert time.monotonic() - started < 1.0, "collector B still serves the old policy after a second"
            time.sleep(0.02)
        assert _policy(cluster, cluster.b) == new
        agent.send(recording, [_focus("notepad.exe")])
        assert answers[-1].json()["policy"] == new, "B hands agents the policy saved through A"
        before = new
    findings = cluster.sql("SELECT kind, detail FROM integrity WHERE agent_id = %s", "pc-policy")
    assert not [f for f in findings if f[0] in ("policy_mismatch", "forged_answers")], findings
    issued = cluster.sql("SELECT version, hash FROM policy_versions ORDER BY version")
    assert [v for v, _h in issued] == list(range(1, before["version"] + 1))
    assert issued[-1][1] == policy_hash(before)


def test_two_saves_of_one_version_at_once_conflict(cluster: Cluster) -> None:
    base = _policy(cluster, cluster.a)
    barrier = threading.Barrier(2)
    results: dict[str, requests.Response] = {}

    def save(name: str, collector: CollectorProcess, idle: int) -> None:
        barrier.wait()
        results[name] = _save(cluster, collector, {"idle_threshold_s": idle}, base["version"])

    threads = [threading.Thread(target=save, args=("a", cluster.a, 301)),
               threading.Thread(target=save, args=("b", cluster.b, 302))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(20)
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 409], {k: (r.status_code, r.text) for k, r in results.items()}
    won = next(k for k, r in results.items() if r.status_code == 200)
    lost = results["b" if won == "a" else "a"].json()["error"]
    assert lost["code"] == "conflict" and f"version {base['version']}" in lost["message"]
    assert "reload" in lost["message"]
    winner = 301 if won == "a" else 302
    for collector in (cluster.a, cluster.b):  # the winner's policy stands, everywhere
        deadline = time.monotonic() + 1.0
        while _policy(cluster, collector)["version"] != base["version"] + 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _policy(cluster, collector)["idle_threshold_s"] == winner
    stale = _save(cluster, cluster.b, {"idle_threshold_s": 303}, base["version"])
    assert stale.status_code == 409, "a save from an outdated editor never overwrites"
    assert _save(cluster, cluster.b, {"idle_threshold_s": 303}, base["version"] + 1).status_code == 200


class Stream:
    """A live-wall server-sent-event stream read in a thread: (arrival time, event, data)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.events: queue.Queue[tuple[float, str, Any]] = queue.Queue()
        self.response = requests.get(url + "/api/v1/wall/events", headers=headers, stream=True, timeout=30)
        assert self.response.status_code == 200
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        event = ""
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    self.events.put((time.monotonic(), event, json.loads(line[6:])))
        except (requests.RequestException, AttributeError):  # closed by the test
            return

    def next(self, want: str, timeout: float, agent_id: str | None = None) -> tuple[float, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no {want!r} event on the stream within {timeout} s"
            try:
                at, event, data = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if event == want and (agent_id is None or data.get("agent_id") == agent_id):
                return at, data

    def close(self) -> None:
        self.response.close()


def _viewer_wakes_for_each_batch(stream: Stream, agent: SimAgent, post: Any, agent_id: str) -> None:
    """Three times, right after the stream's last wake-up and well before its next poll, a new app comes to the
    front of ``agent`` (posted through another process): the viewer must hear of it well before its poll."""
    from collector.web.wall_page import POLL_S

    for n in range(3):
        time.sleep(0.2)
        sent = time.monotonic()
        agent.send(post, [_focus(f"app{n}.exe")])
        at, row = stream.next("agent", POLL_S * 3, agent_id)
        assert row["app"] == f"app{n}.exe"
        assert at - sent < POLL_S / 2, f"the viewer woke {at - sent:.2f} s after the batch: by its poll only"


def test_a_batch_through_a_wakes_a_wall_viewer_on_b(cluster: Cluster) -> None:

    agent = SimAgent("pc-wall")
    post_a = cluster.poster(cluster.a)
    agent.enroll(post_a, cluster.a.token())
    agent.send(post_a, [_focus("notepad.exe")])
    stream = Stream(cluster.b.url, cluster.admin)
    try:
        stream.next("snapshot", 10)
        _viewer_wakes_for_each_batch(stream, agent, post_a, "pc-wall")
        # an alert raised on A (a remote-access tool starts) is pushed to the viewer on B
        agent.send(post_a, [{"ts": format_ts(datetime.now(UTC)), "kind": "process.start", "name": "ToDesk.exe",
                             "exe": "C:\\ToDesk.exe", "pid": 9, "category": "remote_access"}])
        _at, alert = stream.next("alert", 20, "pc-wall")
        assert alert["rule"] and alert["event"] == "alert.raised"
    finally:
        stream.close()


def test_scheduled_jobs_run_once_per_cluster_and_are_recorded(cluster: Cluster) -> None:
    time.sleep(SILENCE_CHECK_S * 4)
    runs = cluster.sql("SELECT job, started, finished, host, pid, outcome FROM job_runs ORDER BY started")
    by_job: dict[str, list[tuple[Any, ...]]] = {}
    for r in runs:
        by_job.setdefault(r[0], []).append(r)
    # both processes found the day's retention and report due at start; each ran once
    assert [r[5] for r in by_job["retention"]] == ["ok"], by_job.get("retention")
    assert [r[5] for r in by_job["daily_report"]] == ["ok"], by_job.get("daily_report")
    assert cluster.sql("SELECT count(*) FROM reports")[0][0] == 1
    checks = [r for r in by_job["silence_check"] if r[5] == "ok"]
    assert len(checks) >= 3
    for earlier, later in zip(checks, checks[1:], strict=False):  # once per period, never side by side
        assert later[1] - earlier[1] >= SILENCE_CHECK_S * 0.85, (earlier, later)
        assert earlier[2] is not None and earlier[2] <= later[1]
    elapsed = checks[-1][1] - checks[0][1]
    assert len(checks) <= elapsed / (SILENCE_CHECK_S * 0.85) + 1, "the silence check ran in both processes"
    assert cluster.a.proc is not None and cluster.b.proc is not None
    assert {r[4] for r in runs} <= {cluster.a.proc.pid, cluster.b.proc.pid}, "runs name the process that ran them"
    stats = cluster.b.stats()
    assert stats["jobs"]["jobs"]["daily_report"]["runs"] == 1
    assert stats["jobs"]["jobs"]["silence_check"]["last_outcome"] in ("ok", "running")


def test_overtime_entered_through_a_applies_to_the_alerts_b_raises_next(cluster: Cluster) -> None:
    from tests.test_shift_alerts import TZ, at, casework, late_evening, remote_tool, usb

    day = datetime.now(TZ).date() - timedelta(days=1)
    post_b = cluster.poster(cluster.b)

    def rules(name: str) -> set[str]:
        answer = requests.get(cluster.a.url + "/api/v1/alerts", headers=cluster.admin, timeout=10,
                              params={"agent": name, "date": day.isoformat()})
        assert answer.status_code == 200, answer.text
        return {a["rule"] for a in answer.json()["alerts"]}

    def raised(name: str, rule: str) -> set[str]:
        return set(wait_for(lambda: got if rule in (got := rules(name)) else None, 30, what=f"{rule} for {name}"))

    agents = {name: SimAgent(name) for name in ("pc-ot-b", "pc-ot-b-none")}
    for name, agent in agents.items():  # B judges the day once with the usual shift (and keeps its entries)
        agent.enroll(post_b, cluster.b.token())
        agent.send(post_b, casework(day, "09:00", "18:00") + [remote_tool(at(day, "10:00"))])
        assert "after_hours" not in raised(name, "remote_access")
    entered = requests.post(cluster.a.url + "/api/v1/agents/pc-ot-b/shifts", headers=cluster.admin, timeout=10,
                            json={"date": day.isoformat(), "start": "18:00", "end": "22:00", "overtime": True})
    assert entered.status_code == 200, entered.text
    for agent in agents.values():
        agent.send(post_b, late_evening(day) + [usb(at(day, "21:10"))])
    assert "after_hours" in wait_for(lambda: rules("pc-ot-b-none") & {"after_hours"}, 30, what="after_hours")
    assert "after_hours" not in raised("pc-ot-b", "drive_mount"), "B judged the evening without A's entry"


class IngestOnlyProcess(CollectorProcess):
    """``serve --parts health,ingest``: what agents call, no web UI."""

    def start(self) -> None:
        log = (self.data / "serve.out").open("ab")
        self.proc = subprocess.Popen([COLLECTOR, "serve", "--data", str(self.data), "--port", str(self.port),
                                      "--parts", "health,ingest"], stdout=log, stderr=subprocess.STDOUT)
        self._wait_healthy()


def test_a_batch_through_an_ingest_only_collector_wakes_a_wall_viewer_on_b(
        cluster: Cluster, tmp_path: Path) -> None:
    """Agents behind the load balancer reach ingest-only processes; the live wall is served by another one.
    The batches they store must wake its viewers as A's do, not only at the viewers' own poll."""

    data = tmp_path / "collector-c"
    data.mkdir()
    for name in ("collector.toml", KEY_FILE, SIGNING_KEY_FILE, SECRET_FILE):
        shutil.copy2(cluster.a.data / name, data / name)
    c = IngestOnlyProcess(data)
    c.start()
    try:
        agent = SimAgent("pc-ingest-only")
        post_c = cluster.poster(c)
        agent.enroll(post_c, cluster.a.token())
        agent.send(post_c, [_focus("notepad.exe")])
        stream = Stream(cluster.b.url, cluster.admin)
        try:
            stream.next("snapshot", 10)
            _viewer_wakes_for_each_batch(stream, agent, post_c, "pc-ingest-only")
        finally:
            stream.close()
    finally:
        c.kill()
