"""The line filter behind ``seatguard-collector mask``."""

from __future__ import annotations

from typing import TextIO

from contract.masking.engine import MaskingEngine

_DRAIN_CHUNK = 65536


def _split_eol(line: str) -> tuple[str, str]:
    if line.endswith("\r\n"):
        return line[:-2], "\r\n"
    if line.endswith("\n"):
        return line[:-1], "\n"
    return line, ""


def _read_line(infile: TextIO, limit: int) -> tuple[str, str, int] | None:
    """The next line as (text, line ending, real text length), keeping ``limit`` chars at most."""
    head = infile.readline(limit)
    if not head:
        return None
    if len(head) < limit or head.endswith("\n"):
        text, eol = _split_eol(head)
        return text, eol, len(text)
    dropped = 0
    while True:  # a huge line: skip its tail without holding it in memory
        rest = infile.readline(_DRAIN_CHUNK)
        if not rest.endswith("\n"):
            dropped += len(rest)
            if rest:
                continue
            return head, "", len(head) + dropped
        body, eol = _split_eol(rest)
        return head, eol, len(head) + dropped + len(body)


def mask_lines(engine: MaskingEngine, infile: TextIO, outfile: TextIO) -> int:
    """Mask ``infile`` line by line into ``outfile``, flushing each line; return the line count."""
    count = 0
    while (line := _read_line(infile, engine.max_chars + 1)) is not None:
        text, eol, total = line
        masked = engine.mask_text(text, total_chars=total if total > len(text) else None)
        outfile.write(masked + eol)
        outfile.flush()
        count += 1
    return count
