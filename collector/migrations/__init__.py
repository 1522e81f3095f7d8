"""Alembic migrations: the one source of truth for the collector's schema on every backend.

Revisions live in ``versions/`` (``vNNNN_*.py``), each with ``revision = "NNNN"``; ``v0001`` is the
schema that shipped as version 1. They run on a connection that :mod:`collector.storage.schema`
hands to ``env.py``, inside the store's write transaction (SQLite: ``BEGIN IMMEDIATE``;
PostgreSQL: an advisory lock, so that collectors starting together migrate once).
A new revision is written by hand: a frozen description of the change, never an import of
``collector.storage.tables`` (which describes only the newest schema).
"""
