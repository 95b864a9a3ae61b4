"""A video is never held whole in memory from storage to the decoder (issue 28: a 1 GiB file cost ~2.1 GB, read
into pieces and joined). A real video padded with a `free` box (which every MP4 reader skips) is as large as a long
video for storage, the hash and the reader, yet cheap to make (the padding is sparse) and to decode. The peak of
the Python allocations while the pipeline indexes it is measured with tracemalloc: the old code held the file at
least once, twice while joining; now it holds at most the in-memory threshold (IN_MEMORY_BYTES) plus a chunk."""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import tracemalloc
from pathlib import Path

import av
import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws
from PIL import Image

from mediaindex.adapters.storage.folder import FolderStorage, ref_for
from mediaindex.adapters.storage.s3 import S3Storage
from mediaindex.domain import document as docs
from mediaindex.domain.errors import MediaTooLarge
from mediaindex.domain.messages import StorageEvent
from mediaindex.ports import ObjectRef
from mediaindex.services.indexing import INDEXED, Pipeline
from mediaindex.services.video import VideoIndexer
from tests.fakes import FakeIndex
from tests.video.conftest import ColourAnalyzer

SIZE = 160 * 2**20  # five times the in-memory threshold: one copy of it is far above the budget below
BUDGET = SIZE // 4  # the old code's peak was at least SIZE (the bytes), twice that while joining them


def padded_video(path: Path, total_bytes: int) -> Path:
    """Three seconds of red then blue, followed by a `free` box up to `total_bytes` (sparse: written in no time)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for i in range(15):
            frame = av.VideoFrame.from_image(Image.new("RGB", (160, 96), (200, 30, 30) if i < 8 else (30, 30, 200)))
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with path.open("ab") as f:
        f.write(struct.pack(">I4sQ", 1, b"free", total_bytes - path.stat().st_size))
        f.truncate(total_bytes)
    return path


@pytest.fixture(scope="module")
def big_video(tmp_path_factory) -> tuple[Path, str]:
    path = padded_video(tmp_path_factory.mktemp("video") / "big.mp4", SIZE)
    with path.open("rb") as f:
        return path, hashlib.file_digest(f, "sha256").hexdigest()


def _pipeline(storage) -> Pipeline:
    return Pipeline(storage=storage, analyzer=ColourAnalyzer(), index=FakeIndex(),
                    video=VideoIndexer(ColourAnalyzer(), interval=1.0))


def _index_measured(pipeline: Pipeline, ref: ObjectRef) -> tuple[dict, int]:
    """Index one file; the document and the peak of the Python allocations meanwhile."""
    tracemalloc.start()
    try:
        outcome = pipeline.handle(StorageEvent.created(ref))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome.action == INDEXED, outcome.reason
    return pipeline.index.get(docs.document_id(ref.bucket, ref.key)).doc, peak


def _analysed(doc: dict, sha: str) -> None:
    assert doc["media_type"] == "video" and doc["size"] == SIZE and doc["content_sha256"] == sha
    assert {s["name"] for s in doc["video"]["segments"]["labels"]} >= {"Red", "Blue"}  # really decoded


def test_a_large_video_in_a_folder_is_read_from_its_file_never_held_in_memory(big_video):
    path, sha = big_video
    doc, peak = _index_measured(_pipeline(FolderStorage(max_object_bytes=2 * SIZE)), ref_for(path))
    _analysed(doc, sha)
    assert peak < BUDGET, f"{peak / 2**20:.0f} MiB allocated at the peak for a {SIZE / 2**20:.0f} MiB video"


def test_a_large_video_from_s3_streams_to_a_temporary_file_never_held_in_memory(big_video, tmp_path, monkeypatch):
    """S3's answers from botocore's Stubber with the body streamed from a file, as an HTTP response is (moto keeps
    the object in this process, and its own copies would be counted)."""
    path, sha = big_video
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # TMPDIR
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.add_response("head_object", {"ContentLength": SIZE, "ETag": '"e1"'}, {"Bucket": "media", "Key": "big.mp4"})
    with path.open("rb") as body:
        stub.add_response("get_object", {"ContentLength": SIZE, "ETag": '"e1"', "Body": StreamingBody(body, SIZE)},
                          {"Bucket": "media", "Key": "big.mp4", "IfMatch": '"e1"'})
        with stub:
            doc, peak = _index_measured(_pipeline(S3Storage(client, max_object_bytes=2 * SIZE)),
                                        ObjectRef("media", "big.mp4"))
    _analysed(doc, sha)
    assert peak < BUDGET, f"{peak / 2**20:.0f} MiB allocated at the peak for a {SIZE / 2**20:.0f} MiB video"
    assert os.listdir(tmp_path) == []  # the temporary copy had no name, and is gone with its file


@mock_aws
def test_an_s3_object_above_the_threshold_is_kept_in_an_unnamed_temporary_file_until_closed(tmp_path, monkeypatch):
    from mediaindex.adapters.storage.received import IN_MEMORY_BYTES

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="media")
    data = os.urandom(IN_MEMORY_BYTES + 12345)
    s3.put_object(Bucket="media", Key="v.mp4", Body=data)
    s3.put_object(Bucket="media", Key="p.jpg", Body=b"\xff\xd8\xff small")
    storage = S3Storage(s3, max_object_bytes=len(data))
    with storage.read(ObjectRef("media", "v.mp4")) as obj:
        assert not obj.in_memory and obj.size == len(data)
        assert obj.sha256 == hashlib.sha256(data).hexdigest() and obj.head == data[:512]
        where = os.readlink(f"/proc/self/fd/{obj.file.fileno()}")
        assert where.startswith(str(tmp_path)) and where.endswith("(deleted)")
        assert obj.open().read() == data
    assert obj.file.closed
    with storage.read(ObjectRef("media", "p.jpg")) as small:  # a photo stays in memory, read once
        assert small.in_memory and small.data == b"\xff\xd8\xff small"
    with pytest.raises(MediaTooLarge, match="above the"):
        S3Storage(s3, max_object_bytes=len(data) - 1).read(ObjectRef("media", "v.mp4"))
