"""``seatguard-collector``: init, serve, enroll-token, user, token create|list|revoke, keys rotate|list|retire,
shift set|list|clear, hold add|list|release, stats, mask, timeline, report."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import orjson

from collector.config import load_settings, settings_markdown
from collector.errors import CollectorError

log = logging.getLogger(__name__)


def _setup_logging(level: str, data_dir: Path | None) -> None:
    from contract.masking import mask_text

    class MaskingFilter(logging.Filter):
        """Privacy rule 1 for logs: whatever a message echoes is masked before it is written."""

        def filter(self, record: logging.LogRecord) -> bool:
            record.msg = mask_text(record.getMessage())
            record.args = None
            return True

    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if data_dir is not None and data_dir.is_dir():
        handlers.append(logging.FileHandler(data_dir / "collector.log", encoding="utf-8"))
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in handlers:
        handler.setFormatter(fmt)
        handler.addFilter(MaskingFilter())
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=handlers, force=True)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _open(args: argparse.Namespace) -> Any:
    from collector.service import Collector

    return Collector.open(args.data)


def _print(obj: Any) -> None:
    print(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())


def cmd_init(args: argparse.Namespace) -> int:
    from collector.keys import create_key
    from collector.service import Collector

    args.data.mkdir(parents=True, exist_ok=True)
    if args.db:
        (args.data / "collector.toml").write_text(f'db_url = "{args.db}"\n', encoding="utf-8")
    create_key(args.data)
    collector = Collector(load_settings(args.data))
    try:
        out: dict[str, Any] = {"data": str(args.data), "database": collector.settings.database_url.split("@")[-1]}
        if not collector.accounts.has_users():
            password = collector.accounts.add_user(args.admin, "admin")
            out["admin"] = {"user": args.admin, "password": password}
        _print(out)
    finally:
        collector.close()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from collector import gc_tuning
    from collector.api import create_app, parse_parts
    from collector.proxies import uvicorn_options
    from collector.service import Collector

    parts = parse_parts(args.parts)  # refused before anything is opened
    collector = Collector.open(args.data, {"host": args.host, "port": args.port, "tls_certfile": args.ssl_certfile,
                                           "tls_keyfile": args.ssl_keyfile})
    app = create_app(collector, parts)
    settings = collector.settings
    collector.start_cluster()
    daily = collector.daily_jobs()
    daily.start()
    collector.alerts.start()
    gc_tuning.tune()  # what start-up loaded is never walked again (see collector.gc_tuning)
    scheme = "https" if settings.tls_certfile else "http"
    log.info("collector serving on %s://%s:%s (data %s; %s); forwarded addresses believed from: %s", scheme,
             settings.host, settings.port, args.data, ", ".join(parts), settings.trusted_proxies or "nobody")
    try:
        uvicorn.run(app, host=settings.host, port=int(settings.port), log_level="warning", access_log=False,
                    timeout_graceful_shutdown=5, ssl_certfile=settings.tls_certfile or None,
                    ssl_keyfile=settings.tls_keyfile or None, **uvicorn_options(settings.trusted_proxies))
    finally:
        daily.close()
        collector.close()
    return 0


def cmd_enroll_token(args: argparse.Namespace) -> int:
    collector = _open(args)
    try:
        print(collector.enrollment.create_token(args.team, args.role, args.shift, args.name))
    finally:
        collector.close()
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    collector = _open(args)
    try:
        password = collector.accounts.add_user(args.name, args.role, args.team, args.agent)
        _print({"user": args.name, "role": args.role, "teams": args.team or [], "password": password})
    finally:
        collector.close()
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    import datetime as dt

    collector = _open(args)
    try:
        token, entry = collector.accounts.tokens.create(args.user, args.expires_days)
    finally:
        collector.close()
    print(token)
    until = dt.datetime.fromtimestamp(entry["expires_at"], dt.UTC).isoformat(timespec="seconds")
    print(f"token {entry['id']} for {args.user}, expires {until}", file=sys.stderr)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    collector = _open(args)
    try:
        _print({"tokens": collector.accounts.tokens.list(args.user)})
    finally:
        collector.close()
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    collector = _open(args)
    try:
        _print({"revoked": collector.accounts.tokens.revoke(args.id, args.user)})
    finally:
        collector.close()
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from collector.keys import hpke_file, rotate, signing_file

    rot = rotate(args.data, args.window_days, args.seal_after_hours)
    _print({"generation": rot.gen, **rot.as_dict(), "new_files": [hpke_file(rot.gen), signing_file(rot.gen)],
            "next": "copy the new files and key_rotation.json to every collector of this deployment, then "
                    "restart them"})
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from collector.keys_report import keys_report

    _print(keys_report(args.data))
    return 0


def cmd_keys_retire(args: argparse.Namespace) -> int:
    from collector.keys import delete_retired_signing, end_window

    out: dict[str, Any] = {}
    if args.now:
        out["window_ended"] = end_window(args.data).as_dict()
    out["deleted"] = delete_retired_signing(args.data)
    _print(out)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    collector = _open(args)
    try:
        out = collector.store.stats(args.agent)
        if not args.agent:
            out["jobs"] = collector.jobs.stats()
        _print(out)
    finally:
        collector.close()
    return 0


def cmd_mask(args: argparse.Namespace) -> int:
    from contract.masking import mask_stream

    sys.stdin.reconfigure(encoding="utf-8", errors="replace")  # type: ignore[union-attr]
    sys.stdout.reconfigure(encoding="utf-8")  # type: ignore[union-attr]
    mask_stream(sys.stdin, sys.stdout)
    return 0


def cmd_timeline(args: argparse.Namespace) -> int:
    collector = _open(args)
    try:
        data = collector.timeline(args.agent, args.date)
    finally:
        collector.close()
    if args.format == "json":
        _print(data)
    else:
        from collector.timeline_html import render_timeline

        text = render_timeline(data, load_settings(args.data).tz)
        if args.out:
            args.out.write_text(text, encoding="utf-8")
        else:
            print(text)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    collector = _open(args)
    try:
        collector.reports.build(args.date)
        if args.format == "json":
            text = orjson.dumps(collector.reports.get(args.date), option=orjson.OPT_INDENT_2).decode()
        elif args.format == "csv":
            text = collector.reports.csv(args.date)
        else:
            text = collector.reports.html(args.date)
    finally:
        collector.close()
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"report for {args.date} written to {args.out}", file=sys.stderr)
    else:
        print(text)
    return 0


def cmd_export_ecs(args: argparse.Namespace) -> int:
    from collector.alerts.ecs import cmd_export_ecs as run

    return int(run(args))


def cmd_migrate(args: argparse.Namespace) -> int:
    from collector.migrate import migrate

    print(migrate(load_settings(args.data)))
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    collector = _open(args)
    try:
        _print(collector.purge())
    finally:
        collector.close()
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    import time

    collector = _open(args)
    try:
        if not collector.store.revoke_agent(args.agent, time.time()):
            raise CollectorError(f"no agent {args.agent!r}", code="not_found", status=404)
        print(f"revoked {args.agent}")
    finally:
        collector.close()
    return 0


def cmd_config_doc(args: argparse.Namespace) -> int:
    print(settings_markdown())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seatguard-collector", description=__doc__)
    parser.add_argument("--log-level", default=None, help="logging level (default: the log_level setting)")
    sub = parser.add_subparsers(dest="command", required=True)

    def data_cmd(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.add_argument("--data", type=Path, required=True, help="collector data folder")
        return p

    p = data_cmd("init", "create keys, the database and the first admin")
    p.add_argument("--db", help="postgresql://... (default: SQLite in the data folder)")
    p.add_argument("--admin", default="admin", help="name of the first admin user")
    p.set_defaults(func=cmd_init)

    p = data_cmd("serve", "ingest API + query API + web UI")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--ssl-certfile", help="serve HTTPS with this PEM certificate (setting tls_certfile)")
    p.add_argument("--ssl-keyfile", help="PEM private key for --ssl-certfile (setting tls_keyfile)")
    p.add_argument("--parts", help="comma-separated app parts to mount (default: all of them; an ingest-only "
                                   "collector: health,ingest)")
    p.set_defaults(func=cmd_serve)

    p = data_cmd("enroll-token", "create a one-time enrollment token bound to a team")
    p.add_argument("--team", required=True)
    p.add_argument("--role", default="agent", choices=["agent", "lead"])
    p.add_argument("--shift", help="scheduled shift, e.g. 09:00-18:00")
    p.add_argument("--name", help="the agent_id the PC must enroll as (binding: another id is refused)")
    p.set_defaults(func=cmd_enroll_token)

    user = sub.add_parser("user", help="manage people").add_subparsers(dest="user_command", required=True)
    p = user.add_parser("add", help="add a user; prints a generated password")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--role", required=True, choices=["admin", "security", "manager", "auditor", "agent"])
    p.add_argument("--team", action="append", help="team in a manager's scope (repeatable)")
    p.add_argument("--agent", help="for role agent: the agent_id that is this person")
    p.set_defaults(func=cmd_user_add)

    token = sub.add_parser("token", help="API tokens").add_subparsers(dest="token_command", required=True)
    p = token.add_parser("create", help="create an API token for scripts (printed once)")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--expires-days", type=float, help="lifetime in days (default: setting api_token_days)")
    p.set_defaults(func=cmd_token_create)
    p = token.add_parser("list", help="JSON: every API token's id, user, expiry and state (never the token)")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--user", help="only this user's tokens")
    p.set_defaults(func=cmd_token_list)
    p = token.add_parser("revoke", help="revoke one API token (--id from `token list`) or all of a user's")
    p.add_argument("--data", type=Path, required=True)
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--id", help="the token's id as `token list` shows it")
    who.add_argument("--user", help="revoke every live token of this user")
    p.set_defaults(func=cmd_token_revoke)

    keys = sub.add_parser("keys", help="the collector's signing and HPKE keys: rotate, list, retire").add_subparsers(
        dest="keys_command", required=True)
    p = keys.add_parser("rotate", help="make a new signing and HPKE key pair and announce them to agents")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--window-days", type=float, default=14.0,
                   help="how long old and new signing keys are both accepted (default 14)")
    p.add_argument("--seal-after-hours", type=float, default=0.0,
                   help="agents seal to the new HPKE key only after this many hours: time to copy the new "
                        "files to every collector (default 0: at once)")
    p.set_defaults(func=cmd_keys_rotate)
    p = keys.add_parser("list", help="JSON: every key generation, its window and which agents use it")
    p.add_argument("--data", type=Path, required=True)
    p.set_defaults(func=cmd_keys_list)
    p = keys.add_parser("retire", help="after the window: delete old signing private halves (--now: end the "
                                       "window first)")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--now", action="store_true", help="end the open window now")
    p.set_defaults(func=cmd_keys_retire)

    p = data_cmd("stats", "JSON: events, agents, quarantined, gaps, rejections")
    p.add_argument("--agent")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("mask", help="filter: stdin lines -> masked lines on stdout")
    p.set_defaults(func=cmd_mask)

    p = data_cmd("timeline", "one agent's timeline for one day")
    p.add_argument("--agent", required=True)
    p.add_argument("--date", required=True)
    p.add_argument("--format", choices=["json", "html"], default="json")
    p.add_argument("--out", type=Path)
    p.set_defaults(func=cmd_timeline)

    p = data_cmd("report", "build the daily anomaly report for one day")
    p.add_argument("--date", required=True)
    p.add_argument("--format", choices=["html", "json", "csv"], default="html")
    p.add_argument("--out", type=Path)
    p.set_defaults(func=cmd_report)

    p = data_cmd("export-ecs", "one day's events, alerts and findings as ECS JSON lines (SIEM)")
    p.add_argument("--date", required=True)
    p.add_argument("--out", type=Path)
    p.set_defaults(func=cmd_export_ecs)

    p = data_cmd("migrate", "upgrade the database schema in place (SQLite or PostgreSQL; back it up first)")
    p.set_defaults(func=cmd_migrate)

    p = data_cmd("purge", "delete events older than the retention period (also runs daily inside serve)")
    p.set_defaults(func=cmd_purge)

    p = data_cmd("revoke", "revoke an agent: its batches are refused from now on")
    p.add_argument("--agent", required=True)
    p.set_defaults(func=cmd_revoke)

    from collector.shift_cli import add_parser as add_shift_parser

    add_shift_parser(sub)

    from collector.hold_cli import add_parser as add_hold_parser

    add_hold_parser(sub)

    p = sub.add_parser("config-doc", help="print the settings reference (Markdown)")
    p.set_defaults(func=cmd_config_doc)
    return parser


def _configured_level(data: Path | None) -> str:
    """The log_level setting of the data folder's collector; INFO if there is none or the settings are bad
    (the command itself then stops with the reason)."""
    if data is None or not data.is_dir():
        return "INFO"
    try:
        return load_settings(data).log_level
    except CollectorError:
        return "INFO"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "mask":
        data = getattr(args, "data", None)
        _setup_logging(args.log_level or _configured_level(data), data)
    try:
        return int(args.func(args))
    except CollectorError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
