"""The collector's key pairs, kept in the data folder (private halves readable by the owner only).

* ``collector_x25519.pem``: the HPKE key agents seal batches and blobs to;
* ``collector_ed25519.pem``: the signing key of receipts and policies in answers to agents.

Keys are rotated in generations (``seatguard-collector keys rotate``): generation 1 is the two files
above, generation *n* is ``collector_x25519.<n>.pem`` and ``collector_ed25519.<n>.pem`` next to them, and
``key_rotation.json`` records when each rotation began, from when agents seal to the new HPKE key
(``seal_from``) and when its window ends (``ends_at``). Through the window answers are signed with the old
signing key and announce the new keys (:mod:`agent.trust`); after it they are signed with the new one.
HPKE private halves are never deleted: a retired one only opens what was sealed to it (spooled
batches of a PC that was offline, screenshots stored sealed). A data folder without ``key_rotation.json``
is one generation and behaves as before rotation existed.

Every collector process of one deployment must hold the same files.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from collector.errors import ConfigError

log = logging.getLogger(__name__)
KEY_FILE = "collector_x25519.pem"
SIGNING_KEY_FILE = "collector_ed25519.pem"
ROTATION_FILE = "key_rotation.json"
DAY_S = 86400.0
MAX_WINDOW_DAYS = 365.0  # a longer window keeps the old signing key trusted for years


def hpke_file(gen: int) -> str:
    return KEY_FILE if gen == 1 else f"collector_x25519.{gen}.pem"


def signing_file(gen: int) -> str:
    return SIGNING_KEY_FILE if gen == 1 else f"collector_ed25519.{gen}.pem"


def _write_new(path: Path, key: X25519PrivateKey | Ed25519PrivateKey) -> bool:
    """Write ``key`` to ``path`` unless the file exists (False then; O_EXCL makes racing writers safe)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return True


def _load(path: Path, data_dir: Path) -> object:
    try:
        return load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise ConfigError(f"{data_dir} has no {path.name}: run `seatguard-collector init --data {data_dir}`"
                          " (or copy the key files of this deployment)") from exc
    except ValueError as exc:
        raise ConfigError(f"{path}: not a readable private key") from exc


def create_key(data_dir: Path) -> X25519PrivateKey:
    _write_new(data_dir / KEY_FILE, X25519PrivateKey.generate())
    return load_key(data_dir)


def load_key(data_dir: Path, gen: int = 1) -> X25519PrivateKey:
    path = data_dir / hpke_file(gen)
    key = _load(path, data_dir)
    if not isinstance(key, X25519PrivateKey):
        raise ConfigError(f"{path}: not an X25519 key")
    return key


def create_signing_key(data_dir: Path) -> Ed25519PrivateKey:
    """The signing key, made now if the data folder has none (``init``, or the first start after an upgrade)."""
    if _write_new(data_dir / SIGNING_KEY_FILE, Ed25519PrivateKey.generate()):
        log.warning("created the answer signing key %s: copy it to every collector of this deployment",
                    data_dir / SIGNING_KEY_FILE)
    return load_signing_key(data_dir)


def load_signing_key(data_dir: Path, gen: int = 1) -> Ed25519PrivateKey:
    path = data_dir / signing_file(gen)
    key = _load(path, data_dir)
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: not an Ed25519 key")
    return key


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _ts(value: Any, where: str) -> float:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise ConfigError(f"{where}: {value!r} is not an ISO 8601 time") from exc


@dataclass(frozen=True)
class Rotation:
    """One rotation: generation ``gen`` replaces ``gen - 1``."""

    gen: int
    started_at: float
    seal_from: float  # agents seal to the new HPKE key from then on
    ends_at: float  # end of the window: answers are signed with the new key, the old one is refused

    def as_dict(self) -> dict[str, Any]:
        return {"gen": self.gen, "started_at": iso(self.started_at), "seal_from": iso(self.seal_from),
                "ends_at": iso(self.ends_at)}


def read_rotations(data_dir: Path) -> list[Rotation]:
    path = data_dir / ROTATION_FILE
    try:
        raw = json.loads(path.read_bytes())
    except FileNotFoundError:
        return []
    except ValueError as exc:
        raise ConfigError(f"{path}: not JSON ({exc})") from exc
    items = raw.get("rotations") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        raise ConfigError(f"{path}: no 'rotations' list")
    out: list[Rotation] = []
    for i, item in enumerate(items):
        where = f"{path} rotation {i + 1}"
        if not isinstance(item, dict) or item.get("gen") != i + 2:
            raise ConfigError(f"{where}: expected generation {i + 2}")
        out.append(Rotation(i + 2, _ts(item.get("started_at"), where), _ts(item.get("seal_from"), where),
                            _ts(item.get("ends_at"), where)))
    return out


def _write_rotations(data_dir: Path, rotations: list[Rotation]) -> None:
    path = data_dir / ROTATION_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"v": 1, "rotations": [r.as_dict() for r in rotations]}, indent=2) + "\n",
                   encoding="utf-8")
    os.replace(tmp, path)


