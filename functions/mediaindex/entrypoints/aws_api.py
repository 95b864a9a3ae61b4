"""The search API as a Lambda function behind API Gateway (HTTP API, payload format 2.0): the same application as
`mediaindex serve` (api/app.py), on OpenSearch, with S3 media served as 302 redirects to short-lived presigned
GETs. Mangum turns each event into an ASGI request and the answer back into API Gateway's shape (binary bodies,
such as JPEG thumbnails, base64-encoded).

Authentication is API Gateway's (a Cognito JWT authorizer); this handler trusts what reaches it. Writes (naming
clusters, enrolling, forgetting) are refused with 403 unless MEDIAINDEX_API_WRITES=1. See docs/web.md for what the
stack must provide.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mangum import Mangum

from mediaindex.api.app import MediaApi, create_app, flag
from mediaindex.bootstrap import App

_handler: Mangum | None = None


def _presigning_config() -> Any:
    from botocore.config import Config

    return Config(signature_version="s3v4", s3={"addressing_style": "virtual"},
                  retries={"mode": "adaptive", "max_attempts": 8})


def build_api(env: dict[str, str] | None = None, app: App | None = None) -> MediaApi:
    """The API's parts on the environment the stack sets; `app` (from bootstrap.build_app) carries fakes in tests."""
    from mediaindex.adapters.media.s3 import PRESIGN_SECONDS, S3Media
    from mediaindex.adapters.media.thumbnail_cache import ThumbnailCache
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
        describer_factory=lambda: app.describer,
        vectors_factory=lambda: app.vectors,
    )


def lambda_handler(api: MediaApi) -> Mangum:
    """The application as a Lambda handler. API Gateway answers on https only: that is the scheme the write
    guard's Origin check expects when the event does not say."""
    return Mangum(create_app(api), lifespan="off")


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    global _handler
    if _handler is None:
        _handler = lambda_handler(build_api())
    result: dict[str, Any] = _handler(event, context)
    return result
