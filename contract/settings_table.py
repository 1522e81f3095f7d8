"""Settings as one declarative table: (name, type, default, help, check) rows, loaded in layers.

A settings object is a frozen dataclass whose fields are declared with :func:`setting` (default, help
text, check); :func:`rows` reads the table off the class, so the attributes mypy sees and the rows that
are loaded and documented are one declaration. The agent (``agent.config``), the collector
(``collector.config``), its alerts and the detectors' scoring settings are all built this way.

:func:`load_layers` reads each :class:`Section` of a table in layers: defaults, then a TOML file (top-level
keys, or one ``[table]`` per section), then environment variables, then command-line overrides. Each value
is converted and checked where it enters; :func:`build` makes the settings object, whose
``__post_init__`` runs the same checks (:func:`check_rows`) plus any that span several settings. Every
error names the setting and where its value came from. :func:`markdown` documents a table.
"""

from __future__ import annotations

import logging
import math
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Generic, TypeVar, get_args, get_origin, get_type_hints

from contract.errors import SettingsError

__all__ = ["Check", "Section", "Setting", "SettingsError", "at_least", "build", "check_rows", "load_layers",
           "markdown", "one_of", "positive", "rows", "setting", "toml_value", "within"]

T = TypeVar("T")
Check = Callable[[Any], "str | None"]
"""A row's check: the problem with a value (``"must be at least 1"``), or None when it is fine."""

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class Setting:
    """One row of a settings table. ``attr`` is the settings object's field (``name`` less any prefix)."""

    name: str
    type: Any
    default: Any
    help: str
    check: Check | None = None
    parse: Callable[[Any], Any] | None = None
    attr: str = ""

    @property
    def type_name(self) -> str:
        return _type_name(self.type)

    def problem(self, value: Any) -> str | None:
        """What is wrong with an already converted value, or None."""
        wrong = _type_problem(self.type, value)
        if wrong:
            return wrong
        if isinstance(value, float) and not math.isfinite(value):
            return "must be a finite number"
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            return "must not be negative"
        return self.check(value) if self.check is not None else None

    def coerce(self, raw: Any, source: str, label: str = "") -> Any:
        """``raw`` (from a file, the environment or a flag) converted to this row's type and checked;
        errors call the setting ``label`` (default: its name)."""
        label = label or self.name
        try:
            value = self.parse(raw) if self.parse is not None else _convert(self.type, raw)
        except (TypeError, ValueError, SettingsError) as exc:
            raise SettingsError(f"{source}: setting {label!r} must be {self.type_name}, got {raw!r}"
                                f"{_detail(exc)}", setting=label, source=source) from exc
        problem = self.problem(value)
        if problem:
            raise SettingsError(f"{source}: setting {label!r} {problem}, got {raw!r}", setting=label, source=source)
        return value


def setting(default: Any, help: str, check: Check | None = None, *,
            parse: Callable[[Any], Any] | None = None) -> Any:
    """A dataclass field that is a row of the table (typed as its annotation says)."""
    return field(default=default, metadata={"help": help, "check": check, "parse": parse})


_ROWS: dict[tuple[type, str], tuple[Setting, ...]] = {}


def rows(cls: type, prefix: str = "") -> tuple[Setting, ...]:
    """The table of a settings dataclass: one row per :func:`setting` field, named ``prefix + field``."""
    found = _ROWS.get((cls, prefix))
    if found is None:
        hints = get_type_hints(cls)
        found = tuple(Setting(prefix + f.name, hints[f.name], f.default, f.metadata["help"], f.metadata["check"],
                              f.metadata["parse"], f.name)
                      for f in fields(cls) if "help" in f.metadata)
        _ROWS[(cls, prefix)] = found
    return found


def check_rows(obj: object, error: Callable[[str], Exception], prefix: str = "") -> None:
    """Run every row's check on ``obj`` (a settings object's ``__post_init__`` calls this, so an object
    built directly, not loaded, is checked too); ``error`` makes the owner's exception."""
    for row in rows(type(obj), prefix):
        value = getattr(obj, row.attr)
        problem = row.problem(value)
        if problem:
            raise error(f"setting {row.name!r} {problem}, got {value!r}")


@dataclass(frozen=True)
class Section(Generic[T]):
    """Where the rows of one settings class live: top-level keys (``table`` empty) with an optional name
    ``prefix`` (``alert_``), or the keys of one TOML ``[table]``; ``env_prefix`` precedes the upper-cased
    name in the environment."""

    cls: type[T]
    env_prefix: str
    table: str = ""
    prefix: str = ""

    @property
    def rows(self) -> tuple[Setting, ...]:
        return rows(self.cls, self.prefix)

    def label(self, row: Setting) -> str:
        return f"{self.table}.{row.name}" if self.table else row.name


@dataclass
class Layers:
    """What :func:`load_layers` found: per section, the values by field, and where each non-default came from."""

    values: dict[Section[Any], dict[str, Any]]
    sources: dict[Section[Any], dict[str, str]]


