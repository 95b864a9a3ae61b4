"""What only the OpenSearch adapter does: SigV4 signing, backoff on 429/5xx, the alias layout, racing
ensure_ready, reindexing behind the alias, and choosing the authentication."""

from __future__ import annotations

import hashlib
import hmac
import threading
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from opensearchpy import OpenSearch
from requests_aws4auth import AWS4Auth

from mediaindex.adapters.index import opensearch as module
from mediaindex.adapters.index import opensearch_connection
from mediaindex.adapters.index.opensearch import OpenSearchIndex
from mediaindex.adapters.index.opensearch_connection import _region_from_host
from mediaindex.config import Settings
from mediaindex.domain.errors import ConfigurationError, TransientError, VersionConflict
from mediaindex.domain.query import Query
from mediaindex.domain.query_syntax import parse_query
from tests.conftest import opensearch_index
from tests.index.conftest import load
from tests.index.corpus import corpus
from tests.index.servers import FlakyProxy, LocalServer, empty_cluster


def sigv4_signature_is_valid(request: dict, secret: str) -> bool:
    """Recompute the AWS Signature Version 4 of a recorded request from first principles."""
    headers = {k.lower(): v for k, v in request["headers"].items()}
    auth = headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 ")
    parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    access_key, day, region, service, _ = parts["Credential"].split("/")
    signed = parts["SignedHeaders"].split(";")
    url = urlsplit(request["path"])
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(parse_qsl(url.query, keep_blank_values=True)))
    canonical = "\n".join([
        request["method"], quote(url.path, safe="/-_.~%"), query,
        "".join(f"{h}:{' '.join(headers[h].split())}\n" for h in signed), ";".join(signed),
        hashlib.sha256(request["body"]).hexdigest(),
    ])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", headers["x-amz-date"], scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), parts["Signature"])


def test_sigv4_signs_every_request_for_amazon_opensearch_service():
    server = LocalServer(empty_cluster)
    try:
        settings = Settings(opensearch_auth="sigv4", aws_region="eu-west-1", index_name="photos")
        index = OpenSearchIndex.connect(server.url, settings)
        assert index.get("abc") is None
        assert index.count("label:dog") == 0  # (a bare word would first ask for the people's names: 3 requests)
    finally:
        server.close()
    assert len(server.requests) == 2
    for request in server.requests:
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
        assert "/eu-west-1/es/aws4_request" in headers["authorization"]
        assert "host" in headers["authorization"].split("SignedHeaders=")[1]
        assert headers["x-amz-security-token"] == "testing"  # the session token from the credential chain
        assert sigv4_signature_is_valid(request, "testing")
    assert any(r["body"] for r in server.requests)  # a request with a body was signed over its payload too


def test_signature_check_rejects_a_tampered_request():
    server = LocalServer(empty_cluster)
    try:
        OpenSearchIndex.connect(server.url, Settings(opensearch_auth="sigv4", aws_region="us-east-1")).get("x")
    finally:
        server.close()
    request = server.requests[0]
    assert sigv4_signature_is_valid(request, "testing")
    assert not sigv4_signature_is_valid({**request, "path": request["path"] + "x"}, "testing")
    assert not sigv4_signature_is_valid(request, "another secret")


def test_auth_mode_is_chosen_from_the_settings_and_host():
    amazon = "https://search-media-abc123.eu-central-1.es.amazonaws.com"
    auto = OpenSearchIndex.connect(amazon, Settings(aws_region=None))
    auth = auto.client.transport.get_connection().session.auth
    assert isinstance(auth, AWS4Auth) and auth.region == "eu-central-1" and auth.service == "es"
    assert _region_from_host("search-x.us-gov-west-1.es.amazonaws.com") == "us-gov-west-1"
    assert _region_from_host("localhost") is None

    local = OpenSearchIndex.connect("http://localhost:9200", Settings())
    assert local.client.transport.get_connection().session.auth is None
    basic = OpenSearchIndex.connect("http://localhost:9200", Settings(opensearch_user="admin", opensearch_password="pw"))
    assert basic.client.transport.get_connection().session.auth == ("admin", "pw")
    with pytest.raises(ConfigurationError, match="basic auth needs"):
        OpenSearchIndex.connect("http://localhost:9200", Settings(opensearch_auth="basic"))
    with pytest.raises(ConfigurationError, match="use sigv4, basic, none or auto"):
        OpenSearchIndex.connect("http://localhost:9200", Settings(opensearch_auth="kerberos"))
    with pytest.raises(ConfigurationError, match="https://host"):
        OpenSearchIndex.connect("ftp://nowhere", Settings())


