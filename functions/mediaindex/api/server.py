"""The local server: the standard library's threading HTTP server in front of the shared router.

It listens on 127.0.0.1 by default. Requests must name this server in their Host header (127.0.0.1, localhost,
the bound address, or names given with `allowed_hosts`): a page on another site that re-points its own DNS name
at 127.0.0.1 (DNS rebinding) sends its own name and is refused.
"""

from __future__ import annotations

import logging
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterable

from mediaindex.api.app import MediaApi
from mediaindex.api.http import FilePart, Request, Response

log = logging.getLogger(__name__)

MAX_REQUEST_BODY = 64 * 1024


def allowed_host_names(host: str, port: int, extra: Iterable[str] = ()) -> set[str]:
    names = {"127.0.0.1", "localhost", "[::1]", *extra}
    if host not in ("0.0.0.0", "::", ""):
        names.add(f"[{host}]" if ":" in host else host)
    return {f"{n}:{port}".lower() for n in names} | ({n.lower() for n in names} if port == 80 else set())


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api: MediaApi, host: str = "127.0.0.1", port: int = 8765,
                 allowed_hosts: Iterable[str] = ()) -> None:
        self.api = api
        self.extra_hosts = list(allowed_hosts)
        if ":" in host:  # an IPv6 address such as ::1
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)
        self.allowed = allowed_host_names(host, self.server_address[1], self.extra_hosts)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


class _Handler(BaseHTTPRequestHandler):
    server: ApiServer
    protocol_version = "HTTP/1.1"
    server_version = "mediaindex"
    sys_version = ""

    def _run(self) -> None:
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.server.allowed:
            self._send(Response.error(421, f"this server does not answer for host {host!r} (DNS rebinding guard); "
                                           "use http://127.0.0.1 or start it with --allowed-host NAME"), b"")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BODY:
            self._send(Response.error(413, "the body is too large"), b"")
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        request = Request.build(self.command, self.path, {k: v for k, v in self.headers.items()}, body)
        self._send(self.server.api.handle(request), body)

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
