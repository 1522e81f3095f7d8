"""``seatguard-collector timeline --format html``: one agent-day as a self-contained HTML file.

Uses the web UI's own timeline layout and partial template, with the stylesheet and zoom script
inlined, so the file opens anywhere (for example attached to an investigation) without the server.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import partial
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from collector.web import i18n
from collector.web.site import clock, duration, when
from collector.web.timeline_page import layout

WEB = Path(__file__).resolve().parent / "web"

_PAGE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SeatGuard — {{ tl.agent_id }} {{ tl.date }}</title>
<style>{{ css }}</style></head>
<body class="page-timeline"><main>
<h1>{{ t("timeline.title") }}: <span class="mono">{{ tl.agent_id }}</span> — {{ tl.date }}</h1>
<p class="muted small">{{ note }}</p>
{% include "_timeline.html" %}
</main><script>{{ js }}</script></body></html>
"""


def render_timeline(timeline: dict[str, Any], tz: tzinfo, lang: str = "en", flagged: dict[int, str] | None = None,
                    generated_at: datetime | None = None) -> str:
    env = Environment(loader=FileSystemLoader(WEB / "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)

    env.filters.update(clock=partial(clock, tz=tz), when=partial(when, tz=tz), duration=duration)
    moment = (generated_at or datetime.now(tz)).strftime("%Y-%m-%d %H:%M %Z")
    return env.from_string(_PAGE).render(
        t=i18n.Translator(lang), lang=lang, tl=timeline, view=layout(timeline, flagged or {}, tz),
        css=Markup((WEB / "static" / "app.css").read_text(encoding="utf-8")),
        js=Markup((WEB / "static" / "timeline.js").read_text(encoding="utf-8")),
        note=f"Exported {moment}; values as stored by the collector (masked at ingest).")
