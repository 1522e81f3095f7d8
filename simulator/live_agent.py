"""One live person's PC: the real agent runner, with the simulated day as its only sensor.

``python -m simulator.live_agent --home HOME`` runs what ``seatguard-agent run`` runs (the
instance lock, :class:`agent.runner.Runner`: agent.start, heartbeats, the batch builder, the sealed
spool, the uploader, signed policies, agent.stop on SIGTERM/SIGINT) for an agent enrolled in
``HOME``, whose ``live.json`` (:class:`simulator.live.LiveSpec`) says who it plays. The
:class:`LiveDesk` sensor hands each event of :func:`simulator.live.today_script` to the runner's
batch builder when the wall clock reaches it; after the shift's last event the PC shuts down (the
runner stops as on SIGTERM, with agent.stop). Like the simulator's output folder, ``HOME`` gets a
``raw_identifiers.txt``: the unmasked numbers the day's windows show, which the collector must mask.

:class:`LiveFloor` starts and stops those processes for ``make demo`` and the tests; each runs in
its own session so that a Ctrl+C reaches only the demo, which stops the agents before the collector.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agent.config import load_config
from agent.identity import load_identity
from agent.pipeline import BatchBuilder, open_spool
from agent.runner import InstanceLock, Runner
from simulator.desktop import Record
from simulator.live import LiveSpec, local_ms, to_datetime, today_script

log = logging.getLogger(__name__)
MODULE = "simulator.live_agent"  # what a live agent's command line runs
LOG_FILE = "live.log"
RAW_FILE = "raw_identifiers.txt"  # the unmasked numbers its windows may show (what privacy tests look for)


class Script:
    """Today's events and how far the agent got; shared by successive sensors (a policy change
    restarts the sensors, and the day goes on where it was)."""

    def __init__(self, records: list[Record]) -> None:
        self.records = records
        self.next = 0
        self.over = threading.Event()  # set when the shift's last event is out: the PC shuts down


class LiveDesk:
    """A sensor that emits the script's events at their moment on the wall clock."""

    name = "live_desk"

    def __init__(self, sink: BatchBuilder, script: Script) -> None:
        self.sink = sink
        self.script = script
        self.emitted = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="live-desk", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def status(self) -> dict[str, Any]:
        left = len(self.script.records) - self.script.next
        return {"available": True, "emitted": self.emitted, "left_today": left}

    def _run(self) -> None:
        script = self.script
        while script.next < len(script.records) and not self._stop.is_set():
            record = script.records[script.next]
            wait_s = (record.t - local_ms()) / 1000
            if wait_s > 0:
                self._stop.wait(min(wait_s, 1.0))
                continue
            self.sink.emit(record.kind, dict(record.fields), to_datetime(record.t))
            script.next += 1
            self.emitted += 1
        if script.next >= len(script.records):
            log.info("the simulated shift is over: %d events emitted; shutting down", self.emitted)
            script.over.set()


def run(home: Path) -> int:
    """Run one live agent until SIGTERM or SIGINT; the exit status of ``seatguard-agent run``."""
    spec = LiveSpec.load(home)
    config = load_config(home)
    identity = load_identity(home)
    script = Script(today_script(spec))
    raw = sorted({number for record in script.records for number in record.raw})
    (home / RAW_FILE).write_text("".join(f"{number}\n" for number in raw), encoding="utf-8")
    log.info("live agent %s (%s): %d events until the end of the shift, %d acts", identity.agent_id,
             "insider" if spec.insider else "ordinary", len(script.records), len(spec.acts))
    lock = InstanceLock(home)
    lock.acquire()
    spool = open_spool(home, config)

    def sensors(sink: BatchBuilder, _policy: dict[str, Any], home: Path | None = None) -> list[Any]:
        return [LiveDesk(sink, script)]

    try:
        runner = Runner(home, identity, spool, config, sensors)
        threading.Thread(target=_stop_when, args=(script.over, runner.stop_event), daemon=True).start()
        return runner.run()
    finally:
        spool.close()
        lock.release()


def _stop_when(over: threading.Event, stop: threading.Event) -> None:
    while not stop.is_set():
        if over.wait(1.0):
            stop.set()


class LiveFloor:
    """The live agents' processes (one per enrolled home holding a ``live.json``)."""

    def __init__(self, homes: Iterable[Path], env: dict[str, str] | None = None) -> None:
        self.homes = list(homes)
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> list[int]:
        env = {**os.environ, **(self.env or {})}
        for home in self.homes:
            with (home / LOG_FILE).open("ab") as out:
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "simulator.live_agent", "--home", str(home)],
                    stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True))
        return [p.pid for p in self.procs]

    def running(self) -> int:
        return sum(1 for p in self.procs if p.poll() is None)

    def stop(self, timeout: float = 20.0) -> list[int | None]:
        """SIGTERM every agent (each sends agent.stop and drains its spool), then wait; kill stragglers.
        Returns the exit codes (None: it had to be killed)."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        codes: list[int | None] = []
        for proc in self.procs:
            try:
                codes.append(proc.wait(max(0.1, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
                codes.append(None)
        self.procs = []
        return codes


def runs(pid: int, *needles: str) -> bool:
    """Whether process ``pid`` exists and its command line holds every one of ``needles`` (a PID read
    from a stale file may belong to any other process by now)."""
    import psutil

    try:
        cmdline = " ".join(psutil.Process(pid).cmdline())
    except (psutil.Error, OSError):
        return False
    return all(n in cmdline for n in needles)


def stop_pids(pids: Iterable[int], timeout: float = 10.0, needles: tuple[str, ...] = (MODULE,)) -> None:
    """SIGTERM live agents left over by an earlier demo that did not get to stop them: only processes
    whose command line holds every one of ``needles`` (by default: runs this module)."""
    alive = []
    for pid in pids:
        if not runs(pid, *needles):
            log.info("pid %d is not a leftover live agent: left alone", pid)
            continue
        try:
            os.kill(pid, signal.SIGTERM)
            alive.append(pid)
        except (ProcessLookupError, PermissionError):
            continue
    deadline = time.monotonic() + timeout
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [pid for pid in alive if _exists(pid)]


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator.live_agent", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="an enrolled agent home holding live.json")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    return run(args.home)


if __name__ == "__main__":
    raise SystemExit(main())
