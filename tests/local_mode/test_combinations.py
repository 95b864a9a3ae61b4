"""Any combination of source, analyzer and index works through the same commands: an S3 prefix (moto's S3 server),
OpenSearch (osmem-server through opensearch-py), Rekognition (stubbed at the HTTP layer) with the embedded index;
and the search flags map onto the query model."""

from __future__ import annotations

import json
import shutil

import boto3
import pytest

from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.config import Settings
from mediaindex.entrypoints.cli.query_flags import query_from_flags
from mediaindex.entrypoints.cli import build_parser
from mediaindex.entrypoints.cli.search import build_query, path_prefix
from mediaindex.entrypoints.workers import WorkerSpec, bulk_indexer
from mediaindex.services.bulk import IndexRoot
from tests.local_mode.conftest import FAKE, cli

BUCKET = "photo-archive"


# ---- search flags ----------------------------------------------------------------------------------------------------
def parse(*argv: str):
    return build_parser().parse_args(["search", *argv])


@pytest.mark.parametrize("argv, expected", [
    ([], dict()),
    (["dog"], dict(query="dog")),
    (["--label", "dog", "--label", "ball"], dict(labels=["dog", "ball"])),
    (["--person", "Ada Lovelace"], dict(people=["Ada Lovelace"])),
    (["--label", "dog", "--min-confidence", "90"], dict(labels=["dog"], min_confidence=90.0)),
    (["--emotion", "happy"], dict(emotions=["happy"])),
    (["--text", "invoice 2024"], dict(text="invoice 2024")),
    (["--type", "video"], dict(media_type="video")),
    (["--path", "photos/2024/"], dict(prefix="photos/2024/")),
    (["--path", "s3://bucket/photos/"], dict(prefix="photos/")),
    (["--limit", "5", "--offset", "10"], dict(limit=5, offset=10)),
    (["--sort=-taken_at"], dict(sort="-taken_at")),
    (["--sort", "key:desc"], dict(sort="key:desc")),
    (["--facets"], dict(facets=True)),
    (["--failed", "status:failed"], dict(query="status:failed", include_failed=True)),
    (["cat OR dog", "--person", "Bob", "--type", "image"], dict(query="cat OR dog", people=["Bob"], media_type="image")),
    (["dog", "beach"], dict(query="dog beach")),  # several words unquoted: one query
    (['person:"Ada Lovelace"', "type:video"], dict(query='person:"Ada Lovelace" type:video')),
])
def test_search_flags_map_onto_the_query_model(argv, expected):
    assert build_query(parse(*argv)) == query_from_flags(**expected)


def test_path_flag_means_a_folder_as_indexed(tmp_path, monkeypatch):
    (tmp_path / "album").mkdir()
    monkeypatch.chdir(tmp_path)
    assert path_prefix("album") == str(tmp_path / "album") + "/"
    assert path_prefix("./album/../album") == str(tmp_path / "album") + "/"
    assert path_prefix(str(tmp_path / "album" / "x.jpg")) == str(tmp_path / "album" / "x.jpg")


# ---- S3 ------------------------------------------------------------------------------------------------------------
@pytest.fixture
def s3_server(monkeypatch):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", url)
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=url)
    s3.create_bucket(Bucket=BUCKET)
    yield s3
    server.stop()


