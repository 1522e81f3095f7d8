"""``make demo``: a simulated call center shipped through the real pipeline into a running collector.

Steps: reset ``demo-data/``; simulate the fleet (``seatguard-simulate``); ``init`` a collector on
SQLite and ``serve`` it; enroll every simulated PC for real (one-time tokens, Ed25519 keys, HPKE key);
replay each PC's history with ``seatguard-agent replay --wait`` (sealed, signed, spooled, uploaded);
build the daily report; print where to look; then, while serving until Ctrl+C, keep a live floor of
simulated agents working today (:mod:`simulator.live`): each is enrolled like any PC and runs the
real agent runner (:mod:`simulator.live_agent`), so the live wall moves and alerts fire. Ctrl+C
stops the live agents (each sends agent.stop and drains its spool), then the collector.

    python -m simulator.demo [--agents 40] [--days 15] [--seed 7] [--port 8000] [--no-serve]
                             [--live 5] [--insiders 2] [--first-act-s 45] [--act-every-s 180]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

from simulator.live import LIVE_TEAM, LiveSpec, plan_floor, to_datetime
from simulator.live_agent import MODULE, LiveFloor, runs, stop_pids

log = logging.getLogger(__name__)
BIN = Path(sys.executable).parent


def _cli(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else name


def _run(*args: str) -> str:
    proc = subprocess.run(list(args), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed:\n{proc.stderr.strip()[-2000:]}")
    return proc.stdout


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the collector exited early (code {proc.returncode}); see its log in the data folder")
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the collector did not answer on {url} within {timeout:.0f} s")


def _stop_previous(root: Path) -> None:
    live = root / LIVE_PIDS
    if live.exists():  # only this demo's agents and server: a stale PID may be anyone's process by now
        stop_pids((int(p) for p in live.read_text().split() if p.isdigit()),
                  needles=(MODULE, str(root / "live")))
    pidfile = root / "serve.pid"
    if pidfile.exists():
        try:
            pid = int(pidfile.read_text().strip())
            if runs(pid, "serve", str(root / "collector")):
                os.kill(pid, signal.SIGTERM)
                time.sleep(1)
        except (ProcessLookupError, ValueError, PermissionError):
            pass


LIVE_PIDS = "live.pids"


@dataclass(frozen=True)
class LiveOptions:
    """The live floor served next to the demo's history (see :func:`simulator.live.plan_floor`)."""

    agents: int = 5
    insiders: int = 2
    first_act_s: float = 45.0
    act_every_s: float = 180.0


@dataclass
class LiveRun:
    floor: LiveFloor
    specs: list[LiveSpec]
    zone: tzinfo  # the collector's time zone, in which the shifts were entered


def start_live(url: str, data: Path, homes: Path, options: LiveOptions, seed: int) -> LiveRun:
    """Enroll the live floor's PCs with one-time tokens (their shift in the collector's time zone) and
    start their agents. The caller stops them with :meth:`LiveFloor.stop`."""
    from agent.identity import enroll
    from collector.service import Collector

    specs = plan_floor(seed, options.agents, options.insiders, options.first_act_s, options.act_every_s)
    admin_side = Collector.open(data)
    try:
        zone = admin_side.settings.tz
        for spec in specs:
            token = admin_side.enrollment.create_token(spec.team, spec.role, spec.shift_in(zone), spec.agent_id)
            enroll(homes / spec.agent_id, url, token, spec.agent_id)
            spec.save(homes / spec.agent_id)
    finally:
        admin_side.close()
    floor = LiveFloor([homes / spec.agent_id for spec in specs])
    floor.start()
    return LiveRun(floor, specs, zone)