@pytest.fixture
def sleeps(monkeypatch):
    delays: list[float] = []
    monkeypatch.setattr(opensearch_connection.time, "sleep", delays.append)
    return delays


@pytest.mark.parametrize("status", [429, 503])
def test_backs_off_on_throttling_and_server_errors_then_succeeds(osmem_clone, sleeps, status):
    # five failures: more than the client's own three immediate tries, so our backoff must take over
    proxy = FlakyProxy(osmem_clone.url, failures=5, status=status)
    try:
        index = OpenSearchIndex.connect(proxy.url, Settings(opensearch_auth="none"))
        index.ensure_ready()
        doc = corpus()[0]
        index.put(doc, None)
        assert index.get(doc["id"]).doc == doc
    finally:
        proxy.close()
    assert proxy.failed == 5
    assert len(sleeps) == 1 and sleeps[0] > 0  # one backoff round between the client's two bursts


def test_gives_up_with_a_transient_error_and_growing_delays(osmem_clone, sleeps):
    proxy = FlakyProxy(osmem_clone.url, failures=10_000, status=429)
    try:
        index = OpenSearchIndex.connect(proxy.url, Settings(opensearch_auth="none"), attempts=4, backoff_base=0.1)
        with pytest.raises(TransientError, match="after 4 attempts"):
            index.get("anything")
    finally:
        proxy.close()
    assert proxy.failed == 4 * 3  # each attempt is the client's three tries
    assert len(sleeps) == 3 and sleeps == sorted(sleeps)  # exponential, jittered, never shrinking
    assert 0.05 <= sleeps[0] <= 0.1 and 0.2 <= sleeps[2] <= 0.4


def test_a_dead_cluster_is_a_transient_error(sleeps):
    index = OpenSearchIndex.connect("http://127.0.0.1:9", Settings(opensearch_auth="none"), attempts=2)
    with pytest.raises(TransientError):
        index.put(corpus()[0], None)


def test_a_conflict_is_never_retried(osmem_clone, sleeps):
    index = OpenSearchIndex(OpenSearch(hosts=[osmem_clone.url]), "media")
    index.ensure_ready()
    index.put(corpus()[0], None)
    with pytest.raises(VersionConflict):
        index.put(corpus()[0], None)
    assert sleeps == []


def test_mapping_lives_behind_an_alias_and_is_explicit(osmem_clone):
    client = OpenSearch(hosts=[osmem_clone.url])
    index = OpenSearchIndex(client, "media")
    index.ensure_ready()
    assert client.indices.get_alias(name="media") == {"media-v1": {"aliases": {"media": {}}}}
    mapping = client.indices.get_mapping(index="media-v1")["media-v1"]["mappings"]
    assert mapping["dynamic"] == "false"
    assert mapping["properties"]["labels"]["type"] == "nested"
    assert mapping["properties"]["faces"]["type"] == "nested"
    assert mapping["properties"]["location"]["type"] == "geo_point"
    assert mapping["properties"]["video"]["properties"]["segments"]["properties"]["people"]["type"] == "nested"


def test_racing_ensure_ready_creates_one_index(osmem_clone):
    errors: list[BaseException] = []

    def ready() -> None:
        try:
            OpenSearchIndex(OpenSearch(hosts=[osmem_clone.url]), "media").ensure_ready()
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=ready) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    client = OpenSearch(hosts=[osmem_clone.url])
    assert list(client.indices.get_alias(name="media")) == ["media-v1"]


def test_an_index_in_the_alias_place_is_reported(osmem_clone):
    client = OpenSearch(hosts=[osmem_clone.url])
    client.indices.create(index="media")
    with pytest.raises(ConfigurationError, match="not an alias"):
        OpenSearchIndex(client, "media").ensure_ready()


def test_reindex_moves_the_alias_and_keeps_every_document(osmem_clone):
    client = OpenSearch(hosts=[osmem_clone.url])
    index = OpenSearchIndex(client, "media")
    index.ensure_ready()
    docs = corpus()
    load(index, docs)
    before = index.search(parse_query("dog OR status:failed"))
    assert index.reindex_to(2) == "media-v2"
    assert list(client.indices.get_alias(name="media")) == ["media-v2"]
    index.refresh()
    after = index.search(parse_query("dog OR status:failed"))
    assert {h["id"] for h in after.hits} == {h["id"] for h in before.hits} and after.total == 4
    assert len(list(index.iter_documents(include_deleted=True))) == len(docs)
    current = index.get(docs[0]["id"])
    index.put({**docs[0], "camera": "new"}, current.version)  # compare-and-set goes on in the new index
    assert index.get(docs[0]["id"]).doc["camera"] == "new"
    assert index.reindex_to(2) == "media-v2"  # already there: nothing to do


