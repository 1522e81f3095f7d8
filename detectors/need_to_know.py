"""Need-to-know across agents: was a customer seen by someone who had no reason to see them?

A day's rollup (:mod:`detectors.rollup`) keeps two bounded sets of *customer keys* per agent-day:
the customers the agent had a case for (a page carrying a case number, or opened while one of their
cases was open) and the customers whose pages they opened with no case of their own, with the number
of such pages. At report time :func:`judge` combines one day's sets over a scope, the agent's team
(default) or the whole fleet (collector setting ``need_to_know_scope``):

- ``pages_without_case``: pages of customers that *nobody in scope* had a case for that day;
- ``reviewed_customers``: customers opened with no case of the agent's own that someone else in scope
  had a case for (reviews of others' cases: routine for a lead, unusual for anyone else, and judged
  against the same team-and-role peer group as every feature).

Only the sets are read, never raw events. Customer keys are an HMAC-SHA256 under a per-deployment
secret (:class:`CustomerKeyer`) of the customer identifier, taken from the page URL *before* masking
(an identifier may be a national ID number, which masking would cut to its last four characters),
truncated to 64 bits: without the secret a key cannot be matched to a customer, and collisions among
a fleet's daily customers are negligible, so the sets behave as exact sets. The rollup stores the key;
the last four characters it shows in evidence come from the *masked* URL, as before.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Protocol, TypeVar

from contract.pattern_search import PolicyPattern, Unjudged
from contract.policy import customer_in
from detectors.errors import InvalidInput

SCOPES = ("team", "fleet")
JUDGED_FEATURES = ("pages_without_case", "reviewed_customers")
"""The features :func:`judge` decides across agents: an agent-day's own rollup gives only a first guess."""
KEY_HEX = 16           # 64-bit keys, as hex
SECRET_MIN_BYTES = 16
UNJUDGED_PREFIX = "\x00unjudged:"  # keyed with the URL's hash: no identifier a pattern finds starts so


@dataclass(frozen=True)
class CustomerRef:
    """One page's customer, keyed."""

    key: str


NO_CUSTOMER = CustomerRef("")
"""Passed to :meth:`~detectors.rollup.DayRollup.add` by a caller that looked before masking and found none."""


class CustomerKeyer:
    """Keys customer identifiers with HMAC-SHA256 under one deployment's secret."""

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes) or len(secret) < SECRET_MIN_BYTES:
            raise InvalidInput(f"customer key secret must be at least {SECRET_MIN_BYTES} bytes")
        self._secret = secret

    @classmethod
    def ephemeral(cls) -> CustomerKeyer:
        """A keyer with a random secret: for rollups that live in one process (evaluation, tests)."""
        return cls(secrets.token_bytes(32))

    def ref(self, identifier: str) -> CustomerRef:
        norm = unicodedata.normalize("NFKC", identifier).strip().upper()
        digest = hmac.new(self._secret, norm.encode("utf-8"), hashlib.sha256).hexdigest()
        return CustomerRef(digest[:KEY_HEX])

    def unjudged(self, url: str) -> CustomerRef:
        """The key of a page whose customer could not be judged (:func:`contract.policy.customer_in`): a
        customer page of an unknown customer, one per URL, which no identifier's key equals."""
        return self.ref(UNJUDGED_PREFIX + hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest())

    def find(self, url: str, patterns: Iterable[PolicyPattern]) -> CustomerRef | None:
        """The customer a page URL shows (first matching policy pattern), keyed; None if none; a URL that
        could not be judged: :meth:`unjudged` (fail closed)."""
        identifier = customer_in(url, patterns)
        if isinstance(identifier, Unjudged):
            return self.unjudged(url)
        return None if identifier is None else self.ref(identifier)




@dataclass(frozen=True)
class CustomerSets:
    """One agent-day's customers as the rollup keeps them.

    ``uncased`` maps a customer key to the pages of that customer opened with no case of the agent's
    own; ``unkeyed`` counts such pages that carry no key (past the set bound, or stored by a release
    before keys): they can never be matched to a colleague's case, so they stay "without a case".
    """

    cased: frozenset[str] = frozenset()
    uncased: Mapping[str, int] = field(default_factory=dict)
    unkeyed: int = 0


