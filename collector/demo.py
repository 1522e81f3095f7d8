"""``make demo``: a simulated call center shipped through the real pipeline into a running collector.

Steps: reset ``demo-data/``; simulate the fleet (``seatguard-agent simulate``); ``init`` a collector on
SQLite and ``serve`` it; enroll every simulated PC for real (one-time tokens, Ed25519 keys, HPKE key);
replay each PC's history with ``seatguard-agent replay --wait`` (sealed, signed, spooled, uploaded);
build the daily report; print where to look; serve until Ctrl+C.

    python -m collector.demo [--agents 40] [--days 15] [--seed 7] [--port 8000] [--no-serve]
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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

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
    pidfile = root / "serve.pid"
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
            time.sleep(1)
        except (ProcessLookupError, ValueError, PermissionError):
            pass


def run_demo(root: Path, agents: int, days: int, seed: int, port: int, serve: bool, workers: int = 4) -> dict[str, Any]:
    started = time.monotonic()
    _stop_previous(root)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    data, sim, homes = root / "collector", root / "fleet", root / "agents"
    end = datetime.now(ZoneInfo("Asia/Shanghai")).date() - timedelta(days=1)
    print(f"[1/6] simulating {agents} agents x {days} days up to {end} ...", flush=True)
    _run(_cli("seatguard-agent"), "simulate", "--out", str(sim), "--agents", str(agents), "--days", str(days),
         "--seed", str(seed), "--end", end.isoformat(), *_scenarios(agents, days))
    print("[2/6] initialising the collector (SQLite) ...", flush=True)
    init = json.loads(_run(_cli("seatguard-collector"), "init", "--data", str(data)))
    url = f"http://127.0.0.1:{port}"
    log_fh = (data / "serve.out").open("ab")
    server = subprocess.Popen([_cli("seatguard-collector"), "serve", "--data", str(data), "--port", str(port)],
                              stdout=log_fh, stderr=subprocess.STDOUT)
    (root / "serve.pid").write_text(str(server.pid))
    try:
        _wait_healthy(url, server)
        fleet = json.loads((sim / "fleet.json").read_text(encoding="utf-8"))
        print(f"[3/6] enrolling {len(fleet)} PCs with one-time tokens ...", flush=True)
        from agent.identity import enroll
        from collector.service import Collector

        admin_side = Collector.open(data)  # what `seatguard-collector enroll-token` does, without 40 processes
        try:
            for member in fleet:
                shift = f"{member['shift']['start']}-{member['shift']['end']}"
                token = admin_side.enrollment.create_token(member["team"], member["role"], shift)
                enroll(homes / member["agent_id"], url, token, member["agent_id"])
        finally:
            admin_side.close()
        files = sorted((sim / "events").glob("*.jsonl"))
        total = sum(sum(1 for line in f.open("rb") if line.strip()) for f in files)
        print(f"[4/6] replaying {total:,} events through the agents' spools and uploaders ...", flush=True)
        t0 = time.monotonic()

        def replay(path: Path) -> None:
            _run(_cli("seatguard-agent"), "replay", "--home", str(homes / path.stem), "--wait", str(path))

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(replay, files))
        replay_s = time.monotonic() - t0
        stats = json.loads(_run(_cli("seatguard-collector"), "stats", "--data", str(data)))
        print(f"      stored {stats['events']:,} events ({stats['quarantined']} quarantined) in {replay_s:.1f} s",
              flush=True)
        print(f"[5/6] building the daily report for {end} ...", flush=True)
        report_path = root / f"report-{end}.html"
        reporter = Collector.open(data)  # what `seatguard-collector report` does
        try:
            reporter.reports.build(end.isoformat())
            report = reporter.reports.get(end.isoformat()) or {}
            report_path.write_text(reporter.reports.html(end.isoformat()), encoding="utf-8")
        finally:
            reporter.close()
        people = _people(data, fleet)
        summary = {"url": url, "data": str(data), "events": stats["events"], "simulated": total,
                   "report_date": end.isoformat(), "report_html": str(report_path), "admin": init.get("admin"),
                   "people": people, "seconds": round(time.monotonic() - started, 1),
                   "findings": [(f["rank"], f["agent_id"], f["severity"]) for f in report["findings"][:10]]}
        _print_summary(summary, sim, report)
        if serve:
            print(f"[6/6] serving {url} - press Ctrl+C to stop", flush=True)
            _serve_until_interrupted(server)
        return summary
    finally:
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


def _people(data: Path, fleet: list[dict[str, Any]]) -> list[dict[str, Any]]:
    team = fleet[0]["team"]
    out = []
    for name, role, extra in (("security", "security", []), (f"manager-{team}", "manager", ["--team", team]),
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


def _serve_until_interrupted(server: subprocess.Popen[bytes]) -> None:
    try:
        while server.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping the collector ...", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m collector.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("demo-data"))
    parser.add_argument("--agents", type=int, default=40)
    parser.add_argument("--days", type=int, default=15)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, default=int(os.environ.get("SEATGUARD_DEMO_PORT", "8000")))
    parser.add_argument("--no-serve", action="store_true", help="stop after building the report")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    run_demo(args.root.resolve(), args.agents, args.days, args.seed, args.port, not args.no_serve)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