def test_documents_written_before_the_ranking_fields_rank_after_a_reindex(osmem_clone):
    """A document stored by an older version has no search_aids.labels: it matches, but its labels score nothing
    until reindex_to() computes its search aids again."""
    client = OpenSearch(hosts=[osmem_clone.url])
    index = OpenSearchIndex(client, "media")
    index.ensure_ready()
    docs = corpus()
    load(index, docs)
    for doc in docs[:9]:  # as an older version stored them
        stored = {**doc, module.AIDS: {k: v for k, v in module.common.search_aids(doc).items() if k != "labels"}}
        client.index(index="media", id=doc["id"], body=stored, refresh=True)
    query = Query(where=parse_query("animal"), limit=10)
    img1, img2, beach, _, _, elodie, kitten = (d["key"] for d in docs[:7])
    # no label scores: every match ties, in the order of the date taken (the cat without a date last)
    assert [h["key"] for h in index.search(query).hits] == [img1, img2, beach, kitten, elodie]
    index.reindex_to(2)
    index.refresh()
    # by score: Animal 97.2 and 92.5 as their own labels, then the kitten's 60, then as a parent 71.5 x 0.8, 55 x 0.8
    assert [h["key"] for h in index.search(query).hits] == [img1, elodie, kitten, img2, beach]


def test_iter_documents_pages_through_more_than_one_page(osmem_clone, monkeypatch):
    monkeypatch.setattr(module, "_PAGE", 3)
    index = OpenSearchIndex(OpenSearch(hosts=[osmem_clone.url]), "media")
    index.ensure_ready()
    docs = corpus()
    load(index, docs)
    seen = [d["id"] for d in index.iter_documents(include_deleted=True)]
    assert sorted(seen) == sorted(d["id"] for d in docs) and len(seen) == len(set(seen))


# ---- face vectors beside the documents: the k-NN mapping, the vectors written, the query built --------------------
def _vector(i: int, model: str = "sface-2021dec-int8bq", kind: str = "face"):
    import random as _random

    from mediaindex.ports import StoredFaceVector

    rng = _random.Random(i)
    return StoredFaceVector(kind=kind, id=f"{kind}:{model}:sha{i}:0", model=model,
                            embedding=[rng.gauss(0, 1) for _ in range(128)],
                            fields={"content_sha256": f"sha{i}", "face_index": 0, "cluster": i % 7})


def test_face_vectors_get_a_knn_index_beside_the_documents_which_keep_their_mapping(osmem_clone):
    index = opensearch_index(osmem_clone.url)
    before = index.client.indices.get_mapping(index=index.name)
    vectors = index.face_vectors()
    vectors.ensure_ready()
    vectors.ensure_ready()  # idempotent
    mapping = index.client.indices.get_mapping(index=vectors.name)[vectors.concrete_name()]["mappings"]["properties"]
    assert mapping["embedding_cosine"]["type"] == "knn_vector" and mapping["embedding_cosine"]["dimension"] == 128
    assert mapping["embedding_cosine"]["method"]["space_type"] == "cosinesimil"
    assert mapping["embedding_l2"]["method"]["space_type"] == "l2"
    settings = index.client.indices.get_settings(index=vectors.name)[vectors.concrete_name()]["settings"]["index"]
    assert settings["knn"] == "true"
    # the documents' own index (the one Rekognition deployments use) is untouched: no vector field in it
    assert index.client.indices.get_mapping(index=index.name) == before
    assert "embedding" not in str(before)


