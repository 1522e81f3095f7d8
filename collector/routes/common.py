"""What the route groups share: the caller (:func:`principal`), error shapes and body reading."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from collector.accounts import AccountService, Principal
from collector.errors import Rejected, Unauthorized
from contract.masking import mask_text


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorAnswer(BaseModel):
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorAnswer} for code in (400, 401, 403, 404, 409, 413, 503)
}


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one error shape: ``{"error": {"code", "message"}}``, the message masked."""
    return JSONResponse({"error": {"code": code, "message": mask_text(message)}}, status_code=status,
                        headers=headers)


def remote(request: Request) -> str | None:
    return request.client.host if request.client else None


async def read_body(request: Request, limit: int) -> bytes:
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


def principal(request: Request) -> Principal:
    """The authenticated caller: a bearer API token (scripts) or the web UI's session cookie.

    ``app.state.accounts`` is set by :func:`collector.api.create_app`; ``app.state.web_sessions`` only
    when the web UI is mounted (it checks CSRF on state-changing requests)."""
    accounts: AccountService = request.app.state.accounts
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return accounts.from_token(auth[7:].strip())
    sessions = getattr(request.app.state, "web_sessions", None)
    if sessions is not None:
        who: Principal = sessions.principal(request)
        return who
    raise Unauthorized("send Authorization: Bearer <token>")


Who = Annotated[Principal, Depends(principal)]
