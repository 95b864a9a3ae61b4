"""Every bad query is a clear error, on both backends: deep nesting, thousands of NOTs, hundreds of ORed or side by
side words, thousands of flags, numbers past every integer type, dates past the calendar, bytes that are not
UTF-8. The parser refuses them with a ValueError (ParseError) before a backend sees them, the API answers 400 with
JSON, and whatever the query parses into runs on SQLite and OpenSearch (osmem) without an error. Property tests
feed random bytes and random soups of the syntax's own tokens."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from starlette.testclient import TestClient

from mediaindex.adapters.media.folder import FolderMedia
from mediaindex.api.app import MediaApi, create_app
from mediaindex.domain.expressions import MAX_CONDITIONS, MAX_DEPTH, MAX_TERMS
from mediaindex.domain.query import Query
from mediaindex.domain.query_syntax import ParseError, parse_query
from mediaindex.entrypoints.cli.query_flags import query_from_flags

HOSTILE = {
    "250 nested parentheses": "(" * 250 + "dog" + ")" * 250,
    "NOT x 5000": "NOT " * 5000 + "dog",
    "333 words ORed": " OR ".join(f"w{i}" for i in range(333)),
    "1000 words side by side": " ".join(f"w{i}" for i in range(1000)),
    "an age past every integer": "age:99999999999999999999999..",
    "a huge negative age": "age:-99999999999999999999999",
    "a threshold past float": "label:dog>=1e999",
    "a NaN threshold": "label:dog>=nan",
    "a clock past midnight": "taken:2024-01-01T99:99:99",
    "a year of five digits": "taken:10000-01-01",
    "a lone surrogate (argv bytes that are not UTF-8)": "dog \udcff\udcfe",
    "a 60 KB query": "label:x " * 7500,
}



def api_client(api: MediaApi) -> TestClient:
    """The application in this process, as the local server and Lambda run it (no socket)."""
    return TestClient(create_app(api), base_url="http://127.0.0.1", raise_server_exceptions=False)

@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_parser_refuses_each_with_a_clear_message(text):
    with pytest.raises(ValueError) as caught:
        Query.coerce(text)
    assert isinstance(caught.value, ParseError)
    first = str(caught.value).splitlines()[0]
    assert 10 < len(first) < 300 and "Traceback" not in first


def test_limits_are_generous_for_real_queries():
    parse_query(" OR ".join(f"w{i}" for i in range(MAX_TERMS)))
    parse_query("(" * MAX_DEPTH + "dog" + ")" * MAX_DEPTH)
    parse_query("NOT " * MAX_DEPTH + "dog")
    parse_query("taken:9999-12-31 taken:..9999 taken:2024-01-01T23:59:59.999Z..2024-02-01T00:00+02:00")
    query_from_flags(labels=[f"l{i}" for i in range(MAX_CONDITIONS)])
    with pytest.raises(ValueError, match="conditions"):
        query_from_flags(labels=[f"l{i}" for i in range(MAX_CONDITIONS + 1)])
    with pytest.raises(ValueError, match="UTF-8"):
        query_from_flags(people=["Ada \udce9"])


def test_the_largest_queries_allowed_run_on_both_backends(loaded_pair):
    biggest = [
        " OR ".join(f"w{i}" for i in range(MAX_TERMS)),
        " ".join(f"w{i}" for i in range(MAX_TERMS)),
        "(" * MAX_DEPTH + "dog" + ")" * MAX_DEPTH,
        "NOT " * MAX_DEPTH + "dog",
        " AND ".join(["(" * 10 + "dog OR cat" + ")" * 10] * 9),
        "taken:9999-12-31 age:0..150",
    ]
    for text in biggest:
        for name in ("sqlite", "opensearch"):
            loaded_pair[name].search(Query(where=parse_query(text), facets=("labels",)))
    flags = query_from_flags(labels=[f"l{i}" for i in range(MAX_CONDITIONS)], facets=True)
    for name in ("sqlite", "opensearch"):
        assert loaded_pair[name].search(flags).total == 0
    assert loaded_pair["sqlite"].search(parse_query("taken:9999-12-31")).total == 0
    assert loaded_pair["sqlite"].search(parse_query("taken:..9999-12-31")).total == loaded_pair["opensearch"].search(
        parse_query("taken:..9999-12-31")).total > 0


WORDS = st.sampled_from([
    "(", ")", "NOT", "AND", "OR", "-", '"', "dog", "label:", "label:dog>=", "person:", "age:", "..", "taken:",
    "2024-01-01", "T99:99", "text:", "type:video", "status:any", "path:/x", ">=", "90", "1e999", "nan", "\udcff",
    "smile:true", "emotion:happy", "gender:", "99999999999999999999", "-1", ":", "\x00", "\u202e", " ",
])
SOUP = st.lists(WORDS, max_size=60).map(" ".join)
RANDOM_TEXT = st.binary(max_size=300).map(lambda b: b.decode("utf-8", "surrogateescape"))


@hsettings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(text=st.one_of(SOUP, RANDOM_TEXT, st.text(max_size=200)))
def test_random_queries_are_an_answer_or_a_clear_error_on_both_backends(loaded_pair, text):
    try:
        query = Query(where=parse_query(text), limit=3, facets=("labels",))
    except ValueError as e:
        assert str(e).strip()
        return
    for name in ("sqlite", "opensearch"):
        loaded_pair[name].search(query)  # any exception fails the test


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(q=st.one_of(SOUP, RANDOM_TEXT), label=st.lists(RANDOM_TEXT, max_size=3), limit=st.sampled_from(
    ["", "1", "-5", "abc", "99999999999999999999", "1e3"]), type_=st.sampled_from(["", "video", "x\udcff"]))
def test_the_api_answers_json_never_500(loaded_pair, q, label, limit, type_):
    from urllib.parse import urlencode

    client = api_client(MediaApi(index=loaded_pair["sqlite"], media=FolderMedia()))
    target = "/api/search?" + urlencode([("q", q), *(("label", v) for v in label), ("limit", limit), ("type", type_)],
                                        encoding="utf-8", errors="surrogateescape")
    response = client.get(target)
    assert response.status_code in (200, 400), (response.status_code, response.content[:300])
    body = response.json()
    if response.status_code == 400:
        assert body["error"]


def test_the_api_refuses_a_url_of_too_many_labels_with_400(loaded_pair):
    for name in ("sqlite", "opensearch"):
        client = api_client(MediaApi(index=loaded_pair[name], media=FolderMedia()))
        # 20 times the limit on conditions, in a URL the local server still takes (its request line is 16 KB at most)
        target = "/api/search?" + "&".join(f"label=l{i}" for i in range(MAX_CONDITIONS * 20 // 8))
        response = client.get(target)
        assert response.status_code == 400 and "conditions" in response.json()["error"]
        deep = client.get("/api/search?q=" + "(" * 250 + "dog" + ")" * 250)
        assert deep.status_code == 400 and deep.json()["position"] == MAX_DEPTH


@pytest.mark.parametrize("text", [HOSTILE["NOT x 5000"], HOSTILE["333 words ORed"], HOSTILE["an age past every integer"],
                                  "dog \udcff"])
def test_the_cli_exits_2_with_a_short_message_and_no_traceback(tmp_path, capsys, text):
    from mediaindex.entrypoints.cli import main

    assert main(["search", text, "--home", str(tmp_path), "--index", f"sqlite:///{tmp_path}/index.db"]) == 2
    err = capsys.readouterr().err
    # a query error is said as what it is, not as a configuration problem
    assert err.startswith("mediaindex: search: ") and "Traceback" not in err
    assert len(err.splitlines()) <= 3 and len(err) < 400


def test_dates_at_the_end_of_the_calendar_and_impossible_times(osmem_server, tmp_path):
    from mediaindex.adapters.index.sqlite import SqliteIndex
    from mediaindex.domain import document as docs
    from tests.conftest import opensearch_index

    def doc(key, taken):
        return {**docs.base_document("", key, None), "status": "indexed", "media_type": "image", "taken_at": taken,
                "labels": [], "label_names": [], "faces": [], "people": [], "face_count": 0}

    documents = [doc("/end.jpg", "9999-12-31T23:59:59"), doc("/start.jpg", "0001-01-01T00:00:00"),
                 doc("/now.jpg", "2024-06-01T12:00:00")]
    clone = osmem_server.clone()
    try:
        backends = [SqliteIndex(str(tmp_path / "index.db")), opensearch_index(clone.url)]
        for index in backends:
            index.ensure_ready()
            for d in documents:
                index.put(d, None)
            index.refresh()
            keys = lambda q: sorted(h["key"] for h in index.search(Query(where=parse_query(q))).hits)  # noqa: E731
            assert keys("taken:9999-12-31") == keys("taken:9999") == keys("taken:9999-12") == ["/end.jpg"]
            assert keys("taken:2024..9999-12-31") == ["/end.jpg", "/now.jpg"]
            assert keys("taken:..2024-06-01T12:00:00") == ["/now.jpg", "/start.jpg"]
    finally:
        clone.close()
    for bad in ("taken:2024-01-01T99:99:99", "taken:2024-01-01T24:00", "taken:2024-01-01T10:61",
                "taken:2024-01-01T10:00:00Zjunk", "taken:2024-02-30", "taken:2024-13"):
        with pytest.raises(ParseError, match="not a (valid )?date"):
            parse_query(bad)


def test_a_query_opensearch_refuses_is_a_value_error_and_a_400_not_a_trace(tmp_path):
    """Whatever the limits miss: a 400 from the cluster for a search is the query's fault, said as such."""
    from mediaindex.adapters.index.opensearch import OpenSearchIndex
    from opensearchpy import OpenSearch
    from tests.index.servers import LocalServer, empty_cluster

    def refusing(method, path, headers, body):
        if "_search" in path:
            error = {"error": {"type": "search_phase_execution_exception", "reason": "too_many_clauses"}, "status": 400}
            return 400, {"Content-Type": "application/json"}, json.dumps(error).encode()
        return empty_cluster(method, path, headers, body)

    server = LocalServer(refusing)
    try:
        index = OpenSearchIndex(OpenSearch(hosts=[server.url]), "media", backoff_base=0.01)
        with pytest.raises(ValueError, match="OpenSearch refused the query"):
            index.search(parse_query("dog"))
        response = api_client(MediaApi(index=index, media=FolderMedia())).get("/api/search?q=dog")
        assert response.status_code == 400 and "refused the query" in response.json()["error"]
    finally:
        server.close()
