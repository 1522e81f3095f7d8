"""What each event kind does to a day's rollup: one handler per kind, registered with :func:`handles`.

:class:`DayEvents` folds one event into the day's state (:mod:`detectors.day_state`); the rollup's
``add`` (:meth:`detectors.rollup.DayRollup.add`) checks the envelope and looks the kind's handler up in
:data:`HANDLERS`. A new event kind is one method here with ``@handles("the.kind")`` (``by_user=True``
when it is something the person at the seat did: such moments outside the shift are the day's
outside-shift edges). Kinds without a handler still count as presence. The bounded lists settle into
exact totals when full (:mod:`detectors.bounds`).
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from contract.pattern_search import Unjudged
from contract.policy import app_key, customer_in
from detectors import bounds, outside
from detectors.bounds import MAX_APPS, MAX_CUSTOMERS, MAX_EVIDENCE_PER_KIND, MAX_MOMENTS, MAX_PAGES, MAX_SPANS
from detectors.day_state import (
    BROWSER,
    CATEGORY_CODE,
    MESSAGING,
    OFFLIST,
    WORK,
    DayState,
    page_rank,
    pair_rank,
)
from detectors.need_to_know import NO_CUSTOMER, CustomerKeyer, CustomerRef
from detectors.phrasing import short

Handler = Callable[["DayEvents", dict[str, Any], float, int, CustomerRef | None], None]
"""``(rollup, event, second of the day, seq, customer of a page.open as the caller keyed it)``."""
H = TypeVar("H", bound=Handler)

HANDLERS: dict[str, Handler] = {}
USER_KINDS: set[str] = set()  # kinds the person at the seat did (see the module docstring)

_NAMED = frozenset({WORK, OFFLIST, BROWSER})  # past MAX_APPS only flagged tools keep their names
_LOCAL_KEYER = CustomerKeyer.ephemeral()  # for rollups fed without keys found before masking (one process)


def handles(kind: str, *, by_user: bool = False) -> Callable[[H], H]:
    """Register the decorated method as the handler of events of ``kind``."""

    def register(handler: H) -> H:
        if kind in HANDLERS:
            raise ValueError(f"event kind {kind!r} already has a handler")
        HANDLERS[kind] = handler
        if by_user:
            USER_KINDS.add(kind)
        return handler

    return register


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=5).digest(), "big")


def _add_key(keys: list[str], key: str) -> bool:
    """Add to a sorted list of distinct keys, up to MAX_CUSTOMERS; False when it is full."""
    pos = bisect.bisect_left(keys, key)
    if pos < len(keys) and keys[pos] == key:
        return True
    if len(keys) >= MAX_CUSTOMERS:
        return False
    keys.insert(pos, key)
    return True


def _add_minute(minutes: list[int], minute: int) -> None:
    """Add to a sorted list of distinct minutes of the day (bounded by the day's length)."""
    pos = bisect.bisect_left(minutes, minute)
    if pos == len(minutes) or minutes[pos] != minute:
        minutes.insert(pos, minute)


class DayEvents(DayState):
    """The day's state with a handler per event kind (see the module docstring)."""

    def _app(self, name: str, sec: float, seq: int) -> int:
        key = app_key(name)
        idx = self._app_index.get(key)
        if idx is None:
            apps = self._s["apps"]
            if len(apps) >= MAX_APPS:
                bounds.hit(self._s, "apps", sec, seq)
                code = self._classify(key)
                if code in _NAMED or len(apps) >= 2 * MAX_APPS:  # by class only: -2 - code (-1: old "other")
                    return -2 - code
            idx = len(apps)
            apps.append(key)
            self._app_index[key] = idx
        return idx

    def _evidence(self, kind: str, sec: float, seq: int, **params: Any) -> None:
        """Keep the earliest MAX_EVIDENCE_PER_KIND moments of each kind (whatever the arrival order)."""
        ev = self._s["evidence"]
        same = [k for k, e in enumerate(ev) if e[0] == kind]
        item = [kind, int(sec), seq, params]
        if len(same) < MAX_EVIDENCE_PER_KIND:
            ev.append(item)
            return
        latest = max(same, key=lambda k: (ev[k][1], ev[k][2]))
        if (item[1], item[2]) < (ev[latest][1], ev[latest][2]):
            ev[latest] = item

    @handles("agent.start")
    def _on_start(self, e: dict[str, Any], sec: float, seq: int, customer: CustomerRef | None) -> None:
        _add_minute(self._s["starts"], int(sec // 60))

    @handles("agent.stop")
    def _on_stop(self, e: dict[str, Any], sec: float, seq: int, customer: CustomerRef | None) -> None:
        _add_minute(self._s["stops"], int(sec // 60))

    @handles("agent.heartbeat")
    def _on_heartbeat(self, e: dict[str, Any], sec: float, seq: int, customer: CustomerRef | None) -> None:
        """Keep the spool's drop counter at the day's first and last heartbeat (by seq)."""
        dropped = e.get("dropped_total")
        if isinstance(dropped, bool) or not isinstance(dropped, int | float) or dropped < 0:
            return
        ends = self._s["dropped"]
        item = [seq, int(dropped), int(sec)]
        if not ends:
            ends.extend([item, list(item)])
        elif seq < ends[0][0]:
            ends[0] = item
        elif seq > ends[1][0]:
            ends[1] = item

    @handles("app.focus", by_user=True)
    def _on_focus(self, e: dict[str, Any], sec: float, seq: int, customer: CustomerRef | None) -> None:
        s = self._s
        s["focus_switches"] += 1
        s["horizon"] = max(s["horizon"], int(sec))  # the latest switch or copy: the pairing's clock
        app = self._app(str(e["app"]), sec, seq)
        minute = int(sec // 60)
        cur = s["focus"].get(minute)
        if cur is None or seq > cur[0]:
            s["focus"][minute] = [seq, app]
        key = s["apps"][app] if app >= 0 else ""
        pol = self._pol
        flagged = app < 0 or not pol.is_listed_app(key) or pol.is_messaging_app(key) or self._code(app) != WORK
        if flagged:
            self._keep_switch([int(sec), seq, app])

    def _keep_switch(self, item: list[Any]) -> None:
        """Keep a switch to a flagged app; when full, forget those no kept copy precedes, then settle.

        Below the bound the pairing does not depend on arrival order; a flood of switches that follow
        no sensitive copy is forgotten instead of crowding out the later ones that do.
        """
        s = self._s
        switches = s["switches"]
        if len(switches) >= MAX_MOMENTS:
            window = self.ctx.policy.paste_window_s
            copies = sorted(c[0] for c in s["sens_copies"])

            def pairable(sw: list[Any]) -> bool:
                pos = bisect.bisect_right(copies, sw[0]) - 1
                return pos >= 0 and sw[0] - copies[pos] <= window

            switches[:] = [sw for sw in switches if pairable(sw)]
            if len(switches) >= MAX_MOMENTS // 2:  # many copies, each followed by flagged switches
                switches.sort()
                self._settle_copies(item[0], item[1], "switches", before=switches[-(MAX_MOMENTS // 4)][0])
                del switches[: -(MAX_MOMENTS // 4)]
        switches.append(item)

    def _keep_copy(self, item: list[Any], sec: float) -> None:
        """Keep a sensitive copy; when full, settle those whose paste window has passed."""
        if len(self._s["sens_copies"]) >= MAX_MOMENTS:
            self._settle_copies(sec, item[1], "copies")
        self._s["sens_copies"].append(item)

    def _settle_copies(self, sec: float, seq: int, bound: str, before: float | None = None) -> None:
        """Fold the copies whose paste window closed before the latest event (or that were made
        before ``before``) into exact totals, with the switches still kept."""
        s = self._s
        bounds.hit(s, bound, sec, seq)
        window = self.ctx.policy.paste_window_s
        pairs = {copy[1]: (copy, switch, code) for copy, switch, code in self._offlist_copies()}
        copies = sorted(s["sens_copies"])
        done = [c for c in copies if c[0] + window < s["horizon"] or (before is not None and c[0] < before)]
        if before is None and len(done) < len(copies) // 4:  # a flood inside one paste window
            done = copies[: len(copies) // 2]
        gone = {c[1] for c in done}
        for c in done:
            if c[1] in pairs:
                copy, switch, code = pairs[c[1]]
                s["settled"]["offlist"] += 1
                if code == MESSAGING:
                    s["settled"]["ids_msg"] += copy[2]
                bounds.keep_top(s["pair_ev"], self._pair_moment(copy, switch, code), pair_rank)
        s["sens_copies"] = [c for c in copies if c[1] not in gone]

    @handles("page.open", by_user=True)
    def _on_page(self, e: dict[str, Any], sec: float, seq: int, ref: CustomerRef | None) -> None:
        s = self._s
        s["pages"] += 1
        url, title = str(e["url"]), str(e.get("title", ""))
        minute = int(sec // 60)
        app = self._app(str(e.get("app", "")) or "browser", sec, seq)
        cur = s["focus"].get(minute)
        if cur is None or seq > cur[0]:
            s["focus"][minute] = [seq, app]
        host = (urlsplit(url).hostname or "").lower()
        allowed = self._pol.is_allowed_host(host)
        cur = s["site"].get(minute)
        if cur is None or seq > cur[0]:
            s["site"][minute] = [seq, 0 if allowed else 1]
        if not allowed:
            self._evidence("offlist_site", sec, seq, host=short(host, 60))
        if ref is not None and not ref.key:
            return  # ingest looked before masking: no customer's page
        found = customer_in(url, self._pol.customer_res)  # in the masked URL: what evidence may show
        shown = None if isinstance(found, Unjudged) else found
        if ref is None:  # not keyed at ingest; unjudged: a customer page of an unknown customer (fail closed)
            ref = _LOCAL_KEYER.unjudged(url) if isinstance(found, Unjudged) else \
                NO_CUSTOMER if shown is None else _LOCAL_KEYER.ref(shown)
        if not ref.key:
            return
        s["customer_pages"] += 1
        if not _add_key(s["customers"], ref.key):
            bounds.hit(s, "customers", sec, seq)
        has_case = self._pol.mentions_case(url, title)
        if has_case:
            if not _add_key(s["cased"], ref.key):
                bounds.hit(s, "customers", sec, seq)
        else:
            if len(s["cust_pages"]) >= MAX_PAGES:
                self._settle_pages(sec, seq)
            s["cust_pages"].append([int(sec), seq, (shown or "")[-4:], ref.key])

    def _settle_pages(self, sec: float, seq: int) -> None:
        """Decide every kept page against the cases known now: count those without one, forget the rest."""
        s = self._s
        bounds.hit(s, "pages", sec, seq)
        spans = self._case_spans()
        for page in s["cust_pages"]:
            if self._covered(spans, page[0]):
                if len(page) > 3 and not _add_key(s["cased"], page[3]):
                    bounds.hit(s, "customers", sec, seq)
                continue
            s["settled"]["nocase"] += 1
            outside.count(s, "nocase_min", int(page[0]) // 60)
            bounds.keep_top(s["nocase_ev"], page, page_rank)  # with its key: a review, once judged?
            key = page[3] if len(page) > 3 else ""
            if key and (key in s["uncased"] or len(s["uncased"]) < MAX_CUSTOMERS):
                s["uncased"][key] = s["uncased"].get(key, 0) + 1
            else:
                s["unkeyed"] += 1
        s["cust_pages"] = []

    @handles("clipboard.copy", by_user=True)
    def _on_copy(self, e: dict[str, Any], sec: float, seq: int, customer: CustomerRef | None) -> None:
        s = self._s
        s["copies"] += 1
        s["horizon"] = max(s["horizon"], int(sec))
        cls = e.get("classes") or {}
        ids, phones, cards = (int(cls.get(k, 0)) for k in ("id_number", "phone", "bank_card"))
        s["ids"] += ids
        s["phones"] += phones
        s["cards"] += cards
        source = app_key(str(e.get("app", "")))
        if ids or phones or cards or self._pol.is_sensitive_app(source):
            self._keep_copy([int(sec), seq, ids, phones, cards], sec)
            outside.count(s, "copy_min", int(sec // 60))
        if ids or cards:
            self._evidence("id_copy", sec, seq, ids=ids, phones=phones, cards=cards, app=short(source, 40))

    def _idle_room(self, sec: float, seq: int) -> None:
        s = self._s
        if len(s["idle_starts"]) >= MAX_SPANS or len(s["idle_spans"]) >= MAX_SPANS:
            bounds.hit(s, "idle", sec, seq)
            bounds.settle_idle(s, self.n_min)

    @handles("input.idle")
    def _on_idle(self, e: dict[str, Any], sec: float, seq: int, customer: CustomerRef | None) -> None:
        start = int(sec - float(e["threshold_s"]))
        self._idle_room(sec, seq)
        self._s["idle_starts"].append(start)

    @handles("input.active", by_user=True)
    def _on_active(self, e: dict[str, Any], sec: float, seq: int, customer: CustomerRef | None) -> None:
        span = [int(sec - float(e["idle_s"])), int(sec)]
        self._idle_room(sec, seq)
        self._s["idle_spans"].append(span)

    @handles("case.open", by_user=True)
    def _on_case_open(self, e: dict[str, Any], sec: float, seq: int, customer: CustomerRef | None) -> None:
        key = format(_hash(str(e["case_id"])), "x")
        opened = self._s["open_cases"]
        if key not in opened:
            if len(opened) < MAX_SPANS:
                opened[key] = [int(sec), seq]
            else:  # the earliest open cases already cover whatever a later one would
                bounds.hit(self._s, "open_cases", sec, seq)

    @handles("case.close", by_user=True)
    def _on_case_close(self, e: dict[str, Any], sec: float, seq: int, customer: CustomerRef | None) -> None:
        s = self._s
        wall = float(e["wall_s"])
        key = format(_hash(str(e["case_id"])), "x")
        s["handle_n"] += 1
        s["handle_sum"] += wall
        bounds.add_handle(s["handle_hist"], wall)
        if len(s["case_spans"]) >= MAX_SPANS:
            bounds.hit(s, "cases", sec, seq)
            bounds.settle_cases(s, self.n_min)
        s["case_spans"].append([int(sec - wall), int(sec)])
        s["closed"].append(key)

    @handles("file.write", by_user=True)
    def _on_file(self, e: dict[str, Any], sec: float, seq: int, customer: CustomerRef | None) -> None:
        if not e.get("removable") or e.get("op") == "deleted":
            return
        s = self._s
        s["removable_writes"] += 1
        size = int(e.get("size") or 0)
        s["removable_bytes"] += size
        outside.count(s, "export_min", int(sec // 60))
        path = str(e.get("dest_path") or e.get("path", ""))
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        self._evidence("usb_write", sec, seq, file=short(name, 50), mb=round(size / 1e6, 1))

    @handles("device.mount", by_user=True)
    def _on_mount(self, e: dict[str, Any], sec: float, seq: int, customer: CustomerRef | None) -> None:
        if e.get("removable"):
            self._s["drive_mounts"] += 1
            self._evidence("drive_mount", sec, seq, label=short(str(e.get("label", "")), 40))

    @handles("process.start", by_user=True)
    def _on_process(self, e: dict[str, Any], sec: float, seq: int, customer: CustomerRef | None) -> None:
        category = str(e.get("category", "other"))
        name = app_key(str(e.get("name", "")))
        if category in CATEGORY_CODE and name not in self._s["proc_cat"]:
            if len(self._s["proc_cat"]) < MAX_APPS:
                self._s["proc_cat"][name] = category
            else:  # the policy's name lists still classify it
                bounds.hit(self._s, "process_names", sec, seq)
        if category in ("remote_access", "screen_capture"):
            self._s["proc_starts"][category] += 1
            self._evidence(category, sec, seq, name=short(name, 40))

    @handles("screenshot")
    def _on_screenshot(self, e: dict[str, Any], sec: float, seq: int, customer: CustomerRef | None) -> None:
        self._s["screenshots"] += 1
        self._evidence("screenshot", sec, seq, reason=short(str(e.get("reason", "")), 40))
