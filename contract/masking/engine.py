"""The masking engine: truncate, detect, replace, and fail closed.

:class:`MaskingEngine` holds a detector and the limits; the package's public functions use
:data:`DEFAULT_ENGINE` unless given another one (tests pass an engine whose detector raises).
"""

from __future__ import annotations

import contextlib
import logging

from contract.masking.detect import KINDS, Detector, Finding, NumberDetector
from contract.masking.errors import MaskingError
from contract.masking.fallback import conservative_mask
from contract.masking.normalize import glued_reference, holds_no_number, may_hold_number, reveal_digits
from contract.masking.truncate import MAX_FIELD_CHARS, truncate

logger = logging.getLogger(__name__)

KEEP_CHARS = 4
MAX_PASSES = 4
# classify() looks further than mask_text(): a bulk copy of customer rows must count them all.
CLASSIFY_MAX_CHARS = 1 << 20


def _visible_digits(text: str) -> int:
    return sum(c.isdecimal() for c in reveal_digits(text))


def _first_start(finding: Finding) -> int:
    return finding.spans[0][0]


def apply_findings(text: str, findings: list[Finding]) -> str:
    """Replace all but the last four characters of each finding by ``*``."""
    pieces: list[str] = []
    pos = 0
    for finding in sorted(findings, key=_first_start):
        if len(finding.spans) == 1:  # most numbers are written in one piece
            s, e = finding.spans[0]
            hidden = max(e - s - KEEP_CHARS, 0)
            pieces += (text[pos:s], "*" * hidden, text[s + hidden : e])
            pos = e
            continue
        to_hide = sum(e - s for s, e in finding.spans) - KEEP_CHARS
        for s, e in finding.spans:
            hidden = min(max(to_hide, 0), e - s)
            pieces.append(text[pos:s])
            pieces.append("*" * hidden)
            pieces.append(text[s + hidden : e])
            pos = e
            to_hide -= hidden
    pieces.append(text[pos:])
    return "".join(pieces)


class MaskingEngine:
    """Masks numbers in texts; ``detector`` and the limits are the seams for tests."""

    def __init__(
        self,
        detector: Detector | None = None,
        max_chars: int = MAX_FIELD_CHARS,
        classify_max_chars: int = CLASSIFY_MAX_CHARS,
    ) -> None:
        if max_chars < 64 or classify_max_chars < 64:
            raise MaskingError("max_chars and classify_max_chars must be at least 64")
        self.detector: Detector = detector if detector is not None else NumberDetector()
        self.max_chars = max_chars
        self.classify_max_chars = classify_max_chars

    def mask_text(self, text: str, *, id_hint: bool = False, total_chars: int | None = None) -> str:
        """``text`` truncated and masked; never raises for a ``str`` (fails closed instead)."""
        if not isinstance(text, str):
            raise MaskingError(f"mask_text expects str, got {type(text).__name__}")
        try:
            if total_chars is not None or len(text) > self.max_chars:
                text = truncate(text, self.max_chars, total_chars)
            revealed = reveal_digits(text)
            if not may_hold_number(revealed):
                return text
            masked = self._mask_until_stable(revealed, id_hint)
            if glued_reference(text):  # &#49;13800138000: read whole and apart, keep what shows fewer digits
                apart = reveal_digits(text, keep_glued=True)
                masked_apart = self._mask_until_stable(apart, id_hint)
                if _visible_digits(masked_apart) < _visible_digits(masked):
                    revealed, masked = apart, masked_apart
            # Hidden digits are shown only when they held a number; other texts keep their bytes.
            return text if masked == revealed else masked
        except Exception as exc:  # fail closed: never let a number through because of a bug
            logger.error("masking failed with %s; masked every digit run instead", type(exc).__name__)
            with contextlib.suppress(Exception):  # what failed may be this: then the digit runs as they are
                text = reveal_digits(text)  # a number spelled with hidden or digit-like signs is a run too
            return conservative_mask(text)

    def is_plain(self, text: str) -> bool:
        """True when ``mask_text(text)`` is ``text`` itself because it cannot hold a number (it fits in
        ``max_chars`` and :func:`holds_no_number`); False says nothing: call :meth:`mask_text`."""
        return type(text) is str and len(text) <= self.max_chars and holds_no_number(text)

    def classify(self, text: str) -> dict[str, int]:
        """How many numbers of each kind the first ``classify_max_chars`` of ``text`` hold."""
        if not isinstance(text, str):
            raise MaskingError(f"classify expects str, got {type(text).__name__}")
        counts = dict.fromkeys(KINDS, 0)
        text = reveal_digits(text[: self.classify_max_chars])
        if not may_hold_number(text):
            return counts
        try:
            findings = self.detector.find(text)
        except Exception as exc:
            logger.error("classification failed with %s", type(exc).__name__)
            # Not chained: a foreign exception's message may quote the digits it choked on.
            raise MaskingError(f"classification failed ({type(exc).__name__})") from None
        for finding in findings:
            counts[finding.kind] += 1
        return counts

    def _mask_until_stable(self, text: str, id_hint: bool) -> str:
        # Keeping the last four digits can let them form a new number with the digit groups that
        # follow; masking again until nothing changes makes mask_text idempotent.
        for _ in range(MAX_PASSES):
            findings = self.detector.find(text, id_hint=id_hint)
            if not findings:
                return text
            text = apply_findings(text, findings)
            if not may_hold_number(text):
                return text
        if self.detector.find(text, id_hint=id_hint):
            return conservative_mask(text)
        return text


DEFAULT_ENGINE = MaskingEngine()
