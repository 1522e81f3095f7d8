"""Which regular expressions the policy may carry: only those Python's backtracking engine matches fast.

The policy's patterns are searched in window titles and URLs that the person at the PC controls, on
every PC and at the collector's ingest. A pattern whose search can backtrack exponentially (``(a+)+$``,
``(x|x)*y``) or polynomially (``a.*b.*c``) in the text's length would let a crafted title hang both.
:func:`unsafe_construct` reads the pattern's parse tree and names the first construct that makes its
matching time grow faster than the text's length times a constant that the pattern fixes (beyond the
one pass over every start position a search makes), or gives None. It is conservative: a pattern it
refuses may well be harmless, and each refusal names a construct that the admin can rewrite. The
policy searches a text with :func:`search`: in windows of :data:`MAX_MATCH_CHARS` that overlap by
:data:`MAX_FOUND_CHARS`, so the one quantifier per run of characters that this check lets through costs
at most that length squared per window (linear in the text's length), and padding a URL or title before
an identifier does not hide it. What a search may cost on a text a PC sends is bounded further by
:mod:`contract.pattern_search` (RE2 where it means the same, else this search under a time budget).

Refused: backreferences, conditional groups, lookarounds, counts above :data:`MAX_COUNT`, nested
quantifiers (a group repeated more than once holding ``+ * ? {m,n}``), an alternation under such a
repetition whose branches can begin with the same character (or match nothing), two variable
quantifiers (``+ * {m,n}``) that can match the same characters with nothing between them that only
one of them fits (``a.*b.*c``, ``\\w+\\d*\\w+``), and more than :data:`MAX_OPTIONAL_PAIRS` such pairs in the
whole pattern where one side is an optional part (``?``, ``{0,1}``, ``(a|)``, or an alternation whose
branches can begin alike, ``(a|aa)``): each is a choice, so a run of them that can match the same
characters gives backtracking 2**n ways (``a?a?a?a?aaaa``). A
quantifier at the very end of the pattern is exempt (it never gives characters back), and a pattern
anchored at the start (``^``, ``\\A``; no search over start positions) may have one pair of variable
quantifiers: a glob that migration 0010 carried over with two ``*`` stays.
"""

from __future__ import annotations

import functools
import re
import re._constants as sre_c  # the parse tree's opcodes (Python 3.11+)
import re._parser as sre_p
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

MAX_COUNT = 1000  # the largest count of {m,n} (RE2's own limit)
MAX_OPTIONAL_PAIRS = 3  # optional parts that may trade characters with a neighbour (each pair: twice the work)
MAX_MATCH_CHARS = 1024  # the longest stretch of a title or URL a pattern is searched in at once
MAX_FOUND_CHARS = 256  # a match at most this long is found wherever it lies (the windows overlap by it)
MAX_SEARCHED_CHARS = 65536  # contract.schema.MAX_STR: no event field is longer (the rest is not searched)
MAX_ANCHORED_CHARS = 8192  # a pattern anchored at the start matches in the first window only: it gets one this long
# (what web servers take in a request line; its one pair of trading quantifiers costs ~150 ms here at worst)

NESTED = "a nested quantifier: a group repeated with + * or {m,n} holds another + * ? or {m,n} (as in (a+)+)"
OVERLAP_BRANCHES = ("an alternation under a quantifier whose branches can match the same text or nothing "
                    "(as in (x|x)* or (a|ab)+)")
OPTIONALS = (f"more than {MAX_OPTIONAL_PAIRS} pairs of optional parts that can match the same characters one "
             "after the other (as in a?a?a?a?aaaa): matching time doubles with each")
ADJACENT = ("two quantifiers that can match the same characters one after the other (as in a.*b.*c or "
            "\\w+\\d*\\w+): matching time grows as a power of the text's length")


@functools.lru_cache(maxsize=1024)  # every agent's context reads the policy: its patterns are checked once
def unsafe_construct(pattern: str) -> str | None:
    """The construct that makes searching ``pattern`` slower than linear, or None (it must compile)."""
    tree = sre_p.parse(pattern)
    nodes = list(tree)
    try:
        _Walker(1 if _anchored(tree) else 0).sequence(nodes, outer_max=1, multiplier=1, tail_exempt=True)
    except _Refused as exc:
        return str(exc)
    return None