class KeyRing:
    """Every key generation of a data folder and which one does what at a given time."""

    def __init__(self, data_dir: Path, skew_s: float = 0.0) -> None:
        self.data_dir = data_dir
        self.skew_s = skew_s  # the new key signs this long before the window ends (agent clocks run ahead)
        self.rotations = read_rotations(data_dir)
        self.newest = len(self.rotations) + 1
        self.hpke = {gen: load_key(data_dir, gen) for gen in range(1, self.newest + 1)}
        if not (data_dir / SIGNING_KEY_FILE).exists() and self.newest == 1:
            create_signing_key(data_dir)  # the first start after the upgrade to signed answers
        self.signing = {gen: load_signing_key(data_dir, gen) for gen in range(1, self.newest + 1)
                        if gen >= self.newest - 1 and (data_dir / signing_file(gen)).exists()}
        if self.newest not in self.signing:
            raise ConfigError(f"{data_dir} has no {signing_file(self.newest)}: copy the key files of this deployment")

    @property
    def rotation(self) -> Rotation | None:
        return self.rotations[-1] if self.rotations else None

    def in_window(self, now: float) -> bool:
        rot = self.rotation
        return rot is not None and now < rot.ends_at

    def signing_key(self, now: float) -> Ed25519PrivateKey:
        """The key answers are signed with: the old one through the window (every agent trusts it), the new
        one from a little before its end (``skew_s``, at most a tenth of the window), so that an agent
        whose clock runs ahead and has dropped the old key already still gets receipts it can check."""
        rot = self.rotation
        if rot is not None and self.newest - 1 in self.signing:
            lead = min(self.skew_s, (rot.ends_at - rot.started_at) / 10)
            if now < rot.ends_at - lead:
                return self.signing[self.newest - 1]
        return self.signing[self.newest]

    def accepted_signing(self, now: float) -> dict[int, Ed25519PublicKey]:
        """The signing keys agents should trust now, by generation."""
        gens = [self.newest - 1, self.newest] if self.in_window(now) else [self.newest]
        return {g: self.signing[g].public_key() for g in gens if g in self.signing}

    def seal_gen(self, now: float) -> int:
        """The generation of the HPKE key agents should seal to now."""
        rot = self.rotation
        return self.newest - 1 if rot is not None and now < rot.seal_from else self.newest

    def open_keys(self, now: float) -> list[tuple[int, X25519PrivateKey]]:
        """Every HPKE private half, the one agents seal to now first (what a sealed envelope is tried with)."""
        first = self.seal_gen(now)
        return [(first, self.hpke[first])] + [(g, self.hpke[g]) for g in sorted(self.hpke, reverse=True)
                                               if g != first]


def rotate(data_dir: Path, window_days: float, seal_after_hours: float = 0.0, now: float | None = None) -> Rotation:
    """Make generation n+1 next to the others and record its window; refused while a window is open."""
    if not (0 <= window_days <= MAX_WINDOW_DAYS and 0 <= seal_after_hours <= window_days * 24):
        raise ConfigError(f"--window-days must be from 0 to {MAX_WINDOW_DAYS:g} and --seal-after-hours within "
                          "the window (the old signing key is trusted until the window ends)")
    ring = KeyRing(data_dir)
    now = datetime.now(UTC).timestamp() if now is None else now
    if ring.in_window(now):
        raise ConfigError(f"a rotation window is open until {iso(ring.rotations[-1].ends_at)}: "
                          "rotate again after it (or `keys retire` to end it now)")
    gen = ring.newest + 1
    for name, key in ((hpke_file(gen), X25519PrivateKey.generate()),
                      (signing_file(gen), Ed25519PrivateKey.generate())):
        if not _write_new(data_dir / name, key):
            raise ConfigError(f"{data_dir / name} exists but {ROTATION_FILE} does not name it: an interrupted "
                              "rotation? move the file away and rotate again")
    rot = Rotation(gen, now, now + seal_after_hours * 3600, now + window_days * DAY_S)
    _write_rotations(data_dir, [*ring.rotations, rot])
    log.warning("rotated the collector keys to generation %d (window until %s): copy %s, %s and %s to every "
                "collector of this deployment and restart them", gen, iso(rot.ends_at), hpke_file(gen),
                signing_file(gen), ROTATION_FILE)
    return rot


def end_window(data_dir: Path, now: float | None = None) -> Rotation:
    """End the open window now (``keys retire``): from now on only the new signing key is trusted."""
    ring = KeyRing(data_dir)
    now = datetime.now(UTC).timestamp() if now is None else now
    rot = ring.rotation
    if rot is None or not ring.in_window(now):
        raise ConfigError("no rotation window is open")
    done = Rotation(rot.gen, rot.started_at, min(rot.seal_from, now), now)
    _write_rotations(data_dir, [*ring.rotations[:-1], done])
    return done


def delete_retired_signing(data_dir: Path, now: float | None = None) -> list[str]:
    """Delete the private halves of signing keys no longer used (after the window); returns the files."""
    ring = KeyRing(data_dir)
    now = datetime.now(UTC).timestamp() if now is None else now
    if ring.in_window(now):
        raise ConfigError(f"the window is open until {iso(ring.rotations[-1].ends_at)}: the old signing key "
                          "still signs answers")
    gone = []
    for gen in range(1, ring.newest):
        path = data_dir / signing_file(gen)
        if path.exists():
            path.unlink()
            gone.append(path.name)
    return gone
