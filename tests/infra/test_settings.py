"""Context parsing and validation, the concurrency arithmetic, and the environment the handlers read back."""

from __future__ import annotations

import pytest

from infra.settings import (
    ALL_FEATURES, DEFAULT_REKOGNITION_TPS, FASTEST_CALL_SECONDS, DeploySettings, SettingsError, concurrency_for_tps,
)
from mediaindex.config import ALL_FEATURES as HANDLER_FEATURES
from mediaindex.config import Settings


def test_defaults_are_valid_and_sized_for_the_default_quota():
    settings = DeploySettings.from_context({})
    assert settings.delivery == "sqs" and settings.creates_domain
    assert settings.effective_max_concurrency == 10
    # ten instances, each at most one call per 0.2 s of any one API: 50 calls a second, the default quota
    assert settings.effective_max_concurrency / FASTEST_CALL_SECONDS <= DEFAULT_REKOGNITION_TPS


@pytest.mark.parametrize("tps, expected", [(50, 10), (5, 2), (1, 2), (100, 20), (10_000, 1000)])
def test_concurrency_stays_within_the_quota_and_the_event_source_range(tps, expected):
    n = concurrency_for_tps(tps)
    assert n == expected
    assert 2 <= n <= 1000
    if expected > 2:  # the floor of 2 (SQS's minimum) is the only case allowed above the quota
        assert n / FASTEST_CALL_SECONDS <= tps


def test_command_line_strings_are_converted():
    settings = DeploySettings.from_context({
        "min_confidence": "70.5", "features": "labels, Text ,moderation", "max_concurrency": "4",
        "opensearch_data_nodes": "2", "opensearch_reader_arns": "arn:aws:iam::123456789012:role/Analyst",
        "rekognition_tps": "5",
    })
    assert settings.min_confidence == 70.5
    assert settings.features == ("labels", "text", "moderation")
    assert settings.effective_max_concurrency == 4
    assert settings.opensearch_data_nodes == 2
    assert settings.opensearch_reader_arns == ("arn:aws:iam::123456789012:role/Analyst",)  # case kept


@pytest.mark.parametrize("key, value, words", [
    ("features", "labels,colour", "labels, faces"),
    ("delivery", "kinesis", "sqs"),
    ("max_concurrency", "1", "2 to 1000"),
    ("min_confidence", "120", "0 to 100"),
    ("opensearch_endpoint", "http://x.example", "https://"),
    ("people_prefix", "/people", "trailing slash"),
    ("log_retention_days", "31", "30"),
    ("memory_mb", "many", "expected int"),
    ("collection_id", "faces of people", "a-z"),
    ("architecture", "riscv", "x86_64 or arm64"),
])
def test_bad_values_name_the_key_and_what_is_allowed(key, value, words):
    with pytest.raises(SettingsError) as caught:
        DeploySettings.from_context({key: value})
    assert key in str(caught.value) and words in str(caught.value)


def test_an_existing_endpoint_needs_its_domain_arn_for_iam():
    with pytest.raises(SettingsError, match="opensearch_domain_arn"):
        DeploySettings.from_context({"opensearch_endpoint": "https://search-x-abc.us-east-1.es.amazonaws.com"})


def test_domain_name_comes_from_the_stack_name():
    assert DeploySettings.from_context({"stack_name": "Media-Index-Prod"}).domain_name == "media-index-prod"
    assert len(DeploySettings.from_context({"stack_name": "A" * 60}).domain_name) == 28


def test_the_handlers_read_back_what_the_stack_sets():
    deploy = DeploySettings.from_context({
        "features": "labels,faces,people,text", "min_confidence": "62.5", "video_interval": "4",
        "max_receives": "7", "people_prefix": "known/", "collection_id": "family", "index_name": "photos",
    })
    env = deploy.handler_environment("https://search-x.us-east-1.es.amazonaws.com", "https://sqs/dlq")
    read = Settings.from_env(env)
    assert read.analyzer == "rekognition"
    assert read.index_url == "https://search-x.us-east-1.es.amazonaws.com" and read.index_name == "photos"
    assert read.opensearch_auth == "sigv4"
    assert read.collection_id == "family" and read.people_prefix == "known/"
    assert read.features == ("labels", "faces", "people", "text")
    assert read.min_confidence == 62.5 and read.video_interval == 4.0
    assert read.dlq_url == "https://sqs/dlq" and read.max_receives == 7
    assert int(env["MEDIAINDEX_MAX_VIDEO_BYTES"]) == 1024 * 1024**2  # half of the default 2,048 MB


def test_video_size_limit_follows_the_function_memory(monkeypatch):
    from mediaindex.services.video import make_video_indexer

    env = DeploySettings.from_context({"memory_mb": "4096"}).handler_environment("https://x", "https://q")
    assert env["MEDIAINDEX_MAX_VIDEO_BYTES"] == str(2 * 1024**3)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MEDIAINDEX_MAX_VIDEO_BYTES", str(300 * 1024**2))  # as a 600 MB function gets it
    indexer = make_video_indexer(Settings.from_env(), analyzer=object())
    assert indexer.max_bytes == 300 * 1024**2


def test_the_stack_knows_the_same_analyses_as_the_handlers():
    assert set(ALL_FEATURES) == set(HANDLER_FEATURES)


def test_optional_parts_default_to_long_videos_and_backfill_on_api_off():
    settings = DeploySettings.from_context({})
    assert settings.long_videos and settings.backfill and not settings.api and not settings.api_writes
    off = DeploySettings.from_context({"long_videos": "false", "backfill": "0", "api": "yes", "api_writes": True})
    assert not off.long_videos and not off.backfill and off.api and off.api_writes


def test_callback_urls_keep_their_case_and_must_be_https():
    assert DeploySettings.from_context({}).api_callback_urls == ()  # the API's own page is always one
    settings = DeploySettings.from_context({"api_callback_urls": "https://Media.example.com/App/, http://localhost:8000/"})
    assert settings.api_callback_urls == ("https://Media.example.com/App/", "http://localhost:8000/")
    with pytest.raises(SettingsError, match="api_callback_urls"):
        DeploySettings.from_context({"api_callback_urls": "http://media.example.com/"})


@pytest.mark.parametrize("key, value, words", [
    ("backfill_inventory_bucket", "s3://inventory", "bucket name"),
    ("api_auth_domain", "my-cognito-login", "without aws"),
    ("api_auth_domain", "-leading", "a-z"),
    ("api_rate", "0", "above 0"),
    ("api_burst", "-1", "0 to 5000"),
])
def test_bad_part_options_name_the_key(key, value, words):
    with pytest.raises(SettingsError) as caught:
        DeploySettings.from_context({key: value})
    assert key in str(caught.value) and words in str(caught.value)


def test_default_sign_in_domain_prefix_avoids_words_cognito_refuses():
    assert DeploySettings.from_context({"stack_name": "AWS-Media"}).auth_domain_base == "x-media"
    assert DeploySettings.from_context({}).auth_domain_base == "mediaindex"
