"""No exported CSV cell can be read as a formula: the shared helper, as properties, and both exports."""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import replace

from hypothesis import example, given, settings
from hypothesis import strategies as st

from collector.access import audit_csv
from detectors.csv_cells import csv_row, csv_writer, defuse, defuse_text, is_risky
from detectors.render import render_csv
from detectors.scoring import score_day
from detectors.synthetic import fleet_day

# Everything a spreadsheet could take for the start of a formula, in the shapes an insider would try.
STARTS = ["=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20", "\ufe66", "\ufe62",
          "\ufe63", "\ufe6b", "\u2212", " =", "\u200b=", "\u00a0+", "\ufeff@", " \u3000\uff1d"]
PAYLOADS = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


def _spreadsheet_would_evaluate(cell: str) -> bool:
    """An independent reading of the rule: the first visible character, NFKC, is a formula sign."""
    if cell[:1] in ("\t", "\r", "\n"):
        return True
    visible = [c for c in cell if not c.isspace() and unicodedata.category(c) != "Cf"]
    if not visible:
        return False
    if unicodedata.normalize("NFKC", visible[0])[:1] not in "=+-@\u2212":
        return False
    body = cell[1:] if cell.startswith("-") else ""
    return not (body.isascii() and body.replace(".", "", 1).isdigit())  # "-3", "-0.25": plain numbers


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(STARTS), PAYLOADS)
@example("=", "cmd|' /C calc'!A0")
@example("-", "2+3")
@example("\uff1d", "HYPERLINK(\"http://x\")")
def test_formula_starts_are_quoted(start: str, payload: str) -> None:
    cell = start + payload
    out = defuse(cell)
    if _spreadsheet_would_evaluate(cell):
        assert out == "'" + cell
    assert not _spreadsheet_would_evaluate(out)


@settings(max_examples=400, deadline=None)
@given(PAYLOADS)
def test_defuse_is_idempotent_loses_nothing_and_leaves_plain_text(text: str) -> None:
    out = defuse(text)
    assert defuse(out) == out
    assert out in (text, "'" + text)
    assert (out != text) == is_risky(text)
    if text[:1].isalnum() or text == "":
        assert out == text


@given(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_numbers_stay_numbers(n: int, x: float) -> None:
    assert defuse(n) == n and defuse(x) == x
    assert defuse(str(n)) == str(n)  # "-3" is a number, not a formula
    assert defuse(f"{x:.4f}") == f"{x:.4f}"
    assert defuse("-1+2") == "'-1+2" and defuse("+1") == "'+1" and defuse("-1e3") == "'-1e3"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(STARTS + ["", "a", "'"]), PAYLOADS), min_size=1, max_size=6))
def test_a_document_rewritten_is_defused_and_stable(cells: list[tuple[str, str]]) -> None:
    row = [a + b for a, b in cells]
    out = io.StringIO()
    csv_writer(out).writerow(row)
    once = defuse_text(out.getvalue())
    assert defuse_text(once) == once
    read = next(csv.reader(io.StringIO(once, newline="")))
    assert read == csv_row(row)
    assert not any(_spreadsheet_would_evaluate(c) for c in read)


def test_audit_export_defuses_every_text_cell_from_a_request() -> None:
    from zoneinfo import ZoneInfo

    text = audit_csv([{"id": 1, "at": 0, "actor": "\uff1dcmd", "action": "login", "target": "@SUM(A1)",
                       "allowed": False, "remote": "=HYPERLINK(\"http://x\")"}], ZoneInfo("UTC"))
    row = list(csv.reader(io.StringIO(text)))[1]
    assert row[2] == "'\uff1dcmd" and row[4] == "'@SUM(A1)" and row[7] == "'=HYPERLINK(\"http://x\")"
    assert row[6] == "no"


def test_report_export_defuses_agent_supplied_cells() -> None:
    sd = fleet_day(5, teams=2, per_team=8, anomalies=2)
    report = score_day(sd.day, sd.today, sd.history)
    assert report.findings
    hostile = replace(report.findings[0], team="=team", role="+agent", evidence=[{"link": "-2+3"}], label="@x")
    rows = list(csv.reader(io.StringIO(render_csv(replace(report, findings=[hostile])))))
    cells = dict(zip(rows[0], rows[1], strict=True))
    assert cells["team"] == "'=team" and cells["role"] == "'+agent" and cells["evidence"] == "'-2+3"
    assert cells["label"] == "'@x" and cells["score"] == f"{hostile.score:.4f}"


HOSTILE = st.one_of(PAYLOADS, st.builds(lambda s, p: s + p, st.sampled_from(STARTS), PAYLOADS))
_SCORED = fleet_day(3, teams=2, per_team=6, anomalies=2)
_REPORT = score_day(_SCORED.day, _SCORED.today, _SCORED.history)


def _cells(document: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(document, newline="")) for c in row]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.fixed_dictionaries({
    "actor": HOSTILE, "action": HOSTILE, "target": HOSTILE, "agent_id": st.one_of(st.none(), HOSTILE),
    "remote": st.one_of(st.none(), HOSTILE), "allowed": st.booleans()}), min_size=1, max_size=5))
def test_no_cell_of_the_audit_export_reads_as_a_formula(rows: list[dict[str, object]]) -> None:
    from zoneinfo import ZoneInfo

    text = audit_csv([{"id": n, "at": 1.7e9 + n, **r} for n, r in enumerate(rows)], ZoneInfo("Asia/Shanghai"))
    cells = _cells(text)
    assert len(cells) == 8 * (len(rows) + 1), "every record stays one row of eight cells"
    assert not [c for c in cells if _spreadsheet_would_evaluate(c)]


@settings(max_examples=100, deadline=None)
@given(HOSTILE, HOSTILE, HOSTILE, st.one_of(st.none(), HOSTILE), HOSTILE)
def test_no_cell_of_the_report_export_reads_as_a_formula(agent_id: str, team: str, role: str, label: str | None,
                                                         link: str) -> None:
    hostile = replace(_REPORT.findings[0], agent_id=agent_id, team=team, role=role, label=label,
                      evidence=[{"link": link}])
    document = render_csv(replace(_REPORT, findings=[hostile]))
    assert not [c for c in _cells(document) if _spreadsheet_would_evaluate(c)]
    assert defuse_text(document) == document  # what a stored report is re-defused into on export