def test_face_vectors_are_written_unit_length_in_their_space_field_and_deleted(osmem_clone):
    import math

    index = opensearch_index(osmem_clone.url)
    vectors = index.face_vectors()
    vectors.ensure_ready()
    assert vectors.put_vectors([_vector(i) for i in range(5)] + [_vector(9, model="dlib-resnet-v1")], chunk_size=2) == 6
    vectors.refresh()
    stored = index.client.get(index=vectors.name, id="face:sface-2021dec-int8bq:sha1:0")["_source"]
    assert stored["kind"] == "face" and stored["content_sha256"] == "sha1" and "embedding_l2" not in stored
    assert math.isclose(math.sqrt(sum(x * x for x in stored["embedding_cosine"])), 1.0, rel_tol=1e-6)
    dlib = index.client.get(index=vectors.name, id="face:dlib-resnet-v1:sha9:0")["_source"]
    assert dlib["embedding_l2"] == pytest.approx(_vector(9).embedding)  # l2 vectors are kept as they are
    assert vectors.count_vectors("face") == 6 and vectors.count_vectors("person") == 0
    assert vectors.delete_vectors(["face:sface-2021dec-int8bq:sha1:0"]) == 1
    vectors.refresh()
    assert vectors.count_vectors("face") == 5


def test_a_cluster_without_the_knn_query_is_searched_exactly(osmem_clone):
    """osmem refuses the `knn` query: the search falls back to comparing every vector of the space here, and its
    answer is the brute-force one (nearest first, similarity on the collection's scale, other models left out)."""
    from mediaindex.adapters.index.opensearch_faces import unit
    from mediaindex.domain.face_vectors import SFACE

    index = opensearch_index(osmem_clone.url)
    vectors = index.face_vectors()
    vectors.ensure_ready()
    pool = [_vector(i) for i in range(60)]
    vectors.put_vectors(pool + [_vector(1, model="dlib-resnet-v1")])
    vectors.refresh()
    query = [x + 0.05 for x in pool[3].embedding]
    found = vectors.nearest_vectors(query, SFACE, k=5)
    assert vectors.knn_refused
    q = unit(query)
    expected = sorted(pool, key=lambda v: sum((a - b) ** 2 for a, b in zip(q, unit(v.embedding))))[:5]
    assert [v.id for v, _ in found] == [v.id for v in expected]
    assert found[0][0].fields["content_sha256"] == "sha3" and found[0][1] > 99
    assert all(v.model == SFACE.id and v.embedding == [] for v, _ in found)
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    assert vectors.nearest_vectors(query, SFACE, k=5, min_similarity=99) == found[:1]


def test_the_knn_query_is_filtered_by_kind_and_model_and_its_scores_become_similarities():
    """What a real cluster with the k-NN plugin is sent, and how its Lucene scores are read (osmem cannot run it)."""
    from mediaindex.adapters.index.opensearch_faces import squared_distance_from_score
    from mediaindex.adapters.index.opensearch_query import knn_body
    from mediaindex.domain.face_vectors import DLIB, SFACE

    body = knn_body("embedding_cosine", [0.5] * 128, 10, {"kind": "face", "model": SFACE.id})
    knn = body["query"]["knn"]["embedding_cosine"]
    assert body["size"] == 10 and knn["k"] >= 10 and len(knn["vector"]) == 128
    assert knn["filter"] == {"bool": {"filter": [{"term": {"kind": "face"}}, {"term": {"model": SFACE.id}}]}}
    assert body["_source"] == {"excludes": ["embedding_*"]}
    # cosinesimil: score (1 + cos) / 2; the same vector is 100, the measured boundary cosine is 80
    assert SFACE.similarity(squared_distance_from_score(1.0, SFACE)) == pytest.approx(100)
    boundary_score = (1 + SFACE.boundary) / 2
    assert SFACE.similarity(squared_distance_from_score(boundary_score, SFACE)) == pytest.approx(80)
    # l2: score 1 / (1 + d^2); dlib's 0.6 distance is 80
    assert DLIB.similarity(squared_distance_from_score(1 / (1 + 0.36), DLIB)) == pytest.approx(80)

    class Answering:
        """A client whose search answers as a k-NN cluster would."""
        sent: list = []

        class indices:  # noqa: N801 - the client's attribute
            pass

        def search(self, index, body):
            self.sent.append(body)
            return {"hits": {"hits": [{"_id": "face:x:sha:0", "_score": 1.0, "_source": {
                "kind": "face", "model": SFACE.id, "content_sha256": "sha", "face_index": 0}}]}}

    index = OpenSearchIndex(Answering(), "media")  # type: ignore[arg-type]
    found = index.face_vectors().nearest_vectors([1.0] * 128, SFACE, k=3)
    assert found[0][0].fields == {"content_sha256": "sha", "face_index": 0} and found[0][1] == pytest.approx(100)
    assert "knn" in Answering.sent[0]["query"]
