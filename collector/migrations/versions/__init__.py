"""Schema revisions, oldest first (Alembic loads them by path; this file only makes them a package)."""
