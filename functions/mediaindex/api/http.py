"""A small HTTP core shared by the local server and the Lambda adapter: a request, a response, a router.

Nothing here touches sockets or events: `server.py` turns an http.server request into a `Request`, `aws_api.py`
turns an API Gateway HTTP API (payload 2.0) event into one; both hand the `Response` back the way they need.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs

# No inline script or style anywhere: the page's JS and CSS are files served from here. `{media}` is widened on
# AWS by the S3 origin that presigned media redirects go to.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:{media}; media-src 'self'{media}; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def security_headers(media_origin: str = "") -> dict[str, str]:
    return {
        "Content-Security-Policy": CSP.format(media=f" {media_origin}" if media_origin else ""),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }


class HttpError(Exception):
    """An answer other than success, with a message for people: turned into a JSON error body."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


@dataclass
class Request:
    method: str
    path: str  # as received, still percent-encoded
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)  # filled by the router from the path pattern

    @classmethod
    def build(cls, method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b"") -> "Request":
        path, _, query = target.partition("?")
        return cls(method.upper(), path, parse_qs(query, keep_blank_values=True),
                   {k.lower(): v for k, v in (headers or {}).items()}, body)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        return [v for v in self.query.get(name, []) if v.strip()]

    def int_arg(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.arg(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise HttpError(400, f"{name} must be a whole number, not {raw!r}") from None
        if not low <= value <= high:
            raise HttpError(400, f"{name} must be between {low} and {high}, not {value}")
        return value

    def json(self) -> dict[str, Any]:
        # the media type exactly, parameters aside: "text/plain; application/json" is text/plain (and a browser
        # sends that cross-site without a preflight)
        media_type = self.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            raise HttpError(415, "send a JSON body with Content-Type: application/json")
        try:
            value = json.loads(self.body or b"{}")
        except RecursionError:
            raise HttpError(400, "the body is not valid JSON: nested too deep") from None
        except ValueError as e:
            raise HttpError(400, f"the body is not valid JSON: {e}") from None
        if not isinstance(value, dict):
            raise HttpError(400, "the body must be a JSON object")
        return value


@dataclass
class FilePart:
    """Bytes of a file on disk, streamed by the local server instead of being read into memory."""

    path: Path
    start: int
    length: int

    def chunks(self, size: int = 256 * 1024) -> Iterator[bytes]:
        with self.path.open("rb") as f:
            f.seek(self.start)
            left = self.length
            while left > 0:
                data = f.read(min(size, left))
                if not data:
                    return
                left -= len(data)
                yield data

    def read(self) -> bytes:
        return b"".join(self.chunks())


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | FilePart = b""

    @classmethod
    def json(cls, value: Any, status: int = 200) -> "Response":
        return cls(status, {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"},
                   json.dumps(value, ensure_ascii=False, default=str).encode())

    @classmethod
    def error(cls, status: int, message: str, **extra: Any) -> "Response":
        return cls.json({"error": message, "status": status, **extra}, status)

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> "Response":
        return cls(status, {"Location": location, "Cache-Control": "no-store"})

    @property
    def length(self) -> int:
        return self.body.length if isinstance(self.body, FilePart) else len(self.body)

    def body_bytes(self) -> bytes:
        return self.body.read() if isinstance(self.body, FilePart) else self.body


Handler = Callable[[Request], Response]


@dataclass
class Route:
    method: str
    template: str  # OpenAPI style: /api/documents/{id}
    pattern: re.Pattern[str]
    handler: Handler
    write: bool = False


# What a path parameter may be: ids are hex, names and cluster ids are limited to printable text without slashes.
PARAM_PATTERNS = {"id": r"[0-9a-f]{40}", "name": r"[A-Za-z0-9._-]{1,64}", "cluster": r"[A-Za-z0-9_-]{1,64}",
                  "face": r"[0-9]{1,4}"}


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler, write: bool = False) -> None:
        regex = re.sub(r"\{(\w+)\}", lambda m: f"(?P<{m.group(1)}>{PARAM_PATTERNS[m.group(1)]})", template)
        self.routes.append(Route(method, template, re.compile(f"^{regex}$"), handler, write))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        # The raw path is matched without decoding: %2e%2e, %2f and %00 simply match no route.
        allowed = []
        for route in self.routes:
            m = route.pattern.match(path)
            if m:
                if route.method == method or (method == "HEAD" and route.method == "GET"):
                    return route, m.groupdict()
                allowed.append(route.method)
        if allowed:
            raise HttpError(405, f"{method} is not allowed here; use {', '.join(sorted(set(allowed)))}",
                            allow=sorted(set(allowed)))
        raise HttpError(404, "no such page or API route")


# A declared handler: the server's context (the MediaApi), then the request.
ContextHandler = Callable[[Any, Request], Response]


class Routes:
    """A table of handlers declared once, beside their code: `@routes.get("/api/search")` over
    `def search(api, request) -> Response`. `bind` adds them, in the order declared, to one server's Router with
    that server's context as the handlers' first argument."""

    def __init__(self) -> None:
        self.declared: list[tuple[str, str, ContextHandler, bool]] = []

    def get(self, template: str) -> Callable[[ContextHandler], ContextHandler]:
        return self._declare("GET", template, write=False)

    def post(self, template: str, write: bool = False) -> Callable[[ContextHandler], ContextHandler]:
        return self._declare("POST", template, write)

    def _declare(self, method: str, template: str, write: bool) -> Callable[[ContextHandler], ContextHandler]:
        def declare(handler: ContextHandler) -> ContextHandler:
            self.declared.append((method, template, handler, write))
            return handler
        return declare

    def bind(self, context: Any, router: Router) -> Router:
        for method, template, handler, write in self.declared:
            router.add(method, template, functools.partial(handler, context), write=write)
        return router
