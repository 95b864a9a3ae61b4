"""The local server: the standard library's threading HTTP server in front of the shared router.

It listens on 127.0.0.1 by default. Requests must name this server in their Host header (127.0.0.1, localhost,
the bound address, or names given with `allowed_hosts`): a page on another site that re-points its own DNS name
at 127.0.0.1 (DNS rebinding) sends its own name and is refused.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable

from mediaindex.api.app import MediaApi
from mediaindex.api.http import FilePart, Request, Response

log = logging.getLogger(__name__)

MAX_REQUEST_BODY = 64 * 1024
REQUEST_TIMEOUT_S = 20.0  # an idle or half-sent request holds its connection no longer than this
MAX_CONNECTIONS = 64  # served at once; more are answered 503 at once
ALLOWED_METHODS = "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS"


def allowed_host_names(host: str, port: int, extra: Iterable[str] = ()) -> set[str]:
    names = {"127.0.0.1", "localhost", "[::1]", *extra}
    if host not in ("0.0.0.0", "::", ""):
        names.add(f"[{host}]" if ":" in host else host)
    return {f"{n}:{port}".lower() for n in names} | ({n.lower() for n in names} if port == 80 else set())


class ApiServer(ThreadingHTTPServer):
    """Bad clients cannot take it down or hold it: each connection has a socket timeout (an idle or half-sent
    request is dropped after `timeout` seconds), at most `max_connections` are served at once (the next get a
    JSON 503 and are closed), and every malformed request gets a JSON error, never a traceback or an HTML page."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, api: MediaApi, host: str = "127.0.0.1", port: int = 8765,
                 allowed_hosts: Iterable[str] = (), timeout: float = REQUEST_TIMEOUT_S,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        self.api = api
        self.extra_hosts = list(allowed_hosts)
        self.request_timeout = timeout
        self._slots = threading.BoundedSemaphore(max_connections)
        if ":" in host:  # an IPv6 address such as ::1
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)
        self.allowed = allowed_host_names(host, self.server_address[1], self.extra_hosts)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):  # every thread busy: say so at once rather than pile up
            try:
                request.settimeout(2)
                request.sendall(_raw_response(503, "the server is busy: try again in a moment"))
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # one line in the log, not a traceback on the terminal: a client that misbehaves is not our error
        log.warning("request from %s failed: %s", client_address[0] if client_address else "?", sys.exc_info()[1])


def _raw_response(status: int, message: str, extra_headers: str = "") -> bytes:
    body = json.dumps({"error": message, "status": status}).encode()
    reason = HTTPStatus(status).phrase
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"{extra_headers}Connection: close\r\n\r\n").encode("latin-1") + body


class _Handler(BaseHTTPRequestHandler):
    server: ApiServer
    protocol_version = "HTTP/1.1"
    server_version = "mediaindex"
    sys_version = ""

    def setup(self) -> None:
        self.timeout = self.server.request_timeout  # StreamRequestHandler sets it on the socket
        super().setup()

    def _run(self) -> None:
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.server.allowed:
            self._send(Response.error(421, f"this server does not answer for host {host!r} (DNS rebinding guard); "
                                           "use http://127.0.0.1 or start it with --allowed-host NAME"), b"")
            return
        if self.headers.get("Transfer-Encoding"):
            self._refuse(411, "send the body with a Content-Length (chunked bodies are not accepted)")
            return
        lengths = self.headers.get_all("Content-Length") or []
        raw = lengths[0].strip() if lengths else "0"
        if len(set(lengths)) > 1 or not raw.isascii() or not raw.isdigit():
            self._refuse(400, "Content-Length must be one whole number of bytes")
            return
        length = int(raw)
        if length > MAX_REQUEST_BODY:
            self._refuse(413, "the body is too large")
            return
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client went away (or timed out) half way through its body
            self.close_connection = True
            return
        request = Request.build(self.command, self.path, {k: v for k, v in self.headers.items()}, body)
        self._send(self.server.api.handle(request), body)

    def _refuse(self, status: int, message: str) -> None:
        self.close_connection = True  # what follows on the connection cannot be trusted to be a new request
        response = Response.error(status, message)
        response.headers["Connection"] = "close"
        self._send(response, b"")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's errors (bad request line, header too long, unknown method), in JSON."""
        self.close_connection = True
        if code == HTTPStatus.NOT_IMPLEMENTED:  # a method nobody handles
            code, message = 405, f"method {self.command!r} is not allowed"
        try:
            self.wfile.write(_raw_response(code, message or HTTPStatus(code).phrase,
                                           f"Allow: {ALLOWED_METHODS}\r\n" if code == 405 else ""))
        except OSError:
            pass

    def _send(self, response: Response, _: bytes) -> None:
        self.send_response(response.status)
        headers = dict(response.headers)
        if self.command != "HEAD" or "Content-Length" not in headers:
            headers["Content-Length"] = str(response.length)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        try:
            if isinstance(response.body, FilePart):
                for chunk in response.body.chunks():
                    self.wfile.write(chunk)
            else:
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):  # the browser stopped reading (a video seek): normal
            self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _run

    def log_message(self, format: str, *args: object) -> None:
        log.info("%s %s", self.address_string(), format % args)
