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
from contract.masking.normalize import (
    ATOM_RE,
    CHECK_X_CHARS,
    CHUNK_RE,
    ESCAPE_ENDS,
    SPACES_AND_HYPHENS,
    ascii_number,
    escape_digits_at,
)

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
    *(Pattern(PHONE, g) for g in ((11,), (3, 4, 4), (4, 3, 4), (3, 8), (7, 4))),
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

# Besides the patterns, a number may be written in any other grouping: a phone as 11 digits in two or
# more groups joined by spaces or hyphens (``1380 013 8000``, ``138 00 13 80 00``; not dots, slashes,
# underscores, pipes or tabs, which join the groups of IP addresses, versions, paths and spreadsheet
# cells), an 18-character ID in two or more groups joined by any separator (its check character and
# birth date rule out chance). A pattern that hides as much wins.
_FREE_PHONE_DIGITS = 11
_FREE_ID_DIGITS = 18
# What stands right before an atom joined by a space or hyphen: that character, or the "0" of "%20".
_FREE_PHONE_JOINS = frozenset(SPACES_AND_HYPHENS + "0")
# The scan weighs a reading by the characters it hides, times _CHAR, less one for each number in a free
# grouping: of two readings that hide as much, the one with fewer free groupings wins (_CHAR is more than
# the numbers of any chunk classify() reads, so one character hidden outweighs them all).
_CHAR = 1 << 20


# An atom of a chunk: start, end of its digits (a check X, if any, is at the end), whether it ends in a
# check X, and whether a separator comes before it (never at the start of a chunk or after an X).
_Atom = tuple[int, int, bool, bool]
Validator = Callable[[str, str, int, bool], bool]
# A pattern as the scan uses it: atom lengths, prefix, validator, the kind of its findings, is an id18.
_Rule = tuple[tuple[int, ...], str, Validator, str, bool]
# A reading of a chunk that is one atom: prefix, validator, kind, and 1 when the number takes the check X.
_Single = tuple[str, Validator, str, int]


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


_VALIDATORS: dict[str, Validator] = {
    "id18": _valid_id18,
    "id15": _valid_id15,
    PHONE: _valid_phone,
    BANK_CARD: _valid_card,
}


def _rule(p: Pattern) -> _Rule:
    kind = ID_NUMBER if p.kind.startswith("id") else p.kind
    return p.lengths, p.prefix, _VALIDATORS[p.kind], kind, p.kind == "id18"


def _index(patterns: tuple[Pattern, ...]) -> dict[int, tuple[_Rule, ...]]:
    """Patterns by the digit count of their first atom, most atoms first, then IDs first."""
    table: dict[int, list[Pattern]] = {}
    for p in patterns:
        table.setdefault(p.lengths[0], []).append(p)
        if p.kind == "id18" and len(p.lengths) == 1:
            table.setdefault(p.lengths[0] - 1, []).append(p)  # 17 digits and a check X
    return {
        n: tuple(_rule(p) for p in sorted(ps, key=lambda p: (-len(p.lengths), _KIND_ORDER[p.kind])))
        for n, ps in table.items()
    }


def _singles(rules: tuple[_Rule, ...], digits: int, has_x: bool) -> tuple[_Single, ...]:
    """The readings of a one-atom chunk of ``digits`` digits, those that hide the most characters first.

    The scan takes the first valid option that hides the most; sorted this way (stable, so the
    scan's order among equals stays), the first valid reading is that one.
    """
    out: list[tuple[int, _Single]] = []
    for lengths, prefix, valid, kind, id18 in rules:
        if len(lengths) != 1:
            continue
        if lengths[0] == digits:
            out.append((digits - len(prefix), (prefix, valid, kind, 0)))
        elif id18 and has_x and lengths[0] == digits + 1:
            out.append((digits + 1 - len(prefix), (prefix, valid, kind, 1)))
    return tuple(single for _, single in sorted(out, key=lambda o: -o[0]))


def _atoms(text: str, start: int, end: int) -> tuple[list[_Atom], list[_Atom] | None]:
    """The atoms of a chunk, and, if it may start inside an escape, the atoms without the trim."""
    atoms: list[_Atom] = []
    for m in ATOM_RE.finditer(text, start, end):
        a_start, a_end = m.span(2)
        has_x = not text[a_end - 1].isdecimal()
        atoms.append((a_start, a_end - 1 if has_x else a_end, has_x, m.start(1) >= 0))
    trim = escape_digits_at(text, start)
    if not trim or not atoms:
        return atoms, None
    first_start, first_end, first_x, _ = atoms[0]
    if first_start + trim >= first_end:
        return atoms[1:], atoms
    return [(first_start + trim, first_end, first_x, False), *atoms[1:]], atoms


def _spans(atoms: list[_Atom], i: int, k: int, with_x: bool) -> tuple[Span, ...]:
    """The spans of atoms ``i .. i+k-1``, the last one's check X included when ``with_x``."""
    spans = [(a[0], a[1]) for a in atoms[i : i + k]]
    if with_x:
        spans[-1] = (spans[-1][0], spans[-1][1] + 1)
    return tuple(spans)


