"""The comparison key of an agent_id, which the ``agents`` table keeps unique (``id_key``).

Two ids with one key look alike on a screen (``pc-a1`` and ``PC-A1``, full-width letters, an invisible
character): only the first to enroll gets it, so nobody can enroll a look-alike of a colleague and pin
their own misconduct on them. The database's unique index makes the check one lookup and race-free.
"""

from __future__ import annotations

import unicodedata

MAX_KEY = 160  # an ASCII agent_id's key is at most 64 characters; keys of pre-existing look-alikes are longer


def id_key(agent_id: str) -> str:
    """NFKC, format (Cf) characters removed, case-folded."""
    text = unicodedata.normalize("NFKC", agent_id)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").casefold()
