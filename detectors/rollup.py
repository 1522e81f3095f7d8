"""Per agent-day rollups, kept at ingest so that reports never rescan raw events.

The collector keeps one :class:`DayRollup` per agent and calendar day (in the agent's time zone),
feeds it every validated, masked v1 event of that day with :meth:`DayRollup.add`, reports integrity
problems it saw itself (sequence gaps, broken batch chains) with :meth:`DayRollup.add_integrity`, and
stores :meth:`DayRollup.to_state` between batches. :meth:`DayRollup.features` gives the numbers the
detectors use; every one of them is documented in :data:`detectors.features.FEATURES`.

The class is layered by job: :mod:`detectors.day_state` holds the state and the views shared by ingest
and reports, :mod:`detectors.day_events` the handler of each event kind (registered by kind), and this
module the envelope checks of :meth:`DayRollup.add`, the day's features, activity strip and evidence
(worded by :mod:`detectors.phrasing`).

Events may arrive in any order and in several batches: the rollup keeps order-independent summaries
(minute bitmaps, counters, bounded lists of moments) and resolves anything order-dependent ("the copy
was followed by a switch to a chat app") only when features or evidence are asked for. A list at its
bound is settled into exact totals, never closed to later events (:mod:`detectors.bounds`); silences
and stops in the shift are :mod:`detectors.presence`'s. Each event must be added once (the collector
dedupes re-sent batches before this point).
"""

from __future__ import annotations

import bisect
from collections.abc import Collection
from datetime import datetime
from typing import Any

from detectors import bounds, outside, presence
from detectors.bounds import MAX_EVIDENCE_PER_KIND, ceil_div
from detectors.bounds import bits as _bits
from detectors.day_events import HANDLERS, USER_KINDS, DayEvents
from detectors.day_state import (
    BROWSER,
    CAPTURE,
    INTEGRITY_KINDS,
    MESSAGING,
    OFFLIST,
    REMOTE,
    WORK,
    page_rank,
    pair_rank,
)
from detectors.errors import InvalidInput
from detectors.need_to_know import CustomerRef
from detectors.phrasing import clock, describe_moment

SLOT_MIN = 10             # evidence seq anchors and activity strip resolution


