"""``seatguard-agent``: enroll, run, replay, status (the simulator is ``seatguard-simulate``, not on a PC)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any

from agent.config import load_config, settings_markdown
from agent.errors import AgentError
from agent.identity import enroll, load_identity
from agent.pipeline import open_spool
from agent.transport import HttpTransport, require_secure
from agent.trust import Trust
from agent.uploader import Backoff, Uploader
from contract.errors import ContractError

log = logging.getLogger(__name__)


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def cmd_enroll(args: argparse.Namespace) -> int:
    config = load_config(args.home)
    identity = enroll(args.home, args.collector, args.token, args.name, config.tls,
                      config.allow_insecure_http)
    print(json.dumps({"agent_id": identity.agent_id, "team": identity.team}))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from agent.status import collect_status, format_status

    status = collect_status(args.home, load_config(args.home))
    print(json.dumps(status, indent=2, ensure_ascii=False) if args.json else format_status(status))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from agent.replay import replay_file  # bulk JSON Lines parsing with orjson; `run` never needs it

    config = load_config(args.home)
    identity = load_identity(args.home)
    require_secure(identity.collector_url, config.allow_insecure_http, config.tls)
    spool = open_spool(args.home, config)
    transport = HttpTransport(identity.collector_url, config.http_timeout_s, config.tls)
    uploader = Uploader(spool, transport, Trust(args.home, identity), Backoff(config.backoff_min_s,
                                                                              config.backoff_max_s))
    stop, wake = threading.Event(), threading.Event()
    thread = threading.Thread(target=uploader.run, args=(stop, 0.5, wake), daemon=True)
    thread.start()
    total: dict[str, int] = {"spooled_events": 0, "already_shipped": 0, "invalid_events": 0}
    try:
        for path in args.files:
            result = replay_file(identity, spool, path, config.batch_max_events, on_sealed=wake)
            total["spooled_events"] += result.spooled_events
            total["already_shipped"] += result.already_shipped
            total["invalid_events"] += result.invalid_events
        if args.wait:
            stop.set()
            thread.join()
            drained = uploader.drain()
            total["drained"] = int(drained)
    finally:
        stop.set()
        thread.join(timeout=30)
        stats = spool.stats()
        spool.close()
        transport.close()
    total["spool_depth_events"] = stats["depth_events"]
    total["parked_batches"] = stats["parked_batches"]
    print(json.dumps(total))
    return 0 if stats["parked_batches"] == 0 else 3


def cmd_run(args: argparse.Namespace) -> int:
    from agent.runner import InstanceLock, Runner

    config = load_config(args.home, {"heartbeat_s": args.heartbeat_s})
    identity = load_identity(args.home)
    require_secure(identity.collector_url, config.allow_insecure_http, config.tls)
    from contract.notice import NOTICE

    lock = InstanceLock(args.home)
    lock.acquire()
    log.warning("%s", NOTICE)  # privacy rule 3: every start says what is recorded
    spool = open_spool(args.home, config)
    try:
        factory = None if args.no_sensors else _sensor_factory()
        return Runner(args.home, identity, spool, config, factory).run()
    finally:
        spool.close()
        lock.release()


def _sensor_factory() -> Any:
    try:
        from agent.sensors.factory import build_sensors
    except ImportError:
        log.warning("sensors are not installed; running with heartbeats only")
        return None
    return build_sensors


def cmd_config_doc(args: argparse.Namespace) -> int:
    print(settings_markdown())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seatguard-agent", description=__doc__)
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("enroll", help="register this PC with a collector using a one-time token")
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--collector", required=True, help="collector base URL, e.g. https://seatguard.example:8443")
    p.add_argument("--token", required=True)
    p.add_argument("--name", help="ask for this agent_id (default: user.hostname)")
    p.set_defaults(func=cmd_enroll)

    p = sub.add_parser("run", help="run the sensors and the uploader (what an installed PC runs)")
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--heartbeat-s", type=float, default=None)
    p.add_argument("--no-sensors", action="store_true", help="heartbeats and uploads only")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("replay", help="ship recorded v1 events (JSON Lines) through the spool and uploader")
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--wait", action="store_true", help="return only when the spool is drained to the collector")
    p.add_argument("files", type=Path, nargs="+")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("status", help="what the agent records, spool depth, last upload")
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("config-doc", help="print the settings reference (Markdown)")
    p.set_defaults(func=cmd_config_doc)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = args.log_level
    if level is None and getattr(args, "home", None) is not None:
        try:
            level = load_config(args.home).log_level
        except (AgentError, ContractError):
            level = "INFO"
    _setup_logging(level or "INFO")
    try:
        return int(args.func(args))
    except (AgentError, ContractError) as exc:
        log.error("%s", exc)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
