"""The SQL backends' repositories, one per area, made on first use and kept for the store's life.

Mixed into :class:`collector.storage.sql.SqlStore`; a backend whose dialect needs a repository of
its own overrides that property (PostgreSQL's job locks, :class:`collector.storage.postgres.PostgresStore`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import cached_property

from sqlalchemy import Connection

from collector.storage.accounts import AccountRepo, SqlAccountRepo
from collector.storage.alerts import AlertRepo, SqlAlertRepo
from collector.storage.api_tokens import ApiTokenRepo, SqlApiTokenRepo
from collector.storage.audit import AuditRepo, SqlAuditRepo
from collector.storage.holds import HoldRepo, SqlHoldRepo
from collector.storage.job_runs import JobRunRepo, SqlJobRunRepo
from collector.storage.policy_versions import PolicyRepo, SqlPolicyRepo
from collector.storage.reports import ReportRepo, SqlReportRepo
from collector.storage.screenshots import ScreenshotRepo, SqlScreenshotRepo
from collector.storage.sessions import SessionRepo, SqlSessionRepo
from collector.storage.wall import SqlWallRepo, WallRepo


class SqlRepositories:
    is_sqlite: bool
    _write: Callable[[], AbstractContextManager[Connection]]
    _read: Callable[[], AbstractContextManager[Connection]]
    _upsert: Callable[..., None]

    @cached_property
    def accounts(self) -> AccountRepo:
        return SqlAccountRepo(self)

    @cached_property
    def api_tokens(self) -> ApiTokenRepo:
        return SqlApiTokenRepo(self)

    @cached_property
    def sessions(self) -> SessionRepo:
        return SqlSessionRepo(self)

    @cached_property
    def audit(self) -> AuditRepo:
        return SqlAuditRepo(self)

    @cached_property
    def job_runs(self) -> JobRunRepo:
        return SqlJobRunRepo(self)

    @cached_property
    def policy_versions(self) -> PolicyRepo:
        return SqlPolicyRepo(self)

    @cached_property
    def wall(self) -> WallRepo:
        return SqlWallRepo(self)

    @cached_property
    def alerts(self) -> AlertRepo:
        return SqlAlertRepo(self)

    @cached_property
    def screenshots(self) -> ScreenshotRepo:
        return SqlScreenshotRepo(self)

    @cached_property
    def reports(self) -> ReportRepo:
        return SqlReportRepo(self)

    @cached_property
    def holds(self) -> HoldRepo:
        return SqlHoldRepo(self)