def test_index_an_s3_prefix(home, s3_server, images_dir):
    names = sorted(p.name for p in images_dir.iterdir())[:6]
    for name in names:
        s3_server.upload_file(str(images_dir / name), BUCKET, f"2024/{name}")
    s3_server.put_object(Bucket=BUCKET, Key="2023/other.jpg", Body=(images_dir / names[0]).read_bytes())
    s3_server.put_object(Bucket=BUCKET, Key="2024/readme.txt", Body=b"not a picture")

    done = cli("index", f"s3://{BUCKET}/2024/", "--workers", "2", "--json", "--app-factory", FAKE)
    summary = json.loads(done.stdout)
    assert (summary["listed"], summary["indexed"], summary["failed"]) == (7, 6, 1), done.stderr
    assert summary["sources"] == [f"s3://{BUCKET}/2024/"]
    assert summary["failures"][0]["key"] == f"{BUCKET}/2024/readme.txt"

    found = json.loads(cli("search", "--json", "--limit", "50").stdout)
    assert sorted((h["bucket"], h["key"]) for h in found["hits"]) == [(BUCKET, f"2024/{n}") for n in names]
    assert json.loads(cli("show", f"s3://{BUCKET}/2024/{names[0]}", "--json").stdout)["etag"]

    again = json.loads(cli("index", f"s3://{BUCKET}/2024/", "--json", "--app-factory", FAKE).stdout)
    assert (again["unchanged"], again["indexed"]) == (7, 0)  # decided from the listing's ETags

    s3_server.delete_object(Bucket=BUCKET, Key=f"2024/{names[1]}")
    pruned = json.loads(cli("index", f"s3://{BUCKET}/2024/", "--prune", "--json", "--app-factory", FAKE).stdout)
    assert pruned["removed"] == 1
    assert json.loads(cli("search", "--json").stdout)["total"] == 5


# ---- OpenSearch ----------------------------------------------------------------------------------------------------
def test_index_a_folder_into_opensearch(home, osmem_clone, photos):
    url = osmem_clone.url
    done = cli("index", str(photos), "--index", url, "--workers", "2", "--json", "--app-factory", FAKE)
    assert json.loads(done.stdout)["indexed"] == 40, done.stderr
    found = json.loads(cli("search", "thing", "--index", url, "--json", "--limit", "3", "--facets").stdout)
    assert found["total"] == 40 and len(found["hits"]) == 3 and found["facets"]["labels"]["thing"] == 40
    assert not (home / "index.db").exists()  # nothing went to the embedded index
    again = json.loads(cli("index", str(photos), "--index", url, "--json", "--app-factory", FAKE).stdout)
    assert again["unchanged"] == 40
    stats = json.loads(cli("stats", "--index", url, "--json").stdout)
    assert stats["indexed"] == 40


# ---- Rekognition with the embedded index ---------------------------------------------------------------------------
def test_rekognition_with_the_embedded_index_over_threads(tmp_path, images_dir):
    from mediaindex import bootstrap
    from mediaindex.adapters.analysis.rekognition import make_client
    from tests.rekognition.fake_service import FakeRekognition
    from tests.rekognition.responses import HUSKY_LABELS

    folder = tmp_path / "pics"
    folder.mkdir()
    for name in sorted(p.name for p in images_dir.iterdir())[:5]:
        shutil.copyfile(images_dir / name, folder / name)
    settings = Settings(home=tmp_path, analyzer="rekognition", aws_region="us-east-1", features=("labels",))
    fake = FakeRekognition(make_client(settings))
    fake.script("DetectLabels", *[HUSKY_LABELS] * 5)
    index = SqliteIndex(str(tmp_path / "index.db"))
    pipeline = bootstrap.build_app(settings, index=index, rekognition=fake.client).pipeline
    runner = bulk_indexer(index=index, spec=WorkerSpec(settings), workers=4, threads=True, handle=pipeline.handle,
                         analyzer_name="rekognition")
    summary = runner.run([IndexRoot.parse(str(folder))]).to_dict()
    assert (summary["mode"], summary["indexed"]) == ("threads", 5)
    assert len(fake.sent("DetectLabels")) == 5
    dogs = index.search(query_from_flags("dog"))
    assert dogs.total == 5 and {h["analyzer"] for h in dogs.hits} == {"rekognition"}
    again = bulk_indexer(index=index, spec=WorkerSpec(settings), workers=4, threads=True, handle=pipeline.handle,
                        analyzer_name="rekognition").run([IndexRoot.parse(str(folder))]).to_dict()
    assert again["unchanged"] == 5 and len(fake.sent("DetectLabels")) == 5  # no paid call for unchanged files
