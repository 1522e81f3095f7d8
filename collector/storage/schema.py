"""Schema versions through Alembic: the migrations in ``collector/migrations`` are the one source of truth.

Every function here works on a connection inside the caller's write transaction, so that a check and
the upgrade it leads to happen atomically (the store takes the backend's lock first).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, inspect, text

from collector.errors import ConfigError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
FIRST_RELEASE = "0001"  # the schema that shipped before Alembic (kv.schema_version = 1)


def _config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    rev = ScriptDirectory.from_config(_config()).get_current_head()
    if rev is None:
        raise ConfigError(f"no schema revisions in {MIGRATIONS}")
    return rev


def known(rev: str) -> bool:
    """Whether ``rev`` is one of this build's revisions."""
    script = ScriptDirectory.from_config(_config())
    return any(r.revision == rev for r in script.walk_revisions())


def current(conn: Connection) -> str | None:
    """The database's revision; ``None`` for an empty database; FIRST_RELEASE for a pre-Alembic one."""
    rev = MigrationContext.configure(conn).get_current_revision()
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
    cfg = _config(conn)
    try:
        if MigrationContext.configure(conn).get_current_revision() is None and current(conn) == FIRST_RELEASE:
            command.stamp(cfg, FIRST_RELEASE)
        command.upgrade(cfg, target)
    except CommandError as exc:
        raise ConfigError(f"cannot migrate the database schema: {exc}") from exc


def downgrade(conn: Connection, target: str) -> None:
    try:
        command.downgrade(_config(conn), target)
    except CommandError as exc:
        raise ConfigError(f"cannot migrate the database schema: {exc}") from exc
