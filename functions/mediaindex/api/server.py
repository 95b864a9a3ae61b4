"""The local server: uvicorn in front of the application (api/app.py), with this product's limits.

It listens on 127.0.0.1 by default. Requests must name this server in their Host header (127.0.0.1, localhost,
the bound address, or names given with `allowed_hosts`): a page on another site that re-points its own DNS name
at 127.0.0.1 (DNS rebinding) sends its own name and is refused (`HostGuard`).

Bad clients cannot take it down or hold it (`GuardedH11Protocol`, uvicorn's HTTP/1.1 protocol with three rules
added):
- a connection must deliver a whole request, headers and body, within `request_timeout` seconds of being opened
  or of its previous answer, however it trickles its bytes in (uvicorn's own keep-alive timer restarts with every
  byte); otherwise it is closed;
- at most `max_connections` are open at once: the next is answered a JSON 503 and closed at once;
- a request the HTTP parser refuses (a bad request line, Content-Length or header, a request line longer than
  MAX_REQUEST_LINE, headers beyond MAX_HEAD_BYTES) gets a JSON error, like every other error here.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import socket
import threading
from http import HTTPStatus
from typing import Any, Iterable

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from mediaindex.api.app import MediaApi, create_app
from mediaindex.api.guards import HostGuard, allowed_host_names

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 20.0  # a request (headers and body) must arrive within this, however slowly it trickles
KEEP_ALIVE_S = 5  # an idle connection between requests is closed after this
MAX_CONNECTIONS = 64  # open at once; more are answered 503 at once
MAX_HEAD_BYTES = 64 * 1024  # request line and headers
MAX_REQUEST_LINE = 16 * 1024  # a search of a few hundred words fits; nothing the page sends comes near
# what the parser's refusals mean, in words
_PARSER_MESSAGES = {"bad Content-Length": "Content-Length must be one whole number of bytes"}


def _json_error(status: int, message: str) -> bytes:
    body = json.dumps({"error": message, "status": status}).encode()
    reason = HTTPStatus(status).phrase
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode("latin-1") + body


class _Connection(h11.Connection):
    """h11's connection, telling its protocol what it parsed and keeping the reason it refused a request."""

    def __init__(self, protocol: "GuardedH11Protocol", max_head: int) -> None:
        super().__init__(h11.SERVER, max_head)
        self.protocol = protocol
        self.refusal: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:
        try:
            if self.their_state is h11.IDLE:  # a request line longer than any target we serve: refuse it now
                line = self.trailing_data[0].split(b"\r\n", 1)[0]
                if len(line) > MAX_REQUEST_LINE:
                    raise h11.RemoteProtocolError("the request's target is too long", error_status_hint=414)
            event = super().next_event()
        except h11.RemoteProtocolError as e:
            self.refusal = e
            raise
        if isinstance(event, h11.EndOfMessage):
            self.protocol.request_arrived()
        return event


class GuardedH11Protocol(H11Protocol):
    request_timeout = REQUEST_TIMEOUT_S
    max_connections = MAX_CONNECTIONS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn = _Connection(self, MAX_HEAD_BYTES)
        self._deadline: asyncio.TimerHandle | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:  # every slot taken: say so at once rather than pile up
            # answered and half-closed, the request itself left unread; closed when the client has read the answer
            # (or after the deadline): closing at once would reset the connection and lose the answer
            self._refused = True
            transport.write(_json_error(503, "the server is busy: try again in a moment"))
            if transport.can_write_eof():
                transport.write_eof()
        self._expect_request()

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def _expect_request(self) -> None:
        self._cancel_deadline()
        self._deadline = self.loop.call_later(self.request_timeout, self._too_slow)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def request_arrived(self) -> None:
        self._cancel_deadline()

    def _too_slow(self) -> None:
        # an idle or half-sent request: drop the connection (a request being answered is never cut: the deadline
        # ends when the request has arrived)
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._expect_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        refusal = self.conn.refusal if isinstance(self.conn, _Connection) else None
        text = str(refusal) if refusal is not None else msg
        status = refusal.error_status_hint if refusal is not None else 400
        if status == 431 or text == "Receive buffer too long":
            status, message = 431, "the request's headers are too large"
        else:
            message = _PARSER_MESSAGES.get(text, text if status != 400 else f"malformed HTTP request: {text}")
        if not self.transport.is_closing():
            self.transport.write(_json_error(status, message))
            self.transport.close()


class LocalServer:
    """`mediaindex serve`: the application on a socket bound here (port 0 picks a free one), served by uvicorn in
    the calling thread (`serve_forever`, Ctrl-C stops it) or in a thread of its own (`start`, for tests)."""

    def __init__(self, api: MediaApi, host: str = "127.0.0.1", port: int = 8765,
                 allowed_hosts: Iterable[str] = (), request_timeout: float = REQUEST_TIMEOUT_S,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        self.api = api
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP named: asyncio then sets TCP_NODELAY on each connection (with protocol 0 it does not, and every
        # answer after the first on a kept-alive connection waits ~40 ms for the client's delayed ACK)
        self.socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, port))
            self.socket.listen(MAX_CONNECTIONS)  # from now on connections wait in the backlog until served
        except OSError:
            self.socket.close()
            raise
        self.host, self.port = host, self.socket.getsockname()[1]
        app = HostGuard(create_app(api), allowed_host_names(host, self.port, allowed_hosts))
        protocol = type("Protocol", (GuardedH11Protocol,),
                        {"request_timeout": request_timeout, "max_connections": max_connections})
        config = uvicorn.Config(app, http=protocol, lifespan="off", proxy_headers=False, server_header=False,
                                timeout_keep_alive=max(1, int(min(KEEP_ALIVE_S, request_timeout))), timeout_graceful_shutdown=2,
                                access_log=False, log_config=None, backlog=MAX_CONNECTIONS)
        self.server = _Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        return f"http://[{shown}]:{self.port}/" if ":" in shown else f"http://{shown}:{self.port}/"

    def serve_forever(self) -> None:
        self.server.run(sockets=[self.socket])

    def start(self) -> "LocalServer":
        """Serve in a thread; returns once the server accepts connections."""
        self._thread = threading.Thread(target=self.serve_forever, name="mediaindex-serve", daemon=True)
        self._thread.start()
        self.server.ready.wait()
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join()
        self.socket.close()


class _Server(uvicorn.Server):
    """uvicorn's server, saying when it is ready (an event to wait on, not a flag to poll)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.ready.set()


def port_error(error: OSError, host: str, port: int) -> str | None:
    """What to do when the port cannot be bound, in words (None: not a problem of the address)."""
    if error.errno == errno.EADDRINUSE:
        return (f"port {port} on {host} is taken (another server, or another mediaindex serve): choose another "
                "with --port N, or --port 0 for a free one")
    if error.errno == errno.EACCES:
        return f"port {port} on {host} needs privileges: choose one above 1023 with --port N, or --port 0 for a free one"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"--host {host}: not an address of this machine (127.0.0.1: this machine only; 0.0.0.0: every interface)"
    return None