def load_layers(sections: Sequence[Section[Any]], path: Path, overrides: Mapping[str, Any] | None = None) -> Layers:
    """Defaults < TOML file at ``path`` (if it exists) < environment variables < ``overrides`` (by top-level name)."""
    values = {s: {r.attr: r.default for r in s.rows} for s in sections}
    sources: dict[Section[Any], dict[str, str]] = {s: {} for s in sections}
    top = {r.name: (s, r) for s in sections if not s.table for r in s.rows}
    tables = {s.table: s for s in sections if s.table}

    def put(section: Section[Any], row: Setting, raw: Any, source: str) -> None:
        values[section][row.attr] = row.coerce(raw, source, section.label(row))
        sources[section][row.attr] = source

    if path.exists():
        for key, raw in _read_toml(path).items():
            if key in tables:
                section = tables[key]
                if not isinstance(raw, dict):
                    raise SettingsError(f"{path}: {key!r} must be a table ([{key}])", setting=key, source=str(path))
                known = {r.name: r for r in section.rows}
                for name, item in raw.items():
                    if name not in known:
                        raise SettingsError(f"{path}: unknown setting {key}.{name} "
                                            f"(known: {', '.join(sorted(known))})", setting=f"{key}.{name}",
                                            source=str(path))
                    put(section, known[name], item, f"{path} [{key}]")
            elif key in top:
                put(*top[key], raw, str(path))
            else:
                known_names = sorted([*top, *(f"[{t}]" for t in tables)])
                raise SettingsError(f"{path}: unknown setting {key!r} (known: {', '.join(known_names)})",
                                    setting=key, source=str(path))
    for section in sections:
        for row in section.rows:
            variable = f"{section.env_prefix}{row.name.upper()}"
            env = os.environ.get(variable)
            if env is not None:
                put(section, row, env, f"environment {variable}")
    for key, raw in (overrides or {}).items():
        if raw is not None:
            put(*top[key], raw, "command line")
    return Layers(values, sources)


def build(section: Section[T], layers: Layers, errors: tuple[type[Exception], ...], **extra: Any) -> T:
    """The settings object of ``section`` from the loaded values. A check that spans several settings
    (in ``__post_init__``, raising one of ``errors``) is reported with where the values it saw came from."""
    values = layers.values[section]
    try:
        return section.cls(**extra, **values)
    except errors as exc:
        given = layers.sources[section]
        where = "; ".join(f"{section.label(r)} from {given[r.attr]}" for r in section.rows if r.attr in given)
        raise SettingsError(f"{exc} ({'set: ' + where if where else 'all defaults'})",
                            setting=section.table or section.prefix, source=where) from exc


def markdown(table: Sequence[Setting]) -> str:
    lines = ["| setting | type | default | meaning |", "|---|---|---|---|"]
    for s in table:
        lines.append(f"| `{s.name}` | {s.type_name} | `{_shown(s.default)}` | {s.help} |")
    return "\n".join(lines)


def toml_value(raw: str) -> Any:
    """A TOML value written as text (an environment variable holding ``["a", "b"]`` or ``{a = 1}``)."""
    try:
        return tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not a TOML value ({exc})") from exc


# ---- checks -----------------------------------------------------------------------------------------------


def positive(v: Any) -> str | None:
    return None if v > 0 else "must be positive"


def at_least(low: float) -> Check:
    return lambda v: None if v >= low else f"must be at least {low:g}"


def within(low: float, high: float, *, open_low: bool = False) -> Check:
    def check(v: Any) -> str | None:
        ok = (low < v if open_low else low <= v) and v <= high
        return None if ok else f"must be within {'(' if open_low else '['}{low:g}, {high:g}]"
    return check


def one_of(*choices: str, fold_case: bool = False) -> Check:
    def check(v: Any) -> str | None:
        text = str(v).lower() if fold_case else str(v)
        known = [c.lower() for c in choices] if fold_case else list(choices)
        return None if text in known else f"must be one of {', '.join(choices)}"
    return check


# a level name logging knows, in any case (info, WARN, FATAL, NOTSET...): the agent's and the collector's log_level
known_log_level = one_of(*logging.getLevelNamesMapping(), fold_case=True)


# ---- conversion -------------------------------------------------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})", source=str(path)) from exc


def _convert(tp: Any, raw: Any) -> Any:
    if tp is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in (*_TRUE, *_FALSE):
            return raw.strip().lower() in _TRUE
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw)
        raise ValueError("expected true or false")
    if tp is int:
        if isinstance(raw, bool):
            raise ValueError("expected an integer")
        if isinstance(raw, float):
            if not raw.is_integer():
                raise ValueError("expected an integer")
            return int(raw)
        return int(raw)
    if tp is float:
        if isinstance(raw, bool):
            raise ValueError("expected a number")
        return float(raw)
    if tp is str:
        if not isinstance(raw, str | int | float) or isinstance(raw, bool):
            raise ValueError("expected a string")
        return str(raw)
    if isinstance(tp, type):
        return tp(raw)
    raise TypeError(f"a setting of type {tp} needs a parse function")


def _type_problem(tp: Any, value: Any) -> str | None:
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(tp, type):
        ok = isinstance(value, tp)
    else:
        ok = isinstance(value, get_origin(tp) or object)
    return None if ok else f"must be {_type_name(tp)}"


def _type_name(tp: Any) -> str:
    if get_origin(tp) is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            item = args[0]
            return "table" if get_origin(item) is tuple else f"list of {_type_name(item)}"
    return str(getattr(tp, "__name__", tp))


def _shown(default: Any) -> str:
    if isinstance(default, tuple) and default and all(isinstance(d, tuple) and len(d) == 2 for d in default):
        return ", ".join(f"{k} = {v}" for k, v in default)
    if isinstance(default, tuple) and not isinstance(default, str) and type(default) is tuple:
        return ", ".join(str(d) for d in default)
    return str(default)


def _detail(exc: BaseException) -> str:
    text = str(exc)
    return f" ({text})" if text and not text.startswith("invalid literal") else ""
