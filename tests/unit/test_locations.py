"""domain/locations.py: `s3://` addresses, parsed in one place for `index`, `backfill` and inventories."""

from __future__ import annotations

import pytest

from mediaindex.domain.errors import ConfigurationError
from mediaindex.domain.locations import is_s3_uri, parse_s3_uri


@pytest.mark.parametrize("uri, parts", [
    ("s3://bucket", ("bucket", "")),
    ("s3://bucket/", ("bucket", "")),
    ("s3://bucket/photos/2019/", ("bucket", "photos/2019/")),
    ("s3://inv/my-media/daily/manifest.json", ("inv", "my-media/daily/manifest.json")),
])
def test_an_address_is_a_bucket_and_a_prefix(uri, parts):
    assert is_s3_uri(uri) and parse_s3_uri(uri) == parts


@pytest.mark.parametrize("uri, says", [("s3://", "names no bucket"), ("s3:///photos", "names no bucket"),
                                       ("/home/me/Pictures", "not an s3:// address")])
def test_what_is_not_an_address_is_said(uri, says):
    with pytest.raises(ConfigurationError, match=says):
        parse_s3_uri(uri)
