"""The stored state of one agent-day's rollup and the views of it that ingest and reports share.

:class:`DayState` holds the state dict (:data:`STATE_VERSION`; bitmaps as ints in memory, as hex
when stored), turns the agent's context into the day's shift, night and app classes, and answers
the questions both the event handlers (:mod:`detectors.day_events`) and the day's numbers
(:mod:`detectors.rollup`) ask: how an app is classed, which case spans cover a second, which copies
were carried to an off-list or messaging app, and the day's customer sets.
"""

from __future__ import annotations

import bisect
from copy import deepcopy
from datetime import date, datetime, time, timedelta
from typing import Any, Self
from zoneinfo import ZoneInfo

import orjson

from detectors import bounds, outside
from detectors.bounds import MAX_CUSTOMERS
from detectors.bounds import bits as _bits
from detectors.context import AgentContext
from detectors.errors import InvalidInput
from detectors.need_to_know import CustomerSets

STATE_VERSION = 1
_POLICY_CODES_MAX = 4096  # app names whose policy class one rollup remembers (globs are matched once each)
INTEGRITY_KINDS = ("seq_gap", "chain_break", "batch_gap", "unsigned_answers", "policy_mismatch")
_LATER_KEYS: dict[str, Any] = {"dropped": []}  # state keys newer than STATE_VERSION 1 (older states lack them)
_CUSTOMER_STATE = {"cased": [], "uncased": {}, "unkeyed": 0}  # the need-to-know sets (added after v1 began)

# focus codes: what the app in front is
WORK, OFFLIST, MESSAGING, REMOTE, CAPTURE, BROWSER = range(6)
CATEGORY_CODE = {"messaging": MESSAGING, "remote_access": REMOTE, "screen_capture": CAPTURE}


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def pair_rank(p: list[Any]) -> tuple[Any, ...]:
    """Copies carried off worth showing first: into messaging, with the most numbers, earliest."""
    return (p[8] != MESSAGING, -(p[2] + p[4]), -p[3], p[0], p[1])


def page_rank(p: list[Any]) -> tuple[Any, ...]:
    return (p[0], p[1])


