"""False positives: realistic numbers that are not IDs, phones or cards stay as they are."""

from __future__ import annotations

import pytest

from contract.masking import mask_text
from tests.test_masking_samples import NEGATIVES, negatives

PER_TYPE = 100_000
MAX_RATE = 1 / 10_000


@pytest.mark.parametrize("kind", sorted(NEGATIVES))
def test_false_positive_rate_per_field_type(kind: str) -> None:
    fields = negatives(kind, PER_TYPE)
    changed = [field for field in fields if mask_text(field) != field]
    assert len(changed) / PER_TYPE < MAX_RATE, changed[:10]
