"""One application, two servers: the same requests through `mediaindex serve` (uvicorn, real sockets) and through
the Lambda handler (Mangum, API Gateway HTTP API 2.0 events) on the same parts answer the same statuses, the same
JSON and the same security headers."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from mediaindex.entrypoints.aws_api import lambda_handler
from mediaindex.entrypoints.cli.serve import build_local_api
from tests.web.helpers import call
from tests.web.test_aws_api import http_event

SECURITY = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy")


@pytest.fixture(scope="module")
def both(library) -> Any:
    from tests.web.helpers import RunningServer

    api = build_local_api(library.settings, index=library.index, writes=False)
    server = RunningServer(api)
    yield server, lambda_handler(api)
    server.close()


def requests(library) -> list[tuple[str, str, str, bytes | None]]:
    husky = library.doc_id("n02110185_Siberian_husky.JPEG")
    return [
        ("GET", "/api/search", "q=dog", None),
        ("GET", "/api/search", "q=a+dog+running+in+the+grass&limit=3", None),
        ("GET", "/api/search", "limit=5000", None),
        ("GET", "/api/search", "q=%28dog", None),
        ("GET", f"/api/documents/{husky}", "", None),
        ("GET", "/api/documents/" + "0" * 40, "", None),
        ("GET", "/api/documents/..%2f..%2fetc%2fpasswd/media", "", None),
        ("GET", f"/api/documents/{husky}/thumbnail", "", None),
        ("GET", "/api/config", "", None),
        ("GET", "/api/stats", "", None),
        ("GET", "/api/people/forget", "", None),
        ("POST", "/api/people/forget", "", b'{"name": "Nobody"}'),
        ("DELETE", "/api/search", "", None),
        ("GET", "/nope", "", None),
    ]


def test_the_same_answers_from_uvicorn_and_from_lambda(both, library):
    server, handler = both
    for method, path, query, body in requests(library):
        target = f"{path}?{query}" if query else path
        headers = {"Content-Type": "application/json"} if body is not None else {}
        local = call(server, method, target, headers, body)
        event = http_event(method, path, query, body, {k.lower(): v for k, v in headers.items()})
        remote = handler(event, None)
        assert remote["statusCode"] == local.status, (method, target, remote.get("body", "")[:200])
        remote_headers = {k.lower(): v for k, v in remote["headers"].items()}
        data = base64.b64decode(remote["body"]) if remote["isBase64Encoded"] else remote["body"].encode()
        if local.headers.get("content-type", "").startswith("application/json"):
            assert json.loads(data) == local.json(), (method, target)
        else:
            assert data == local.body, (method, target)
        for name in SECURITY:
            assert remote_headers[name] == local.headers[name], (name, target)
