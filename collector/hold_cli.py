"""``seatguard-collector hold add|list|release``: legal holds from the command line.

The command line acts as the owner of the data folder, an admin (:data:`collector.accounts.CLI`,
audited as actor ``cli``), through :class:`collector.holds.HoldService`: the same checks (the agent
exists, a reason of at most 500 characters, masked) and the same audit records (``set_legal_hold``,
``lift_legal_hold``, ``read_legal_holds``) as the admin page and the JSON routes.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from collector.accounts import CLI


def _run(args: argparse.Namespace, act: Callable[[Any], Any]) -> int:
    from collector.service import Collector

    collector = Collector.open(args.data)
    try:
        print(orjson.dumps(act(collector.holds), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())
    finally:
        collector.close()
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    return _run(args, lambda holds: holds.set_for(CLI, args.agent, args.reason))


def cmd_list(args: argparse.Namespace) -> int:
    return _run(args, lambda holds: {"holds": holds.list_for(CLI)})


def cmd_release(args: argparse.Namespace) -> int:
    return _run(args, lambda holds: holds.lift_for(CLI, args.agent, args.reason))


def add_parser(sub: Any) -> None:
    hold = sub.add_parser("hold", help="legal holds: suspend retention for one agent (audited with the reason)")
    cmds = hold.add_subparsers(dest="hold_command", required=True)
    for name, func, help_ in (
            ("add", cmd_add, "hold the agent's data: the purge removes none of it until released"),
            ("release", cmd_release, "end the agent's hold: the next purge applies retention again")):
        p = cmds.add_parser(name, help=help_)
        p.add_argument("--data", type=Path, required=True, help="collector data folder")
        p.add_argument("--agent", required=True)
        p.add_argument("--reason", required=True, help="why (kept masked, written to the audit log)")
        p.set_defaults(func=func)
    p = cmds.add_parser("list", help="JSON: every agent under a hold, its reason, who set it and when")
    p.add_argument("--data", type=Path, required=True, help="collector data folder")
    p.set_defaults(func=cmd_list)