class DayRollup(DayEvents):
    """Incremental summary of one agent's events on one calendar day (see the module docstring)."""

    # ------------------------------------------------------------------ ingest
    def add(self, event: dict[str, Any], customer: CustomerRef | None = None, at: float | None = None) -> None:
        """Fold one validated, masked v1 event of this agent and day into the rollup.

        ``customer``: the customer of a page.open as the caller found and keyed it before masking
        (:data:`~detectors.need_to_know.NO_CUSTOMER`: none); without it the rollup looks in the masked
        URL itself and keys with a secret of this process only (evaluation and tests). ``at``: the moment of
        the event's ``ts`` in POSIX seconds, when the caller has read it already."""
        try:
            kind, seq, ts = event["kind"], int(event["seq"]), event["ts"]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"event: missing or bad envelope ({exc})") from exc
        if event.get("agent_id", self.ctx.agent_id) != self.ctx.agent_id:
            raise InvalidInput("event: belongs to another agent")
        sec = self._sec(ts) if at is None else at - self._t0
        s = self._s
        minute = int(sec // 60)
        if not 0 <= minute < self.n_min:
            s["misrouted"] += 1
            return
        s["events"] += 1
        s["present"] |= 1 << minute
        slot = minute // SLOT_MIN
        if seq > s["slot_seq"].get(slot, 0):
            s["slot_seq"][slot] = seq
        if kind in USER_KINDS and not (self._shift >> minute) & 1:
            out = s["outside"]
            if not out:
                out.extend([[sec, seq], [sec, seq]])
            elif sec < out[0][0]:
                out[0] = [sec, seq]
            elif sec > out[1][0]:
                out[1] = [sec, seq]
        handler = HANDLERS.get(kind)
        if handler is not None:
            try:
                handler(self, event, sec, seq, customer)
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidInput(f"event {kind}: bad fields ({exc})") from exc

    def add_integrity(self, kind: str, count: int = 1) -> None:
        """Record integrity problems the collector found: ``seq_gap`` (count = missing events),
        ``chain_break``, ``batch_gap``, ``unsigned_answers`` (count = answers the agent refused) or
        ``policy_mismatch``."""
        if kind not in INTEGRITY_KINDS:
            raise InvalidInput(f"integrity kind must be one of {', '.join(INTEGRITY_KINDS)}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidInput("integrity count must be a non-negative integer")
        self._s["integrity"][kind] = self._s["integrity"].get(kind, 0) + count  # older states lack new kinds

    def _sec(self, ts: str) -> float:
        try:
            return datetime.fromisoformat(ts).timestamp() - self._t0
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"event ts {ts!r} is not RFC 3339") from exc

    # ------------------------------------------------------------------ derived views
    def _idle_bits(self, present: int) -> int:
        s = self._s
        idle = s["idle_mask"] | bounds.span_idle_bits(s["idle_spans"], self.n_min)
        for a in bounds.open_starts(s["idle_starts"], s["idle_spans"]):  # not ended by an input.active
            idle |= bounds.open_idle_bits(a, present, self.n_min)
        return idle

    def _pages_without_case(self, spans: list[tuple[int, int]]) -> list[list[Any]]:
        return sorted(p[:3] for p in self._s["cust_pages"] if not self._covered(spans, p[0]))

    def _gaps(self, now: datetime | None) -> list[presence.Gap]:
        """The shift's reportable silences and stops (see :mod:`detectors.presence`)."""
        return presence.gaps(presence.Presence(
            self._s["present"], self._shift, frozenset(self._s["stops"]), self.n_min, self._limit_min(now),
            presence.retired_minute(self.ctx.retired_at, self._t0)), self.ctx.policy)

    def _returns(self, now: datetime | None, gaps: list[presence.Gap]) -> dict[int, bool]:
        """Minutes at which the agent came back in the shift (see the ``returns_in_shift`` feature), each
        with whether it came back as a new process with no clean stop before it (a restart). The day's
        first report and, once the admin retired the agent, a reinstall do not count."""
        s = self._s
        present, stops = s["present"], s["stops"]
        end = self._limit_min(now)
        retired = presence.retired_minute(self.ctx.retired_at, self._t0)
        if retired is not None:
            end = min(end, retired)
        out = {g.end: False for g in gaps if g.stopped and g.end < end and (present >> g.end) & 1}
        for m in s["starts"]:
            before = present & ((1 << m) - 1)
            if m >= end or not before or not (self._shift >> m) & 1:
                continue
            heard = before.bit_length() - 1
            if bisect.bisect_left(stops, heard) == bisect.bisect_right(stops, m):
                out[m] = True
        return dict(sorted(out.items()))

    def _spool_dropped(self) -> int:
        """The rise of dropped_total over the day; after a counter reset (a new spool), its last value."""
        ends = self._s["dropped"]
        if not ends:
            return 0
        first, last = ends[0][1], ends[1][1]
        return last - first if last >= first else last

    def _focus_minutes(self, active: int) -> dict[int, int]:
        s = self._s
        minutes = dict.fromkeys(range(6), 0)
        offsite = 0
        focus, site = s["focus"], s["site"]
        code, site_code = WORK, 0
        present = s["present"]
        for m in range(self.n_min):
            if m in focus:
                code = self._code(focus[m][1])
            if m in site:
                site_code = site[m][1]
            if not (present >> m) & 1:
                code, site_code = WORK, 0
                continue
            if (active >> m) & 1:
                minutes[code] += 1
                if code == BROWSER and site_code:
                    offsite += 1
        minutes[-1] = offsite
        return minutes

    @staticmethod
    def _vs(minute: int, reference: int) -> float:
        """Circular difference minute - reference in minutes, within [-720, 720)."""
        return float((minute - reference + 720) % 1440 - 720)

    def _limit_min(self, now: datetime | None) -> int:
        if now is None:
            return self.n_min
        return max(0, min(self.n_min, int((now.timestamp() - self._t0) // 60)))

    def features(self, now: datetime | None = None) -> dict[str, float]:
        """The day's numbers, one per :data:`FEATURES` entry (``now``: the day is not over yet)."""
        s = self._s
        present = s["present"]
        idle = self._idle_bits(present) & present
        active = present & ~idle
        n_active = active.bit_count()
        first = (active & -active).bit_length() - 1
        spans = self._case_spans()
        case_bits = s["case_mask"]
        for a, b in spans:
            case_bits |= _bits(max(0, a // 60), min(self.n_min, ceil_div(b, 60)))
        n = s["handle_n"]
        focus = self._focus_minutes(active)
        offlist = self._offlist_copies()
        gaps = self._gaps(now)
        stops = [g for g in gaps if g.stopped]
        settled = s["settled"]
        integ = s["integrity"]
        outside_min, night_min = outside.judged(active, self._graced, case_bits, self._night)
        day_pace = outside.pace(active, self._graced, case_bits)
        first_vs, last_vs = outside.edges(
            self._vs(first, self._shift_start) if active else 0.0,
            self._vs(active.bit_length(), self._shift_end) if active else 0.0,
            outside.explained_share(self._before, active, self._graced, case_bits, day_pace),
            outside.explained_share(self._after, active, self._graced, case_bits, day_pace))
        caseless = self._pages_without_case(spans)
        rhythm = presence.rhythm(present, idle, self.ctx.policy.silence_min_gap_min)
        return {
            "active_min": float(n_active),
            "idle_min": float(idle.bit_count()),
            "idle_share": idle.bit_count() / present.bit_count() if present else 0.0,
            "idle_periods": float(rhythm.idle_periods),
            "longest_active_min": float(rhythm.longest_active_min),
            "input_regularity": rhythm.regularity,
            "first_activity": first_vs,
            "last_activity": last_vs,
            "outside_shift_min": float(outside_min),
            "night_min": float(night_min),
            "outside_shift_lookups": outside.lookups(s, self._graced, caseless),
            "cases_closed": float(n),
            "handle_mean_s": s["handle_sum"] / n if n else 0.0,
            "handle_median_s": bounds.hist_median(s["handle_hist"]),
            "cases_per_hour": n / (n_active / 60) if n_active else 0.0,
            "utilisation": (active & case_bits).bit_count() / n_active if n_active else 0.0,
            "customers_viewed": float(len(s["customers"])),
            "customer_pages": float(s["customer_pages"]),
            "pages_without_case": float(settled["nocase"] + len(caseless)),
            "reviewed_customers": 0.0,  # known only across agents, at report time (detectors.need_to_know)
            "copies": float(s["copies"]),
            "copied_ids": float(s["ids"]),
            "copied_phones": float(s["phones"]),
            "copied_cards": float(s["cards"]),
            "copies_to_offlist": float(settled["offlist"] + len(offlist)),
            "ids_to_messaging": float(settled["ids_msg"] + sum(c[2] for c, _, code in offlist if code == MESSAGING)),
            "removable_writes": float(s["removable_writes"]),
            "removable_mb": s["removable_bytes"] / 1e6,
            "drive_mounts": float(s["drive_mounts"]),
            "remote_access_starts": float(s["proc_starts"]["remote_access"]),
            "remote_access_min": float(focus[REMOTE]),
            "screen_capture_starts": float(s["proc_starts"]["screen_capture"]),
            "screen_capture_min": float(focus[CAPTURE]),
            "messaging_min": float(focus[MESSAGING]),
            "offlist_app_min": float(focus[OFFLIST]),
            "offlist_site_min": float(focus[-1]),
            "silent_shift_min": float(sum(g.minutes for g in gaps if not g.stopped)),
            "seq_missing": float(integ["seq_gap"]),
            "chain_breaks": float(integ["chain_break"]),
            "batch_gaps": float(integ["batch_gap"]),
            "screenshots": float(s["screenshots"]),
            "focus_switches": float(s["focus_switches"]),
            "pages": float(s["pages"]),
            "stops_in_shift": float(len(stops)),
            "stopped_shift_min": float(sum(g.minutes for g in stops)),
            "returns_in_shift": float(len(self._returns(now, gaps))),
            "spool_dropped": float(self._spool_dropped()),
            "rollup_bound_hits": float(len(s["bounds"])),
            "unsigned_answers": float(integ.get("unsigned_answers", 0)),
            "policy_mismatches": float(integ.get("policy_mismatch", 0)),
        }

    def strip(self) -> str:
        """The day's activity at :data:`SLOT_MIN` resolution: ``a`` active, ``i`` idle, ``-`` absent."""
        present = self._s["present"]
        idle = self._idle_bits(present) & present
        active = present & ~idle
        out = []
        for start in range(0, self.n_min, SLOT_MIN):
            mask = _bits(start, min(start + SLOT_MIN, self.n_min))
            n_act, n_idle = (active & mask).bit_count(), (idle & mask).bit_count()
            out.append("-" if n_act + n_idle == 0 else ("a" if n_act >= n_idle else "i"))
        return "".join(out)

    # ------------------------------------------------------------------ evidence
    def _ts(self, sec: float) -> str:
        moment = datetime.fromtimestamp(self._t0 + sec, self._zone)
        return moment.isoformat(timespec="seconds")

    def _slot_seq_before(self, minute: int) -> int:
        slots = self._s["slot_seq"]
        for slot in range(minute // SLOT_MIN, -1, -1):
            if slot in slots:
                return int(slots[slot])
        return 0

    def _outside_edges(self) -> list[list[Any]]:
        """First and last user activity outside the shift: as seen at ingest while that still holds
        for the day's shift, else (a shift entered after the events) the minutes of the activity bitmap."""
        kept = [m for m in self._s["outside"] if not (self._shift >> int(m[0] // 60)) & 1]
        if len(kept) == 2 or not self._s["outside"]:
            return kept
        out = self._s["present"] & ~self._shift
        if not out:
            return []
        first, last = (out & -out).bit_length() - 1, out.bit_length() - 1
        return [[first * 60, self._slot_seq_before(first)], [last * 60, self._slot_seq_before(last)]]

    def evidence(self, now: datetime | None = None, reviewed: Collection[str] = frozenset()) -> list[dict[str, Any]]:
        """Notable moments of the day, oldest first, bounded: ``{ts, kind, seq, what, what_zh}``.
        ``reviewed``: customer keys judged reviews of a colleague's case (their pages are shown as such)."""
        s = self._s
        raw: list[tuple[str, float, int, dict[str, Any]]] = [
            (k, sec, seq, p) for k, sec, seq, p in s["evidence"]]
        spans = self._case_spans()
        live = [p for p in s["cust_pages"] if not self._covered(spans, p[0])]
        pages = sorted([*s["nocase_ev"], *live], key=page_rank)
        reviews = [p for p in pages if len(p) > 3 and p[3] in reviewed]
        for kind, chosen in (("page_without_case", [p for p in pages if not (len(p) > 3 and p[3] in reviewed)]),
                             ("reviewed_customer", reviews)):
            for p in chosen[:MAX_EVIDENCE_PER_KIND]:
                raw.append((kind, p[0], p[1], {"customer": p[2]}))
        pairs = [*s["pair_ev"], *(self._pair_moment(c, sw, code) for c, sw, code in self._offlist_copies())]
        for sec, seq, ids, phones, cards, app, after, copy_seq, _code in \
                sorted(pairs, key=pair_rank)[:MAX_EVIDENCE_PER_KIND]:
            raw.append(("copy_to_offlist", sec, seq, {"ids": ids, "phones": phones, "cards": cards, "app": app,
                                                      "after_s": after, "copy_seq": copy_seq}))
        gaps = self._gaps(now)
        for g in gaps[:MAX_EVIDENCE_PER_KIND]:
            raw.append(("stop" if g.stopped else "silence", g.start * 60, self._slot_seq_before(max(g.start - 1, 0)),
                        {"minutes": g.minutes, "until": f"{g.end // 60:02d}:{g.end % 60:02d}",
                         "at": clock(g.stop_minute)}))
        for m, restart in list(self._returns(now, gaps).items())[:MAX_EVIDENCE_PER_KIND]:
            raw.append(("return", m * 60, self._slot_seq_before(m), {"at": clock(m), "restart": restart}))
        if self._spool_dropped():
            _, seq, sec = s["dropped"][1]
            raw.append(("spool_drop", sec, seq, {"dropped": self._spool_dropped()}))
        raw += bounds.moments(s)
        edges = self._outside_edges()
        if edges:
            (a, aseq), (b, bseq) = edges
            raw.append(("outside_shift", a, aseq, {"edge": "first"}))
            if bseq != aseq:
                raw.append(("outside_shift", b, bseq, {"edge": "last"}))
        raw.sort(key=lambda r: (r[1], r[2]))
        out = []
        for kind, sec, seq, params in raw:
            en, zh = describe_moment(kind, params)
            out.append({"ts": self._ts(sec), "kind": kind, "seq": int(seq), "what": en, "what_zh": zh})
        return out
