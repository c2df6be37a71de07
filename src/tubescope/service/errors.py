"""The one table mapping tubescope errors to HTTP answers; nothing returns a stack trace."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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


def status_for(exc: errors.TubescopeError) -> int:
    return next(status for kind, status in STATUS_BY_ERROR if isinstance(exc, kind))


def _body(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "type": kind, "message": redact_text(message)}}, status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(errors.TubescopeError)
    async def _tubescope(_request: Request, exc: errors.TubescopeError) -> JSONResponse:
        return _body(status_for(exc), type(exc).__name__, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
            for err in exc.errors()
        ]
        return _body(422, "ValidationError", "; ".join(problems) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = _body(exc.status_code, "HTTPError", str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        return _body(500, "InternalError", f"internal error ({type(exc).__name__}); see the server log")
