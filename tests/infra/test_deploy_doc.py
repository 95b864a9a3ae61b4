"""The queries in docs/deploy.md work: documents written by the real OpenSearch adapter (with the real mapping)
into osmem-server, then each documented query body, and the opensearch-py example itself, run against it."""

from __future__ import annotations

import contextlib
import io
import json
import re

import pytest
from opensearchpy import OpenSearch

from mediaindex.adapters.index.opensearch import OpenSearchIndex
from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.domain.model import Analysis, Box, Face, Label
from tests.infra.conftest import ROOT

DOC = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")


def documented_queries() -> dict[str, dict]:
    found = re.findall(r"<!-- query: ([\w-]+) -->\s*```json\n(.*?)```", DOC, flags=re.S)
    return {name: json.loads(body) for name, body in found}


def _doc(key: str, labels: list[Label], faces: list[Face], status: str = docs.INDEXED) -> dict:
    analysis = Analysis(analyzer="rekognition", labels=labels, faces=faces)
    return {**docs.base_document("media-bucket", key, None), **docs.analysis_fields(analysis), "status": status,
            "media_type": "image"}


def _face(person: str | None, smile: bool) -> Face:
    return Face(box=Box(0.1, 0.1, 0.2, 0.2), confidence=99.0, smile=smile, person=person)


@pytest.fixture
def index_url(osmem_clone):
    index = OpenSearchIndex.connect(osmem_clone.url, Settings(opensearch_auth="none", index_name="media"))
    index.ensure_ready()
    index.put_many([
        _doc("photos/dog.jpg", [Label("Dog", 97.0, parents=["Animal", "Pet"])], []),
        _doc("photos/blurry-dog.jpg", [Label("Dog", 62.0, parents=["Animal", "Pet"]), Label("Beach", 95.0)], []),
        _doc("photos/ada-beach.jpg", [Label("Beach", 88.0), Label("Dog", 40.0)], [_face("Ada Lovelace", True)]),
        _doc("photos/ada-office.jpg", [Label("Office", 91.0)], [_face("Ada Lovelace", False)]),
        _doc("photos/gone-dog.jpg", [Label("Dog", 99.0)], [], status=docs.DELETED),
    ])
    index.refresh()
    return osmem_clone.url


def _keys(url: str, body: dict) -> set[str]:
    client = OpenSearch(hosts=[url])
    hits = client.search(index="media", body=body, size=50)["hits"]["hits"]
    return {hit["_source"]["key"] for hit in hits}


def test_the_doc_has_the_queries_it_promises():
    assert set(documented_queries()) == {"label", "person", "person-and-label"}


def test_label_query_matches_name_and_confidence_on_the_same_label(index_url):
    # blurry-dog has a 95 % label (Beach) and a 62 % Dog: not a 90 % dog; gone-dog is a tombstone
    assert _keys(index_url, documented_queries()["label"]) == {"photos/dog.jpg"}


def test_person_query_finds_every_picture_of_the_person(index_url):
    assert _keys(index_url, documented_queries()["person"]) == {"photos/ada-beach.jpg", "photos/ada-office.jpg"}


def test_person_label_and_face_query(index_url):
    assert _keys(index_url, documented_queries()["person-and-label"]) == {"photos/ada-beach.jpg"}


def test_the_opensearch_py_example_runs(index_url):
    snippet = re.search(r"```python\n(.*?)```", DOC, flags=re.S).group(1)
    assert 'service="es"' in snippet and "refreshable_credentials" in snippet  # signed as the domain requires
    runnable = re.sub(r'^endpoint = .*$', f"endpoint = {index_url!r}", snippet, flags=re.M)
    runnable = runnable.replace("use_ssl=True, verify_certs=True", "use_ssl=False, verify_certs=False")  # osmem: http
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(runnable, "docs/deploy.md", "exec"), {})
    lines = printed.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == ["photos/dog.jpg"]
    assert "'dog'" in lines[0] and "'animal'" in lines[0]


def test_the_video_cost_in_the_doc_is_what_the_code_samples():
    """The cost section's video figures follow from the stack's interval and the reader's cap on shot samples."""
    from infra.settings import DeploySettings
    from mediaindex.adapters.analysis.rekognition import RekognitionAnalyzer
    from mediaindex.media.video import MAX_SHOT_SAMPLES_PER_INTERVAL
    from mediaindex.services.estimate import PRICE_PER_1000_USD

    settings = DeploySettings()
    regular = 60 / settings.video_interval
    most = regular * (1 + MAX_SHOT_SAMPLES_PER_INTERVAL)
    assert f"**{regular:.0f} to {most:.0f} sampled frames a minute**" in DOC
    calls = RekognitionAnalyzer(Settings(features=settings.features), client=object()).operations()
    assert calls == ["DetectLabels", "DetectFaces"]
    per_frame = sum(PRICE_PER_1000_USD[c] for c in calls) / 1000
    assert f"at most {most:.0f} x ${per_frame:.3f} = **${most * per_frame:.2f}**" in DOC
    assert f"an hour at most\n${most * per_frame * 60:.2f}" in DOC
    assert settings.max_video_bytes == 1024**3 and "1 GiB at the default 2,048 MB" in DOC
