"""Exceptions raised by the shared contract (schema, wire, receipts, signed answers, masking).

Every error the contract raises on purpose derives from :class:`ContractError`::

    ContractError
    ├── InvalidEvent         an event does not follow schema v1 (carries a readable reason)
    ├── WireError            a sealed batch could not be built or opened (carries a stable ``code``)
    ├── ReceiptError         an answer's receipt, policy or key set is missing, forged or for something else
    ├── SettingsError        a setting from a file, the environment or a flag has the wrong type or fails its check
    └── PolicyError          a policy is not an object, or a key has the wrong type or fails its check
                             (:mod:`contract.policy`, where it is defined)

:class:`contract.masking.MaskingError` (a ``ValueError``) is the masker's own and is documented there.
Foreign exceptions (cryptography, pydantic, json) are wrapped at the boundary with ``raise ... from exc``.
The agent and the collector each keep their own tree for what only they raise.
"""

from __future__ import annotations


class ContractError(Exception):
    """Base class of every deliberate contract error."""


class InvalidEvent(ContractError):
    """An event does not follow event schema v1."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WireError(ContractError):
    """A sealed batch is malformed, forged, tampered with or cannot be opened."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ReceiptError(ContractError):
    """A collector answer is not signed, not signed by a trusted key, or not for what was sent."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SettingsError(ContractError, ValueError):
    """A setting's value is unknown, of the wrong type or fails its check. ``setting`` names it (as written
    in the file, ``table.name`` for a TOML table's key) and ``source`` says where the value came from (the
    file, the environment variable or the command line); each package wraps it in its own config error."""

    def __init__(self, message: str, *, setting: str = "", source: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.setting = setting
        self.source = source
