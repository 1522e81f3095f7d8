"""``seatguard-simulate``: the command-line face of :func:`simulator.simulate`."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from simulator.fleet import ScenarioSpec, simulate
from simulator.scenarios import SCENARIOS


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from exc


def _spec(text: str) -> ScenarioSpec:
    try:
        return ScenarioSpec.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``simulate`` options to ``parser`` ."""
    names = "\n".join(f"  {name:<20} {SCENARIOS[name].summary}" for name in sorted(SCENARIOS))
    parser.description = (
        "Write realistic event-schema-v1 files for a simulated consumer-finance call center: "
        "DIR/events/<agent_id>.jsonl, DIR/fleet.json, DIR/ground_truth.json, DIR/raw_identifiers.txt."
    )
    parser.epilog = f"scenarios:\n{names}"
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument("--agents", type=_positive, default=40, metavar="N", help="fleet size (default 40)")
    parser.add_argument("--days", type=_positive, default=15, metavar="D", help="calendar days (default 15)")
    parser.add_argument("--seed", type=int, default=7, metavar="S", help="random seed (default 7)")
    parser.add_argument(
        "--end",
        type=_day,
        default=None,
        metavar="YYYY-MM-DD",
        help="last simulated day (default: today in Asia/Shanghai)",
    )
    parser.add_argument(
        "--scenario",
        type=_spec,
        action="append",
        default=None,
        metavar="NAME:AGENT_INDEX:DAY_OFFSET",
        help="inject a scenario on roster entry AGENT_INDEX (0-based) on day DAY_OFFSET "
        "(0 = first day, -1 = last); repeatable; replaces the default mix",
    )
    parser.add_argument("--no-scenarios", action="store_true", help="inject no misconduct at all")


def run_from_args(args: argparse.Namespace) -> int:
    """Run a simulation from parsed arguments; print a one-line summary; return the exit status."""
    if args.no_scenarios and args.scenario:
        print("simulate: --scenario and --no-scenarios exclude each other", file=sys.stderr)
        return 2
    scenarios = [] if args.no_scenarios else args.scenario
    try:
        result = simulate(
            args.out, agents=args.agents, days=args.days, seed=args.seed, end=args.end, scenarios=scenarios
        )
    except ValueError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"simulate: cannot write {args.out}: {exc}", file=sys.stderr)
        return 1
    print(
        f"simulated {result.agents} agents {result.start}..{result.end}: {result.events} events, "
        f"{len(result.scenarios)} scenario agent-days, {len(result.unusual_but_normal)} unusual-but-normal "
        f"agent-days -> {result.out_dir}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """``seatguard-simulate`` (a development tool: the PC build does not carry it)."""
    parser = argparse.ArgumentParser(prog="seatguard-simulate")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