def _back_to_back_ids(text: str, atom: _Atom) -> list[Finding]:
    """Two or three 18-character IDs written without a gap (36 or 54 characters)."""
    a_start, a_end, has_x, _ = atom
    end = a_end + 1 if has_x and (a_end + 1 - a_start) % 18 == 0 else a_end
    length = end - a_start
    if length % 18 or not 36 <= length <= 54:
        return []
    number = ascii_number(text[a_start:end])
    if not all(idcard.is_id18(number[k : k + 18]) for k in range(0, length, 18)):
        return []
    return [Finding(ID_NUMBER, ((a_start + k, a_start + k + 18),)) for k in range(0, length, 18)]


def _covered(findings: list[Finding]) -> int:
    """How many characters the findings hide (separators excluded)."""
    return sum(e - s for f in findings for s, e in f.spans)


def _outside_credit_codes(text: str, found: list[Finding]) -> list[Finding]:
    return [f for f in found if not creditcode.within_credit_code(text, f.spans[0][0], f.spans[-1][1])]


def _free_grouping_may_start(text: str, atoms: list[_Atom], digits: tuple[int, ...]) -> bool:
    """The chunk may hold a number in a grouping that no pattern names: two atoms joined by a separator
    (no X between them) with few enough digits for an ID, or for a phone when a space or hyphen joins them
    (IP addresses and versions are joined by dots), and enough digits in all."""
    total = sum(digits)
    if total < _FREE_PHONE_DIGITS:
        return False
    for m in range(1, len(atoms)):
        a_start, _, _, joined = atoms[m]
        if joined and not atoms[m - 1][2]:
            pair = digits[m - 1] + digits[m]
            if pair <= _FREE_ID_DIGITS and total >= _FREE_ID_DIGITS - 1:
                return True
            if pair <= _FREE_PHONE_DIGITS and text[a_start - 1] in _FREE_PHONE_JOINS:
                return True
    return False


def _free_grouping(
    text: str, atoms: list[_Atom], digits: tuple[int, ...], i: int, linked: int, id_hint: bool
) -> Option | None:
    """A phone or an ID of two or more atoms from atom ``i`` on in a grouping that no pattern names."""
    total = digits[i]
    phone_joined = True  # every atom so far joined to the one before by a space or hyphen
    for j in range(i + 1, i + linked):
        total += digits[j]
        if total > _FREE_ID_DIGITS:
            return None
        phone_joined = phone_joined and text[atoms[j][0] - 1] in _FREE_PHONE_JOINS
        k = j - i + 1
        if total == _FREE_PHONE_DIGITS and phone_joined:
            spans = _spans(atoms, i, k, False)
            if phone.is_mobile(ascii_number("".join(text[s:e] for s, e in spans))):
                return [Finding(PHONE, spans)], k
        with_x = total == _FREE_ID_DIGITS - 1 and atoms[j][2]
        if total == _FREE_ID_DIGITS or with_x:
            spans = _spans(atoms, i, k, with_x)
            number = ascii_number("".join(text[s:e] for s, e in spans))
            if _valid_id18(number, text, atoms[i][0], id_hint):
                return [Finding(ID_NUMBER, spans)], k
    return None