def search(rx: re.Pattern[str], text: str) -> re.Match[str] | None:
    """``rx.search(text)`` in windows of :data:`MAX_MATCH_CHARS` characters, each starting
    :data:`MAX_MATCH_CHARS` - :data:`MAX_FOUND_CHARS` after the one before: the first match found (a pattern
    anchored at the start: in its first :data:`MAX_ANCHORED_CHARS` characters, at once). A window's
    end is no end of the text (``$`` and ``\\b`` hold there): a match that reaches it and starts where the
    next window does is looked for again in that window."""
    for pos, end, last in windows(min(len(text), MAX_SEARCHED_CHARS), is_anchored(rx.pattern)):
        m = rx.search(text, pos, end)
        if m is not None and kept(m, pos, end, last):
            return m
    return None


WINDOW_STEP = MAX_MATCH_CHARS - MAX_FOUND_CHARS


def windows(n: int, anchored: bool) -> Iterator[tuple[int, int, bool]]:
    """The windows ``(start, end, last)`` a text of ``n`` characters is searched in (see :func:`search`):
    one for a text of at most :data:`MAX_MATCH_CHARS` or a pattern anchored at the start, else windows
    of :data:`MAX_MATCH_CHARS` every :data:`WINDOW_STEP`, the last one up to ``n``."""
    if n <= MAX_MATCH_CHARS:
        yield 0, n, True
    elif anchored:
        yield 0, min(n, MAX_ANCHORED_CHARS), True
    else:
        pos = 0
        while pos + MAX_MATCH_CHARS < n:
            yield pos, pos + MAX_MATCH_CHARS, False
            pos += WINDOW_STEP
        yield pos, n, True


def kept(m: Any, pos: int, end: int, last: bool) -> bool:
    """Whether match ``m`` found in window ``[pos, end)`` is the answer: in the last window any match is;
    in another, one that ends before the window's end (no end of the text) or starts before the next
    window does (which would find it again)."""
    return last or m.end() < end or m.start() < pos + WINDOW_STEP


@functools.lru_cache(maxsize=1024)
def is_anchored(pattern: str) -> bool:
    """Whether ``pattern`` matches at the text's start only (``^`` or ``\\A`` first, not multi-line)."""
    return _anchored(sre_p.parse(pattern))


def _anchored(tree: Any) -> bool:
    nodes = list(tree)
    return bool(nodes) and nodes[0][0] is sre_c.AT and nodes[0][1] in _STARTS and not tree.state.flags & re.MULTILINE


class _Refused(Exception):
    pass


@dataclass
class _Item:
    """One element of a sequence as the adjacency check sees it."""

    chars: frozenset[Any]  # every character it can match (atoms, see _overlap)
    first: frozenset[Any]  # the characters it can begin with
    nullable: bool
    variable: bool  # a quantifier of more than one repetition whose count varies
    parts: list[_Item] = field(default_factory=list)
    optional: bool = False  # holds a choice: a part matched once or not at all (``?``, ``{0,1}``, ``(a|)``), or
    # an alternation whose branches can begin alike (``(a|aa)``)


_ANY = ("any",)


