"""Find ID, phone and bank card numbers in a text.

The text is cut into *chunks* (digit runs joined by single separators) and each chunk into
*atoms* (maximal digit runs, each with an optional trailing check X).  A number is a sequence of
whole atoms whose lengths follow one of the known groupings in :data:`PATTERNS`, joined by
separators (not by an X), and whose digits pass the validator of its kind.  Because a number is
made of whole atoms it is never a piece of a longer digit run (28-digit transaction numbers
stay as they are); the one exception is a run of 36 or 54 characters that is exactly two or
three valid 18-character IDs back to back.  Word boundaries play no part: letters, CJK
characters and underscores may touch a number.  Work is linear in the length of the text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from contract.masking import card, creditcode, idcard, phone
from contract.masking.normalize import ATOM_RE, CHUNK_RE, ascii_number, escape_digits_at

ID_NUMBER = "id_number"
PHONE = "phone"
BANK_CARD = "bank_card"
KINDS = (ID_NUMBER, PHONE, BANK_CARD)

Span = tuple[int, int]
Option = tuple[list["Finding"], int]  # findings and the number of atoms they take


@dataclass(frozen=True, slots=True)
class Finding:
    """One number found: its kind and the spans of its characters (separators excluded)."""

    kind: str
    spans: tuple[Span, ...]


class Detector(Protocol):
    """What the masking engine needs from a detector (tests substitute their own)."""

    def find(self, text: str, *, id_hint: bool = False) -> list[Finding]: ...


@dataclass(frozen=True, slots=True)
class Pattern:
    """A grouping: atom lengths (the last one counts a check X for IDs) and a prefix to skip."""

    kind: str
    lengths: tuple[int, ...]
    prefix: str = ""


PATTERNS: tuple[Pattern, ...] = (
    *(Pattern("id18", g) for g in ((18,), (6, 8, 4), (6, 4, 4, 4), (4, 4, 4, 4, 2), (3, 3, 4, 4, 4))),
    *(Pattern("id15", g) for g in ((15,), (6, 6, 3))),
    *(Pattern(PHONE, g) for g in ((11,), (3, 4, 4), (3, 8), (7, 4))),
    Pattern(PHONE, (13,), "86"),
    Pattern(PHONE, (15,), "0086"),
    Pattern(PHONE, (5, 4, 4), "86"),
    Pattern(PHONE, (7, 4, 4), "0086"),
    *(Pattern(BANK_CARD, (n,)) for n in range(13, 20)),
    *(Pattern(BANK_CARD, g) for g in ((4, 4, 4, 4), (4, 4, 4, 4, 1), (4, 4, 4, 4, 2), (4, 4, 4, 4, 3))),
    *(Pattern(BANK_CARD, g) for g in ((4, 6, 5), (4, 6, 4), (6, 13))),
)

# The fewest characters of any number (an 11-digit phone; an ID's check X is in its chunk too): a chunk
# shorter than that holds none.
_SHORTEST = min(sum(p.lengths) for p in PATTERNS)

_KIND_ORDER = {"id18": 0, "id15": 1, PHONE: 2, BANK_CARD: 3}


@dataclass(frozen=True, slots=True)
class _Atom:
    start: int
    end: int  # end of the digits; a check X, if any, is at ``end``
    has_x: bool
    joiner: str  # the separator before this atom ("" at the start of a chunk or after an X)


def _valid_id18(number: str, text: str, start: int, id_hint: bool) -> bool:
    if idcard.is_id18(number):
        return True
    return (id_hint or idcard.keyword_before(text, start)) and idcard.is_id18(number, keyword_near=True)


def _valid_id15(number: str, text: str, start: int, id_hint: bool) -> bool:
    return idcard.is_id15(number) and (id_hint or idcard.keyword_before(text, start))


def _valid_phone(number: str, text: str, start: int, id_hint: bool) -> bool:
    return phone.is_mobile(number)


def _valid_card(number: str, text: str, start: int, id_hint: bool) -> bool:
    return card.is_card(number)


_VALIDATORS: dict[str, Callable[[str, str, int, bool], bool]] = {
    "id18": _valid_id18,
    "id15": _valid_id15,
    PHONE: _valid_phone,
    BANK_CARD: _valid_card,
}


def _index(patterns: tuple[Pattern, ...]) -> dict[int, tuple[Pattern, ...]]:
    """Patterns by the digit count of their first atom, most atoms first, then IDs first."""
    table: dict[int, list[Pattern]] = {}
    for p in patterns:
        table.setdefault(p.lengths[0], []).append(p)
        if p.kind == "id18" and len(p.lengths) == 1:
            table.setdefault(p.lengths[0] - 1, []).append(p)  # 17 digits and a check X
    return {
        n: tuple(sorted(ps, key=lambda p: (-len(p.lengths), _KIND_ORDER[p.kind])))
        for n, ps in table.items()
    }


def _atoms(text: str, start: int, end: int) -> tuple[list[_Atom], list[_Atom] | None]:
    """The atoms of a chunk, and, if it may start inside an escape, the atoms without the trim."""
    atoms: list[_Atom] = []
    for m in ATOM_RE.finditer(text, start, end):
        a_start, a_end = m.span(2)
        has_x = not text[a_end - 1].isdecimal()
        atoms.append(_Atom(a_start, a_end - 1 if has_x else a_end, has_x, m.group(1) or ""))
    trim = escape_digits_at(text, start)
    if not trim or not atoms:
        return atoms, None
    first = atoms[0]
    if first.start + trim >= first.end:
        return atoms[1:], atoms
    return [_Atom(first.start + trim, first.end, first.has_x, ""), *atoms[1:]], atoms


def _fit(atoms: list[_Atom], i: int, p: Pattern) -> tuple[Span, ...] | None:
    """The spans of atoms ``i..`` if they have the pattern's lengths and separators between them."""
    k = len(p.lengths)
    if i + k > len(atoms):
        return None
    spans: list[Span] = []
    for m, length in enumerate(p.lengths):
        a = atoms[i + m]
        digits = a.end - a.start
        if m < k - 1:
            if a.has_x or digits != length or not atoms[i + m + 1].joiner:
                return None
            spans.append((a.start, a.end))
        elif digits == length:
            spans.append((a.start, a.end))
        elif p.kind == "id18" and a.has_x and digits == length - 1:
            spans.append((a.start, a.end + 1))
        else:
            return None
    return tuple(spans)


