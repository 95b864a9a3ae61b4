"""Every error the API answers, mapped to a status in one place, as a JSON body: `{"error": a message for people,
"status": the code, ...}`. Use cases raise the package's own errors; handlers raise ApiError for what only the web
knows (a page out of range, a face that is not there)."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mediaindex.domain.errors import (
    AccessRefused, BadMedia, ConfigurationError, MediaIndexError, ObjectNotFound, TransientError, UnsupportedMedia,
)
from mediaindex.domain.query_syntax import ParseError
from mediaindex.services.look_alikes import NotFound as NoLookAlike
from mediaindex.services.trash import TrashRefused

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An answer other than success that only the web layer decides."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, "status": status, **extra}, status, headers={"Cache-Control": "no-store",
                                                                                       **(headers or {})})


# The package's errors, most specific first: what status each one is.
STATUS_OF: tuple[tuple[type[Exception], int], ...] = (
    (ObjectNotFound, 404),
    (NoLookAlike, 404),
    (TrashRefused, 409),
    (AccessRefused, 403),
    (UnsupportedMedia, 415),
    (BadMedia, 422),
    (ConfigurationError, 400),
    (ValueError, 400),
    (TransientError, 503),
)


def _package_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.message, **exc.extra)
    if isinstance(exc, ParseError):
        return error_response(400, exc.message, position=exc.position, query=exc.text)
    for kind, status in STATUS_OF:
        if isinstance(exc, kind):
            message = f"a service is busy or down, try again: {exc}" if status == 503 else str(exc)
            return error_response(status, message)
    raise exc  # not one of ours: CatchAll answers it


def _http_error(request: Request, exc: HTTPException) -> Response:
    """The router's own answers: no such route (404), a method the route does not take (405)."""
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return error_response(405, f"{request.method} is not allowed here; use {allowed}", headers=exc.headers,
                              allow=[m.strip() for m in allowed.split(",") if m.strip()])
    if exc.status_code == 404:
        return error_response(404, "no such page or API route")
    if exc.status_code == 400:  # the framework could not read the body (JSON nested too deep for the parser)
        return error_response(400, "the body is not valid JSON: nested too deep or unreadable")
    return error_response(exc.status_code, str(exc.detail), headers=exc.headers)


def _bounds(request: Request, name: str) -> tuple[Any, Any]:
    """The ge/le declared on the route's query parameter `name`, for a message that names both."""
    route = request.scope.get("route")
    for param in getattr(getattr(route, "dependant", None), "query_params", ()):
        if param.alias == name:
            low = next((m.ge for m in param.field_info.metadata if hasattr(m, "ge")), None)
            high = next((m.le for m in param.field_info.metadata if hasattr(m, "le")), None)
            return low, high
    return None, None


def _invalid(request: Request, exc: RequestValidationError) -> Response:
    """What a request got wrong, in words: a path that names nothing is 404, like any unknown path; a bad query
    parameter or body is 400 and says which and why."""
    errors = exc.errors()
    first = errors[0] if errors else {}
    where, *rest = first.get("loc", ("body",))
    if where == "path":
        return error_response(404, "no such page or API route")
    name = ".".join(str(part) for part in rest) or where
    kind, value = first.get("type", ""), first.get("input")
    if where == "query" and kind in ("int_parsing", "greater_than_equal", "less_than_equal"):
        if kind == "int_parsing":
            return error_response(400, f"{name} must be a whole number, not {value!r}")
        low, high = _bounds(request, name)
        return error_response(400, f"{name} must be between {low} and {high}, not {value}")
    if where == "body" and kind in ("json_invalid", "model_attributes_type", "dict_type") or name == "body":
        detail = (first.get("ctx") or {}).get("error", "")
        if "recursion" in str(detail).lower():
            return error_response(400, "the body is not valid JSON: nested too deep")
        if kind == "json_invalid":
            return error_response(400, f"the body is not valid JSON: {detail}")
        return error_response(400, "the body must be a JSON object")
    return error_response(400, f"{name}: {first.get('msg', 'invalid')}")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    for kind in (ApiError, MediaIndexError, ValueError):
        app.add_exception_handler(kind, _package_error)
    app.add_middleware(CatchAll)


class CatchAll:
    """Anything else is a bug: logged with its traceback, answered as a JSON 500 (never a traceback or an HTML
    page), and not raised on (Starlette's own last handler would raise it again, failing a Lambda invocation)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            log.exception("request failed", extra={"method": scope.get("method"), "path": scope.get("path")})
            if scope["type"] != "http" or started:
                raise
            await error_response(500, "internal error: see the server log")(scope, receive, send)
