"""The web layer's security policies, as ASGI middleware and one route class, so each holds for every route:

- `SecurityHeaders`: a Content-Security-Policy without inline script or style, nosniff, no framing, no referrer,
  on every answer (errors too); HEAD answered as GET without the body.
- `RequestShape`: bodies come with a Content-Length (no chunked uploads) and are small; the query string is UTF-8.
- `HostGuard` (the local server only): the Host header must name this server, so a page on another site that
  re-points its own DNS name at 127.0.0.1 (DNS rebinding) is refused.
- `WriteRoute`: a route that changes something is refused unless writes are on, unless the request comes from
  this server's own page (Origin), and unless its body, if it takes one, is exactly JSON. Checked after routing (an unknown path is
  still 404) and before the body is read.
"""

from __future__ import annotations

from typing import Any, Callable, Coroutine, Iterable
from urllib.parse import unquote_to_bytes, urlsplit

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mediaindex.api.errors import ApiError, error_response

MAX_BODY = 64 * 1024
HEAD_ONLY = "mediaindex.head_only"  # in the scope of a HEAD request, answered by the GET route
READ_ONLY = ("this server is read-only: naming, enrolling and forgetting people are switched off. Start it with "
             "`mediaindex serve --allow-writes` (on AWS: set MEDIAINDEX_API_WRITES=1) to allow them")

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


class SecurityHeaders:
    def __init__(self, app: ASGIApp, media_origin: str = "") -> None:
        self.app = app
        self.headers = security_headers(media_origin)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        if head:  # every GET route answers HEAD: the same headers, no body (HEAD_ONLY lets a file skip reading)
            scope = {**scope, "method": "GET", HEAD_ONLY: True}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                headers.setdefault("Cache-Control", "no-store")  # answers that say nothing else are not kept
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, sending)


class RequestShape:
    """What any request's body must look like before a route sees it."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            refused = None
            if "transfer-encoding" in headers:
                refused = error_response(411, "send the body with a Content-Length (chunked bodies are not accepted)",
                                         headers={"Connection": "close"})
            else:
                lengths = headers.getlist("content-length")
                raw = lengths[0].strip() if lengths else "0"
                if len(set(lengths)) > 1 or not raw.isascii() or not raw.isdigit():
                    refused = error_response(400, "Content-Length must be one whole number of bytes",
                                             headers={"Connection": "close"})
                elif int(raw) > self.max_body:
                    refused = error_response(413, "the body is too large", headers={"Connection": "close"})
            if refused is None and not _utf8_query(scope.get("query_string", b"")):
                refused = error_response(400, "the query string is not valid UTF-8 (percent-encode text as UTF-8)")
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _utf8_query(raw: bytes) -> bool:
    """Does the query string decode, percent-escapes included, as UTF-8? (The framework would put U+FFFD in place
    of a bad byte and search for that.)"""
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def allowed_host_names(host: str, port: int, extra: Iterable[str] = ()) -> set[str]:
    names = {"127.0.0.1", "localhost", "[::1]", *extra}
    if host not in ("0.0.0.0", "::", ""):
        names.add(f"[{host}]" if ":" in host else host)
    return {f"{n}:{port}".lower() for n in names} | ({n.lower() for n in names} if port == 80 else set())


class HostGuard:
    def __init__(self, app: ASGIApp, allowed: set[str]) -> None:
        self.app, self.allowed = app, allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = (Headers(scope=scope).get("host") or "").strip().lower()
            if host not in self.allowed:
                refused = error_response(421, f"this server does not answer for host {host!r} (DNS rebinding guard); "
                                              "use http://127.0.0.1 or start it with --allowed-host NAME")
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


def same_origin(origin: str, host: str, forwarded_proto: str | None = None) -> bool:
    """Is `origin` (the browser's Origin header) this server, named by its Host header? Scheme, host (case-
    insensitively) and port must all match; "null" and anything unparsable do not. The server speaks http unless
    a proxy in front says https (X-Forwarded-Proto, which a cross-site page cannot set without a preflight)."""
    scheme = (forwarded_proto or "http").split(",")[0].strip().lower()
    default = {"http": 80, "https": 443}.get(scheme)
    try:
        o = urlsplit(origin.strip())
        h = urlsplit(f"{scheme}://{host.strip()}")
        if o.scheme.lower() != scheme or not o.hostname or not h.hostname or o.path or o.query or o.username:
            return False
        return o.hostname.lower() == h.hostname.lower() and (o.port or default) == (h.port or default)
    except ValueError:  # a port that is not a number, brackets that do not close
        return False


def check_write(request: Request, takes_body: bool = True) -> None:
    if not request.app.state.api.writes:
        raise ApiError(403, READ_ONLY)
    # Another site's page cannot post here: a JSON body needs a CORS preflight we never grant, and a browser
    # always names the page's origin, which must be this server.
    origin, host = request.headers.get("origin"), request.headers.get("host")
    proto = request.headers.get("x-forwarded-proto") or request.scope.get("scheme")
    if origin is not None and host and not same_origin(origin, host, proto):
        raise ApiError(403, f"cross-site request refused (Origin {origin[:100]} is not this server)")
    # the media type exactly, parameters aside: "text/plain; application/json" is text/plain (and a browser sends
    # that cross-site without a preflight)
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if takes_body and media_type != "application/json":
        raise ApiError(415, "send a JSON body with Content-Type: application/json")


class WriteRoute(APIRoute):
    """A route that changes something: `check_write` runs before the body is read or validated."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                check_write(request, takes_body=self.body_field is not None)
            except ApiError as e:
                return error_response(e.status, e.message, **e.extra)
            return await handle(request)

        return guarded
