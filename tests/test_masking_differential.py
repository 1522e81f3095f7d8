"""The detector and the engine against what they gave before they were made faster, on a seeded corpus.

``tests/masking_expected.txt`` holds, for each text of :func:`tests.masking_corpus.corpus`, eight hex
digits of a hash of five results: the findings in the text, with an ID hint, and in the text with its
digits revealed, and ``mask_text`` without and with the hint. It was written by the masking of
``1fb01d1`` (main before the speed-up of the detector), so any change of output shows here. When a rule
changes on purpose, write it again with the new code and say so in the commit::

    .venv/bin/python -m tests.test_masking_differential --write
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from contract.masking import DEFAULT_ENGINE, Finding
from contract.masking.normalize import reveal_digits
from tests.masking_corpus import corpus

FIXTURE = Path(__file__).resolve().parent / "masking_expected.txt"
TEXTS = 25_000


def _findings(found: list[Finding]) -> str:
    return ";".join(f"{f.kind}:" + ",".join(f"{s}-{e}" for s, e in f.spans) for f in found)


def results(text: str) -> str:
    """What the masking makes of ``text``, as one string."""
    find = DEFAULT_ENGINE.detector.find
    return "\x1f".join([
        _findings(find(text)),
        _findings(find(text, id_hint=True)),
        _findings(find(reveal_digits(text))),
        DEFAULT_ENGINE.mask_text(text),
        DEFAULT_ENGINE.mask_text(text, id_hint=True),
    ])


def digest(value: str) -> str:
    return hashlib.blake2b(value.encode(), digest_size=4).hexdigest()


def _fingerprint(texts: list[str]) -> str:
    return digest("\x1e".join(texts))


def test_the_corpus_holds_numbers_of_every_kind() -> None:
    texts = corpus(2000)
    kinds = {f.kind for t in texts for f in DEFAULT_ENGINE.detector.find(reveal_digits(t))}
    masked = sum(DEFAULT_ENGINE.mask_text(t) != t for t in texts)
    assert kinds == {"id_number", "phone", "bank_card"} and 600 < masked < 1600


def test_masking_gives_what_it_gave_before_the_speed_up() -> None:
    header, *expected = FIXTURE.read_text(encoding="ascii").split()
    texts = corpus(TEXTS)
    assert header == _fingerprint(texts), "tests/masking_corpus.py changed: write the fixture again (see above)"
    assert len(expected) == len(texts)
    got = [(text, results(text)) for text in texts]
    differ = [pair for pair, want in zip(got, expected, strict=True) if digest(pair[1]) != want]
    assert not differ, f"{len(differ)} texts masked otherwise than before, the first: {differ[0]!r}"


def main() -> None:
    texts = corpus(TEXTS)
    lines = [_fingerprint(texts), *(digest(results(t)) for t in texts)]
    FIXTURE.write_text("\n".join(lines) + "\n", encoding="ascii")
    print(f"wrote {FIXTURE} ({len(texts)} texts)")


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    main()
