"""What agents call: enrollment, sealed batches and blobs, and the signing-key upgrade step.

Every answer that names a batch or a blob carries a signed receipt (:class:`collector.signing.AnswerSigner`);
a refusal carries one in its ``error`` so that the agent can park the envelope. These routes need no
web UI: an ingest-only collector mounts them with ``health`` alone.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from collector.errors import Rejected
from collector.routes.common import ERRORS, ErrorAnswer, read_body
from collector.service import Collector
from collector.signing import AnswerSigner
from contract import wire
from contract.masking import mask_text


class EnrollRequest(BaseModel):
    token: str = Field(min_length=1, max_length=200)
    public_key: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=64)
    hostname: str = Field(default="", max_length=255)
    user: str = Field(default="", max_length=255)


class EnrollAnswer(BaseModel):
    agent_id: str
    team: str
    role: str
    collector_key: str
    policy: dict[str, Any]
    signing_keys: dict[str, str]
    signed_policy: dict[str, Any]
    key_set: dict[str, Any] | None = None  # only after a key rotation (agent.trust)


class BatchAnswer(BaseModel):
    status: str
    stored: int
    quarantined: int
    duplicates: int
    policy: dict[str, Any]
    signed_policy: dict[str, Any]
    receipt: dict[str, Any]
    key_set: dict[str, Any] | None = None


class SigningKeysAnswer(BaseModel):
    signing_keys: dict[str, str]
    proof: str
    key_set: dict[str, Any] | None = None


def _sealed_body(id_field: str, id_schema: dict[str, Any], what: str) -> dict[str, Any]:
    """OpenAPI request body of a sealed, signed envelope (a batch or a blob) from an agent."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object",
        "required": ["v", "agent_id", id_field, "sealed_at", "ct", "sig"],
        "properties": {
            "v": {"type": "integer", "enum": [1]},
            "agent_id": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
            id_field: id_schema,
            "sealed_at": {"type": "string"},
            "ct": {"type": "string", "description": f"base64 HPKE ciphertext of {what}"},
            "sig": {"type": "string", "description": "base64 Ed25519 signature"},
        },
    }}}}}


BATCH_BODY = _sealed_body("batch_seq", {"type": "integer", "minimum": 1}, "a compressed batch")
BLOB_BODY = _sealed_body("blob_id", {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}, "a PNG")


def refused(signer: AnswerSigner, kind: str, body: bytes, exc: Rejected) -> JSONResponse:
    """A refusal of a batch or blob: the one error shape, its ``error`` carrying the signed receipt that lets the
    agent park the envelope."""
    error: dict[str, Any] = {"code": exc.code, "message": mask_text(exc.message)}
    receipt = signer.refusal(kind, body, exc.code)
    if receipt is not None:
        error["receipt"] = receipt
    return JSONResponse({"error": error}, status_code=exc.status)


def register(app: FastAPI, collector: Collector) -> None:
    signer, limit = collector.signer, int(collector.settings.max_body_bytes)

    @app.post("/api/v1/enroll", response_model=EnrollAnswer, response_model_exclude_none=True,
              responses={**ERRORS, 429: {"model": ErrorAnswer}})
    def enroll(body: EnrollRequest, request: Request) -> dict[str, Any]:
        """Per client address, failed attempts are limited (429 rate_limited with Retry-After)."""
        client = request.client.host if request.client else None
        collector.enroll_limit.take(client)
        answer = collector.enrollment.enroll(body.model_dump())
        collector.enroll_limit.give_back(client)
        return answer

    @app.post("/api/v1/batches", response_model=BatchAnswer, responses=ERRORS, openapi_extra=BATCH_BODY)
    async def batches(request: Request) -> JSONResponse:
        """A sealed, signed batch; every answer that names the batch carries a signed receipt."""
        body = await read_body(request, limit)
        try:
            result = await run_in_threadpool(collector.ingest.handle, body)
        except Rejected as exc:
            return refused(signer, "batch", body, exc)
        return JSONResponse(signer.with_key_set({
            **result.as_dict(), "policy": collector.policy.current(),
            "signed_policy": signer.policy_for(result.agent_id),
            "receipt": signer.receipt("batch", result.agent_id, result.batch_seq, body, result.status)}))

    @app.post("/api/v1/blobs", responses=ERRORS, openapi_extra=BLOB_BODY)
    async def blobs(request: Request) -> JSONResponse:
        """A sealed, signed screenshot from an agent; stored sealed; the answer carries a signed receipt."""
        body = await read_body(request, limit)
        try:
            result = await run_in_threadpool(collector.screenshots.handle, body)
        except Rejected as exc:
            return refused(signer, "blob", body, exc)
        ids = wire.peek_ids(body, "blob_id")  # handle() parsed the same body, so this names the blob
        if ids is not None and result.get("status") in ("stored", "duplicate"):
            result = signer.with_key_set({**result, "receipt": signer.receipt(
                "blob", ids[0], ids[1], body, str(result.get("status")))})
        return JSONResponse(result)

    @app.post("/api/v1/signing-keys", response_model=SigningKeysAnswer, response_model_exclude_none=True,
              responses=ERRORS)
    async def signing_keys(request: Request) -> dict[str, Any]:
        """The collector's signing keys for an agent enrolled before signed answers (a sealed nonce in, a proof
        out: see agent.trust)."""
        body = await read_body(request, 4096)
        return await run_in_threadpool(signer.keys_for, body)
