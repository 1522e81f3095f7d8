"""The daily report as self-contained HTML (Chinese and English, inline SVG charts) and as CSV.

The HTML loads nothing from anywhere: styles are inline, charts are inline SVG, and the language
switch is two radio buttons and CSS (no script). Evidence links point into the collector's web UI
(``/agents/{agent_id}/timeline?date=YYYY-MM-DD#seq-N``).
"""

from __future__ import annotations

import io
import zlib
from typing import Any

from markupsafe import Markup, escape

from detectors.csv_cells import csv_row, csv_writer
from detectors.errors import RenderError
from detectors.features import FEATURE_BY_NAME, FEATURE_NAMES
from detectors.reasons import fmt
from detectors.scoring import DailyReport, Finding
from detectors.tiers import TIERS_ZH

SEVERITY_COLOUR = {"critical": "#8e0000", "high": "#d32f2f", "medium": "#f57c00", "low": "#fbc02d",
                   "none": "#9e9e9e"}
SEVERITY_ZH = {"critical": "严重", "high": "高", "medium": "中", "low": "低", "none": "无"}
STRIP_COLOUR = {"a": "#2e7d32", "i": "#f9a825", "-": "#e0e0e0"}
VERDICT_ZH = {"confirmed": "已确认", "benign": "误报", "follow_up": "待跟进"}
TIER_COLOUR = {"breach": "#4a148c", "anomaly": "#546e7a"}


def one_in(chance: float) -> str:
    """A calibrated chance as "N" of "1 in N", rounded for a reader (1 in 1 for a chance of 1)."""
    n = 1.0 / max(float(chance), 1e-12)
    if n < 10:
        return f"{n:.0f}" if n >= 1.5 else "1"
    digits = 10 ** (len(str(int(n))) - 2)
    return f"{int(round(n / digits) * digits):,}"


def _minutes(hhmm: str) -> int:
    h, _, m = hhmm.partition(":")
    return int(h) * 60 + int(m)


