"""The search API as a Lambda function behind API Gateway (HTTP API, payload format 2.0): the same router as
`mediaindex serve`, on OpenSearch, with S3 media served as 302 redirects to short-lived presigned GETs.

Authentication is API Gateway's (a Cognito JWT authorizer); this handler trusts what reaches it. Writes (naming
clusters, enrolling, forgetting) are refused with 403 unless MEDIAINDEX_API_WRITES=1. See docs/web.md for what the
stack must provide.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from mediaindex.api.app import MediaApi, flag
from mediaindex.api.http import Request, Response
from mediaindex.bootstrap import App

_api: MediaApi | None = None
# Text bodies go back as they are; anything else (JPEG thumbnails) base64-encoded, as API Gateway requires.
_TEXT_TYPES = ("application/json", "text/")


def _presigning_config() -> Any:
    from botocore.config import Config

    return Config(signature_version="s3v4", s3={"addressing_style": "virtual"},
                  retries={"mode": "adaptive", "max_attempts": 8})


def build_api(env: dict[str, str] | None = None, app: App | None = None) -> MediaApi:
    """The API on the environment the stack sets; `app` (from bootstrap.build_app) carries fakes in tests."""
    from mediaindex.api.media import PRESIGN_SECONDS, S3Media, ThumbnailCache
    from mediaindex.bootstrap import build_app
    from mediaindex.config import Settings
    from mediaindex.domain.errors import ConfigurationError

    env = dict(os.environ if env is None else env)
    buckets = [b.strip() for b in (env.get("MEDIAINDEX_MEDIA_BUCKET") or "").split(",") if b.strip()]
    if not buckets:
        raise ConfigurationError("MEDIAINDEX_MEDIA_BUCKET: the bucket(s) whose files this API serves")
    app = app or build_app(Settings.from_env(env))
    # SigV4 presigned URLs (X-Amz-Expires), on the bucket's regional virtual-host endpoint
    s3 = app.client("s3", config=_presigning_config())
    expires = int(env.get("MEDIAINDEX_PRESIGN_SECONDS") or PRESIGN_SECONDS)
    return MediaApi(
        index=app.index,
        media=S3Media(s3, buckets, expires=expires),
        thumbnails=ThumbnailCache(Path(env.get("MEDIAINDEX_THUMBNAIL_CACHE") or "/tmp/mediaindex-thumbnails")),
        people_factory=lambda: app.people,
        writes=flag(env.get("MEDIAINDEX_API_WRITES")),
        login_url=env.get("MEDIAINDEX_LOGIN_URL") or None,
        max_pixels=app.settings.max_pixels,
        capabilities=app.capabilities,
    )


def request_from_event(event: dict[str, Any]) -> Request:
    http = (event.get("requestContext") or {}).get("http") or {}
    method = http.get("method") or "GET"
    path = event.get("rawPath") or http.get("path") or "/"
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    headers.setdefault("x-forwarded-proto", "https")  # API Gateway answers on https only: the Origin check's scheme
    if event.get("cookies"):
        headers["cookie"] = "; ".join(event["cookies"])
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
    query = event.get("rawQueryString") or ""
    return Request.build(method, f"{path}?{query}" if query else path, headers, raw)


def response_to_result(response: Response) -> dict[str, Any]:
    body = response.body_bytes()
    content_type = response.headers.get("Content-Type", "")
    result: dict[str, Any] = {"statusCode": response.status, "headers": dict(response.headers)}
    if body and not content_type.startswith(_TEXT_TYPES):
        result["body"], result["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
    else:
        result["body"], result["isBase64Encoded"] = body.decode("utf-8"), False
    return result


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    global _api
    if _api is None:
        _api = build_api()
    return response_to_result(_api.handle(request_from_event(event)))
