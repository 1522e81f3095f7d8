"""The one exception of :mod:`contract.masking`.

MaskingError (a ``ValueError``) is raised when a caller hands over something the masker cannot
handle: ``mask_text`` / ``classify`` given a non-``str``; ``mask_obj`` given a value JSON cannot
hold (a set, a non-``str`` dict key, nesting deeper than 256 levels); ``classify`` when its
detector fails (it cannot fail closed: a count has no safe default); an engine built with a
``max_chars`` below 64.  ``mask_text`` itself never raises for a ``str``: it fails closed.
Its message never quotes the text.
"""

from __future__ import annotations


class MaskingError(ValueError):
    """A value could not be masked."""
