"""The same API as a Lambda function behind API Gateway (HTTP API, payload format 2.0): OpenSearch (osmem, through
the real opensearch-py client) for search, S3 (a moto server) for media through presigned redirects."""

from __future__ import annotations

import base64
import io
import json
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from mediaindex.adapters.index.opensearch import OpenSearchIndex
from mediaindex.bootstrap import build_app
from mediaindex.config import Settings
from mediaindex.domain.document import analysis_fields, base_document
from mediaindex.domain.model import Analysis, Box, Emotion, Face, Instance, Label
from mediaindex.entrypoints import aws_api

BUCKET = "family-photos"


def http_event(method: str, path: str, query: str = "", body: bytes | None = None, headers: dict | None = None,
               base64_body: bool = False) -> dict[str, Any]:
    """An API Gateway HTTP API event, payload 2.0, as a Cognito JWT authorizer passes it on."""
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": {"host": "abc123.execute-api.us-east-1.amazonaws.com", "user-agent": "pytest",
                    "accept": "*/*", **(headers or {})},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9",
                     "userAgent": "pytest"},
            "authorizer": {"jwt": {"claims": {"sub": "user-1", "email": "ada@example.com"}, "scopes": None}},
            "requestId": "req-1", "routeKey": "$default", "stage": "$default", "time": "25/Nov/2026:03:00:00 +0000",
            "timeEpoch": 1795575600000,
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = base64.b64encode(body).decode() if base64_body else body.decode()
        event["isBase64Encoded"] = base64_body
    return event


def document(key: str, analysis: Analysis, **extra: Any) -> dict[str, Any]:
    doc = base_document(BUCKET, key, None)
    doc.update(analysis_fields(analysis))
    doc.update(status="indexed", media_type="image", content_type="image/jpeg", width=500, height=374,
               content_sha256=key, **extra)
    return doc


@pytest.fixture(scope="module")
def world(osmem_server, images_dir: Path, faces_dir: Path):
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{moto._server.server_port}"
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)
    s3.create_bucket(Bucket=BUCKET)
    files = {"2024/husky.jpg": images_dir / "n02110185_Siberian_husky.JPEG", "2024/obama.jpg": faces_dir / "obama_1.jpg"}
    for key, path in files.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes(), ContentType="image/jpeg")
    with osmem_server.clone() as clone:
        settings = Settings(index_url=clone.url, opensearch_auth="none")
        index = OpenSearchIndex.connect(clone.url, settings)
        index.ensure_ready()
        dog = Label("Dog", 97.0, parents=["Animal"], instances=[Instance(Box(0.3, 0.4, 0.4, 0.5), 95.0)])
        face = Face(Box(0.4, 0.15, 0.2, 0.3), 99.9, 50, 60, "Male", [Emotion("CALM", 90.0)], person="Barack Obama",
                    face_id="f-1", similarity=99.1)
        docs = {
            "husky": document("2024/husky.jpg", Analysis("rekognition", [dog])),
            "obama": document("2024/obama.jpg", Analysis("rekognition", [Label("Person", 99.0)], [face])),
            "elsewhere": {**document("x.jpg", Analysis("rekognition", [Label("Cat", 90.0)])), "bucket": "other-bucket",
                          "id": "e" * 40},
        }
        for doc in docs.values():
            index.put(doc, None)
        index.refresh()
        env = {"MEDIAINDEX_INDEX": clone.url, "MEDIAINDEX_OPENSEARCH_AUTH": "none", "MEDIAINDEX_MEDIA_BUCKET": BUCKET,
               "MEDIAINDEX_ANALYZER": "rekognition", "AWS_REGION": "us-east-1"}
        yield {"s3": s3, "endpoint": endpoint, "index": index, "docs": docs, "env": env, "files": files}
    moto.stop()


@pytest.fixture
def handler(world, monkeypatch, tmp_path):
    """aws_api.handler exactly as Lambda calls it, configured only by the environment the stack sets."""
    for name, value in {**world["env"], "MEDIAINDEX_THUMBNAIL_CACHE": str(tmp_path / "thumbs"),
                        "AWS_ENDPOINT_URL_S3": world["endpoint"]}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MEDIAINDEX_API_WRITES", raising=False)
    monkeypatch.setattr(aws_api, "_handler", None)
    return aws_api.handler


def body_of(result: dict[str, Any]) -> Any:
    raw = base64.b64decode(result["body"]) if result["isBase64Encoded"] else result["body"].encode()
    return raw


def test_search_through_the_handler(handler, world):
    result = handler(http_event("GET", "/api/search", "q=dog&limit=10"), None)
    assert result["statusCode"] == 200 and result["isBase64Encoded"] is False
    body = json.loads(result["body"])
    assert [h["key"] for h in body["hits"]] == ["2024/husky.jpg"]
    everything = json.loads(handler(http_event("GET", "/api/search", "person=Barack%20Obama"), None)["body"])
    assert [h["key"] for h in everything["hits"]] == ["2024/obama.jpg"]
    assert {v["value"]: v["count"] for v in everything["facets"]["people"]} == {"Barack Obama": 1}
    assert "content-security-policy" in result["headers"] and result["headers"]["x-content-type-options"] == "nosniff"


