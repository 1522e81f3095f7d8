"""Schema versions through Alembic: the migrations in ``collector/migrations`` are the one source of truth.

Every function here works on a connection inside the caller's write transaction, so that a check and
the upgrade it leads to happen atomically (the store takes the backend's lock first). Alembic itself
is imported only to change a schema; checking the revision at start-up is one plain query.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

from collector.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
HEAD = "0013"  # the newest revision in MIGRATIONS (a test checks that they agree)
FIRST_RELEASE = "0001"  # the schema that shipped before Alembic (kv.schema_version = 1)
VERSION_TABLE = "alembic_version"


def _config(conn: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def revisions() -> list[str]:
    """Every revision this build knows, newest first."""
    from alembic.script import ScriptDirectory

    return [r.revision for r in ScriptDirectory.from_config(_config()).walk_revisions()]


def _stamped(conn: Connection) -> str | None:
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    rows = [str(r[0]) for r in conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))]
    if len(rows) > 1:
        raise ConfigError(f"the database has several schema revisions at once ({', '.join(rows)})")
    return rows[0] if rows else None


def current(conn: Connection) -> str | None:
    """The database's revision; ``None`` for an empty database; FIRST_RELEASE for a pre-Alembic one."""
    rev = _stamped(conn)
    if rev is not None:
        return rev
    if not inspect(conn).has_table("agents"):
        return None
    version = conn.execute(text("SELECT value FROM kv WHERE key = 'schema_version'")).scalar()
    if version != "1":
        raise ConfigError(f"the database has tables but an unknown schema version ({version!r})")
    return FIRST_RELEASE


def upgrade(conn: Connection, target: str = "head") -> None:
    """Bring the database to ``target`` (stamping a pre-Alembic version-1 database first)."""
    from alembic import command
    from alembic.util import CommandError

    cfg = _config(conn)
    try:
        if _stamped(conn) is None and current(conn) == FIRST_RELEASE:
            command.stamp(cfg, FIRST_RELEASE)
        command.upgrade(cfg, target)
    except CommandError as exc:
        raise ConfigError(f"cannot migrate the database schema: {exc}") from exc


def downgrade(conn: Connection, target: str) -> None:
    from alembic import command
    from alembic.util import CommandError

    try:
        command.downgrade(_config(conn), target)
    except CommandError as exc:
        raise ConfigError(f"cannot migrate the database schema: {exc}") from exc