def run_demo(root: Path, agents: int, days: int, seed: int, port: int, serve: bool, workers: int = 4,
             live: LiveOptions | None = None) -> dict[str, Any]:
    """Build the demo (history, report) and, with ``serve``, serve it with the live floor until Ctrl+C
    (``live=None``: the default :class:`LiveOptions`; ``LiveOptions(agents=0)``: no live floor)."""
    live = LiveOptions() if live is None else live
    started = time.monotonic()
    _stop_previous(root)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    data, sim, homes = root / "collector", root / "fleet", root / "agents"
    end = datetime.now(ZoneInfo("Asia/Shanghai")).date() - timedelta(days=1)
    print(f"[1/7] simulating {agents} agents x {days} days up to {end} ...", flush=True)
    _run(_cli("seatguard-simulate"), "--out", str(sim), "--agents", str(agents), "--days", str(days),
         "--seed", str(seed), "--end", end.isoformat(), *_scenarios(agents, days))
    print("[2/7] initialising the collector (SQLite) ...", flush=True)
    init = json.loads(_run(_cli("seatguard-collector"), "init", "--data", str(data)))
    url = f"http://127.0.0.1:{port}"
    log_fh = (data / "serve.out").open("ab")
    server = subprocess.Popen([_cli("seatguard-collector"), "serve", "--data", str(data), "--port", str(port)],
                              stdout=log_fh, stderr=subprocess.STDOUT, start_new_session=True)
    (root / "serve.pid").write_text(str(server.pid))
    floor: LiveFloor | None = None
    try:
        _wait_healthy(url, server)
        fleet = json.loads((sim / "fleet.json").read_text(encoding="utf-8"))
        print(f"[3/7] enrolling {len(fleet)} PCs with one-time tokens ...", flush=True)
        from agent.identity import enroll
        from collector.service import Collector
        from collector.shifts import CLI

        admin_side = Collector.open(data)  # what `seatguard-collector enroll-token` does, without 40 processes
        try:
            for member in fleet:
                shift = f"{member['shift']['start']}-{member['shift']['end']}"
                token = admin_side.enrollment.create_token(member["team"], member["role"], shift)
                enroll(homes / member["agent_id"], url, token, member["agent_id"])
                for entry in member.get("rota", ()):  # the days a lead's other shift was entered
                    admin_side.shifts.set(CLI, member["agent_id"], [entry["date"]], entry["start"], entry["end"])
        finally:
            admin_side.close()
        files = sorted((sim / "events").glob("*.jsonl"))
        total = sum(sum(1 for line in f.open("rb") if line.strip()) for f in files)
        print(f"[4/7] replaying {total:,} events through the agents' spools and uploaders ...", flush=True)
        t0 = time.monotonic()

        def replay(path: Path) -> None:
            _run(_cli("seatguard-agent"), "replay", "--home", str(homes / path.stem), "--wait", str(path))

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(replay, files))
        replay_s = time.monotonic() - t0
        stats = json.loads(_run(_cli("seatguard-collector"), "stats", "--data", str(data)))
        print(f"      stored {stats['events']:,} events ({stats['quarantined']} quarantined) in {replay_s:.1f} s",
              flush=True)
        print(f"[5/7] building the daily report for {end} ...", flush=True)
        report_path = root / f"report-{end}.html"
        reporter = Collector.open(data)  # what `seatguard-collector report` does
        try:
            reporter.reports.build(end.isoformat())
            report = reporter.reports.get(end.isoformat()) or {}
            report_path.write_text(reporter.reports.html(end.isoformat()), encoding="utf-8")
        finally:
            reporter.close()
        with_live = serve and live.agents > 0
        people = _people(data, fleet, [LIVE_TEAM] if with_live else [])
        summary = {"url": url, "data": str(data), "events": stats["events"], "simulated": total,
                   "report_date": end.isoformat(), "report_html": str(report_path), "admin": init.get("admin"),
                   "people": people, "seconds": round(time.monotonic() - started, 1),
                   "findings": [(f["rank"], f["agent_id"], f["severity"]) for f in report["findings"][:10]]}
        _print_summary(summary, sim, report)
        if serve:
            if with_live:
                print(f"[6/7] starting {live.agents} live agents working today ...", flush=True)
                t0 = time.monotonic()
                running = start_live(url, data, root / "live", live, seed + 1)  # other people than the history's
                floor = running.floor
                print(f"      enrolled and started in {time.monotonic() - t0:.1f} s", flush=True)
                (root / LIVE_PIDS).write_text(" ".join(str(p.pid) for p in floor.procs))
                _print_live(running, live, url)
            print(f"[7/7] serving {url} - press Ctrl+C to stop", flush=True)
            _serve_until_interrupted(server)
        return summary
    finally:
        if floor is not None:
            print("stopping the live agents ...", flush=True)
            floor.stop()
            (root / LIVE_PIDS).unlink(missing_ok=True)
        if not serve or server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
        (root / "serve.pid").unlink(missing_ok=True)
        log_fh.close()


DEMO_SCENARIOS = (  # (scenario, share of the fleet where the agent sits, day offset): most on the report day
    ("bulk_id_copy", 0.08, -1), ("usb_export", 0.22, -1), ("remote_access", 0.37, -1),
    ("browse_without_case", 0.52, -1), ("killed_mid_shift", 0.67, -1), ("screen_recorder", 0.81, -1),
    ("after_hours", 0.93, -1), ("idle_free_no_work", 0.45, -2), ("bulk_id_copy", 0.6, -3),
)