def svg_distribution(chart: dict[str, Any], width: int = 380, height: int = 64) -> Markup:
    """The peer group's values of one feature as dots, the median as a line, the agent's own past
    range as a band and the agent's value as a red marker."""
    feature = chart["feature"]
    peers = [float(v) for v in chart["peers"]]
    value = float(chart["value"])
    own = [v for v in (chart.get("own_low"), chart.get("own_high")) if v is not None]
    lo = min([*peers, value, *own])
    hi = max([*peers, value, *own])
    if hi - lo < 1e-9:
        hi = lo + 1.0
    pad = 12

    def x(v: float) -> float:
        return pad + (v - lo) / (hi - lo) * (width - 2 * pad)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(feature)}">']
    parts.append(f'<line x1="{pad}" y1="40" x2="{width - pad}" y2="40" stroke="#bbb"/>')
    if len(own) == 2:
        a, b = x(own[0]), x(own[1])
        parts.append(f'<rect x="{a:.1f}" y="8" width="{max(b - a, 2):.1f}" height="36" fill="#bbdefb" '
                     f'opacity="0.6"><title>own range</title></rect>')
    for k, v in enumerate(peers):
        jitter = (zlib.crc32(f"{feature}{k}".encode()) % 24) + 12
        parts.append(f'<circle cx="{x(v):.1f}" cy="{jitter}" r="2.5" fill="#607d8b" opacity="0.55"/>')
    m = x(float(chart["median"]))
    parts.append(f'<line x1="{m:.1f}" y1="6" x2="{m:.1f}" y2="44" stroke="#37474f" stroke-dasharray="3,2"/>')
    v = x(value)
    parts.append(f'<path d="M{v:.1f},4 l6,10 l-12,0 z" fill="#d32f2f"/>'
                 f'<line x1="{v:.1f}" y1="14" x2="{v:.1f}" y2="44" stroke="#d32f2f" stroke-width="2"/>')
    parts.append(f'<text x="{pad}" y="58" font-size="10" fill="#555">{escape(fmt(feature, lo))}</text>')
    parts.append(f'<text x="{width - pad}" y="58" font-size="10" fill="#555" text-anchor="end">'
                 f'{escape(fmt(feature, hi))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def svg_strip(strip: str, shift: tuple[str, str], width: int = 576, height: int = 34) -> Markup:
    """The day's activity strip (active / idle / absent per slot) with the shift outlined."""
    if not strip:
        return Markup("")
    slot_w = width / len(strip)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="activity">']
    for k, ch in enumerate(strip):
        parts.append(f'<rect x="{k * slot_w:.2f}" y="4" width="{slot_w + 0.3:.2f}" height="16" '
                     f'fill="{STRIP_COLOUR.get(ch, "#e0e0e0")}"/>')
    day_min = len(strip) * (1440 / len(strip))
    a, b = _minutes(shift[0]), _minutes(shift[1])
    spans = [(a, b)] if a < b else [(0, b), (a, 1440)]
    for s, e in spans:
        parts.append(f'<rect x="{s / day_min * width:.1f}" y="2" width="{(e - s) / day_min * width:.1f}" '
                     f'height="20" fill="none" stroke="#1565c0" stroke-width="1.5"/>')
    for hour in range(0, 25, 3):
        px = min(width - 1, hour * 60 / day_min * width)
        anchor = "start" if hour == 0 else ("end" if hour == 24 else "middle")
        parts.append(f'<text x="{px:.1f}" y="32" font-size="9" fill="#555" text-anchor="{anchor}">'
                     f'{hour:02d}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def svg_bar(fraction: float, width: int = 90, height: int = 12) -> Markup:
    w = max(0.0, min(1.0, fraction)) * width
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
                  f'<rect width="{width}" height="{height}" fill="#eceff1"/>'
                  f'<rect width="{w:.1f}" height="{height}" fill="#42a5f5"/></svg>')


def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("detectors", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.globals.update(svg_distribution=svg_distribution, svg_strip=svg_strip, svg_bar=svg_bar, fmt=fmt,
                       features=FEATURE_BY_NAME, colour=SEVERITY_COLOUR, severity_zh=SEVERITY_ZH,
                       verdict_zh=VERDICT_ZH, tier_colour=TIER_COLOUR, tier_zh=TIERS_ZH, one_in=one_in)
    return env


def render_html(report: DailyReport) -> str:
    """The report as one self-contained HTML page."""
    counts = {level: 0 for level in SEVERITY_COLOUR}
    for f in report.findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    from jinja2 import TemplateError

    try:
        template = _environment().get_template("report.html.j2")
        return str(template.render(report=report, counts=counts))
    except (TemplateError, TypeError, ValueError, KeyError, AttributeError) as exc:
        raise RenderError(f"could not render the HTML report ({exc})") from exc


def _row(report: DailyReport, f: Finding) -> list[Any]:
    links = " ".join(e.get("link", "") for e in f.evidence)
    values = [f"{f.features.get(n, 0.0):.3f}".rstrip("0").rstrip(".") for n in FEATURE_NAMES]
    return [report.day.isoformat(), f.rank, f.agent_id, f.team, f.role, f"{f.score:.4f}", f.severity,
            f.tier, f"{f.chance:.3g}",
            " ".join(f.rules), " | ".join(r.text for r in f.reasons),
            " | ".join(r.text_zh for r in f.reasons), links, f.label or "", " | ".join(n.text for n in f.feedback),
            *values]


def render_csv(report: DailyReport) -> str:
    """One row per finding (UTF-8 text; reasons in both languages, evidence links, label feedback, every
    feature)."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(["date", "rank", "agent_id", "team", "role", "score", "severity", "tier", "chance", "rules",
                     "reasons", "reasons_zh", "evidence", "label", "feedback", *FEATURE_NAMES])
    for f in report.findings:
        writer.writerow(csv_row(_row(report, f)))
    return out.getvalue()