class NumberDetector:
    """The built-in detector: the patterns above and the validators of each kind."""

    # a digit chunk shorter than this holds no number and is not scanned (0 scans every chunk)
    shortest_chunk: int = _SHORTEST

    def __init__(self, patterns: tuple[Pattern, ...] = PATTERNS) -> None:
        table = _index(patterns)
        # numbers of several atoms by the length of their first, in the scan's order
        multi = {n: tuple(r for r in rules if len(r[0]) > 1) for n, rules in table.items()}
        self._multi = {n: rules for n, rules in multi.items() if rules}
        # one-atom readings by the atom's digit count, without and with a check X after them
        self._plain = {n: _singles(rules, n, False) for n, rules in table.items()}
        self._with_x = {n: _singles(rules, n, True) for n, rules in table.items()}

    def find(self, text: str, *, id_hint: bool = False) -> list[Finding]:
        """Every number in ``text``; ``id_hint`` says an ID keyword came with it (a JSON key)."""
        found: list[Finding] = []
        for chunk in CHUNK_RE.finditer(text):
            start, end = chunk.span()
            if end - start < self.shortest_chunk:
                continue  # too few digits for any number ("line-10", "v2.3", times and dates)
            run = chunk.group()
            if start == 0 or text[start - 1] not in ESCAPE_ENDS:  # no escape can end inside the run
                if run.isdecimal():  # one atom, the common case: no separator, no check X
                    found.extend(self._one_atom(text, run, start, end, self._plain.get(end - start, ()), id_hint))
                    continue
                if run[:-1].isdecimal() and run[-1] in CHECK_X_CHARS:
                    readings = self._with_x.get(end - 1 - start, ())
                    found.extend(self._one_atom(text, run, start, end - 1, readings, id_hint))
                    continue
            atoms, untrimmed = _atoms(text, start, end)
            hits = self._scan(text, atoms, id_hint)
            if untrimmed is not None:
                # "50%13800138000": the digits after a percent sign may be an escape or a number.
                other = self._scan(text, untrimmed, id_hint)
                hits = other if _covered(other) > _covered(hits) else hits
            found.extend(hits)
        if found:
            found = _outside_credit_codes(text, found)
        return found

    @staticmethod
    def _one_atom(
        text: str, run: str, start: int, end: int, readings: tuple[_Single, ...], id_hint: bool
    ) -> list[Finding]:
        """What :meth:`_scan` finds in a chunk that is one atom, its digits ending at ``end``, given the
        readings of its digit count."""
        digits = end - start
        # two or three IDs back to back; it comes after the patterns, which win a tie
        pair = _back_to_back_ids(text, (start, end, len(run) > digits, False)) if len(run) >= 36 else []
        if not readings:
            return pair
        whole = run if run.isascii() and run[-1] != "x" else ascii_number(run)
        for prefix, valid, kind, with_x in readings:
            number = whole if with_x or len(whole) == digits else whole[:digits]
            if number.startswith(prefix) and valid(number[len(prefix) :], text, start, id_hint):
                if pair and pair[-1].spans[0][1] - start > end + with_x - start - len(prefix):
                    return pair
                return [Finding(kind, ((start + len(prefix), end + with_x),))]
        return pair

    def _each_atom(self, text: str, atoms: list[_Atom], id_hint: bool) -> list[Finding]:
        """:meth:`_scan` of a chunk where no number of several atoms can start."""
        hits: list[Finding] = []
        for a_start, a_end, has_x, _ in atoms:
            readings = (self._with_x if has_x else self._plain).get(a_end - a_start, ())
            if readings or a_end + has_x - a_start >= 36:
                run = text[a_start : a_end + has_x]
                hits.extend(self._one_atom(text, run, a_start, a_end, readings, id_hint))
        return hits

    def _scan(self, text: str, atoms: list[_Atom], id_hint: bool) -> list[Finding]:
        """The reading of the chunk that hides the most characters.

        ``6222 0212 3456 7890 138 0013 8000`` is a card and a phone, not a 19-digit card and
        two stray groups: a right-to-left pass over the atoms weighs every way to read them.  At
        each atom the numbers of several atoms come first (the patterns are ordered so), then one in
        a free grouping, then the best one-atom reading; the first that hides the most wins, and
        of readings that hide as much, the one with the fewest free groupings.
        """
        digits = tuple([a[1] - a[0] for a in atoms])
        free = _free_grouping_may_start(text, atoms, digits)
        if not free and self._multi.keys().isdisjoint(digits):  # each atom on its own: its best reading
            return self._each_atom(text, atoms, id_hint)
        n = len(atoms)
        best = [0] * (n + 1)
        choice: list[Option | None] = [None] * (n + 1)
        # linked[i]: how many atoms from i on a number may take (no X before the last, a separator between)
        linked = [1] * (n + 1)
        for i in range(n - 2, -1, -1):
            if not atoms[i][2] and atoms[i + 1][3]:
                linked[i] = linked[i + 1] + 1
        for i in range(n - 1, -1, -1):
            a_start, a_end, has_x, _ = atoms[i]
            top, picked = best[i + 1], None
            for lengths, prefix, valid, kind, id18 in self._multi.get(digits[i], ()):
                k = len(lengths)
                if k > linked[i] or digits[i : i + k - 1] != lengths[:-1]:
                    continue
                last = digits[i + k - 1]
                if last == lengths[-1]:
                    spans = _spans(atoms, i, k, False)
                elif id18 and atoms[i + k - 1][2] and last == lengths[-1] - 1:
                    spans = _spans(atoms, i, k, True)
                else:
                    continue
                number = ascii_number("".join(text[s:e] for s, e in spans))
                if number.startswith(prefix) and valid(number[len(prefix) :], text, a_start, id_hint):
                    covered = (sum(e - s for s, e in spans) - len(prefix)) * _CHAR + best[i + k]
                    if covered > top:
                        first = (spans[0][0] + len(prefix), spans[0][1])
                        top, picked = covered, ([Finding(kind, (first, *spans[1:]))], k)
            if free and linked[i] > 1:
                option = _free_grouping(text, atoms, digits, i, linked[i], id_hint)
                if option is not None:
                    covered = _covered(option[0]) * _CHAR - 1 + best[i + option[1]]
                    if covered > top:
                        top, picked = covered, option
            readings = (self._with_x if has_x else self._plain).get(a_end - a_start, ())
            if not readings and a_end + has_x - a_start < 36:
                one = []
            else:
                one = self._one_atom(text, text[a_start : a_end + has_x], a_start, a_end, readings, id_hint)
            if one:
                covered = sum(e - s for f in one for s, e in f.spans) * _CHAR + best[i + 1]
                if covered > top:
                    top, picked = covered, (one, 1)
            best[i], choice[i] = top, picked
        hits: list[Finding] = []
        i = 0
        while i < n:
            option = choice[i]
            if option is None:
                i += 1
            else:
                hits.extend(option[0])
                i += option[1]
        return hits