class _Walker:
    """Walks a parse tree; letters are compared in both cases whatever the flags (conservative)."""

    ignorecase = True

    def __init__(self, top_pairs: int) -> None:
        self.top_pairs = top_pairs  # pairs of trading quantifiers allowed in the whole pattern's sequence
        self.optional_pairs = 0  # pairs with an optional part met so far, anywhere in the pattern

    def sequence(self, nodes: Iterable[tuple[Any, Any]], outer_max: int, multiplier: int,
                 tail_exempt: bool | None = False) -> _Item:
        """The sequence as one item; ``tail_exempt`` None: a group whose parts the caller checks in its own
        sequence, False: checked here, True: the whole pattern, whose last quantifier never backtracks."""
        items = [self.node(op, av, outer_max, multiplier) for op, av in nodes]
        flat = [part for item in items for part in (item.parts or [item])]
        if tail_exempt is not None:
            self._adjacent(flat, tail_exempt)
        first: set[Any] = set()
        for item in flat:
            first |= item.first
            if not item.nullable:
                break
        return _Item(frozenset().union(*(i.chars for i in flat)), frozenset(first),
                     all(i.nullable for i in flat), any(i.variable for i in flat), parts=flat,
                     optional=any(i.optional for i in flat))

    def node(self, op: Any, av: Any, outer_max: int, multiplier: int) -> _Item:
        if op in (sre_c.LITERAL, sre_c.NOT_LITERAL, sre_c.ANY, sre_c.IN):
            chars = frozenset(self._atoms(op, av))
            return _Item(chars, chars, False, False)
        if op is sre_c.AT:
            return _Item(frozenset(), frozenset(), True, False)
        if op in (sre_c.GROUPREF, sre_c.GROUPREF_EXISTS):
            raise _Refused("a backreference (\\1 or (?P=name))" if op is sre_c.GROUPREF
                           else "a conditional group (?(1)...)")
        if op is sre_c.ASSERT_NOT and not av[1]:
            return _Item(frozenset(), frozenset(), True, False)  # (?!): fails at once (fnmatch writes it)
        if op in (sre_c.ASSERT, sre_c.ASSERT_NOT):
            raise _Refused("a lookbehind (?<=...) or (?<!...)" if av[0] < 0 else "a lookahead (?=...) or (?!...)")
        if op is sre_c.SUBPATTERN:
            return self.sequence(av[3], outer_max, multiplier, None)
        if op is sre_c.ATOMIC_GROUP:
            return self.sequence(av, outer_max, multiplier, None)
        if op is sre_c.BRANCH:
            return self._branch(av[1], outer_max, multiplier)
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
            lo, hi, body = av
            return self._repeat(lo, hi, body, outer_max, multiplier)
        raise _Refused(f"the construct {op} (not checked for matching time)")

    def _repeat(self, lo: int, hi: Any, body: Any, outer_max: int, multiplier: int) -> _Item:
        unbounded = hi is sre_c.MAXREPEAT
        if lo > MAX_COUNT or (not unbounded and hi > MAX_COUNT):
            shown = f"{{{lo}}}" if hi == lo else f"{{{lo},{'' if unbounded else hi}}}"
            raise _Refused(f"a repetition count above {MAX_COUNT} ({shown})")
        variable = unbounded or hi != lo
        if variable and outer_max > 1:
            raise _Refused(NESTED)
        count = 1 if unbounded else max(hi, 1)
        if multiplier * count > MAX_COUNT:
            raise _Refused(f"nested repetition counts multiplying to more than {MAX_COUNT}")
        inner_max = 2 if unbounded else max(outer_max, hi)
        inner = self.sequence(body, inner_max, multiplier * count)
        many = unbounded or hi > 1
        return _Item(inner.chars, inner.first, lo == 0 or inner.nullable, (variable and many) or inner.variable,
                     optional=(variable and not many) or inner.optional)

    def _branch(self, branches: list[Any], outer_max: int, multiplier: int) -> _Item:
        items = [self.sequence(b, outer_max, multiplier) for b in branches]
        # a choice backtracking may retry (as a? is): a branch matches nothing, or two can begin alike
        choice = any(i.nullable for i in items) or any(
            self._overlap(a.first, b.first) for n, a in enumerate(items) for b in items[n + 1:])
        if outer_max > 1 and choice:
            raise _Refused(OVERLAP_BRANCHES)
        return _Item(frozenset().union(*(i.chars for i in items)), frozenset().union(*(i.first for i in items)),
                     any(i.nullable for i in items), any(i.variable for i in items),
                     optional=choice or any(i.optional for i in items))

    def _adjacent(self, items: list[_Item], tail_exempt: bool) -> None:
        """Refuse two variable items that can trade characters (the later one not ending the pattern), and
        too many such pairs with an optional part."""
        last = len(items) - 1 if tail_exempt else len(items)
        allowed = self.top_pairs if tail_exempt else 0
        for i, a in enumerate(items):
            if not a.variable and not a.optional:
                continue
            for b in items[i + 1:last]:
                if (b.variable or b.optional) and self._overlap(a.chars, b.chars):
                    if a.variable and b.variable:
                        allowed -= 1
                        if allowed < 0:
                            raise _Refused(ADJACENT)
                    else:
                        self.optional_pairs += 1
                        if self.optional_pairs > MAX_OPTIONAL_PAIRS:
                            raise _Refused(OPTIONALS)
                if not b.nullable and not self._overlap(a.chars, b.first):
                    break  # a character only the later part fits: the earlier quantifier must end before it

    # ---- characters -----------------------------------------------------------------------------

    def _atoms(self, op: Any, av: Any) -> list[Any]:
        if op is sre_c.LITERAL:
            return [("lit", av)]
        if op is not sre_c.IN:
            return [_ANY]  # any character, or all but one
        out: list[Any] = []
        for sub_op, sub_av in av:
            if sub_op is sre_c.NEGATE:
                return [_ANY]
            if sub_op is sre_c.LITERAL:
                out.append(("lit", sub_av))
            elif sub_op is sre_c.RANGE:
                out.append(("range", *sub_av))
            elif sub_op is sre_c.CATEGORY:
                out.append(("cat", str(sub_av)))
            else:
                return [_ANY]
        return out

    def _overlap(self, a: frozenset[Any], b: frozenset[Any]) -> bool:
        return any(self._atom_overlap(x, y) for x in a for y in b)

    def _atom_overlap(self, x: Any, y: Any) -> bool:
        if x == _ANY or y == _ANY:
            return True
        if x[0] > y[0]:
            x, y = y, x  # kinds in order: cat < lit < range
        if x[0] == "cat":
            return self._cat_overlap(x[1], y)
        if x[0] == "lit":
            codes = self._cases(x[1])
            if y[0] == "lit":
                return bool(codes & self._cases(y[1]))
            return any(y[1] <= c <= y[2] for c in codes) or (self.ignorecase and _folds_into(x[1], y[1], y[2]))
        if _ranges_meet(x[1], x[2], y[1], y[2]):
            return True
        if not self.ignorecase:
            return False
        (lo, hi), other = sorted(((x[1], x[2]), (y[1], y[2])), key=lambda r: r[1] - r[0])
        return hi - lo > 65536 or any(_folds_into(c, *other) for c in range(lo, hi + 1) if _cased(c))

    def _cases(self, code: int) -> set[int]:
        c = chr(code)
        return {code, ord(c.lower()[0]), ord(c.upper()[0])} if self.ignorecase else {code}

    def _cat_overlap(self, cat: str, other: Any) -> bool:
        rx = _CATEGORY_RE.get(cat)
        if rx is None:
            return True  # \D \S \W and the rest: nearly every character
        if other[0] == "cat":
            return other[1] == cat or {cat, other[1]} == {"CATEGORY_DIGIT", "CATEGORY_WORD"} \
                or other[1] not in _CATEGORY_RE
        if other[0] == "lit":
            return any(rx.match(chr(c)) for c in self._cases(other[1]))
        lo, hi = other[1], other[2]
        if hi - lo > 4096:
            return True
        return any(rx.match(chr(c)) for c in range(lo, hi + 1))


_CATEGORY_RE = {"CATEGORY_DIGIT": re.compile(r"\d"), "CATEGORY_WORD": re.compile(r"\w"),
                "CATEGORY_SPACE": re.compile(r"\s")}


_STARTS = (sre_c.AT_BEGINNING, sre_c.AT_BEGINNING_STRING)


def _ranges_meet(a_lo: int, a_hi: int, b_lo: int, b_hi: int) -> bool:
    return a_lo <= b_hi and b_lo <= a_hi


def _folds_into(code: int, lo: int, hi: int) -> bool:
    """Whether the case-insensitive class ``[lo-hi]`` matches ``chr(code)``, by Python's own case folding
    (which knows more than lower and upper case: ``ſ`` is ``s``, the Kelvin sign ``K`` is ``k``)."""
    return _folded_class(lo, hi).match(chr(code)) is not None


def _cased(code: int) -> bool:
    """Whether a character has another case (only those fold into other characters)."""
    c = chr(code)
    return c.lower() != c or c.upper() != c


@functools.lru_cache(maxsize=1024)
def _folded_class(lo: int, hi: int) -> re.Pattern[str]:
    return re.compile(f"(?i)[{re.escape(chr(lo))}-{re.escape(chr(hi))}]")
