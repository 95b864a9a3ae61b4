"""An HTTP proxy on 127.0.0.1 that forwards to a real server (osmem-server) and injects faults on command:
429 Too Many Requests, 503 Service Unavailable, or a full outage (connections dropped), for a count of requests or
at random with a seeded rate. Bounded: it serves only loopback and stops with the test."""

from __future__ import annotations

import http.client
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class FaultProxy:
    def __init__(self, upstream: str, seed: int = 1) -> None:
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname, parts.port
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.queue: list[int] = []  # statuses to answer next, in order (0 = drop the connection)
        self.rates: dict[int, float] = {}  # status -> probability per request
        self.outage = False
        self.requests = 0
        self.injected: dict[int, int] = {}
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                fault = proxy._next_fault()
                if fault == 0:
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault:
                    payload = b'{"error":{"type":"injected","reason":"fault injected by test proxy"},"status":%d}' % fault
                    self.send_response(fault)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                self.send_response(response.status)
                for k, v in response.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _next_fault(self) -> int | None:
        with self.lock:
            self.requests += 1
            fault: int | None = None
            if self.outage:
                fault = 0
            elif self.queue:
                fault = self.queue.pop(0)
            else:
                for status, rate in self.rates.items():
                    if self.rng.random() < rate:
                        fault = status
                        break
            if fault is not None:
                self.injected[fault] = self.injected.get(fault, 0) + 1
            return fault

    def fail_next(self, *statuses: int) -> None:
        with self.lock:
            self.queue.extend(statuses)

    def __enter__(self) -> "FaultProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
