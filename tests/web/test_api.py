"""The HTTP API through the local server on a real SQLite index filled by the real pipeline (local models) from a
few real photos and the real video (see conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from mediaindex.entrypoints.cli.serve import build_local_api
from tests.web.helpers import call, get, post_json


@pytest.fixture(scope="module")
def read_only(library) -> Any:
    from tests.web.helpers import RunningServer

    server = RunningServer(build_local_api(library.settings, index=library.index, writes=False))
    yield server
    server.close()


def names(reply) -> set[str]:
    return {hit["name"] for hit in reply.json()["hits"]}


# ---- search ------------------------------------------------------------------------------------------------------
def test_search_finds_what_the_models_saw_with_facets(read_only, library):
    reply = get(read_only, "/api/search?q=dog")
    assert reply.status == 200
    assert names(reply) == {"n02110185_Siberian_husky.JPEG", "n02097474_Tibetan_terrier.JPEG"}
    everything = get(read_only, "/api/search").json()
    assert everything["total"] == 11
    facets = {name: {v["value"]: v["count"] for v in values} for name, values in everything["facets"].items()}
    assert facets["media_type"] == {"image": 10, "video": 1}
    # obama_1, obama_2, the photo with Biden, and the video: he is in the audience in its last second
    assert facets["people"]["Barack Obama"] == 4
    assert facets["people"]["Lin-Manuel Miranda"] == 1  # the video
    assert facets["labels"]["dog"] == 2
    counts = [v["count"] for v in everything["facets"]["labels"]]
    assert counts == sorted(counts, reverse=True)


def test_a_sentence_is_ranked_and_says_which_words_no_file_has(read_only):
    body = get(read_only, "/api/search?q=pictures+of+a+dog+running+in+the+grass").json()
    assert {h["name"] for h in body["hits"]} == {"n02110185_Siberian_husky.JPEG", "n02097474_Tibetan_terrier.JPEG"}
    assert "running" in body["not_understood"] and not body.get("relaxed")
    both = get(read_only, "/api/search?q=dog+obama").json()  # no file has both: the files with either, best first
    assert both["relaxed"] is True and both["total"] == 6
    assert "places" in both["facets"]
    assert get(read_only, "/api/search?place=Paris").json()["total"] == 0  # the photos here have no GPS


def test_a_search_for_what_the_analyzer_never_reports_says_so(read_only):
    reply = get(read_only, "/api/search?q=beard:true")
    body = reply.json()
    assert reply.status == 200 and body["total"] == 0
    assert "local analyzer does not detect beard" in body["warnings"][0]
    assert "warnings" not in get(read_only, "/api/search?q=smile:true").json()
def test_people_by_a_word_plurals_suggestions_and_where_a_word_matched(read_only):
    # the clip too: Barack Obama is in its audience
    assert names(get(read_only, "/api/search?q=obama")) == {"obama_1.jpg", "obama_2.jpg", "two_people_obama_biden.jpg",
                                                            "short_hamilton_clip.mp4"}
    # only:people: nobody else known in the file, so not the clip, where Lin-Manuel Miranda is too
    assert names(get(read_only, "/api/search?q=person:bar+only:people")) == {"obama_1.jpg", "obama_2.jpg", "two_people_obama_biden.jpg"}
    assert names(get(read_only, "/api/search?q=person:lin+person:obama")) == {"short_hamilton_clip.mp4"}  # both in it
    assert names(get(read_only, "/api/search?q=dogs")) == {"n02110185_Siberian_husky.JPEG", "n02097474_Tibetan_terrier.JPEG"}
    husky = get(read_only, "/api/search?q=husky").json()
    assert [h["matched"] for h in husky["hits"]] == [["file name"]]  # the model said dog, the file name husky
    missed = get(read_only, "/api/search?q=obamma").json()
    assert missed["total"] == 0 and missed["suggestions"]["people"] == ["Barack Obama"]
    assert "suggestions" not in get(read_only, "/api/search").json()


def test_facet_filters_narrow_together(read_only):
    obama = get(read_only, "/api/search?person=Barack+Obama")
    assert names(obama) == {"obama_1.jpg", "obama_2.jpg", "two_people_obama_biden.jpg", "short_hamilton_clip.mp4"}
    video = get(read_only, "/api/search?type=video").json()
    assert [h["name"] for h in video["hits"]] == ["short_hamilton_clip.mp4"]
    assert video["hits"][0]["duration"] > 5
    both = get(read_only, "/api/search?person=Barack+Obama&q=NOT+biden_1&label=person")
    assert names(both) <= {"obama_1.jpg", "obama_2.jpg", "two_people_obama_biden.jpg", "short_hamilton_clip.mp4"}
    assert names(both)
    assert names(get(read_only, "/api/search?person=Barack+Obama&type=video")) == {"short_hamilton_clip.mp4"}
    assert get(read_only, "/api/search?person=Barack+Obama&type=image&q=NOT+obama").json()["total"] == 0


def test_paging(read_only):
    first = get(read_only, "/api/search?limit=4&sort=key").json()
    second = get(read_only, "/api/search?limit=4&offset=4&sort=key").json()
    assert first["total"] == second["total"] == 11
    assert len(first["hits"]) == len(second["hits"]) == 4
    assert not {h["id"] for h in first["hits"]} & {h["id"] for h in second["hits"]}


@pytest.mark.parametrize("query, expected", [
    ("/api/search?q=label:dog>90", "threshold"),
    ("/api/search?q=(dog", "missing ')'"),
    ("/api/search?q=emotion:bored", "unknown emotion"),
    ("/api/search?limit=5000", "limit must be between"),
    ("/api/search?type=audio", "type takes image or video"),
    ("/api/search?sort=size", "sort by one of"),
])
def test_bad_queries_get_a_clear_400(read_only, query, expected):
    reply = get(read_only, query.replace(" ", "+").replace(">", "%3E").replace("(", "%28"))
    assert reply.status == 400
    assert expected in reply.json()["error"]


def test_parse_error_says_where(read_only):
    body = get(read_only, "/api/search?q=dog+AND+%28cat").json()
    assert body["position"] == 8 and body["query"] == "dog AND (cat"


# ---- documents ---------------------------------------------------------------------------------------------------
def test_document_has_faces_with_names_and_boxes(read_only, library):
    doc = get(read_only, f"/api/documents/{library.doc_id('two_people_obama_biden.jpg')}").json()
    assert doc["name"] == "two_people_obama_biden.jpg"
    assert len(doc["faces"]) == 2
    assert sorted(f["person"] or "" for f in doc["faces"]) == ["", "Barack Obama"]
    for face in doc["faces"]:
        box = face["box"]
        assert 0 <= box["left"] < 1 and 0 < box["width"] <= 1 - box["left"]


def test_video_document_has_a_timeline(read_only, library):
    doc = get(read_only, f"/api/documents/{library.doc_id('short_hamilton_clip.mp4')}").json()
    spans = doc["video"]["segments"]["people"]
    assert {s["name"] for s in spans} == {"Lin-Manuel Miranda", "Barack Obama"}
    # Barack Obama is in the audience, in profile, in the clip's last shot (it starts at 7 s)
    assert min(s["start"] for s in spans if s["name"] == "Barack Obama") >= 6.5
    assert all(0 <= s["start"] < s["end"] <= doc["video"]["duration"] + 0.01 for s in spans)


def test_unknown_and_malformed_ids_are_404(read_only):
    assert get(read_only, "/api/documents/" + "0" * 40).status == 404
    assert get(read_only, "/api/documents/" + "0" * 40 + "/media").status == 404
    assert get(read_only, "/api/documents/XYZ").status == 404


def test_thumbnails_are_small_jpegs_and_cached(read_only, library):
    doc = library.doc("n02110185_Siberian_husky.JPEG")
    first = get(read_only, f"/api/documents/{doc['id']}/thumbnail")
    assert first.status == 200 and first.headers["content-type"] == "image/jpeg"
    im = first.image()
    assert im.format == "JPEG" and max(im.size) == 360 and im.size[0] > im.size[1]  # the photo is 500x374
    cached = read_only.api.thumbnails.path(doc, "thumb")
    assert cached.read_bytes() == first.body
    assert get(read_only, f"/api/documents/{doc['id']}/thumbnail").body == first.body


def test_video_thumbnail_is_a_poster_frame(read_only, library):
    reply = get(read_only, f"/api/documents/{library.doc_id('short_hamilton_clip.mp4')}/thumbnail")
    assert reply.status == 200
    im = reply.image()
    assert im.width == 360 and abs(im.height - 202.5) < 1  # 640x360, 16:9
    assert max(im.convert("L").getextrema()) > 50  # a picture, not a black frame


def test_face_crop(read_only, library):
    doc_id = library.doc_id("obama_1.jpg")
    reply = get(read_only, f"/api/documents/{doc_id}/faces/0")
    assert reply.status == 200 and max(reply.image().size) <= 160
    assert get(read_only, f"/api/documents/{doc_id}/faces/7").status == 404


def test_stats(read_only):
    stats = get(read_only, "/api/stats").json()
    assert stats["indexed"] == 11 and stats["failed"] == 0


# ---- Range ---------------------------------------------------------------------------------------------------------
def test_range_requests_on_the_video(read_only, library):
    path = library.folder / "short_hamilton_clip.mp4"
    data = path.read_bytes()
    url = f"/api/documents/{library.doc_id(path.name)}/media"
    whole = get(read_only, url)
    assert whole.status == 200 and whole.body == data
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["content-type"] == "video/mp4"
    part = get(read_only, url, Range="bytes=100-1099")
    assert part.status == 206 and part.body == data[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(data)}"
    assert part.headers["content-length"] == "1000"
    tail = get(read_only, url, Range="bytes=-500")
    assert tail.status == 206 and tail.body == data[-500:]
    rest = get(read_only, url, Range=f"bytes={len(data) - 10}-")
    assert rest.status == 206 and rest.body == data[-10:]
    past_end = get(read_only, url, Range=f"bytes=0-{len(data) * 2}")
    assert past_end.status == 206 and past_end.body == data
    outside = get(read_only, url, Range=f"bytes={len(data)}-")
    assert outside.status == 416 and outside.headers["content-range"] == f"bytes */{len(data)}"
    several = get(read_only, url, Range="bytes=0-1,5-6")  # both parts, as multipart/byteranges
    assert several.status == 206 and several.headers["content-type"].startswith("multipart/byteranges")
    assert b"Content-Range: bytes 0-1/" in several.body and b"Content-Range: bytes 5-6/" in several.body
    stale = get(read_only, url, Range="bytes=0-9", If_Range='"not-the-etag"')
    assert stale.status == 200 and len(stale.body) == len(data)
    assert get(read_only, url, If_None_Match=whole.headers["etag"]).status == 304
    head = call(read_only, "HEAD", url)
    assert head.status == 200 and head.body == b"" and head.headers["content-length"] == str(len(data))


# ---- read-only and writes ------------------------------------------------------------------------------------------
def test_writes_are_refused_with_a_clear_message_when_read_only(read_only, library):
    people = get(read_only, "/api/people").json()
    assert people["writes"] is False and people["clusters"]
    # each file of a group says what it is: the page shows a video's poster frame, as a video face has no crop
    assert all(f["media_type"] in ("image", "video") for c in people["clusters"] for f in c["files"])
    cluster = people["clusters"][0]["cluster"]
    for path, body in ((f"/api/people/clusters/{cluster}/name", {"name": "Someone"}),
                       ("/api/people/enroll", {"name": "Someone", "document_id": library.doc_id("biden_1.jpg")}),
                       ("/api/people/forget", {"name": "Barack Obama"})):
        reply = post_json(read_only, path, body)
        assert reply.status == 403
        assert "--allow-writes" in reply.json()["error"] and "MEDIAINDEX_API_WRITES" in reply.json()["error"]
    assert get(read_only, "/api/people").json()["people"] == people["people"]  # nothing changed
    assert get(read_only, "/api/config").json()["writes"] is False


def test_writes_when_allowed_and_their_guards(serve, library):
    server = serve(build_local_api(library.settings, index=library.index, writes=True))
    # forgetting somebody nobody enrolled is a real, harmless write
    reply = post_json(server, "/api/people/forget", {"name": "Nobody Here"})
    assert reply.status == 200 and reply.json()["faces_removed"] == 0
    assert post_json(server, "/api/people/forget", {"name": "  "}).status == 400
    refused = call(server, "POST", "/api/people/forget", {"Content-Type": "text/plain"}, b'{"name": "x"}')
    assert refused.status == 415  # a form post from another site cannot carry JSON without a preflight
    cross = post_json(server, "/api/people/forget", {"name": "x"}, Origin="http://evil.example")
    assert cross.status == 403 and "cross-site" in cross.json()["error"]
    same = post_json(server, "/api/people/forget", {"name": "Nobody"}, Origin=f"http://127.0.0.1:{server.port}")
    assert same.status == 200
    missing = post_json(server, "/api/people/clusters/c999/name", {"name": "X"})
    assert missing.status == 400 and "no unnamed cluster" in missing.json()["error"]
    assert get(server, "/api/people/forget").status == 405


# ---- headers and hosts ---------------------------------------------------------------------------------------------
def test_security_headers_everywhere(read_only):
    for path in ("/", "/assets/app.js", "/api/search", "/api/documents/" + "0" * 40, "/nope"):
        reply = get(read_only, path)
        csp = reply.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert reply.headers["x-content-type-options"] == "nosniff"
    page = get(read_only, "/").body.decode()
    assert "<script>" not in page and "style=" not in page and "http" not in page.replace("http-equiv", "")


def test_host_header_guards_against_dns_rebinding(read_only):
    assert get(read_only, "/api/config").status == 200
    assert call(read_only, "GET", "/api/config", host=f"localhost:{read_only.port}").status == 200
    for host in ("evil.example", f"evil.example:{read_only.port}", "127.0.0.1:1", ""):
        reply = call(read_only, "GET", "/api/config", host=host)
        assert reply.status == 421 and "DNS rebinding" in reply.json()["error"]


def test_page_files_are_served_and_nothing_else(read_only):
    assert get(read_only, "/assets/app.js").headers["content-type"].startswith("text/javascript")
    assert get(read_only, "/assets/style.css").status == 200
    assert get(read_only, "/assets/index.html").status == 404
    assert get(read_only, "/assets/__init__.py").status == 404


def test_cli_serve_is_registered():
    from mediaindex.entrypoints.cli import build_parser

    args = build_parser().parse_args(["serve", "--port", "0", "--allow-writes", "--root", "/tmp"])
    assert args.host == "127.0.0.1" and args.allow_writes and args.port == 0
    assert build_parser().parse_args(["serve"]).allow_writes is False



def test_mediaindex_serve_command_starts_and_answers(library):
    import os
    import subprocess
    import sys
    import urllib.request

    env = {**os.environ, "MEDIAINDEX_HOME": str(library.home)}
    env.pop("MEDIAINDEX_INDEX", None)
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from mediaindex.entrypoints.cli import main; sys.exit(main())",
                             "serve", "--port", "0"],
                            env=env, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert "read-only" in line, line
        url = line.split("serving ", 1)[1].split(" ", 1)[0]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "api/search?q=orange", timeout=10) as response:
            import json

            assert [h["name"] for h in json.load(response)["hits"]] == ["n07747607_orange.JPEG"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_media_url_is_same_origin_locally(read_only, library):
    doc_id = library.doc_id("obama_1.jpg")
    assert get(read_only, f"/api/documents/{doc_id}/media-url").json() == {
        "url": f"/api/documents/{doc_id}/media", "media_type": "image"}
