"""Test servers on free ports, and raw HTTP against them: http.client sends the path exactly as written (no
normalising of ../ or %2e)."""

from __future__ import annotations

import http.client
import io
import json
from dataclasses import dataclass
from typing import Any

from PIL import Image

from mediaindex.api.server import LocalServer


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def image(self) -> Image.Image:
        im = Image.open(io.BytesIO(self.body))
        im.load()
        return im


def call(server: Any, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None,
         host: str | None = None) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host if host is not None else f"127.0.0.1:{server.port}")
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


def get(server: Any, path: str, **headers: str) -> Reply:
    return call(server, "GET", path, {k.replace("_", "-"): v for k, v in headers.items()})


def post_json(server: Any, path: str, value: Any, **headers: str) -> Reply:
    return call(server, "POST", path, {"Content-Type": "application/json", **headers}, json.dumps(value).encode())


class RunningServer:
    """`mediaindex serve`'s server on a free port, in a thread; returns once it accepts connections."""

    def __init__(self, api: Any, **limits: Any) -> None:
        self.api = api
        self.server = LocalServer(api, "127.0.0.1", 0, **limits).start()
        self.port = self.server.port
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.stop()
