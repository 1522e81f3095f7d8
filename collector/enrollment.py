"""Enrollment: one-time tokens bound to a team, turned into an enrolled agent and its key."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from typing import TYPE_CHECKING, Any

from collector.errors import EnrollmentRefused
from collector.policy import PolicyService
from collector.storage import Store
from contract import wire
from contract.errors import WireError
from contract.masking import classify, mask_text
from contract.schema import AGENT_ID_RE

if TYPE_CHECKING:
    from collector.signing import AnswerSigner

log = logging.getLogger(__name__)
_LONG_DIGITS_RE = re.compile(r"\d{11,}")  # a mobile (11), an ID (15/18) or a card (16-19) number
_SHIFT_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
ROLES = ("agent", "lead")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class EnrollmentService:
    def __init__(self, store: Store, policy: PolicyService, ttl_h: float, signer: AnswerSigner) -> None:
        self.store = store
        self.signer = signer
        self.policy = policy
        self.ttl_h = ttl_h

    def create_token(self, team: str, role: str = "agent", shift: str | None = None,
                     name: str | None = None) -> str:
        """A one-time token for ``team``; with ``name``, only an agent enrolling as that agent_id can use it."""
        if name is not None:
            self.check_name(name)
            if self.store.id_key_taken(name):
                raise EnrollmentRefused(f"agent_id {name!r} or a look-alike of it is already enrolled",
                                        code="agent_id_taken", status=409)
        if not AGENT_ID_RE.match(team) or _LONG_DIGITS_RE.search(team) or any(classify(team).values()):
            raise EnrollmentRefused("team names use letters, digits, '.', '_' and '-' (1-64), and carry no "
                                    "ID, phone or card number", code="bad_team")
        if role not in ROLES:
            raise EnrollmentRefused(f"role must be one of {', '.join(ROLES)}", code="bad_role")
        span = None
        if shift:
            if not _SHIFT_RE.match(shift):
                raise EnrollmentRefused("shift must look like 09:00-18:00", code="bad_shift")
            start, end = shift.split("-")
            span = (start, end)
        token = "sgt_" + secrets.token_urlsafe(24)
        now = time.time()
        self.store.add_enroll_token(hash_token(token), team, role, span, now, now + self.ttl_h * 3600, name)
        log.info("enrollment token created for team %s (role %s%s)", team, role, f", agent_id {name}" if name else "")
        return token

    @staticmethod
    def check_name(name: Any) -> str:
        """Refuse an agent_id that is malformed (bad_name) or carries a personal number (name_personal).

        Look-alikes of enrolled ids are refused by the store, in the enrolling transaction."""
        if not isinstance(name, str) or not AGENT_ID_RE.match(name):
            raise EnrollmentRefused("name must match [A-Za-z0-9._-]{1,64}", code="bad_name")
        if _LONG_DIGITS_RE.search(name) or any(classify(name).values()):
            raise EnrollmentRefused("name must not carry an ID, phone or card number", code="name_personal")
        return name

    def enroll(self, request: dict[str, Any]) -> dict[str, Any]:
        token = request.get("token")
        if not isinstance(token, str) or not token:
            raise EnrollmentRefused("an enrollment token is required", code="invalid_token", status=401)
        name = self.check_name(request.get("name"))
        try:
            wire.load_ed25519_public(str(request.get("public_key", "")))
        except WireError as exc:
            raise EnrollmentRefused("public_key must be a base64 Ed25519 public key", code="bad_key") from exc
        agent = {"agent_id": name, "public_key": request["public_key"],
                 "hostname": mask_text(str(request.get("hostname", ""))[:255]),
                 "user": mask_text(str(request.get("user", ""))[:255])}
        row = self.store.enroll_agent(hash_token(token), agent, time.time())
        log.info("agent %s enrolled into team %s", name, row["team"])
        return self.signer.with_key_set({
            "agent_id": name, "team": row["team"], "role": row["role"], "collector_key": self.signer.seal_key_b64(),
            "policy": self.policy.current(), "signing_keys": self.signer.public_keys(),
            "signed_policy": self.signer.policy_for(name)})
