"""The local HTTP server against bad clients, over real sockets: malformed Content-Length, chunked bodies, huge
and deeply nested bodies, unknown methods, half-sent requests (timed out), more connections than threads (503 at
once, the server still answers afterwards); and the write guard: exact media types, same origin by scheme, host
(any case) and port, person names without control or direction characters, one limit for CLI and API."""

from __future__ import annotations

import json
import socket
import time

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.api.guards import same_origin
from mediaindex.api.server import LocalServer
from mediaindex.config import Settings
from mediaindex.domain.errors import ConfigurationError
from mediaindex.entrypoints.cli.serve import build_local_api
from mediaindex.services.people import MAX_NAME_CHARS, check_person_name
from tests.web.helpers import RunningServer, call, get, post_json


@pytest.fixture
def server(tmp_path):
    settings = Settings(home=tmp_path, features=("labels", "faces", "people"))
    index = SqliteIndex(str(tmp_path / "index.db"))
    index.ensure_ready()
    running = RunningServer(build_local_api(settings, index=index, writes=True), request_timeout=1.0)
    yield running
    running.close()


def wait_until(condition, limit: float = 120.0) -> None:
    """Wait for the server to reach a state (a condition, checked often; the limit only ends a hung test)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < limit, "the server never reached the expected state"
        time.sleep(0.01)


def raw(server, data: bytes, wait: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except socket.timeout:
            pass
    return b"".join(chunks)


def status_and_json(reply: bytes) -> tuple[int, dict]:
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/json" in head.lower(), head
    return status, json.loads(body)


def request(server, method="POST", path="/api/people/forget", headers="", body=b"") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n{headers}\r\n").encode("utf-8") + body


@pytest.mark.parametrize("length", ["abc", "-5", "-1", "1e3", "12 34", "0x10", "١٢"])
def test_a_malformed_content_length_is_a_json_400_and_holds_nothing(server, length):
    started = time.monotonic()
    reply = raw(server, request(server, headers=f"Content-Type: application/json\r\nContent-Length: {length}\r\n"))
    status, body = status_and_json(reply)
    assert status == 400 and "Content-Length" in body["error"] and time.monotonic() - started < 3


def test_chunked_too_large_and_unknown_methods_get_json(server):
    status, body = status_and_json(raw(server, request(server, headers="Transfer-Encoding: chunked\r\n", body=b"0\r\n\r\n")))
    assert status == 411
    status, body = status_and_json(raw(server, request(server, headers="Content-Length: 99999999\r\n")))
    assert status == 413
    status, body = status_and_json(raw(server, request(server, method="BREW", path="/")))
    assert status == 405 and "BREW" in body["error"]
    status, body = status_and_json(raw(server, b"GARBAGE\r\n\r\n"))
    assert status == 400
    status, body = status_and_json(raw(server, b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n"))
    assert status == 414


def test_deeply_nested_json_is_a_400(server):
    nested = b"[" * 50_000 + b"]" * 50_000
    reply = call(server, "POST", "/api/people/forget", {"Content-Type": "application/json"}, nested[:60_000])
    assert reply.status in (400, 413) and reply.json()["error"]
    deep = b'{"name": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    reply = call(server, "POST", "/api/people/forget", {"Content-Type": "application/json"}, deep)
    assert reply.status == 400 and "JSON" in reply.json()["error"]


def test_half_sent_requests_time_out_and_the_server_still_answers(server):
    sockets = []
    for _ in range(20):  # headers promise a body that never comes
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(request(server, headers="Content-Type: application/json\r\nContent-Length: 100\r\n", body=b'{"na'))
        sockets.append(s)
    idle = socket.create_connection(("127.0.0.1", server.port))  # and one that sends nothing at all
    assert get(server, "/api/config").status == 200  # the server answers meanwhile
    idle.settimeout(5)
    started = time.monotonic()
    assert idle.recv(10) == b""  # closed by the server after its timeout (1 s here)
    assert time.monotonic() - started < 4
    for s in sockets:
        s.close()
    idle.close()


def test_a_request_trickled_in_a_byte_at_a_time_is_cut_off(server):
    """A slow client cannot hold a connection by sending a little every few moments: the whole request must arrive
    within the request timeout (1 s here), however it is spread."""
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(f"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n".encode())
        s.settimeout(0.25)
        sent = 0
        closed = False
        while not closed and sent < 400:  # 400 header lines at 0.25 s: far past the timeout
            try:
                s.sendall(f"X-Slow-{sent}: a\r\n".encode())
                sent += 1
                closed = s.recv(100) == b""
            except socket.timeout:
                continue
            except OSError:  # reset: closed too
                closed = True
        assert closed and sent < 400
    assert get(server, "/api/config").status == 200


def test_more_connections_than_threads_get_503_at_once_not_a_thread_each(tmp_path):
    settings = Settings(home=tmp_path, features=("labels",))
    index = SqliteIndex(str(tmp_path / "index.db"))
    index.ensure_ready()
    running = RunningServer(build_local_api(settings, index=index), request_timeout=3.0, max_connections=5)
    try:
        held = [socket.create_connection(("127.0.0.1", running.port)) for _ in range(5)]
        open_connections = running.server.server.server_state.connections
        wait_until(lambda: len(open_connections) == 5)
        reply = raw(running, b"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", wait=2)
        status, body = status_and_json(reply)
        assert status == 503 and "busy" in body["error"]
        for s in held:
            s.close()
        wait_until(lambda: not open_connections)
        assert get(running, "/api/config").status == 200  # slots come back
    finally:
        running.close()


def test_the_server_has_a_timeout_and_a_connection_bound_by_default():
    host, port, hosts, timeout, connections = LocalServer.__init__.__defaults__
    assert 0 < timeout <= 60 and 0 < connections <= 256


# ---- the write guard -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("content_type", ["text/plain; application/json", "text/plain;charset=application/json",
                                          "application/jsonx", "multipart/form-data; boundary=application/json",
                                          "application/x-www-form-urlencoded", ""])
def test_only_a_json_media_type_is_accepted(server, content_type):
    reply = call(server, "POST", "/api/people/forget", {"Content-Type": content_type} if content_type else {},
                 b'{"name": "x"}')
    assert reply.status == 415


def test_json_with_parameters_and_any_case_is_accepted(server):
    for content_type in ("application/json; charset=utf-8", "Application/JSON"):
        reply = call(server, "POST", "/api/people/forget", {"Content-Type": content_type}, b'{"name": "Nobody"}')
        assert reply.status == 200, reply.body


@pytest.mark.parametrize("origin", ["evil://127.0.0.1:{port}", "https://127.0.0.1:{port}", "http://127.0.0.1:1",
                                    "http://127.0.0.1", "null", "http://127.0.0.1:{port}.evil.example",
                                    "http://evil.example#127.0.0.1:{port}", "http://user@127.0.0.1:{port}",
                                    "http://127.0.0.1:{port}/path", "file://", "http://[::1]:{port}"])
def test_a_cross_site_origin_is_refused(server, origin):
    reply = post_json(server, "/api/people/forget", {"name": "x"}, Origin=origin.format(port=server.port))
    assert reply.status == 403 and "cross-site" in reply.json()["error"]


def test_the_same_origin_in_any_case_is_accepted(server):
    for origin in (f"http://127.0.0.1:{server.port}", f"HTTP://LOCALHOST:{server.port}"):
        host = "localhost" if "LOCALHOST" in origin else "127.0.0.1"
        reply = post_json(server, "/api/people/forget", {"name": "Nobody"}, Origin=origin)
        assert reply.status in (200, 403)
        if host == "127.0.0.1":
            assert reply.status == 200
    reply = call(server, "POST", "/api/people/forget", {"Content-Type": "application/json",
                                                        "Origin": f"HTTP://LOCALHOST:{server.port}"},
                 b'{"name": "Nobody"}', host=f"LocalHost:{server.port}")
    assert reply.status == 200, reply.body


def test_same_origin_rules():
    assert same_origin("http://example.com", "example.com")
    assert same_origin("http://example.com:80", "EXAMPLE.com")
    assert same_origin("https://api.example.com", "api.example.com", "https")
    assert not same_origin("http://api.example.com", "api.example.com", "https")
    assert not same_origin("https://api.example.com:8443", "api.example.com", "https")
    assert not same_origin("http://a:notaport", "a")


@pytest.mark.parametrize("name", ["Ada\u202eecalevoL", "Ada\x1b[31m", "Ada\x00", "Ada\u2028Lovelace", "A" * (MAX_NAME_CHARS + 1),
                                  "Ada\u2066x", "   "])
def test_person_names_with_control_or_direction_characters_are_refused_in_the_api(server, name):
    reply = post_json(server, "/api/people/forget", {"name": name})
    if name.strip():
        # forgetting is lenient about names that cannot exist; naming and enrolling are not
        reply = post_json(server, "/api/people/clusters/c1/name", {"name": name})
    assert reply.status == 400 and "name" in reply.json()["error"]


@hsettings(max_examples=300, deadline=None)
@given(name=st.text(max_size=120))
def test_one_rule_for_names(name):
    try:
        cleaned = check_person_name(name)
    except ConfigurationError as e:
        assert str(e)
        return
    assert 0 < len(cleaned) <= MAX_NAME_CHARS and cleaned == " ".join(cleaned.split())
    assert not any(ord(c) < 32 or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in cleaned)


def test_the_cli_refuses_the_same_names(tmp_path, capsys):
    from mediaindex.entrypoints.cli import main

    code = main(["people", "name-cluster", "c1", "Ada\u202eecalevoL", "--home", str(tmp_path)])
    assert code == 2 and "U+202E" in capsys.readouterr().err


@pytest.mark.parametrize("query", ["q=%FF", "q=dog%C3", "label=%ED%A0%80", "q=caf%E9"])
def test_a_query_string_that_is_not_utf8_is_a_400_not_a_search_for_a_replacement_character(server, query):
    reply = get(server, f"/api/search?{query}")
    assert reply.status == 400 and "UTF-8" in reply.json()["error"]
    assert get(server, "/api/search?q=caf%C3%A9").status == 200  # café, in UTF-8
