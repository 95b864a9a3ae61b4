"""MEDIAINDEX_INDEX is read in one place (config.IndexUrl): which backend, the SQLite file or the OpenSearch host,
and why a URL names neither."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mediaindex import bootstrap
from mediaindex.adapters.faces.local_store import default_path
from mediaindex.config import IndexUrl, Settings
from mediaindex.domain.errors import ConfigurationError


@pytest.mark.parametrize("url, path", [
    ("sqlite:///index.db", "index.db"),
    ("sqlite:////data/photos.db", "/data/photos.db"),
    ("sqlite:///:memory:", ":memory:"),
])
def test_a_sqlite_url_names_its_file_as_sqlalchemy_writes_it(url, path):
    location = IndexUrl.parse(url)
    assert (location.backend, location.sqlite_path, location.problem) == ("sqlite", path, None)
    assert not location.is_opensearch


def test_an_index_in_memory_has_no_file():
    assert IndexUrl.parse("sqlite:///:memory:").sqlite_file() is None
    assert IndexUrl.parse("sqlite:///~/i.db").sqlite_file() == Path.home() / "i.db"


@pytest.mark.parametrize("url, host, secure", [
    ("https://search-media.eu-central-1.es.amazonaws.com", "search-media.eu-central-1.es.amazonaws.com", True),
    ("http://localhost:9200", "localhost", False),
])
def test_an_http_url_names_an_opensearch_host(url, host, secure):
    location = IndexUrl.parse(url)
    assert (location.backend, location.host, location.secure, location.problem) == ("opensearch", host, secure, None)
    assert location.is_opensearch and location.sqlite_file() is None


@pytest.mark.parametrize("url, problem", [
    ("sqlite://index.db", "write sqlite:///relative.db"),
    ("sqlite:///", "write sqlite:///relative.db"),
    ("http://", "write https://host[:port]"),
    ("ftp://nowhere", "use sqlite:///PATH or an http(s):// OpenSearch URL"),
])
def test_a_url_that_names_no_index_says_why_when_the_index_is_built(url, problem, tmp_path):
    assert problem in (IndexUrl.parse(url).problem or "")
    with pytest.raises(ConfigurationError, match=re.escape(problem)):
        bootstrap.build_index(Settings(home=tmp_path, index_url=url))


def test_faces_db_goes_beside_a_sqlite_index_and_in_home_otherwise(tmp_path):
    assert default_path(Settings(home=tmp_path, index_url=f"sqlite:///{tmp_path}/lib/index.db")) == \
        tmp_path / "lib" / "faces.db"
    assert default_path(Settings(home=tmp_path, index_url=f"sqlite:///{tmp_path}/lib/2019.db")) == \
        tmp_path / "lib" / "2019.faces.db"
    for elsewhere in ("sqlite:///:memory:", "http://localhost:9200", "not a url"):
        assert default_path(Settings(home=tmp_path, index_url=elsewhere)) == tmp_path / "faces.db"