@dataclass(frozen=True)
class Verdict:
    pages_without_case: int
    reviewed_customers: int
    reviewed_keys: frozenset[str] = frozenset()  # which customers were reviews (evidence)

    def features(self) -> dict[str, float]:
        return {"pages_without_case": float(self.pages_without_case),
                "reviewed_customers": float(self.reviewed_customers)}


def judge(rows: Sequence[tuple[str, str, CustomerSets]], scope: str = "team") -> dict[str, Verdict]:
    """Per agent_id, the day's need-to-know figures; ``rows`` are (agent_id, team, sets) of one day."""
    if scope not in SCOPES:
        raise InvalidInput(f"need-to-know scope must be one of {', '.join(SCOPES)}")
    groups: dict[str, list[tuple[str, CustomerSets]]] = {}
    for agent_id, team, sets in rows:
        groups.setdefault(team if scope == "team" else "", []).append((agent_id, sets))
    out: dict[str, Verdict] = {}
    for members in groups.values():
        cased: set[str] = set()
        for _, sets in members:
            cased.update(sets.cased)
        for agent_id, sets in members:
            pages, reviewed = sets.unkeyed, []
            for key, n in sets.uncased.items():
                if key in sets.cased:
                    continue  # the agent's own case for that customer, earlier or later that day
                if key in cased:
                    reviewed.append(key)
                else:
                    pages += n
            out[agent_id] = Verdict(pages, len(reviewed), frozenset(reviewed))
    return out


class _Who(Protocol):
    @property
    def agent_id(self) -> str: ...

    @property
    def team(self) -> str: ...


class DayInput(Protocol):
    """What :func:`apply` reads of a :class:`detectors.scoring.AgentDayInput` (a dataclass)."""

    @property
    def ctx(self) -> _Who: ...

    @property
    def features(self) -> Mapping[str, float]: ...


class JudgedDay(Protocol):
    """What :func:`judged_features` reads of a :class:`detectors.rollup.DayRollup` (this module is below both)."""

    @property
    def ctx(self) -> _Who: ...

    def features(self) -> dict[str, float]: ...

    def customer_sets(self) -> CustomerSets: ...


DayInputT = TypeVar("DayInputT", bound=DayInput)


def apply(inputs: Sequence[DayInputT], verdicts: Mapping[str, Verdict]) -> list[DayInputT]:
    """The day's inputs with ``pages_without_case`` and ``reviewed_customers`` as :func:`judge` found
    them; agents without a verdict keep the figures their own rollup gave."""
    out = []
    for r in inputs:
        v = verdicts.get(r.ctx.agent_id)
        judged: Any = r  # a dataclass (AgentDayInput): replace() keeps its type
        out.append(r if v is None else replace(judged, features={**r.features, **v.features()}))
    return out


def judged_features(rollups: Mapping[str, Mapping[date, JudgedDay]], days: Iterable[date] | None = None,
                    scope: str = "team") -> dict[str, dict[date, dict[str, float]]]:
    """Every rollup's features with need-to-know judged across the agents of each day (in-process
    evaluation; the collector does the same from stored rollups). ``days``: only these days."""
    wanted = None if days is None else set(days)
    by_day: dict[date, list[tuple[str, str, CustomerSets]]] = {}
    out: dict[str, dict[date, dict[str, float]]] = {}
    for agent_id, per_day in rollups.items():
        for day, r in per_day.items():
            if wanted is not None and day not in wanted:
                continue
            out.setdefault(agent_id, {})[day] = r.features()
            by_day.setdefault(day, []).append((agent_id, r.ctx.team, r.customer_sets()))
    for day, rows in by_day.items():
        for agent_id, verdict in judge(rows, scope).items():
            out[agent_id][day].update(verdict.features())
    return out
