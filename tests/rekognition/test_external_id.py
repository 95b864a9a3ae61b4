"""The ExternalImageId that carries a person's name and the enrolment photo's hash through Rekognition."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings, strategies as st

from mediaindex.adapters.faces.rekognition import (
    ALLOWED_EXTERNAL_ID,
    EXTERNAL_ID_MAX,
    NAME_MAX_BYTES,
    decode_name,
    encode_name,
    external_image_id,
    parse_external_image_id,
    source_hash,
)
from mediaindex.domain.errors import ConfigurationError

any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), min_size=1, max_size=300)


@given(name=any_text, source=st.text(max_size=1100))
@example(name="Barack Obama", source="s3://media/people/Barack Obama/1.jpg")
@example(name="_5f", source="")
@example(name="__x", source="a")
@example(name="a:b.c-d_e f", source="x")
@example(name="\ud800 lone surrogate", source="\udfff")
@example(name="王" * 59, source="k")  # 177 bytes: the longest that must always fit
@settings(max_examples=200, deadline=None)
def test_any_name_round_trips_in_allowed_characters(name: str, source: str) -> None:
    try:
        external_id = external_image_id(name, source)
    except ConfigurationError as e:
        assert len(name.encode("utf-8", "surrogatepass")) > NAME_MAX_BYTES  # only names too long are refused
        assert "too long" in str(e)
        return
    assert ALLOWED_EXTERNAL_ID.fullmatch(external_id)
    assert 1 <= len(external_id) <= EXTERNAL_ID_MAX
    assert parse_external_image_id(external_id) == (name, source_hash(source))
    assert decode_name(encode_name(name)) == name


def test_plain_names_stay_readable() -> None:
    assert encode_name("Barack Obama") == "Barack.Obama"
    assert encode_name("Jean-Luc Picard") == "Jean-Luc.Picard"
    assert encode_name("Zoë") == "Zo_c3_ab"


def test_long_names_use_the_compact_form() -> None:
    name = "王小明" * 10  # 90 bytes: 270 characters readable, too many; 120 in base64url
    encoded = encode_name(name)
    assert encoded.startswith("__") and len(encoded) == 122 and decode_name(encoded) == name


def test_names_too_long_are_refused_clearly() -> None:
    with pytest.raises(ConfigurationError, match=f"at most {NAME_MAX_BYTES} bytes"):
        encode_name("x" * 300)
    with pytest.raises(ConfigurationError):
        encode_name("")


@pytest.mark.parametrize("foreign", ["", "photo-123.jpg", "Barack.Obama", "Barack.Obama:xyz", "Bad_zz:0123456789abcdef"])
def test_ids_written_by_others_are_not_mistaken_for_ours(foreign: str) -> None:
    assert parse_external_image_id(foreign) is None


def test_source_hash_tells_sources_apart() -> None:
    assert source_hash("s3://b/people/A/1.jpg") != source_hash("s3://b/people/A/2.jpg")
    assert len(source_hash("x")) == 16
