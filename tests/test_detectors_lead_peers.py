"""A role too small for a peer group of its own (fewer than ``min_peers`` team leads) is compared with
everyone, mostly agents: that comparison measures the lead's job, not the lead's day, so the reading
order judges such a lead by its own past and the rules (detectors.tiers.unlike_peers), on
hand-written agent-days.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from detectors.context import AgentContext
from detectors.rules import RuleSet
from detectors.scoring import ScoringConfig, compute, score_day
from detectors.tiers import unlike_peers
from tests.desk_days import Fleet, Habit, with_

LEAD = Habit(cases=6, lookups=0)  # a lead's ordinary day: a few escalations, no casework to speak of


def fleet() -> Fleet:
    f = Fleet.teams(teams=2, per_team=10, seed=5)
    for t in range(2):
        f.add(AgentContext(f"t{t}lead", f"team-{t}", "lead"), LEAD)
    return f


def test_a_lead_compared_with_agents_is_unlike_its_peers_and_agents_are_not() -> None:
    f = fleet()
    day, rows, past = f.inputs(8)
    ds = compute(rows, past, ScoringConfig(), RuleSet())
    roles = [r.ctx.role for r in rows]
    unlike = unlike_peers(ds.peer, roles)
    leads = [i for i, r in enumerate(roles) if r == "lead"]
    assert {ds.peer.scope[i] for i in leads} == {"all"}          # two leads: widened to everyone
    assert unlike[leads].all() and not unlike[[i for i, r in enumerate(roles) if r == "agent"]].any()
    # with five leads in one fleet the leads are a group of their own, compared with their like
    bigger = fleet()
    for t in range(3):
        bigger.add(AgentContext(f"t{t}lead2", f"team-{t}", "lead"), LEAD)
    _, rows5, past5 = bigger.inputs(8)
    ds5 = compute(rows5, past5, ScoringConfig(), RuleSet())
    assert not unlike_peers(ds5.peer, [r.ctx.role for r in rows5]).any()


def test_a_leads_ordinary_day_does_not_outrank_an_agents_unusual_one() -> None:
    f = fleet()
    odd = "t1a04"
    # one agent's slower day with a few caseless look-ups: mildly unusual, no rule fires
    today = {odd: with_(f.habits[odd], cases=30, lookups=3)}
    day, rows, past = f.inputs(8, today=today)
    ds = compute(rows, past, ScoringConfig(), RuleSet())
    ids = [r.ctx.agent_id for r in rows]
    rank = {ids[int(i)]: n for n, i in enumerate(ds.order, start=1)}
    assert rank[odd] < rank["t0lead"] and rank[odd] < rank["t1lead"]
    lead = ids.index("t0lead")
    # the lead's peer members still see the job difference (the ensemble score keeps it) ...
    assert min(float(m.pvalues[lead]) for m in ds.result.members if m.view == "peer") < 0.2
    # ... but its calibrated score reads like an ordinary day's (compared with agents it read 0.24-0.42)
    assert min(ds.chance[lead], ds.chance[ids.index("t1lead")]) > 0.6


def test_a_lead_is_still_found_by_its_own_past_and_by_hard_rules() -> None:
    f = fleet()
    # the lead opens many customers with no case of their own today, against a past of none
    day, rows, past = f.inputs(8, today={"t0lead": with_(LEAD, lookups=9)})
    ds = compute(rows, past, ScoringConfig(), RuleSet())
    ids = [r.ctx.agent_id for r in rows]
    first = ids[int(ds.order[0])]
    assert first == "t0lead"
    report = score_day(day, rows, past)
    top = report.findings[0]
    assert top.agent_id == "t0lead" and top.role == "lead" and top.chance < 0.05
    # a breach puts a lead first in the breach tier whatever the peer view
    feats = dict(rows[ids.index("t1lead")].features, remote_access_starts=1.0, remote_access_min=20.0)
    rows2 = [replace(r, features=feats) if r.ctx.agent_id == "t1lead" else r for r in rows]
    ds2 = compute(rows2, past, ScoringConfig(), RuleSet())
    assert ids[int(ds2.order[0])] == "t1lead" and int(ds2.tier[ids.index("t1lead")]) == 0
    assert np.isfinite(ds2.chance).all()
