"""The one table mapping tubescope errors to HTTP answers; nothing returns a stack trace."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from tubescope import errors
from tubescope.logging import redact_text

STATUS_BY_ERROR: tuple[tuple[type[errors.TubescopeError], int], ...] = (
    (errors.InvalidChannelRef, 422),
    (errors.InvalidQuery, 422),
    (errors.ConfigError, 422),
    (errors.NotFoundError, 404),
    (errors.QuotaExhausted, 503),
    (errors.BudgetExceeded, 409),
    (errors.ApiKeyInvalid, 502),
    (errors.ApiError, 502),
    (errors.SchemaVersionError, 503),
    (errors.StorageError, 503),
    (errors.ModelError, 409),
    (errors.DataQualityError, 422),
    (errors.TubescopeError, 400),
)


class ErrorDetail(BaseModel):
    """The body of every error response."""

    status: int
    type: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer: ``{"error": {"status", "type", "message"}}``, never a stack trace."""

    error: ErrorDetail


_DESCRIPTIONS = {
    400: "An anticipated failure without a more specific status",
    401: "No token, or an unknown or revoked one",
    403: "The token's scope does not allow this",
    404: "No such channel, video, job or model",
    405: "Method not allowed (the Allow header lists the methods)",
    409: "Conflicts with the current state (e.g. no trained model, budget spent)",
    422: "Invalid parameters, channel reference or filter",
    429: "Rate limited (per token, or failed authentication per address); see Retry-After",
    502: "The YouTube Data API refused or failed",
    503: "The warehouse or the API quota is unavailable",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` declaring ``statuses`` with the error body."""
    # "content" names JSON explicitly: a route answering HTML (the report) still answers errors in JSON.
    json_body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    return {
        code: {"model": ErrorBody, "description": _DESCRIPTIONS[code], "content": json_body}
        for code in statuses
    }


API_ERROR_RESPONSES = error_responses(400, 401, 403, 404, 405, 409, 422, 429, 502, 503)
"""What a ``/v1`` route may answer besides its success, declared on every one of them."""


def status_for(exc: errors.TubescopeError) -> int:
    """The HTTP status of a tubescope error."""
    return next(status for kind, status in STATUS_BY_ERROR if isinstance(exc, kind))


def _body(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "type": kind, "message": redact_text(message)}}, status)


def wants_html(request: Request) -> bool:
    """A person's browser asking for a page (not the API, its docs or a script): answer in HTML."""
    path = request.url.path
    if path.startswith(("/v1", "/docs", "/redoc", "/openapi", "/health", "/ready", "/metrics")):
        return False
    return "text/html" in request.headers.get("accept", "")


def _html(status: int, message: str) -> Response:
    from tubescope.service.routers.dashboard import error_page  # the page templates live there

    return error_page(status, redact_text(message))


def install_error_handlers(app: FastAPI) -> None:
    """Answer tubescope errors, validation errors and HTTP errors with the same JSON shape."""

    @app.exception_handler(errors.TubescopeError)
    async def _tubescope(request: Request, exc: errors.TubescopeError) -> Response:
        if wants_html(request):
            return _html(status_for(exc), str(exc))
        return _body(status_for(exc), type(exc).__name__, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
            for err in exc.errors()
        ]
        if wants_html(request):
            return _html(422, "; ".join(problems) or "invalid request")
        return _body(422, "ValidationError", "; ".join(problems) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_html(request):
            message = "There is no page here." if exc.status_code == 404 else str(exc.detail)
            response = _html(exc.status_code, message)
        else:
            response = _body(exc.status_code, "HTTPError", str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        message = f"internal error ({type(exc).__name__}); see the server log"
        return _html(500, message) if wants_html(request) else _body(500, "InternalError", message)
