"""The policy's Python regular expressions written for RE2 (``google-re2``), where RE2 means the same thing.

RE2 matches in time linear in the text whatever the pattern; Python's ``re`` backtracks, and an unanchored
search over a long crafted URL costs the square of each window even for a pattern that
:mod:`contract.regex_safety` accepts. The policy's patterns keep their one meaning (Python's):
:func:`translate` rewrites a pattern's parse tree into RE2 syntax only where the two engines agree, and
:mod:`contract.pattern_search` hands RE2 only the texts on which they do:

- every character item (a literal, ``.``, a class, ``\\d \\w \\s``, each under its flags, ``(?i)`` too) is
  written as the set of ASCII characters Python's own engine matches with it, so RE2 agrees on ASCII text
  only (:attr:`Re2Form` is used for ASCII texts; the others go to Python's engine);
- ``\\b`` and ``\\B`` agree on ASCII text; ``^`` ``\\A`` ``\\Z`` and multi-line ``^ $`` agree everywhere;
  Python's ``$`` also matches before a newline that ends the text, so a pattern with one is handed to RE2
  only for texts without a newline (:attr:`Re2Form.dollar`);
- atomic groups and possessive quantifiers (RE2 has none), and anything else not listed, are not
  translated: such a pattern is always searched by Python's engine.

Absent ``google-re2`` (the agent's build, a collector installed without the ``collector`` extra),
:func:`available` is False and every pattern is searched by Python's engine, under
:mod:`contract.pattern_search`'s time budget.
"""

from __future__ import annotations

import functools
import logging
import re
import re._compiler as sre_compile
import re._constants as sre_c
import re._parser as sre_p
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

try:  # the collector's extra carries it; the agent's build does not
    import re2 as _re2
except ImportError:  # pragma: no cover - depends on the install
    _re2 = None

_ASCII = range(128)
_NOTHING = "[^\\x00-\\xff]"  # no byte (the texts are ASCII, RE2 reads them as Latin-1)


class Untranslatable(Exception):
    """A construct RE2 does not mean the same way (the pattern stays with Python's engine)."""


@dataclass(frozen=True)
class Re2Form:
    """A pattern compiled by RE2 for ASCII texts (bytes); ``dollar``: it has Python's ``$`` (not multi-line),
    so a text holding a newline is not handed to it; ``ends_alike``: it has no assertion that a window's
    end can make hold where the text's own does not, so one search of the whole text finding nothing
    answers for every window."""

    source: str
    compiled: Any  # re2._Regexp (untyped module)
    dollar: bool
    ends_alike: bool = False  # no $ \Z \b \B: a window's match is one in the whole text (none there: none)


def available() -> bool:
    """Whether ``google-re2`` is installed here."""
    return _re2 is not None


@functools.lru_cache(maxsize=1024)
def translate(pattern: str) -> Re2Form | None:
    """``pattern`` for RE2, or None when RE2 is absent or cannot be given the same meaning."""
    if _re2 is None:
        return None
    try:
        tree = sre_p.parse(pattern)
        writer = _Writer()
        source = writer.sequence(list(tree), tree.state.flags)
    except (Untranslatable, re.error, RecursionError) as exc:
        log.info("pattern %r stays with Python's engine: %s", pattern, exc)
        return None
    options = _re2.Options()
    options.log_errors = False
    options.encoding = _re2.Options.Encoding.LATIN1  # ASCII texts only: one byte a character either way
    try:
        compiled = _re2.compile(source.encode("ascii"), options)
    except _re2.error as exc:  # too large for RE2's memory budget, say
        log.info("pattern %r stays with Python's engine: RE2 refused %r: %s", pattern, source, exc)
        return None
    return Re2Form(source, compiled, writer.dollar, not writer.end_sensitive)


class _Writer:
    def __init__(self) -> None:
        self.dollar = False
        self.end_sensitive = False  # $ \Z \b \B: may hold at a window's end and not there in the text

    def sequence(self, nodes: list[tuple[Any, Any]], flags: int) -> str:
        return "".join(self.node(op, av, flags) for op, av in nodes)

    def node(self, op: Any, av: Any, flags: int) -> str:
        if op in (sre_c.LITERAL, sre_c.NOT_LITERAL, sre_c.ANY, sre_c.IN):
            return _char_set(op, av, flags)
        if op is sre_c.AT:
            return self._at(av, flags)
        if op is sre_c.SUBPATTERN:
            group, add, remove, body = av
            inner = self.sequence(list(body), (flags | add) & ~remove)
            return f"({inner})" if group is not None else f"(?:{inner})"
        if op is sre_c.BRANCH:
            return "(?:" + "|".join(self.sequence(list(b), flags) for b in av[1]) + ")"
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            lo, hi, body = av
            count = f"{{{lo},}}" if hi is sre_c.MAXREPEAT else f"{{{lo}}}" if lo == hi else f"{{{lo},{hi}}}"
            lazy = "?" if op is sre_c.MIN_REPEAT else ""
            return f"(?:{self.sequence(list(body), flags)}){count}{lazy}"
        if op is sre_c.ASSERT_NOT and not av[1]:
            return _NOTHING  # (?!): fails at once (fnmatch writes it)
        raise Untranslatable(f"{op} has no RE2 form of the same meaning")

    def _at(self, code: Any, flags: int) -> str:
        multiline = bool(flags & re.MULTILINE)
        if code not in (sre_c.AT_BEGINNING, sre_c.AT_BEGINNING_LINE, sre_c.AT_BEGINNING_STRING):
            self.end_sensitive = True
        if code in (sre_c.AT_BEGINNING, sre_c.AT_BEGINNING_LINE):
            return "(?m:^)" if multiline else "\\A"
        if code is sre_c.AT_BEGINNING_STRING:
            return "\\A"
        if code in (sre_c.AT_END, sre_c.AT_END_LINE):
            if multiline:
                return "(?m:$)"
            self.dollar = True
            return "\\z"
        if code is sre_c.AT_END_STRING:
            return "\\z"
        if code in (sre_c.AT_BOUNDARY, sre_c.AT_UNI_BOUNDARY, sre_c.AT_LOC_BOUNDARY):
            return "\\b"
        if code in (sre_c.AT_NON_BOUNDARY, sre_c.AT_UNI_NON_BOUNDARY, sre_c.AT_LOC_NON_BOUNDARY):
            return "\\B"
        raise Untranslatable(f"the position {code} has no RE2 form")


@functools.lru_cache(maxsize=4096)
def _char_set_cached(op: Any, av: Any, flags: int) -> str:
    state = sre_p.State()
    state.flags = flags
    one = sre_compile.compile(sre_p.SubPattern(state, [(op, av)]), 0)
    members = [c for c in _ASCII if one.match(chr(c))]
    return _class(members)


def _char_set(op: Any, av: Any, flags: int) -> str:
    """The ASCII characters Python matches with this one item under ``flags``, as an RE2 class."""
    key = tuple(av) if isinstance(av, list) else av
    if isinstance(key, tuple):
        key = _frozen(key)
    return _char_set_cached(op, key, flags & (re.IGNORECASE | re.DOTALL | re.ASCII | re.UNICODE))


def _frozen(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _class(members: list[int]) -> str:
    if not members:
        return _NOTHING
    parts, start, prev = [], members[0], members[0]
    for c in [*members[1:], -2]:
        if c == prev + 1:
            prev = c
            continue
        parts.append(f"\\x{{{start:x}}}" if start == prev else f"\\x{{{start:x}}}-\\x{{{prev:x}}}")
        start = prev = c
    return "[" + "".join(parts) + "]"
