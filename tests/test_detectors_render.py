"""The report as self-contained bilingual HTML, as CSV and as JSON."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date

import pytest

from detectors.features import FEATURE_NAMES
from detectors.render import render_csv, render_html, svg_distribution, svg_strip
from detectors.scoring import AgentDayInput, DailyReport, score_day
from detectors.synthetic import fleet_day


@pytest.fixture(scope="module")
def report() -> DailyReport:
    sd = fleet_day(21, teams=3, per_team=12, anomalies=5)
    row = sd.today[7]
    f = dict(row.features)
    f["removable_writes"] = 3
    evidence = [{"ts": "2024-05-06T14:03:11+08:00", "kind": "usb_write", "seq": 4711,
                 "what": "wrote <list>.xlsx (2.0 MB) to a removable drive",
                 "what_zh": "向移动存储写入 <list>.xlsx（2.0 MB）"}]
    sd.today[7] = AgentDayInput(row.ctx, f, evidence, "-" * 54 + "a" * 50 + "i" * 4 + "a" * 2 + "-" * 34)
    return score_day(sd.day, sd.today, sd.history)


def test_html_is_self_contained_and_bilingual(report: DailyReport) -> None:
    html = render_html(report)
    assert html.startswith("<!DOCTYPE html>") and 'lang="zh-CN"' in html
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)
    assert "<link" not in html and "@import" not in html
    assert "每日异常报告" in html and "Daily anomaly report" in html
    assert "团队指标" in html and "Team figures" in html
    assert html.count("<svg") >= len(report.findings)
    first = report.findings[0]
    assert first.reasons[0].text in html and first.reasons[0].text_zh in html
    assert 'href="/agents/' in html and "#seq-4711" in html
    assert "&lt;list&gt;.xlsx" in html and "<list>" not in html       # escaped
    for t in report.teams:
        assert f"<td>{t.team}</td>" in html


def test_empty_report_renders() -> None:
    empty = score_day(date(2024, 5, 6), [], {})
    assert "No findings today" in render_html(empty)
    assert render_csv(empty).splitlines()[0].startswith("date,rank,agent_id")


def test_csv_has_one_row_per_finding(report: DailyReport) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert len(rows) == len(report.findings)
    assert [int(r["rank"]) for r in rows] == [f.rank for f in report.findings]
    assert set(FEATURE_NAMES) <= set(rows[0])
    usb = next(r for r in rows if "#seq-4711" in r["evidence"])
    assert usb["removable_writes"] == "3" and "removable_write" in usb["rules"]
    assert usb["reasons_zh"] and usb["severity"] in ("high", "critical")


def test_json_matches_the_architecture_shape(report: DailyReport) -> None:
    data = json.loads(report.to_json())
    assert set(data) >= {"date", "findings"}
    assert data["findings"][0]["rank"] == report.findings[0].rank


def test_svg_helpers() -> None:
    chart = {"feature": "copied_ids", "value": 14.0, "median": 0.0, "peers": [0.0, 1.0, 0.0], "own_low": 0.0,
             "own_high": 1.0}
    svg = str(svg_distribution(chart))
    assert svg.startswith("<svg") and svg.count("<circle") == 3 and ">14<" in svg
    flat = dict(chart, value=0.0, peers=[0.0], own_low=None, own_high=None)
    assert "<svg" in str(svg_distribution(flat))
    strip = str(svg_strip("a" * 144, ("22:00", "06:00")))
    assert strip.count('stroke="#1565c0"') == 2                         # a night shift is drawn in two parts
    assert str(svg_strip("", ("09:00", "18:00"))) == ""
