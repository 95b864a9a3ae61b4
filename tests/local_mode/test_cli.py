"""`mediaindex index/search/show/stats` as a user runs them (subprocesses), with the fake analyzer in the worker
processes (`--app-factory`): output shapes, exit codes, and surviving SIGKILL and Ctrl-C midway."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from mediaindex.adapters.index.sqlite import SqliteIndex
from tests.local_mode.conftest import FAKE, MEDIAINDEX, ROOT, cli

SUMMARY_KEYS = {
    "sources", "workers", "mode", "listed", "indexed", "reused", "unchanged", "failed", "errors", "gone",
    "skipped_other", "removed", "failures", "elapsed_s", "files_per_s", "interrupted", "complete", "index",
}


def index_json(*args: str, env=None) -> tuple[int, dict]:
    done = cli("index", *args, "--json", "--app-factory", FAKE, env=env)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_index_then_search_show_stats_json_shapes(home, photos):
    (photos / "notes.txt").write_text("not a picture")
    code, summary = index_json(str(photos), "--workers", "2")
    assert code == 1  # a file failed
    assert set(summary) == SUMMARY_KEYS
    assert (summary["listed"], summary["indexed"], summary["failed"], summary["mode"]) == (41, 40, 1, "processes")
    assert summary["failures"][0]["key"] == str(photos / "notes.txt")
    assert summary["failures"][0]["reason"].startswith("unsupported")
    assert summary["index"] == f"sqlite:///{home / 'index.db'}"

    found = cli("search", "thing", "--limit", "5", "--json")
    assert found.returncode == 0, found.stderr
    result = json.loads(found.stdout)
    assert set(result) == {"total", "hits"}
    assert result["total"] == 40 and len(result["hits"]) == 5
    hit = result["hits"][0]
    assert {"id", "key", "bucket", "status", "labels", "label_names", "faces", "people", "media_type"} <= set(hit)
    assert hit["key"].startswith(str(photos) + os.sep) and hit["bucket"] == ""

    faceted = json.loads(cli("search", "--facets", "--limit", "0", "--json").stdout)
    assert set(faceted) == {"total", "hits", "facets"} and faceted["hits"] == []
    assert faceted["facets"]["labels"]["thing"] == 40

    failed = json.loads(cli("search", "--failed", "status:failed", "--json").stdout)
    assert [h["key"] for h in failed["hits"]] == [str(photos / "notes.txt")]

    shown = cli("show", str(photos / "n07747607_orange.JPEG"), "--json")
    assert json.loads(shown.stdout)["key"] == str(photos / "n07747607_orange.JPEG")
    relative = cli("show", os.path.relpath(photos / "n07747607_orange.JPEG", ROOT), "--json")
    assert json.loads(relative.stdout)["key"] == str(photos / "n07747607_orange.JPEG")
    missing = cli("show", str(photos / "nope.jpg"))
    assert missing.returncode == 1 and "not in the index" in missing.stderr

    stats = json.loads(cli("stats", "--json").stdout)
    assert (stats["indexed"], stats["failed"]) == (40, 1)
    assert stats["failures"] == [{"key": str(photos / "notes.txt"), "error": failed["hits"][0]["error"]}]


def test_human_output(home, photos):
    done = cli("index", str(photos), "--workers", "1", "--app-factory", FAKE)
    assert done.returncode == 0, done.stderr
    assert "indexed 40, reused 0, unchanged 0, failed 0 of 40 files" in done.stdout
    assert "files/s" in done.stdout
    again = cli("index", str(photos), "--workers", "1", "--app-factory", FAKE)
    assert "indexed 0, reused 0, unchanged 40" in again.stdout

    found = cli("search", "thing", "--limit", "3")
    lines = found.stdout.strip().splitlines()
    assert len(lines) == 4
    assert all(line.startswith(str(photos)) and "Thing 90%" in line for line in lines[:3])
    assert lines[3] == "-- 1-3 of 40 matches; --offset 3 for more"
    assert cli("search", "nothing_like_this").stdout.strip() == "no matches"

    bad = cli("search", "label:dog>90")
    assert bad.returncode == 2 and ">=N" in bad.stderr  # a clear error with the position
    stats = cli("stats").stdout
    assert "40 indexed" in stats and "thing (40)" in stats


def test_plain_words_a_rerun_query_errors_and_a_taken_port_read_as_people_expect(home, photos):
    done = cli("index", str(photos), "--workers", "1", "--app-factory", FAKE)
    assert done.returncode == 0, done.stderr
    again = cli("index", str(photos), "--workers", "1", "--app-factory", FAKE)
    assert "nothing to analyse" in again.stdout and "0.00 files/s" not in again.stdout
    assert "things (40)" not in cli("search", "things", "--limit", "0").stdout  # a plural finds the label
    assert cli("search", "things", "--limit", "0").stdout.strip() == "-- 40 matches"
    # the fake analyzer says "thing" to every photo: the tench is found by its file name only, and says so
    tench = cli("search", "tench", "--facets").stdout
    assert "n01440764_tench.JPEG" in tench and "(matched by its file name only)" in tench
    assert "matched only by file name or text" in tench
    near = cli("search", "thnig").stdout.splitlines()
    assert near == ["no matches", "closest: label thing"]
    bad = cli("search", "label:dog>90")
    assert bad.returncode == 2 and ">=N" in bad.stderr and "configuration" not in bad.stderr
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = cli("serve", "--port", str(port), timeout=60)
    assert busy.returncode == 2 and "Traceback" not in busy.stderr, busy.stderr
    assert f"port {port} on 127.0.0.1 is taken" in busy.stderr and "--port 0" in busy.stderr


def _documents(home):
    idx = SqliteIndex(str(home / "index.db"))
    try:
        return list(idx.iter_documents(include_deleted=True))
    finally:
        idx.close()


def _wait_for_documents(home, at_least: int, process: subprocess.Popen, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if (home / "index.db").exists():
            try:
                n = len(_documents(home))
            except Exception:  # noqa: BLE001 - the file is being created
                n = 0
            if n >= at_least:
                return n
        time.sleep(0.1)
    raise AssertionError(f"fewer than {at_least} documents after {timeout} s")


def _start_index(photos, env):
    return subprocess.Popen(
        [*MEDIAINDEX, "index", str(photos), "--workers", "2", "--json",
         "--app-factory", FAKE],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "functions")]), **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )


def _workers_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_sigkill_midway_then_rerun_completes_with_one_document_per_file(home, photos):
    process = _start_index(photos, {"FAKE_ANALYZER_DELAY": "0.15"})
    before = _wait_for_documents(home, 6, process)
    workers = _workers_of(process.pid)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    # the worker processes die with it (no orphan keeps writing)
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{w}") and _alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)]
    killed_at = len(_documents(home))
    assert before <= killed_at < 40

    code, summary = index_json(str(photos), "--workers", "2")
    assert code == 0, summary
    assert summary["unchanged"] == killed_at and summary["indexed"] + summary["reused"] == 40 - killed_at
    documents = _documents(home)
    keys = Counter(d["key"] for d in documents)
    assert sorted(keys) == sorted(str(p) for p in photos.iterdir())
    assert set(keys.values()) == {1}
    assert {d["status"] for d in documents} == {"indexed"}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def test_ctrl_c_stops_with_a_summary_and_the_rerun_goes_on(home, photos, tmp_path):
    gate = tmp_path / "gate"  # each worker analyses 2 photos, then waits for it: the run cannot end before Ctrl-C
    process = _start_index(photos, {"FAKE_ANALYZER_GATE": str(gate), "FAKE_ANALYZER_FREE": "2"})
    _wait_for_documents(home, 4, process)
    process.send_signal(signal.SIGINT)
    gate.touch()  # the files being analysed finish; nothing else starts
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    summary = json.loads(out)
    assert summary["interrupted"] and not summary["complete"]
    done = len(_documents(home))
    assert summary["indexed"] == done < 40  # running files were finished and counted, nothing else started
    code, rerun = index_json(str(photos), "--workers", "2")
    assert code == 0 and rerun["unchanged"] == done and rerun["indexed"] == 40 - done


def test_help_teaches_with_examples():
    for command in ("index", "search", "show", "stats", "watch"):
        done = cli(command, "--help")
        assert done.returncode == 0
        assert "examples:" in done.stdout and "--json" in done.stdout
    assert "--app-factory" not in cli("index", "--help").stdout


@pytest.mark.parametrize("args, message", [
    (["index", "/no/such/folder"], "no such file or folder"),
    (["index", "s3://"], "names no bucket"),
    (["index", ".", "--workers", "0"], "at least 1"),
])
def test_bad_arguments_get_a_clear_error(home, args, message):
    done = cli(*args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_the_program_ends_without_teardown_and_loses_nothing(home, photos):
    """`mediaindex` (entrypoints.cli.run) ends its process without the interpreter's teardown, and so do its
    worker processes: the exit status is main's, every byte of output is written, every document is in the
    index, and multiprocessing's exit still ran (no semaphore left for the resource tracker to complain of)."""
    (photos / "notes.txt").write_text("not a picture")
    program = [sys.executable, "-m", "mediaindex"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "functions")])}
    done = subprocess.run([*program, "index", str(photos), "--workers", "2", "--json", "--app-factory", FAKE],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr  # notes.txt failed
    summary = json.loads(done.stdout)
    assert (summary["mode"], summary["indexed"], summary["failed"]) == ("processes", 40, 1)
    assert "leaked" not in done.stderr and "resource_tracker" not in done.stderr, done.stderr
    found = subprocess.run([*program, "search", "--json", "--limit", "100"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert found.returncode == 0 and len(json.loads(found.stdout)["hits"]) == 40
    usage = subprocess.run([*program, "search", "--sort", "nonsense"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=120)
    assert usage.returncode == 2 and "nonsense" in usage.stderr
