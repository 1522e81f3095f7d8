"""Benchmark: every sensor in one process during a scripted desktop session on Xvfb.

    .venv/bin/python bench/agent.py [--seconds 600]                 # the sensors alone, null sink
    .venv/bin/python bench/agent.py --full [--tls] [--seconds 90]  # the whole `seatguard-agent run`

Starts Xvfb with openbox and three windows, then a child process running all sensors (a null
sink: events are counted and dropped) while this process plays a seat: the focus moves every 2 s
(titles carry case numbers), the mouse moves with it, a copy (ctrl+c, then xclip with an ID
number) every 30 s, and a 40 s idle stretch (nobody at the PC) in every 150 s, from its 15th
second on. It samples the child's RSS once a second and its CPU time at the start and end, and
prints the figures (targets: RSS <= 40 MB, CPU <= 1 % of one core), with the resident memory split
into anonymous (heap, Python objects) and file-backed (mapped libraries) parts.

``--full`` measures the real ``seatguard-agent run`` process instead (sensors, sealing, spool and
uploads to a local collector); ``--tls`` adds HTTPS with a private CA, as deployments run it.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COPY_TEXT = "Wang Fang 110101199003071233 mobile 13812345678 owes 12,400.00"
CYCLE_S, IDLE_AT_S, IDLE_FOR_S, IDLE_THRESHOLD_S = 150, 15, 40, 30  # away 15..55 s of every 150 s


class CountingSink:
    """Counts events (and screenshot blobs) per kind, keeps nothing."""

    def __init__(self) -> None:
        self.kinds: dict[str, int] = {}
        self.blobs = 0
        self._lock = threading.Lock()

    def emit(self, kind: str, fields: dict[str, Any], ts: datetime | None = None) -> None:
        with self._lock:
            self.kinds[kind] = self.kinds.get(kind, 0) + 1

    def emit_blob(self, blob_id: str, data: bytes) -> None:
        with self._lock:
            self.blobs += 1


def child(home: Path, watch: Path) -> int:
    """The measured process: all registered sensors, default intervals, then stop on SIGTERM."""
    from agent.sensors import AgentPolicy, SensorSet

    policy = AgentPolicy(case_id_patterns=[r"Case (\d{4})"], idle_threshold_s=IDLE_THRESHOLD_S,
                         watched_folders=[str(watch)], sensitive_apps=["crm"], extension_port=0,
                         screenshot_triggers=["sensitive_copy"])
    sink = CountingSink()
    sensors = SensorSet(sink, policy, home=home)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    sensors.start()
    print(json.dumps({"ready": True}), flush=True)
    done.wait()
    sensors.stop()
    status = {name: {k: v for k, v in s.items() if k in ("available", "why", "emitted", "errors")}
              for name, s in sensors.status().items()}
    print(json.dumps({"events": sink.kinds, "blobs": sink.blobs, "status": status}), flush=True)
    return 0


def play(x: Any, windows: list[int], seconds: float, stop: threading.Event) -> dict[str, int]:
    """Drive the desktop until ``seconds`` have passed."""
    start = time.monotonic()
    tick = 0
    acted = {"focus": 0, "copies": 0, "idle_stretches": 0}
    was_idle = False
    while not stop.is_set():
        elapsed = time.monotonic() - start
        if elapsed >= seconds:
            break
        in_idle = IDLE_AT_S <= elapsed % CYCLE_S < IDLE_AT_S + IDLE_FOR_S
        acted["idle_stretches"] += int(in_idle and not was_idle)
        was_idle = in_idle
        if not in_idle:
            x.xdotool("windowactivate", str(windows[tick % len(windows)]))
            if tick % 5 == 0:
                x.xdotool("set_window", "--name", f"Case {4000 + tick // 5 % 50} - CRM", str(windows[0]))
            x.xdotool("mousemove", str(100 + tick % 300), str(100 + tick % 200))
            acted["focus"] += 1
            if tick % 15 == 0:
                x.xdotool("key", "ctrl+c")
                x.copy_text(COPY_TEXT)
                acted["copies"] += 1
        tick += 1
        stop.wait(max(start + tick * 2.0 - time.monotonic(), 0))
    return acted


def _rss_split(pid: int) -> dict[str, float]:
    """Where the resident memory is: heap and Python objects (anon) against mapped code and libraries (file),
    and the biggest file mappings (Linux only; empty elsewhere)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        smaps = Path(f"/proc/{pid}/smaps").read_text()
    except OSError:
        return {}
    split = {line.split(":")[0].replace("Rss", "").lower(): round(int(line.split()[1]) / 1024, 1)
             for line in status.splitlines() if line.startswith(("RssAnon", "RssFile"))}
    per_file: dict[str, int] = {}
    name = ""
    for line in smaps.splitlines():
        head = line.split()
        if len(head) >= 5 and "-" in head[0] and ":" not in head[0]:
            name = Path(head[5]).name if len(head) >= 6 and head[5].startswith("/") else ""
        elif line.startswith("Rss:") and name:
            per_file[name] = per_file.get(name, 0) + int(head[1])
    for lib, kb in sorted(per_file.items(), key=lambda kv: -kv[1])[:5]:
        split[f"file:{lib}"] = round(kb / 1024, 1)
    return split


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the scripted session")
    parser.add_argument("--full", action="store_true",
                        help="measure the whole `seatguard-agent run` process (sensors, sealing, spool, uploads to a "
                             "real local collector) instead of the sensors with a null sink")
    parser.add_argument("--tls", action="store_true",
                        help="with --full: the collector serves HTTPS and the agent trusts a private CA (tls_verify)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--watch", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.home, args.watch)

    import psutil

    from simulator.testing.sensors import xvfb

    with tempfile.TemporaryDirectory(prefix="seatguard-bench-") as tmp, xvfb() as x:
        folder = Path(tmp)
        (folder / "Downloads").mkdir()
        windows = [x.open_window("Case 4000 - CRM", "crm", folder), x.open_window("Inbox", "mail", folder),
                   x.open_window("Notes", "notes", folder)]
        collector = None
        if args.full:
            from tests.conftest import AGENT, CollectorProcess, wait_for

            if args.tls:  # HTTPS with the company's own CA, as a deployment would run it
                from tests.tls_fixtures import TlsCollector, make_pki

                pki = make_pki(folder / "pki")
                collector = TlsCollector(folder / "collector", pki.server, pki.ca)
                (folder / "home").mkdir()
                (folder / "home" / "agent.toml").write_text(f'tls_verify = "{pki.ca}"\n', encoding="utf-8")
            else:
                collector = CollectorProcess(folder / "collector")
            collector.start()
            collector.enroll(folder / "home", "bench-seat")
            proc = subprocess.Popen([AGENT, "run", "--home", str(folder / "home")],
                                    env={**x.env, "HOME": str(folder)}, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, text=True)
            wait_for(lambda: collector.stats()["events"] > 0, 60, what="agent.start at the collector")
        else:
            proc = subprocess.Popen([sys.executable, __file__, "--child", "--home", str(folder / "home"),
                                     "--watch", str(folder / "Downloads")],
                                    env=x.env, stdout=subprocess.PIPE, text=True)
            assert proc.stdout is not None
            ready = proc.stdout.readline()
            if "ready" not in ready:
                proc.kill()
                print("the sensor process did not start", file=sys.stderr)
                return 1
        measured = psutil.Process(proc.pid)
        samples: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                samples.append(measured.memory_info().rss / 2**20)
                stop.wait(1.0)

        cpu0, wall0 = measured.cpu_times(), time.monotonic()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        acted = play(x, windows, args.seconds, stop)
        cpu1, wall1 = measured.cpu_times(), time.monotonic()
        stop.set()
        sampler.join()
        threads = measured.num_threads()
        split = _rss_split(proc.pid)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        if collector is not None:
            stats = collector.stats()
            collector.stop()
            out = json.dumps({"events": {"stored_at_collector": stats["events"]}, "blobs": None,
                              "status": "full agent process" + (" over HTTPS" if args.tls else "")})
    report = json.loads(out.strip().splitlines()[-1])
    cpu_s = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    figures = {
        "seconds": round(wall1 - wall0, 1),
        "cpu_pct_of_one_core": round(100 * cpu_s / (wall1 - wall0), 3),
        "rss_mb_start": round(samples[0], 1),
        "rss_mb_mean": round(statistics.mean(samples), 1),
        "rss_mb_peak": round(max(samples), 1),
        "rss_split_mb": split,
        "threads": threads,
        "session": acted,
        "events": report["events"],
        "screenshots": report["blobs"],
        "sensors": report["status"],
    }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
