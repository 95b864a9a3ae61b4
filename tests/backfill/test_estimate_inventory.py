"""--dry-run's estimate (files, bytes, images vs videos, Rekognition calls and list price) and reading an S3
Inventory (manifest.json + CSV.gz) instead of listing, through the real CLI on moto."""

from __future__ import annotations

import csv
import gzip
import io
import json
from urllib.parse import quote_plus

import pytest

from mediaindex.domain import document as docs
from mediaindex.entrypoints.cli import main
from mediaindex.adapters.listing.inventory import InventorySource
from mediaindex.adapters.listing.s3 import S3Source
from mediaindex.adapters.queue.sqs import QueueSink
from mediaindex.services.backfill import Backfill
from mediaindex.services.estimate import PRICE_PER_1000_USD, Estimate, media_kind
from tests.backfill.archive import archive_files, picture, receive_all, upload
from tests.backfill.conftest import BUCKET

VIDEOS = {"clips/a.mp4": b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100, "clips/b.MOV": b"\x00" * 50,
          "clips/c.webm": b"\x1a\x45\xdf\xa3" + b"\x00" * 70}


@pytest.fixture
def cli_env(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDIAINDEX_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MEDIAINDEX_QUEUE_URL", raising=False)
    monkeypatch.delenv("MEDIAINDEX_INDEX", raising=False)
    monkeypatch.delenv("MEDIAINDEX_FEATURES", raising=False)
    return tmp_path


def run_cli(capsys, *argv) -> tuple[int, dict]:
    status = main(list(argv))
    out = capsys.readouterr().out
    return status, json.loads(out)


def test_media_kind_goes_by_extension():
    assert [media_kind(k) for k in ("a/b.JPG", "x.heic", "v.MOV", "v.mp4", "notes.txt", "noext")] == [
        "image", "image", "video", "video", "other", "other"]


def test_estimate_arithmetic():
    est = Estimate(("labels", "faces", "people"), faces_per_image=0.5, video_seconds=120, video_interval=6)
    from mediaindex.ports import ObjectInfo, ObjectRef

    est.add([ObjectInfo(ObjectRef("b", f"{i}.jpg"), 1000) for i in range(1000)])
    est.add([ObjectInfo(ObjectRef("b", "v.mp4"), 5_000_000)])
    d = est.to_dict(rate=40)
    pictures = 1000 + 20  # a 120 s video sampled every 6 s is 20 pictures
    assert d["rekognition_calls"] == {"DetectLabels": pictures, "DetectFaces": pictures,
                                      "SearchFacesByImage": pictures * 0.5}
    assert d["list_price_usd_total"] == pytest.approx(
        pictures * (PRICE_PER_1000_USD["DetectLabels"] + PRICE_PER_1000_USD["DetectFaces"]
                    + 0.5 * PRICE_PER_1000_USD["SearchFacesByImage"]) / 1000, abs=0.01)
    assert d["bytes"] == 1000 * 1000 + 5_000_000 and d["images"] == 1000 and d["videos"] == 1
    assert d["hours_at_rate"] == round(1001 / 40 / 3600, 2)
    assert "2024-11" in d["assumptions"]["prices"] and d["assumptions"]["faces_per_image"] == 0.5


def test_dry_run_estimates_what_would_be_sent_and_sends_nothing(aws, cli_env, capsys):
    s3, sqs, queue_url = aws
    files = {**archive_files(300), **VIDEOS}
    upload(s3, BUCKET, files)
    # 20 files are already indexed with their current ETag: the estimate leaves them out
    from mediaindex.adapters.index.sqlite import SqliteIndex

    index = SqliteIndex(str(cli_env / "index.db"))
    index.ensure_ready()
    etags = {o["Key"]: o["ETag"].strip('"') for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    done = sorted(k for k in files if k.startswith("photos/"))[:20]
    for key in done:
        index.put({**docs.base_document(BUCKET, key, None), "status": "indexed", "etag": etags[key],
                   "size": len(files[key])}, None)

    status, result = run_cli(capsys, "backfill", f"s3://{BUCKET}", "--dry-run", "--json", "--queue-url", queue_url,
                             "--index", f"sqlite:///{cli_env / 'index.db'}", "--no-progress")
    assert status == 0 and result["dry_run"] is True and result["mode"] == "queue"
    assert result["listed"] == len(files) and result["skipped_unchanged"] == 20
    todo = {k: v for k, v in files.items() if k not in done}
    est = result["to_index"]
    images = sum(1 for k in todo if k.lower().rsplit(".", 1)[-1] in ("jpg", "png"))
    assert (est["files"], est["bytes"]) == (len(todo), sum(map(len, todo.values())))
    assert (est["images"], est["videos"], est["other"]) == (images, 3, 1)  # notes.txt is the other
    pictures = images + 3 * 10  # 60 s videos, a frame every 6 s
    assert est["rekognition_calls"] == {"DetectLabels": pictures, "DetectFaces": pictures,
                                        "SearchFacesByImage": pictures * 1.0}
    assert est["list_price_usd_total"] == pytest.approx(3 * pictures / 1000, abs=0.01)
    assert result["rate"] == 40.0
    assert receive_all(sqs, queue_url) == []  # nothing sent

    # and the human-readable form says the same, with its assumptions
    assert main(["backfill", f"s3://{BUCKET}", "--dry-run", "--queue-url", queue_url, "--no-progress",
                 "--index", f"sqlite:///{cli_env / 'index.db'}"]) == 0
    text = capsys.readouterr().out
    assert f"to index: {len(todo):,} files" in text and "SearchFacesByImage" in text and "2024-11" in text


INVENTORY_BUCKET = "inventory-bucket"
SCHEMA = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass"


def write_inventory(s3, files: dict[str, bytes], per_file: int = 40) -> str:
    """An inventory as S3 writes it: data files of CSV.gz rows, keys URL-encoded, and a manifest naming them."""
    s3.create_bucket(Bucket=INVENTORY_BUCKET)
    etags = {o["Key"]: o["ETag"].strip('"') for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    rows = []
    for i, (key, data) in enumerate(sorted(files.items())):
        encoded = quote_plus(key) if i % 2 else quote_plus(key, safe="/")
        rows.append([BUCKET, encoded, "v1", "true", "false", str(len(data)), "2024-01-01T00:00:00.000Z",
                     etags[key], "GLACIER" if key == "photos/00/img_0003.jpg" else "STANDARD"])
        if i % 50 == 0:  # an older version and a delete marker, as versioned inventories list them
            rows.append([BUCKET, encoded, "v0", "false", "false", "1", "2023-01-01T00:00:00.000Z", "old", "STANDARD"])
    rows.append([BUCKET, quote_plus("gone/deleted.jpg"), "v2", "true", "true", "", "2024-01-02T00:00:00.000Z", "",
                 ""])
    keys = []
    for n, start in enumerate(range(0, len(rows), per_file)):
        buf = io.StringIO()
        csv.writer(buf, quoting=csv.QUOTE_ALL).writerows(rows[start:start + per_file])
        data_key = f"{BUCKET}/daily/data/part-{n:03d}.csv.gz"
        s3.put_object(Bucket=INVENTORY_BUCKET, Key=data_key, Body=gzip.compress(buf.getvalue().encode()))
        keys.append({"key": data_key, "size": 1, "MD5checksum": "x"})
    manifest = {"sourceBucket": BUCKET, "destinationBucket": f"arn:aws:s3:::{INVENTORY_BUCKET}",
                "version": "2016-11-30", "creationTimestamp": "1704067200000", "fileFormat": "CSV",
                "fileSchema": SCHEMA, "files": keys}
    manifest_key = f"{BUCKET}/daily/2024-01-01T01-00Z/manifest.json"
    s3.put_object(Bucket=INVENTORY_BUCKET, Key=manifest_key, Body=json.dumps(manifest).encode())
    return f"s3://{INVENTORY_BUCKET}/{manifest_key}"


def test_an_inventory_lists_the_same_objects_as_listing_decoded_and_current_only(aws):
    s3, sqs, queue_url = aws
    files = archive_files(120)
    upload(s3, BUCKET, files)
    manifest = write_inventory(s3, files)
    source = InventorySource(s3, manifest)
    listed = [item for page in source.pages(None) for item in page]
    assert sorted(i.info.ref.key for i in listed) == sorted(files)  # odd keys decoded, old versions dropped
    by_key = {i.info.ref.key: i for i in listed}
    s3_listing = {i.info.ref.key: i.info for page in S3Source(s3, BUCKET).pages(None) for i in page}
    for key, item in by_key.items():
        assert (item.info.etag, item.info.size) == (s3_listing[key].etag, s3_listing[key].size)
    assert by_key["photos/00/img_0003.jpg"].storage_class == "GLACIER"

    # resuming mid-way through the second data file picks up exactly the rest
    middle = listed[57].position
    assert middle.startswith("inventory:1:")
    rest = [item.info.ref.key for page in source.pages(middle) for item in page]
    assert rest == [i.info.ref.key for i in listed[58:]]

    # a backfill from the inventory sends every current object but the archived one
    summary = Backfill(source, None, QueueSink(sqs, queue_url)).run()
    assert summary.done and summary.skipped_archived == 1 and summary.sent == len(files) - 1
    assert len(receive_all(sqs, queue_url)) == len(files) - 1


def test_the_cli_reads_an_inventory_for_its_estimate(aws, cli_env, capsys):
    s3, sqs, queue_url = aws
    files = archive_files(60)
    upload(s3, BUCKET, files)
    manifest = write_inventory(s3, files)
    status, result = run_cli(capsys, "backfill", f"s3://{BUCKET}/odd/", "--inventory", manifest, "--dry-run",
                             "--json", "--no-progress", "--index", f"sqlite:///{cli_env / 'i.db'}")
    odd = [k for k in files if k.startswith("odd/")]
    assert status == 0 and result["listed"] == len(odd) and result["to_index"]["images"] == len(odd)


def test_an_inventory_of_another_bucket_or_format_is_refused_clearly(aws, cli_env, capsys):
    s3, _, _ = aws
    upload(s3, BUCKET, {"a.jpg": picture(1)})
    manifest = write_inventory(s3, {"a.jpg": picture(1)})
    assert main(["backfill", "s3://other-bucket", "--inventory", manifest, "--dry-run", "--no-progress",
                 "--index", f"sqlite:///{cli_env / 'i.db'}"]) == 2
    assert "lists s3://archive-bucket, not s3://other-bucket" in capsys.readouterr().err
    s3.put_object(Bucket=INVENTORY_BUCKET, Key="orc/manifest.json",
                  Body=json.dumps({"sourceBucket": BUCKET, "fileFormat": "ORC", "fileSchema": "x", "files": []}))
    assert main(["backfill", f"s3://{BUCKET}", "--inventory", f"s3://{INVENTORY_BUCKET}/orc/manifest.json",
                 "--dry-run", "--index", f"sqlite:///{cli_env / 'i.db'}"]) == 2
    assert "only CSV inventories" in capsys.readouterr().err