def _scenarios(agents: int, days: int) -> list[str]:
    """--scenario arguments that give the report day several kinds of misconduct to find."""
    out: list[str] = []
    used: set[tuple[int, int]] = set()
    for name, share, offset in DEMO_SCENARIOS:
        index = min(agents - 1, int(share * agents))
        if -offset > days or (index, offset) in used:
            continue
        used.add((index, offset))
        out += ["--scenario", f"{name}:{index}:{offset}"]
    return out


def _people(data: Path, fleet: list[dict[str, Any]], extra_teams: list[str]) -> list[dict[str, Any]]:
    team = fleet[0]["team"]
    scope = [arg for t in [team, *extra_teams] for arg in ("--team", t)]
    out = []
    for name, role, extra in (("security", "security", []), (f"manager-{team}", "manager", scope),
                              ("auditor", "auditor", [])):
        info = json.loads(_run(_cli("seatguard-collector"), "user", "add", "--data", str(data), "--name", name,
                               "--role", role, *extra))
        out.append({"user": name, "role": role, "password": info["password"], "teams": info["teams"]})
    return out


def _print_summary(summary: dict[str, Any], sim: Path, report: dict[str, Any]) -> None:
    truth = json.loads((sim / "ground_truth.json").read_text(encoding="utf-8"))
    injected = {(s["agent_id"], s["scenario"]) for s in truth["scenarios"] if s["date"] == summary["report_date"]}
    print("")
    print(f"SeatGuard demo ready in {summary['seconds']} s: {summary['events']:,} of {summary['simulated']:,}"
          " simulated events stored")
    print(f"  web UI / API   {summary['url']}   (OpenAPI at {summary['url']}/api/openapi.json)")
    admin = summary.get("admin") or {}
    print(f"  admin login    {admin.get('user')} / {admin.get('password')}")
    for p in summary["people"]:
        print(f"  {p['role']:<14} {p['user']} / {p['password']}")
    print(f"  daily report   {summary['report_html']}")
    print(f"  top findings for {summary['report_date']}:")
    for f in report["findings"][:8]:
        why = f["reasons"][0] if f["reasons"] else ""
        print(f"    #{f['rank']:<3} {f['agent_id']:<14} {f['severity']:<7} {why}")
    if injected:
        print("  injected misconduct that day (ground truth): " + ", ".join(f"{a} ({s})" for a, s in sorted(injected)))
    print(f"  CLI            seatguard-collector timeline --data {summary['data']} --agent AGENT --date "
          f"{summary['report_date']}")


def _print_live(running: LiveRun, options: LiveOptions, url: str) -> None:
    specs, zone = running.specs, running.zone
    print(f"  live floor     {len(specs)} agents on team {LIVE_TEAM}, in today's shift {specs[0].shift_in(zone)} "
          f"({zone}); watch {url}/wall")
    for spec in specs:
        if spec.acts:
            acts = ", ".join(f"{name} at {to_datetime(at).astimezone(zone):%H:%M:%S}" for at, name in spec.acts[:2])
            print(f"    insider {spec.agent_id}: {acts}, ...")
    if any(spec.acts for spec in specs):
        print(f"    then one act every {options.act_every_s:g} s, the insiders taking turns", flush=True)


def _serve_until_interrupted(server: subprocess.Popen[bytes]) -> None:
    def interrupt(*_: Any) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        while server.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("demo-data"))
    parser.add_argument("--agents", type=int, default=40)
    parser.add_argument("--days", type=int, default=15)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, default=int(os.environ.get("SEATGUARD_DEMO_PORT", "8000")))
    parser.add_argument("--no-serve", action="store_true", help="stop after building the report")
    parser.add_argument("--live", type=int, default=5, metavar="N", help="live agents working today (0: none)")
    parser.add_argument("--insiders", type=int, default=2, metavar="N", help="live agents who misbehave")
    parser.add_argument("--first-act-s", type=float, default=45.0, help="seconds until the first misconduct")
    parser.add_argument("--act-every-s", type=float, default=180.0, help="seconds between misconduct acts")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    live = LiveOptions(args.live, min(args.insiders, args.live), args.first_act_s, args.act_every_s)
    run_demo(args.root.resolve(), args.agents, args.days, args.seed, args.port, not args.no_serve, live=live)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

