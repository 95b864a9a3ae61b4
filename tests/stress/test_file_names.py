"""Any file name: names made of arbitrary bytes (not UTF-8, control characters, escape sequences, bidi overrides,
newlines) are indexed once, counted unchanged afterwards, never pruned by mistake and never an error on every
run; `--json` output is always valid UTF-8 JSON; terminal output shows control characters as escapes."""

from __future__ import annotations

import io
import json
import os
import shutil
from contextlib import redirect_stdout

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.config import Settings
from mediaindex.domain import document as docs
from mediaindex.entrypoints.cli.common import print_json, shown
from mediaindex.entrypoints.cli.search import print_hits
from mediaindex.domain.query import Query
from mediaindex.entrypoints.workers import WorkerSpec, index_paths

FAKE = "tests.local_mode.factory:fake_app"
NAME_BYTES = st.binary(min_size=1, max_size=24).filter(lambda b: b"/" not in b and b"\x00" not in b
                                                         and not b.startswith(b".")).map(lambda b: b + b".jpg")
SPECIAL = [b"bad\xff\xfe.jpg", b"\x1b[31mred\x07.jpg", b"new\nline.jpg", "evil\u202egpj.exe".encode(), b"tab\tcr\r.jpg",
           "caf\u00e9.jpg".encode("latin-1")]


def index_folder(folder, home):
    settings = Settings(home=home)
    index = SqliteIndex(str(home / "index.db"))
    summary = index_paths([os.fsdecode(folder)], settings, index=index, spec=WorkerSpec(settings, factory=FAKE),
                          workers=1, prune=True)
    return summary.to_dict(), index


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(NAME_BYTES, min_size=1, max_size=5, unique=True))
def test_any_byte_name_is_indexed_once_and_then_unchanged(tmp_path_factory, images_dir, names):
    root = tmp_path_factory.mktemp("names")
    folder = os.path.join(os.fsencode(root), b"media")
    os.mkdir(folder)
    photo = next(p for p in sorted(images_dir.iterdir()) if p.suffix.lower() in (".jpg", ".jpeg"))
    for name in [*names, *SPECIAL]:
        target = os.path.join(folder, name)
        if not os.path.exists(target):
            shutil.copyfile(photo, target)
    count = len(os.listdir(folder))
    first, index = index_folder(folder, root / "home")
    assert first["errors"] == 0 and first["indexed"] + first["reused"] == count, first["failures"]
    again, _ = index_folder(folder, root / "home")
    assert again["unchanged"] == count and again["errors"] == again["removed"] == 0
    for name in os.listdir(folder):  # every file has its document, under its real path's id
        doc = index.get(docs.document_id("", os.fsdecode(os.path.join(folder, name)))).doc
        assert doc["status"] == "indexed" and doc["key"].encode("utf-8")
    out = io.StringIO()
    with redirect_stdout(out):
        print_json({**again, "failures": [{"key": os.fsdecode(os.path.join(folder, n))} for n in os.listdir(folder)]})
    text = out.getvalue()
    json.loads(text.encode("utf-8"))  # valid UTF-8 and valid JSON
    result = index.search(Query(limit=50))
    out = io.StringIO()
    print_hits(result, Query(limit=50), out=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == count + 1  # one line a file: no name split a line
    assert not any(c in line for line in lines for c in "\x1b\x07\r\t\u202e")
    index.close()


def test_shown_escapes_what_a_terminal_would_act_on():
    assert shown("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert shown("x\u202egpj.exe") == "x\\u202egpj.exe"
    assert shown(os.fsdecode(b"caf\xe9")) == "caf\\xe9"
    assert shown("café ok") == "café ok"