def _back_to_back_ids(text: str, atom: _Atom) -> list[Finding]:
    """Two or three 18-character IDs written without a gap (36 or 54 characters)."""
    end = atom.end + 1 if atom.has_x and (atom.end + 1 - atom.start) % 18 == 0 else atom.end
    length = end - atom.start
    if length % 18 or not 36 <= length <= 54:
        return []
    number = ascii_number(text[atom.start : end])
    if not all(idcard.is_id18(number[k : k + 18]) for k in range(0, length, 18)):
        return []
    return [Finding(ID_NUMBER, ((atom.start + k, atom.start + k + 18),)) for k in range(0, length, 18)]


def _outside_credit_codes(text: str, found: list[Finding]) -> list[Finding]:
    codes = creditcode.credit_code_spans(text)
    if not codes:
        return found
    return [f for f in found if not any(s <= f.spans[0][0] and f.spans[-1][1] <= e for s, e in codes)]


class NumberDetector:
    """The built-in detector: the patterns above and the validators of each kind."""

    # a digit chunk shorter than this holds no number and is not scanned (0 scans every chunk)
    shortest_chunk: int = _SHORTEST

    def __init__(self, patterns: tuple[Pattern, ...] = PATTERNS) -> None:
        self._table = _index(patterns)

    def find(self, text: str, *, id_hint: bool = False) -> list[Finding]:
        """Every number in ``text``; ``id_hint`` says an ID keyword came with it (a JSON key)."""
        found: list[Finding] = []
        for chunk in CHUNK_RE.finditer(text):
            if chunk.end() - chunk.start() < self.shortest_chunk:
                continue  # too few digits for any number ("line-10", "v2.3", times and dates)
            atoms, untrimmed = _atoms(text, chunk.start(), chunk.end())
            covered, hits = self._scan(text, atoms, id_hint)
            if untrimmed is not None:
                # "50%13800138000": the digits after a percent sign may be an escape or a number.
                other_covered, other = self._scan(text, untrimmed, id_hint)
                hits = other if other_covered > covered else hits
            found.extend(hits)
        if found:
            found = _outside_credit_codes(text, found)
        return found

    def _scan(self, text: str, atoms: list[_Atom], id_hint: bool) -> tuple[int, list[Finding]]:
        """The reading of the chunk that hides the most characters, and how many it hides.

        ``6222 0212 3456 7890 138 0013 8000`` is a card and a phone, not a 19-digit card and
        two stray groups: a right-to-left pass over the atoms weighs every way to read them.
        """
        n = len(atoms)
        best = [0] * (n + 1)
        choice: list[Option | None] = [None] * (n + 1)
        for i in range(n - 1, -1, -1):
            best[i] = best[i + 1]
            for findings, k in self._options(text, atoms, i, id_hint):
                covered = sum(e - s for f in findings for s, e in f.spans) + best[i + k]
                if covered > best[i]:
                    best[i], choice[i] = covered, (findings, k)
        hits: list[Finding] = []
        i = 0
        while i < n:
            picked = choice[i]
            if picked is None:
                i += 1
            else:
                hits.extend(picked[0])
                i += picked[1]
        return best[0], hits

    def _options(self, text: str, atoms: list[_Atom], i: int, id_hint: bool) -> list[Option]:
        """Every number that starts at atom ``i``, with the count of atoms it takes, IDs first."""
        first = atoms[i]
        options: list[Option] = []
        for p in self._table.get(first.end - first.start, ()):
            spans = _fit(atoms, i, p)
            if spans is None:
                continue
            number = ascii_number("".join(text[s:e] for s, e in spans))
            if not number.startswith(p.prefix):
                continue
            if _VALIDATORS[p.kind](number[len(p.prefix) :], text, first.start, id_hint):
                kind = ID_NUMBER if p.kind.startswith("id") else p.kind
                start0 = spans[0][0] + len(p.prefix)
                options.append(([Finding(kind, ((start0, spans[0][1]), *spans[1:]))], len(p.lengths)))
        pair = _back_to_back_ids(text, first)
        if pair:
            options.append((pair, 1))
        return options
