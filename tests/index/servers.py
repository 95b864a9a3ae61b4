"""Tiny local HTTP servers for the OpenSearch adapter's transport tests: one that records requests (SigV4), one
that answers with errors a given number of times and then forwards to osmem-server (backoff)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import requests


class _Handler(BaseHTTPRequestHandler):
    server: "LocalServer"

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
        status, headers, payload = self.server.respond(self.command, self.path, dict(self.headers), body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    def log_message(self, *args: Any) -> None:
        pass


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, respond: Callable[[str, str, dict, bytes], tuple[int, dict, bytes]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.respond = respond
        self.requests: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


def empty_cluster(method: str, path: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
    """Just enough of OpenSearch for a client to be content: documents are not found, searches find nothing."""
    if "/_doc/" in path:
        return 404, {"Content-Type": "application/json"}, json.dumps({"found": False}).encode()
    answer = {"count": 0, "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}}
    return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()


class FlakyProxy:
    """Answers `status` to the first `failures` requests, then forwards everything to `upstream`."""

    def __init__(self, upstream: str, failures: int, status: int = 429) -> None:
        self.upstream, self.failures, self.status = upstream, failures, status
        self.failed = 0
        self.lock = threading.Lock()
        self.server = LocalServer(self.respond)

    def respond(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
        with self.lock:
            fail = self.failed < self.failures
            if fail:
                self.failed += 1
        if fail:
            error = {"error": {"type": "too_many_requests" if self.status == 429 else "unavailable", "reason": "busy"},
                     "status": self.status}
            return self.status, {"Content-Type": "application/json"}, json.dumps(error).encode()
        forwarded = {k: v for k, v in headers.items() if k.lower() in ("content-type", "accept")}
        r = requests.request(method, self.upstream + path, data=body or None, headers=forwarded, timeout=30)
        return r.status_code, {"Content-Type": r.headers.get("Content-Type", "application/json")}, r.content

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        self.server.close()
