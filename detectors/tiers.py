"""The order a two-person team reads findings in: two tiers, each ordered by a calibrated score.

**Tier 1, "breach"**: the agent-day broke a hard rule that needs no context to be worth a look, or
shows a tamper signal:

- data leaving the seat or the PC taken over: :data:`BREACH_RULES` (removable writes, ID numbers
  copied toward messaging, bulk ID or card copies, remote access, screen capture);
- the monitoring itself interfered with: :data:`TAMPER_RULES` (sequence gaps, broken chains, missing
  batches, which is also how a batch the collector refused and the agent parked shows, spool drops,
  forged answers, a policy the collector did not issue) and a stop in the shift that the agent *came
  back from while the shift went on*, or an agent started again with no clean stop, usually after a
  silence (``returns_in_shift``, rule ``returned_in_shift``): the PC went on without it.

A silence or a stop that ends the agent's day (``agent_silenced`` or ``stopped_in_shift`` alone) is the
PC going off early: a half day, leaving early. It keeps its rule, severity, reason and evidence but is
judged in tier 2, against the agent's peers and its own past, because nothing in it tells leaving
early from switching the agent off for the rest of the day (the agent writes the same ``agent.stop``
either way). So is a silence the same agent process resumes from (no new ``agent.start``): a PC that
slept; a frozen session sensor is the keeper's ``agent.tamper`` report. Silence the agent later fills
in (events spooled through a network outage keep their own times) never counts as silence at all.

**Tier 2, "anomaly"**: everything else, anomaly-only findings and contextual rules (customer pages
without a case, after-hours work, off-list sites), whose weight is already in the ensemble's rules
member.

**Calibrated score** (:func:`chance`): how often an ordinary agent-day would look at least this
unusual, ``p``. Each view (peers, own past, rules) gives one p-value, the weighted geometric mean of
its members' empirical tail probabilities (members of one view are strongly correlated, so they count
once; the geometric mean is conservative for them); the views are combined as independent tests with
Fisher's method, weighted like the ensemble and matched to a gamma law by its first two moments
(exact for equal weights). A view that could not score the agent (no own history yet) gives no
evidence, so a cold-start agent needs more from the views it has. Nor does the peer view for an
agent-day whose peer group is not of its own role (:func:`unlike_peers`: a role too small for a group
of its own, fewer than ``min_peers`` team leads in the fleet, is compared with everyone): its peer
deviations, against a median and spread that are mostly the agents', then measure how a lead's job
differs from an agent's (meetings, chat, few cases), not how the day differs from a lead's, so they are
not on the scale of the other rows' and that row is judged by its own past and the rules; the peer
p-values of the other rows are taken among themselves. Each
tier is ordered by ``p``, smallest first; ties by the ensemble score, then the rule score, then the
agent id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaincc

from detectors.base import Matrix, Vector
from detectors.ensemble import EnsembleResult, tail_pvalues
from detectors.errors import ConfigError
from detectors.features import FEATURE_NAMES
from detectors.rules import RULES, RuleSet
from detectors.views import PeerView

TIERS = ("breach", "anomaly")
TIERS_ZH = {"breach": "违规/篡改", "anomaly": "异常"}
BREACH_RULES = frozenset({"removable_write", "id_to_messaging", "ids_to_messaging", "bulk_id_copy",
                          "bulk_card_copy", "remote_access", "screen_capture"})
TAMPER_RULES = frozenset({"seq_gap", "chain_break", "batch_gap", "spool_drops", "forged_answers",
                          "policy_mismatch", "returned_in_shift"})
FIRST = BREACH_RULES | TAMPER_RULES

_unknown = FIRST - {r.name for r in RULES}
if _unknown:
    raise ConfigError(f"tier rules not in detectors.rules.RULES: {', '.join(sorted(_unknown))}")


def tier_of(rule_names: Iterable[str]) -> int:
    """0 (breach) or 1 (anomaly), index in :data:`TIERS`, of an agent-day that broke ``rule_names``."""
    return 0 if FIRST & set(rule_names) else 1


def tiers(X: Matrix, rules: RuleSet) -> NDArray[np.int_]:
    """Per row of a raw feature matrix (FEATURE_NAMES order), its tier (see :func:`tier_of`)."""
    out = np.ones(X.shape[0], dtype=np.int_)
    for i in np.flatnonzero(rules.grade(X) >= 0):  # only rows that broke some rule can be breaches
        row = X[int(i)]
        out[i] = tier_of(h.rule.name for h in rules.evaluate({n: float(row[j]) for j, n in enumerate(FEATURE_NAMES)}))
    return out


def unlike_peers(peer: PeerView, roles: Sequence[str]) -> NDArray[np.bool_]:
    """Per row, whether most of its peer group is of another role (its role was too small for a group
    of its own and widened to everyone, whose median and spread are then the other role's): the peer
    view did not compare like with like."""
    role = np.array(list(roles), dtype=object)
    if role.shape[0] != peer.group.shape[0]:
        raise ConfigError("one role per row of the peer view is needed")
    out = np.zeros(role.shape[0], dtype=bool)
    for i in range(role.shape[0]):
        group = peer.members[int(peer.group[i])]
        out[i] = group.size > 0 and 2 * int((role[group] == role[i]).sum()) < group.size
    return out


def chance(result: EnsembleResult, weights: Mapping[str, float] | None = None,
           factor: Vector | None = None, unlike: Mapping[str, NDArray[np.bool_]] | None = None) -> Vector:
    """Per agent, the calibrated chance ``p`` that an ordinary agent-day looks this unusual (see the
    module notes); ``weights``: the ensemble's configured member weights (default 1); ``factor``: per
    agent, a multiplier of its evidence (reviewer feedback scales the ensemble score so, see
    :mod:`detectors.feedback`); ``unlike``: per view, the rows it did not compare with their like
    (:func:`unlike_peers`), which it gives no evidence and which are not the others' reference."""
    weights = dict(weights or {})
    views = sorted({m.view for m in result.members})
    n = result.score.shape[0]
    surprise = np.zeros((len(views), n))
    have = np.zeros((len(views), n), dtype=bool)
    view_w = np.zeros(len(views))
    for k, view in enumerate(views):
        members = [m for m in result.members if m.view == view]
        w = np.array([float(weights.get(m.name, 1.0)) for m in members])
        skip = None if unlike is None else unlike.get(view)
        if skip is not None and np.asarray(skip, dtype=bool).any():
            skip = np.asarray(skip, dtype=bool)
            p = np.vstack([tail_pvalues(np.where(skip, np.nan, m.scores)) for m in members])
        else:
            p = np.vstack([m.pvalues for m in members])
        ok = ~np.isnan(p)
        wsum = (w[:, None] * ok).sum(axis=0)
        logs = np.where(ok, -np.log(np.where(ok, p, 1.0)), 0.0)
        have[k] = wsum > 0
        surprise[k] = np.where(have[k], (w[:, None] * logs).sum(axis=0) / np.maximum(wsum, 1e-12), 0.0)
        view_w[k] = float(w.mean())
    W = np.where(have, view_w[:, None], 0.0)
    total, squares = W.sum(axis=0), (W * W).sum(axis=0)
    out = np.ones(n)
    ok = total > 0
    shape = total[ok] ** 2 / squares[ok]
    scale = squares[ok] / total[ok]
    evidence = (W * surprise).sum(axis=0)
    if factor is not None:
        evidence = evidence * np.clip(np.asarray(factor, dtype=np.float64), 0.0, None)
    out[ok] = gammaincc(shape, evidence[ok] / scale)
    return np.asarray(out, dtype=np.float64)


def order(tier: NDArray[np.int_], p: Vector, score: Vector, rule_score: Vector,
          ids: Sequence[str]) -> NDArray[np.int_]:
    """Row indices in reading order: tier, then ``p`` (smallest first), the ensemble score, the rule
    score and the agent id."""
    return np.asarray(np.lexsort((np.array(list(ids)), -rule_score, -score, p, tier)), dtype=np.int_)
