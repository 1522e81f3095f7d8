"""``seatguard-collector shift set|list|clear``: per-day shifts and scheduled overtime from the command line.

The command line acts as the owner of the data folder (audited as actor ``cli``); see
:mod:`collector.shifts` for what an entry means and when it is applied.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from collector.shifts import CLI, KINDS


def _open(args: argparse.Namespace) -> Any:
    from collector.service import Collector

    return Collector.open(args.data)


def _print(obj: Any) -> None:
    print(orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode())


def _days(collector: Any, args: argparse.Namespace) -> list[str]:
    return list(collector.shifts.days(args.date, args.first, args.last))


def cmd_set(args: argparse.Namespace) -> int:
    collector = _open(args)
    try:
        days = _days(collector, args)
        _print(collector.shifts.set(CLI, args.agent, days, args.start, args.end, args.overtime))
    finally:
        collector.close()
    return 0


def cmd_clear(args: argparse.Namespace) -> int:
    collector = _open(args)
    try:
        days = _days(collector, args)
        _print(collector.shifts.clear(CLI, args.agent, days, args.kind))
    finally:
        collector.close()
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    collector = _open(args)
    try:
        if args.date or args.first or args.last:
            days = _days(collector, args)
        else:  # default: the coming month, from today
            today = datetime.now(collector.settings.tz).date()
            days = [today.isoformat(), (today + timedelta(days=31)).isoformat()]
        _print({"shifts": collector.shifts.entries(CLI, days[0], days[-1], args.agent)})
    finally:
        collector.close()
    return 0


def _when(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True, help="collector data folder")
    p.add_argument("--date", help="one day, YYYY-MM-DD")
    p.add_argument("--from", dest="first", help="first day of a range (with --to)")
    p.add_argument("--to", dest="last", help="last day of a range (with --from)")


def add_parser(sub: Any) -> None:
    shift = sub.add_parser("shift", help="per-day shifts (rota) and scheduled overtime of one agent")
    cmds = shift.add_subparsers(dest="shift_command", required=True)
    p = cmds.add_parser("set", help="enter the day's shift (or --overtime: a scheduled overtime window)")
    _when(p)
    p.add_argument("--agent", required=True)
    p.add_argument("--start", required=True, help="HH:MM")
    p.add_argument("--end", required=True, help="HH:MM (earlier than --start: over midnight)")
    p.add_argument("--overtime", action="store_true",
                   help="add this window to the day's shift as scheduled overtime instead of replacing the shift")
    p.set_defaults(func=cmd_set)
    p = cmds.add_parser("clear", help="remove the entries of these days (the usual shift applies again)")
    _when(p)
    p.add_argument("--agent", required=True)
    p.add_argument("--kind", choices=KINDS, help="only the day's shift or only its overtime (default: both)")
    p.set_defaults(func=cmd_clear)
    p = cmds.add_parser("list", help="JSON: the entries of these days (default: today and the next 31 days)")
    _when(p)
    p.add_argument("--agent")
    p.set_defaults(func=cmd_list)
