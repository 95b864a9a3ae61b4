"""Peak memory of indexing one large video, from storage to the decoder (issue 28: a video was held twice).

A small real video (PyAV, 3 s of 160x96) is padded to the size asked with a top-level `free` box, which every MP4
reader skips: the file is as large as a long video for storage, the hash and the reader, but costs nothing to decode.
Each case runs in a child process of its own, which indexes the file through the app's pipeline (the folder
storage, or the S3 storage with botocore's Stubber answering and the body streamed from the file) with an analyzer
that looks at nothing, into an embedded index, and reports its own peak resident memory (VmHWM) above what it held
before reading (VmRSS).

    PYTHONPATH=functions python bench/bench_read_memory.py --mb 1024            # folder and S3, 1 GiB
    PYTHONPATH=functions python bench/bench_read_memory.py --mb 256 --case folder

Writes bench/results-read-memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from proc_memory import peak_rss_mb, rss_mb  # noqa: E402


def padded_video(path: Path, total_bytes: int) -> Path:
    """A 3 s MP4 followed by a `free` box that brings the file to `total_bytes`."""
    import av
    from PIL import Image

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for i in range(15):
            frame = av.VideoFrame.from_image(Image.new("RGB", (160, 96), (20 * i, 60, 120)))
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    pad = total_bytes - path.stat().st_size
    if pad >= 16:
        with path.open("ab") as f:
            f.write(struct.pack(">I4sQ", 1, b"free", pad))  # a 64-bit box size: larger than 4 GiB allowed
            f.truncate(total_bytes)  # sparse on most file systems: cheap to make, read as zeros
    return path


class _LooksAtNothing:
    name = "nothing"
    face_model = None

    def analyze(self, picture):
        from mediaindex.domain.model import Analysis

        return Analysis(self.name, api_calls=0)


def child(case: str, path: str, home: str) -> dict:
    from mediaindex.bootstrap import ABSENT, build_app
    from mediaindex.config import Settings
    from mediaindex.domain.messages import StorageEvent
    from mediaindex.ports import ObjectRef

    settings = Settings.from_env().with_overrides(home=Path(home), max_video_bytes=4 * 1024**3)
    if case == "folder":
        from mediaindex.adapters.storage.folder import ref_for

        app = build_app(settings, analyzer=_LooksAtNothing(), faces=ABSENT)
        ref = ref_for(path)
    else:
        # S3's answers from botocore's Stubber, the body streamed from the file as the HTTP response would be (moto
        # would hold the object in this very process, and its copies would be counted as ours)
        import boto3
        from botocore.response import StreamingBody
        from botocore.stub import Stubber

        s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        stub = Stubber(s3)
        size = os.path.getsize(path)
        stub.add_response("head_object", {"ContentLength": size, "ETag": '"e"'}, {"Bucket": "media", "Key": "big.mp4"})
        stub.add_response("get_object", {"ContentLength": size, "ETag": '"e"', "Body": StreamingBody(open(path, "rb"), size)},
                          {"Bucket": "media", "Key": "big.mp4", "IfMatch": '"e"'})
        stub.activate()
        app = build_app(settings, analyzer=_LooksAtNothing(), faces=ABSENT, s3=s3)
        ref = ObjectRef("media", "big.mp4")
    pipeline = app.pipeline
    before = rss_mb("VmRSS")
    began = time.monotonic()
    outcome = pipeline.handle(StorageEvent.created(ref))
    elapsed = time.monotonic() - began
    peak = peak_rss_mb()
    return {"case": case, "action": str(outcome.action), "reason": outcome.reason, "rss_before_mb": round(before),
            "peak_mb": round(peak), "peak_above_before_mb": round(peak - before), "seconds": round(elapsed, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=1024, help="file size in MiB (default 1024)")
    parser.add_argument("--case", choices=("folder", "s3", "both"), default="both")
    parser.add_argument("--out", default=str(HERE / "results-read-memory.json"))
    parser.add_argument("--child", nargs=3, metavar=("CASE", "PATH", "HOME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        video = padded_video(Path(tmp) / "big.mp4", args.mb * 1024 * 1024)
        size = video.stat().st_size
        for case in (("folder", "s3") if args.case == "both" else (args.case,)):
            home = Path(tmp) / f"home-{case}"
            run = subprocess.run([sys.executable, __file__, "--child", case, str(video), str(home)],
                                 capture_output=True, text=True, env=os.environ)
            if run.returncode:
                raise SystemExit(run.stderr)
            result = json.loads(run.stdout.strip().splitlines()[-1])
            result["file_mb"] = round(size / 2**20)
            results.append(result)
            print(json.dumps(result))
    Path(args.out).write_text(json.dumps({"file_mib": args.mb, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