def test_document_and_bad_query(handler, world):
    doc_id = world["docs"]["obama"]["id"]
    doc = json.loads(handler(http_event("GET", f"/api/documents/{doc_id}"), None)["body"])
    assert doc["faces"][0]["person"] == "Barack Obama" and doc["faces"][0]["emotion"] == "CALM"
    bad = handler(http_event("GET", "/api/search", "q=%28dog"), None)
    assert bad["statusCode"] == 400 and "missing ')'" in json.loads(bad["body"])["error"]


def test_media_is_a_short_lived_presigned_redirect(handler, world):
    doc = world["docs"]["husky"]
    result = handler(http_event("GET", f"/api/documents/{doc['id']}/media"), None)
    assert result["statusCode"] == 302 and result["body"] == ""
    location = result["headers"]["location"]
    parsed = urllib.parse.urlparse(location)
    params = urllib.parse.parse_qs(parsed.query)
    assert params["X-Amz-Expires"] == ["300"] and "X-Amz-Signature" in params
    assert parsed.path.endswith("/2024/husky.jpg")
    with urllib.request.urlopen(location, timeout=10) as response:  # the presigned URL really fetches the file
        assert response.read() == world["files"]["2024/husky.jpg"].read_bytes()
        assert response.headers["Content-Type"] == "image/jpeg"
    # the page may load media from the bucket's origin, and from nowhere else
    origin = f"{parsed.scheme}://{parsed.netloc}"
    csp = result["headers"]["content-security-policy"]
    assert f"img-src 'self' data: blob: {origin};" in csp and f"media-src 'self' {origin};" in csp


def test_media_url_is_the_presigned_url(handler, world):
    result = handler(http_event("GET", f"/api/documents/{world['docs']['husky']['id']}/media-url"), None)
    url = json.loads(result["body"])["url"]
    assert "X-Amz-Signature=" in url and urllib.parse.urlparse(url).path.endswith("/2024/husky.jpg")
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == world["files"]["2024/husky.jpg"].read_bytes()


def test_login_url_reaches_the_page(world, monkeypatch, handler):
    monkeypatch.setenv("MEDIAINDEX_LOGIN_URL", "https://auth.example.com/login")
    assert json.loads(handler(http_event("GET", "/api/config"), None)["body"])["login_url"] == "https://auth.example.com/login"


def test_presign_expiry_is_configurable(world, monkeypatch, handler):
    monkeypatch.setenv("MEDIAINDEX_PRESIGN_SECONDS", "60")
    result = handler(http_event("GET", f"/api/documents/{world['docs']['husky']['id']}/media"), None)
    assert "X-Amz-Expires=60" in result["headers"]["location"]


def test_only_the_configured_bucket_is_served(handler, world):
    result = handler(http_event("GET", f"/api/documents/{world['docs']['elsewhere']['id']}/media"), None)
    assert result["statusCode"] == 403 and "bucket" in json.loads(result["body"])["error"]


def test_thumbnail_comes_back_base64(handler, world):
    result = handler(http_event("GET", f"/api/documents/{world['docs']['husky']['id']}/thumbnail"), None)
    assert result["statusCode"] == 200 and result["isBase64Encoded"] is True
    im = Image.open(io.BytesIO(body_of(result)))
    assert im.format == "JPEG" and max(im.size) == 360


def test_the_page_and_openapi_are_served(handler):
    page = handler(http_event("GET", "/"), None)
    assert page["statusCode"] == 200 and "<title>mediaindex</title>" in page["body"]
    assert json.loads(handler(http_event("GET", "/openapi.json"), None)["body"])["openapi"] == "3.1.0"
    assert handler(http_event("GET", "/api/documents/../../etc/passwd"), None)["statusCode"] == 404


def test_writes_are_refused_unless_enabled(handler, world, monkeypatch):
    event = http_event("POST", "/api/people/forget", body=b'{"name": "Barack Obama"}',
                       headers={"content-type": "application/json"}, base64_body=True)
    refused = handler(event, None)
    assert refused["statusCode"] == 403 and "MEDIAINDEX_API_WRITES=1" in json.loads(refused["body"])["error"]
    assert json.loads(handler(http_event("GET", "/api/config"), None)["body"])["writes"] is False

    monkeypatch.setenv("MEDIAINDEX_API_WRITES", "1")
    monkeypatch.setattr(aws_api, "_handler", None)
    assert json.loads(handler(http_event("GET", "/api/config"), None)["body"])["writes"] is True
    # the body arrives base64-encoded and is decoded; the request gets past the write guard to the JSON check
    missing = http_event("POST", "/api/people/forget", body=b'{"name": ""}', headers={"content-type": "application/json"},
                         base64_body=True)
    assert handler(missing, None)["statusCode"] == 400


def test_missing_bucket_setting_is_a_clear_error(world):
    from mediaindex.domain.errors import ConfigurationError

    env = {k: v for k, v in world["env"].items() if k != "MEDIAINDEX_MEDIA_BUCKET"}
    with pytest.raises(ConfigurationError, match="MEDIAINDEX_MEDIA_BUCKET"):
        aws_api.build_api(env, app=build_app(Settings.from_env(env), s3=world["s3"]))


def test_head_and_unknown_routes(handler, world):
    head = handler(http_event("HEAD", "/api/search"), None)
    assert head["statusCode"] == 200 and head["body"] == "" and int(head["headers"]["content-length"]) > 0
    assert handler(http_event("GET", "/nothing/here"), None)["statusCode"] == 404
    assert handler(http_event("DELETE", "/api/search"), None)["statusCode"] == 405
