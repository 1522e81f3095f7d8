"""Reasons as plain numbers, in English and Chinese."""

from __future__ import annotations

from detectors.features import FEATURE_NAMES
from detectors.reasons import PHRASES, explain, fmt
from detectors.rules import RuleSet


def base() -> dict[str, float]:
    return dict.fromkeys(FEATURE_NAMES, 0.0)


def own(**over: tuple[float, float, float]) -> dict[str, dict[str, float]]:
    out = {n: {"median": 0.0, "low": 0.0, "high": 0.0} for n in FEATURE_NAMES}
    for name, (median, low, high) in over.items():
        out[name] = {"median": median, "low": low, "high": high}
    return out


def test_every_feature_has_a_phrase() -> None:
    assert set(PHRASES) == set(FEATURE_NAMES)
    for en, zh in PHRASES.values():
        assert "{v}" in en and "{v}" in zh


def test_the_issue_example() -> None:
    f = base()
    f["copied_ids"] = 14
    reasons = explain(f, "agent", base(), "team", own(copied_ids=(0, 0, 1)), 30,
                      {"copied_ids": 14.0}, {"copied_ids": 13.0}, RuleSet().evaluate(f))
    assert reasons[0].text == "copied 14 ID numbers; team median 0; own 30-day maximum 1; rule threshold 10"
    assert reasons[0].text_zh == "复制身份证号 14 个；团队中位数 0；本人30天最高 1；规则阈值 10"
    assert reasons[0].rule == "bulk_id_copy" and reasons[0].severity == "high"


def test_model_reasons_without_a_rule_and_with_a_falling_feature() -> None:
    f = base()
    f.update(cases_closed=4, handle_mean_s=1500)
    medians = base()
    medians.update(cases_closed=41, handle_mean_s=540)
    reasons = explain(f, "agent", medians, "team", own(cases_closed=(40, 33, 47), handle_mean_s=(530, 480, 610)),
                      21, {"cases_closed": -9.0, "handle_mean_s": 6.0}, {"cases_closed": -12.0}, [])
    assert [r.feature for r in reasons] == ["cases_closed", "handle_mean_s"]
    assert reasons[0].text == "closed 4 cases; team median 41; own 21-day minimum 33"
    assert reasons[1].text == "mean handling time 25.0 min; team median 9.0 min; own 21-day maximum 10.2 min"
    assert reasons[1].text_zh == "平均处理时长 25.0 分钟；团队中位数 9.0 分钟；本人21天最高 10.2 分钟"


def test_cold_start_and_wider_peer_groups_say_so() -> None:
    f = base()
    f["outside_shift_min"] = 150
    reasons = explain(f, "lead", base(), "role", {}, 0, {"outside_shift_min": 10.0}, {}, [])
    assert reasons[0].text == ("active 150 min outside the shift, not explained by casework; all team leads' "
                               "median 0 min; no own history yet")
    assert reasons[0].text_zh == "排班外活动 150 分钟（超出办案可解释的部分）；全体组长中位数 0 分钟；暂无个人历史"


def test_small_deviations_give_no_reason_but_the_largest() -> None:
    f = base()
    f.update(copies=25, pages=170)
    reasons = explain(f, "agent", base(), "team", own(), 30, {"copies": 1.2, "pages": 2.5}, {"copies": 0.5}, [])
    assert [r.feature for r in reasons] == ["pages"]
    assert explain(base(), "agent", base(), "team", own(), 30, {}, {}, []) == []


def test_at_most_max_reasons_but_every_rule_broken() -> None:
    f = base()
    f.update(removable_writes=2, drive_mounts=1, remote_access_starts=1, screen_capture_starts=1, copied_ids=12)
    hits = RuleSet().evaluate(f)
    reasons = explain(f, "agent", base(), "team", own(), 30, {}, {}, hits, max_reasons=3)
    assert len(reasons) == len(hits) == 5
    assert explain(f, "agent", base(), "team", own(), 30, {"pages": 9.0, "copies": 8.0}, {}, [], max_reasons=1)[0]\
        .feature == "pages"


def test_units() -> None:
    assert fmt("active_min", 95.4) == "95 min" and fmt("active_min", 95.4, "zh") == "95 分钟"
    assert fmt("first_activity", 25) == "+25 min" and fmt("last_activity", -40, "zh") == "-40 分钟"
    assert fmt("utilisation", 0.834) == "83%"
    assert fmt("removable_mb", 12.345) == "12.3 MB"
    assert fmt("handle_mean_s", 330) == "5.5 min"
    assert fmt("copied_ids", 3) == "3" and fmt("cases_per_hour", 5.25) == "5.2"
    d = explain(base() | {"copied_ids": 2.0}, "agent", base(), "team", own(), 30, {"copied_ids": 5.0}, {}, [])[0]
    assert d.to_dict()["value"] == 2.0 and d.to_dict()["rule"] is None
