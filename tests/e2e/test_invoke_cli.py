"""`mediaindex invoke EVENT.json` as a user runs it: a real subprocess, S3 on moto's server through
AWS_ENDPOINT_URL_S3, the embedded index, the local models. stdout is the handler's JSON result only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from mediaindex.adapters.index.sqlite import SqliteIndex
from mediaindex.entrypoints.cli.query_flags import query_from_flags

pytestmark = pytest.mark.models
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server._server.server_port}"
    # moto's state lives in the process, shared by every server in it: start from an empty account
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    yield endpoint
    server.stop()


def invoke(event: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mediaindex", "invoke", str(ROOT / "events" / event)],
        env=env, capture_output=True, text=True, timeout=300,
    )


def test_invoke_runs_the_handler_on_event_files(tmp_path, s3_endpoint, faces_dir):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="mediaindex-demo-bucket")
    s3.put_object(Bucket="mediaindex-demo-bucket", Key="photos/obama_1.jpg", Body=(faces_dir / "obama_1.jpg").read_bytes())
    db = tmp_path / "index.db"
    env = {**os.environ, "AWS_ENDPOINT_URL_S3": s3_endpoint, "MEDIAINDEX_INDEX": f"sqlite:///{db}",
           "MEDIAINDEX_ANALYZER": "local", "MEDIAINDEX_HOME": str(tmp_path)}

    done = invoke("put.json", env)
    assert done.returncode == 0, done.stderr
    [outcome] = json.loads(done.stdout)["outcomes"]
    assert outcome["action"] == "indexed" and outcome["key"] == "photos/obama_1.jpg" and outcome["faces"] == 1

    # an SQS batch whose files are not in the bucket: creations of vanished files are not errors
    batch = invoke("sqs-batch.json", env)
    assert batch.returncode == 0, batch.stderr
    assert json.loads(batch.stdout) == {"batchItemFailures": []}

    index = SqliteIndex(str(db))
    hits = index.search(query_from_flags(None)).hits
    assert [h["key"] for h in hits] == ["photos/obama_1.jpg"] and hits[0]["bucket"] == "mediaindex-demo-bucket"

    s3.delete_object(Bucket="mediaindex-demo-bucket", Key="photos/obama_1.jpg")
    gone = invoke("delete.json", env)  # a delete for another key: a tombstone, nothing else changes
    assert gone.returncode == 0 and json.loads(gone.stdout)["outcomes"][0]["action"] == "removed"
    assert index.search(query_from_flags(None)).total == 1


def test_invoke_says_what_is_wrong_with_a_bad_event_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    done = subprocess.run([sys.executable, "-m", "mediaindex", "invoke", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "is not JSON" in done.stderr