class DayState:
    """One agent-day's rollup state with the context it is read in (see the module docstring)."""

    def __init__(self, ctx: AgentContext, day: date, state: dict[str, Any]) -> None:
        self.ctx = ctx
        self.day = day
        self._s = state
        zone = ZoneInfo(ctx.tz)
        midnight = datetime.combine(day, time(0), zone)
        self._t0 = midnight.timestamp()
        self._zone = zone
        self.n_min = int(round((datetime.combine(day + timedelta(days=1), time(0), zone).timestamp()
                                - self._t0) / 60))
        windows = [(_minutes(ctx.shift_start), _minutes(ctx.shift_end)),
                   *((_minutes(a), _minutes(b)) for a, b in ctx.overtime)]
        self._shift = self._graced = 0
        grace = ctx.policy.shift_grace_min
        for a, b in windows:  # the shift and its scheduled overtime, each with the grace around it
            shift = outside.window_bits(a, b, self.n_min)
            self._shift |= shift
            self._graced |= shift if a == b else outside.window_bits(a - grace, b + grace, self.n_min)
        self._shift_start, self._shift_end = outside.extended(*windows[0], windows[1:])
        self._before, self._after = outside.sides(self._shift_start, self._shift_end, grace, self.n_min)
        self._night = self._window(ctx.policy.night_start, ctx.policy.night_end)
        self._pol = ctx.policy  # its patterns are compiled once, in the policy (contract.policy)
        self._policy_codes: dict[str, int] = {}  # app name -> its class by the policy (fixed for this rollup)
        self._app_index = {name: i for i, name in enumerate(state["apps"])}

    # ------------------------------------------------------------------ construction and state
    @classmethod
    def new(cls, ctx: AgentContext, day: date) -> Self:
        return cls(ctx, day, cls._empty(ctx.agent_id, day))

    @staticmethod
    def _empty(agent_id: str, day: date) -> dict[str, Any]:
        return {
            "v": STATE_VERSION, "agent_id": agent_id, "day": day.isoformat(),
            "events": 0, "misrouted": 0, "present": 0, "slot_seq": {}, "starts": [], "stops": [],
            "idle_starts": [], "idle_spans": [], "case_spans": [], "closed": [], "open_cases": {},
            "handle_n": 0, "handle_sum": 0.0, "customers": [], "customer_pages": 0,
            "cust_pages": [], "copies": 0, "ids": 0, "phones": 0, "cards": 0, "sens_copies": [],
            "switches": [], "focus": {}, "site": {}, "apps": [], "proc_cat": {},
            "removable_writes": 0, "removable_bytes": 0, "drive_mounts": 0,
            "proc_starts": {"remote_access": 0, "screen_capture": 0}, "screenshots": 0,
            "focus_switches": 0, "pages": 0, "integrity": {k: 0 for k in INTEGRITY_KINDS},
            "outside": [], "evidence": [], **bounds.defaults(), **outside.defaults(), **deepcopy(_CUSTOMER_STATE),
            **deepcopy(_LATER_KEYS),
        }

    @classmethod
    def from_state(cls, ctx: AgentContext, state: dict[str, Any]) -> Self:
        if not isinstance(state, dict) or state.get("v") != STATE_VERSION:
            raise InvalidInput(f"rollup state: expected a version {STATE_VERSION} state object")
        if state.get("agent_id") != ctx.agent_id:
            raise InvalidInput("rollup state: belongs to another agent")
        state = {**bounds.defaults(), **outside.defaults(), **deepcopy(_CUSTOMER_STATE), **deepcopy(_LATER_KEYS),
                 **state}
        missing = [k for k in _STATE_KEYS if k not in state]
        if missing:
            raise InvalidInput(f"rollup state: missing {', '.join(missing)}")
        try:
            day = date.fromisoformat(state["day"])
            restored = deepcopy(state)
            bounds.upgrade(restored)
            for key in bounds.BITMAPS:
                restored[key] = int(state[key], 16) if isinstance(state[key], str) else 0
            restored["slot_seq"] = {int(k): int(v) for k, v in state["slot_seq"].items()}
            restored["focus"] = {int(k): list(v) for k, v in state["focus"].items()}
            restored["site"] = {int(k): list(v) for k, v in state["site"].items()}
            restored["open_cases"] = {str(k): list(v) for k, v in state["open_cases"].items()}
            # customers were once a plain hash (int); keep their count, never match them to keys
            restored["customers"] = sorted({c if isinstance(c, str) else f"o{int(c):x}" for c in state["customers"]})
        except (TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"rollup state: malformed ({exc})") from exc
        return cls(ctx, day, restored)

    def to_state(self) -> dict[str, Any]:
        """A JSON-serialisable copy of the rollup (bounded size: no raw event lists)."""
        out = deepcopy(self._s)
        for key in bounds.BITMAPS:
            out[key] = format(self._s[key], "x")
        out["slot_seq"] = {str(k): v for k, v in self._s["slot_seq"].items()}
        out["focus"] = {str(k): v for k, v in self._s["focus"].items()}
        out["site"] = {str(k): v for k, v in self._s["site"].items()}
        return out

    def to_json(self) -> bytes:
        """``orjson.dumps(self.to_state())`` without the deep copy (the same bytes)."""
        out = dict(self._s)
        for key in bounds.BITMAPS:
            out[key] = format(self._s[key], "x")
        return orjson.dumps(out, option=orjson.OPT_NON_STR_KEYS)

    def _window(self, start: str, end: str) -> int:
        a, b = _minutes(start), _minutes(end)
        if a == b:
            return _bits(0, self.n_min)
        if a < b:
            return _bits(a, min(b, self.n_min))
        return _bits(0, b) | _bits(a, self.n_min)

    def customer_sets(self) -> CustomerSets:
        """The day's customers for the need-to-know judgement across agents (:mod:`detectors.need_to_know`)."""
        s = self._s
        spans = self._case_spans()
        cased = set(s["cased"])
        uncased = dict(s["uncased"])
        unkeyed = s["unkeyed"]
        for page in s["cust_pages"]:  # the same bounds as settled pages
            key = page[3] if len(page) > 3 else ""
            if self._covered(spans, page[0]):
                if key and len(cased) < MAX_CUSTOMERS:
                    cased.add(key)
            elif key and (key in uncased or len(uncased) < MAX_CUSTOMERS):
                uncased[key] = uncased.get(key, 0) + 1
            else:
                unkeyed += 1
        return CustomerSets(frozenset(cased), uncased, unkeyed)

    @classmethod
    def stored_customer_sets(cls, state: dict[str, Any]) -> CustomerSets:
        """:meth:`customer_sets` of a stored state without restoring the whole rollup (history days)."""
        if not isinstance(state, dict) or state.get("v") != STATE_VERSION:
            raise InvalidInput(f"rollup state: expected a version {STATE_VERSION} state object")
        view = cls.__new__(cls)  # customer_sets reads only the state's pages, cases and two bitmaps
        try:
            view._s = {**_CUSTOMER_STATE, **state, "case_mask": int(state.get("case_mask") or "0", 16),
                       "present": int(state.get("present") or "0", 16)}
            return view.customer_sets()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"rollup state: malformed ({exc})") from exc

    # ------------------------------------------------------------------ derived views
    def _code(self, app_idx: int) -> int:
        if app_idx < 0:
            return OFFLIST if app_idx == -1 else -2 - app_idx
        return self._classify(self._s["apps"][app_idx])

    def _app_name(self, app_idx: int) -> str:
        return self._s["apps"][app_idx] if app_idx >= 0 else "(one of many apps)"  # past 2 * MAX_APPS

    def _classify(self, name: str) -> int:
        if name in self._s["proc_cat"]:
            return CATEGORY_CODE[self._s["proc_cat"][name]]
        code = self._policy_codes.get(name)
        if code is None:
            code = self._by_policy(name)
            if len(self._policy_codes) < _POLICY_CODES_MAX:
                self._policy_codes[name] = code
        return code

    def _by_policy(self, name: str) -> int:
        pol = self._pol
        category = pol.category_of(name)
        if category in ("remote_access", "screen_capture"):
            return CATEGORY_CODE[category]
        if pol.is_messaging_app(name):
            return MESSAGING
        if pol.is_browser(name):
            return BROWSER
        return WORK if pol.is_allowed_app(name) else OFFLIST

    def _last_present_sec(self) -> int:
        present = self._s["present"]
        return (present.bit_length() * 60) if present else 0

    def _case_spans(self) -> list[tuple[int, int]]:
        s = self._s
        closed = set(s["closed"])
        spans = [(a, b) for a, b in s["case_spans"]]
        end = self._last_present_sec()
        spans += [(a, max(a + 1, end)) for key, (a, _) in s["open_cases"].items() if key not in closed]
        spans.sort()
        merged: list[tuple[int, int]] = []
        for a, b in spans:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged

    def _covered(self, spans: list[tuple[int, int]], sec: int) -> bool:
        pos = bisect.bisect_right(spans, (sec, 1 << 62)) - 1
        return (pos >= 0 and spans[pos][0] <= sec <= spans[pos][1]) or bool((self._s["case_mask"] >> (sec // 60)) & 1)

    def _pair_moment(self, copy: list[Any], switch: list[Any], code: int) -> list[Any]:
        return [switch[0], switch[1], copy[2], copy[3], copy[4], self._app_name(switch[2]), switch[0] - copy[0],
                copy[1], code]

    def _offlist_copies(self) -> list[tuple[list[Any], list[Any], int]]:
        """Sensitive copies followed within the paste window by a switch to an off-list/messaging app."""
        window = self.ctx.policy.paste_window_s
        flagged = sorted((sw[0], sw[1], sw[2], self._code(sw[2])) for sw in self._s["switches"])
        flagged = [f for f in flagged if f[3] in (OFFLIST, MESSAGING)]
        times = [f[0] for f in flagged]
        out = []
        for copy in sorted(self._s["sens_copies"]):
            pos = bisect.bisect_right(times, copy[0])
            while pos < len(flagged) and flagged[pos][0] <= copy[0] + window:
                if flagged[pos][1] > copy[1]:
                    out.append((copy, list(flagged[pos][:3]), flagged[pos][3]))
                    break
                pos += 1
        return out


_STATE_KEYS = tuple(DayState._empty("x", date(2000, 1, 1)))
