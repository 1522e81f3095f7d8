"""HTTP layer (FastAPI): thin routes over :class:`collector.service.Collector`."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from collector.accounts import Principal
from collector.errors import CollectorError, RateLimited, Rejected, Unauthorized
from collector.ratelimit import retry_after
from collector.service import Collector
from contract import wire
from contract.masking import mask_text

log = logging.getLogger(__name__)


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


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorAnswer(BaseModel):
    error: ErrorBody


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorAnswer} for code in (400, 401, 403, 404, 409, 413, 503)
}
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


_BATCH_BODY = _sealed_body("batch_seq", {"type": "integer", "minimum": 1}, "a compressed batch")
_BLOB_BODY = _sealed_body("blob_id", {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}, "a PNG")


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": mask_text(message)}}, status_code=status,
                        headers=headers)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Rejected("too_large", f"body of {declared} bytes exceeds {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Rejected("too_large", f"body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _refused(collector: Collector, kind: str, body: bytes, exc: Rejected) -> JSONResponse:
    """A refusal of a batch or blob: the one error shape, its ``error`` carrying the signed receipt that lets the
    agent park the envelope."""
    error: dict[str, Any] = {"code": exc.code, "message": mask_text(exc.message)}
    receipt = collector.signer.refusal(kind, body, exc.code)
    if receipt is not None:
        error["receipt"] = receipt
    return JSONResponse({"error": error}, status_code=exc.status)


def principal(request: Request) -> Principal:
    """The authenticated caller: a bearer API token (scripts) or the web UI's session cookie."""
    collector: Collector = request.app.state.collector
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return collector.accounts.from_token(auth[7:].strip())
    sessions = getattr(request.app.state, "web_sessions", None)
    if sessions is not None:  # set by collector.web.mount_web; checks CSRF on state-changing requests
        return sessions.principal(request)
    raise Unauthorized("send Authorization: Bearer <token>")


Who = Annotated[Principal, Depends(principal)]


def create_app(collector: Collector) -> FastAPI:
    # FastAPI's Swagger UI and ReDoc pages load their scripts from a CDN: off (collector.web.api_docs)
    app = FastAPI(title="SeatGuard collector", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json")
    app.state.collector = collector

    @app.exception_handler(CollectorError)
    async def _collector_error(request: Request, exc: CollectorError) -> JSONResponse:
        if isinstance(exc, Rejected) and exc.code == "too_large":
            collector.ingest.reject("too_large", exc.message)
        headers = retry_after(exc) if isinstance(exc, RateLimited) else None
        return _error(exc.status, exc.code, exc.message, headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        return _error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(400, "malformed", f"{where}: {first.get('msg', 'invalid request')}")

    @app.post("/api/v1/enroll", response_model=EnrollAnswer, response_model_exclude_none=True,
              responses={**_ERRORS, 429: {"model": ErrorAnswer}})
    def enroll(body: EnrollRequest, request: Request) -> dict[str, Any]:
        """Per client address, failed attempts are limited (429 rate_limited with Retry-After)."""
        client = request.client.host if request.client else None
        collector.enroll_limit.take(client)
        answer = collector.enrollment.enroll(body.model_dump())
        collector.enroll_limit.give_back(client)
        return answer

    @app.post("/api/v1/batches", response_model=BatchAnswer, responses=_ERRORS, openapi_extra=_BATCH_BODY)
    async def batches(request: Request) -> JSONResponse:
        """A sealed, signed batch; every answer that names the batch carries a signed receipt."""
        body = await _read_body(request, collector.settings.max_body_bytes)
        from starlette.concurrency import run_in_threadpool

        try:
            result = await run_in_threadpool(collector.ingest.handle, body)
        except Rejected as exc:
            return _refused(collector, "batch", body, exc)
        signer = collector.signer
        return JSONResponse(signer.with_key_set({
            **result.as_dict(), "policy": collector.policy.current(),
            "signed_policy": signer.policy_for(result.agent_id),
            "receipt": signer.receipt("batch", result.agent_id, result.batch_seq, body, result.status)}))

    @app.post("/api/v1/blobs", responses=_ERRORS, openapi_extra=_BLOB_BODY)
    async def blobs(request: Request) -> JSONResponse:
        """A sealed, signed screenshot from an agent; stored sealed; the answer carries a signed receipt."""
        body = await _read_body(request, collector.settings.max_body_bytes)
        from starlette.concurrency import run_in_threadpool

        try:
            result = await run_in_threadpool(collector.screenshots.handle, body)
        except Rejected as exc:
            return _refused(collector, "blob", body, exc)
        ids = wire.peek_ids(body, "blob_id")  # handle() parsed the same body, so this names the blob
        if ids is not None and result.get("status") in ("stored", "duplicate"):
            result = collector.signer.with_key_set({**result, "receipt": collector.signer.receipt(
                "blob", ids[0], ids[1], body, str(result.get("status")))})
        return JSONResponse(result)

    @app.post("/api/v1/signing-keys", response_model=SigningKeysAnswer, response_model_exclude_none=True,
              responses=_ERRORS)
    async def signing_keys(request: Request) -> dict[str, Any]:
        """The collector's signing keys for an agent enrolled before signed answers (a sealed nonce in, a proof
        out: see agent.trust)."""
        body = await _read_body(request, 4096)
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(collector.signer.keys_for, body)

    @app.get("/api/v1/agents/{agent_id}/screenshots/{blob_id}", responses=_ERRORS,
             response_class=Response)
    def screenshot(agent_id: str, blob_id: str, who: Who, request: Request) -> Response:
        """One screenshot as PNG (admin and security only; audited)."""
        remote = request.client.host if request.client else None
        png = collector.screenshots.image_for(who, agent_id, blob_id, remote)
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.get("/api/v1/agents", responses=_ERRORS)
    def agents(who: Who, request: Request) -> dict[str, Any]:
        """The agents in the caller's scope (audited once per agent listed)."""
        return {"agents": collector.agents_for(who, request.client.host if request.client else None)}

    @app.get("/api/v1/agents/{agent_id}/timeline", responses=_ERRORS)
    def timeline(agent_id: str, date: str, who: Who, request: Request) -> dict[str, Any]:
        remote = request.client.host if request.client else None
        return collector.timeline_for(who, agent_id, date, remote)

    @app.get("/api/v1/reports/{day}", responses=_ERRORS)
    def report(day: str, who: Who, request: Request) -> dict[str, Any]:
        remote = request.client.host if request.client else None
        return collector.report_for(who, day, remote)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        collector.store.get_kv("schema_version")
        return {"status": "ok"}

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> Response:
        return Response(collector.metrics.render(), media_type="text/plain; version=0.0.4")

    from collector.alerts.routes import register as register_alert_routes

    register_alert_routes(app, collector)
    from collector.shift_routes import register as register_shift_routes

    register_shift_routes(app, collector)
    _mount_web(app, collector)
    return app


def _mount_web(app: FastAPI, collector: Collector) -> None:
    try:
        from collector.web import mount_web
    except ImportError:
        log.warning("web UI not available in this build")
        return
    mount_web(app, collector)
