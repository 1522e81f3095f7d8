"""CSV cells that a spreadsheet cannot read as a formula (CSV injection), for every export SeatGuard writes.

A text cell is *risky* when a spreadsheet might evaluate it: its first character is ``\\t``, ``\\r`` or
``\\n``, or its first visible character (after spaces and invisible format characters, compared in
NFKC form so that full-width and small variants such as ``＝`` and ``﹢`` count) is ``=``, ``+``,
``-``, ``−`` (minus sign) or ``@``. A risky cell gets a leading apostrophe, which spreadsheets show
as text and which a reader can strip to get the exact value back. A plain decimal number such as
``-3`` or ``-0.25`` is never a formula and stays as it is, so numeric columns keep sorting as numbers.
Numbers (int, float) pass unchanged; everything else is turned into text first.

:func:`defuse_text` re-writes a whole CSV document that way (idempotent): a report stored by an older
release is exported defused too. The audit export (:mod:`collector.access`) and the report export
(:mod:`detectors.render`) write every row through :func:`csv_row` into a :func:`csv_writer`, whose
CRLF line ends (RFC 4180) make the writer quote a lone ``\r`` or ``\n`` inside a cell.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

TRIGGERS = frozenset("=+-@\u2212")
CONTROL_STARTS = frozenset("\t\r\n")
PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
QUOTE = "'"


def _first_visible(text: str) -> str:
    for ch in text:
        if ch.isspace() or unicodedata.category(ch) == "Cf":
            continue
        return unicodedata.normalize("NFKC", ch)[:1]
    return ""


def is_risky(text: str) -> bool:
    """Whether a spreadsheet could read this text cell as a formula (see the module docstring)."""
    if not text:
        return False
    if text[0] in CONTROL_STARTS:
        return True
    if PLAIN_NUMBER.fullmatch(text):
        return False
    return _first_visible(text) in TRIGGERS


def defuse(value: Any) -> Any:
    """A cell value safe to write: numbers unchanged, risky text with a leading apostrophe."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        text = "" if value is None else str(value)
        return QUOTE + text if is_risky(text) else text
    return value


def csv_writer(out: Any) -> Any:
    """The one CSV dialect of SeatGuard's exports: commas, minimal quoting, CRLF line ends."""
    return csv.writer(out, lineterminator="\r\n")


def csv_row(values: Iterable[Any]) -> list[Any]:
    """One CSV row with every cell defused (what every SeatGuard CSV writer passes to ``writerow``)."""
    return [defuse(v) for v in values]


def defuse_text(document: str) -> str:
    """A CSV document with every cell defused (cells already defused stay as they are), as :func:`csv_writer`."""
    out = io.StringIO()
    writer = csv_writer(out)
    for row in csv.reader(io.StringIO(document, newline="")):
        writer.writerow(csv_row(row))
    return out.getvalue()
