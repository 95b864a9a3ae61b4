"""`mediaindex backfill`: index an archive that was there before the pipeline. Lists the bucket (or reads an S3
Inventory), skips files already indexed with the same ETag, and feeds the rest to the pipeline's SQS queue as S3
notifications (one file a message, ten a call), so the deployed handler does the work; without a queue (--direct,
or none configured) the same handler runs here over a pool of workers. Throttled to what Rekognition accepts,
resumable (a checkpoint in a state file: rerun the same command to continue), with --dry-run for an estimate of
the files, calls and list price first."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mediaindex.domain.errors import ConfigurationError
from mediaindex.entrypoints.cli.common import add_backend_options, app_from, print_json
from mediaindex.ports import CheckpointStore, IndexRequestSink, ListingSource
from mediaindex.services import backfill as bf
from mediaindex.services import estimate as est
from mediaindex.services.throttle import TokenBucket

EPILOG = """\
examples:
  mediaindex backfill s3://my-media --dry-run                 files, images/videos, Rekognition calls, price
  mediaindex backfill s3://my-media/2019/ --queue-url https://sqs.../mediaindex-events
  MEDIAINDEX_QUEUE_URL=https://sqs... mediaindex backfill s3://my-media --rate 20 --json
  mediaindex backfill s3://my-media --inventory s3://inv-bucket/my-media/daily/2024-11-01T01-00Z/manifest.json
  mediaindex backfill s3://my-media --direct --workers 8      no queue: the handler runs here
  mediaindex backfill ~/Pictures --direct                     a folder, with the local models

Interrupted? Run the same command again: it continues after the last file handed over (--restart starts over).
The default --rate keeps every Rekognition API under 80% of its default quota (50 TPS in us-east-1) given the
calls each file costs (DetectLabels + DetectFaces, + SearchFacesByImage per expected face).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backfill", help="index an existing bucket or folder through the pipeline (throttled, resumable)",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", help="s3://bucket[/prefix], or a folder")
    p.add_argument("--inventory", metavar="S3_URI", help="read this S3 Inventory manifest.json (CSV) instead of listing")
    p.add_argument("--queue-url", metavar="URL", help="the pipeline's SQS queue (default MEDIAINDEX_QUEUE_URL)")
    p.add_argument("--direct", action="store_true", help="run the handler here instead of enqueueing")
    p.add_argument("--workers", type=int, default=4, metavar="N", help="worker threads in direct mode (default 4)")
    p.add_argument("--rate", type=float, metavar="FILES_PER_S",
                   help="at most this many files a second (default: from Rekognition's TPS quotas; unlimited "
                        "for the local analyzer in direct mode)")
    p.add_argument("--dry-run", action="store_true", help="estimate files, calls and price; send nothing")
    p.add_argument("--faces-per-image", type=float, default=est.DEFAULT_FACES_PER_IMAGE, metavar="N",
                   help="assumed faces per picture, for SearchFacesByImage estimates and the default rate (default 1)")
    p.add_argument("--video-seconds", type=float, default=est.DEFAULT_VIDEO_SECONDS, metavar="S",
                   help="assumed length of a video, for estimates (default 60)")
    p.add_argument("--force", action="store_true", help="send files already indexed with the same ETag too")
    p.add_argument("--state", metavar="FILE", help="checkpoint file (default $MEDIAINDEX_HOME/backfill/<source>.json)")
    p.add_argument("--restart", action="store_true", help="ignore an earlier checkpoint and start from the beginning")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_backend_options(p)
    p.set_defaults(func=run)


def make_progress(args: argparse.Namespace, description: str) -> tuple[Any, Any]:
    """A tqdm bar on stderr (when installed and stderr is a terminal) and a callback that advances it."""
    if args.no_progress:
        return None, None
    try:
        from tqdm import tqdm
    except ImportError:
        return None, None
    bar = tqdm(desc=description, unit=" files", file=sys.stderr, disable=None, dynamic_ncols=True)
    return bar, lambda listed, sent=0: (bar.update(listed), bar.set_postfix(sent=sent, refresh=False))


def direct_handler(app: Any, force: bool = False) -> Any:
    """The handler as the Lambda function runs it (people under the people prefix, files indexed), here. With
    `force`, files are analysed again even when the same bytes were analysed before."""
    app.pipeline.reuse_analysis = not force
    return app.handle_event


def run(args: argparse.Namespace) -> int:
    app = app_from(args)
    settings = app.settings
    source = app.listing(args.source, args.inventory)
    queue_url = args.queue_url or settings.queue_url
    direct = args.direct or not queue_url or not source.bucket
    if args.workers < 1:
        raise ConfigurationError("--workers must be at least 1")
    rate = args.rate
    if rate is None and (not direct or settings.analyzer == "rekognition"):
        rate = est.default_rate(settings.every_picture_features, args.faces_per_image)
    app.index.ensure_ready()
    if args.dry_run:
        return estimate_only(args, settings, source, app.index, "direct" if direct else "queue", rate)
    return backfill(args, app, source, None if direct else queue_url, rate)


def estimate_only(args: argparse.Namespace, settings: Any, source: ListingSource, index: Any, mode: str,
                  rate: float | None) -> int:
    """--dry-run: list, skip what is indexed, and estimate files, calls and price of the rest."""
    estimate = est.Estimate(settings.every_picture_features, args.faces_per_image, args.video_seconds, settings.video_interval)
    bar, progress = make_progress(args, "estimating")
    summary = bf.Backfill(source, index, sink=None, progress=progress).run(estimate=estimate)
    if bar is not None:
        bar.close()
    result = {"dry_run": True, "mode": mode, "rate": rate,
              "listed": summary.listed, "bytes_listed": summary.bytes_listed,
              "skipped_unchanged": summary.skipped_unchanged, "skipped_archived": summary.skipped_archived,
              "to_index": estimate.to_dict(rate)}
    if args.json:
        print_json(result)
    else:
        print_estimate(result)
    return 0


def resume_point(args: argparse.Namespace, state: CheckpointStore, source: ListingSource,
                 ) -> tuple[str | None, dict[str, Any] | None]:
    """Where an unfinished earlier run stopped, and its totals (None, None: from the start)."""
    previous = None if args.restart else state.load()
    if not previous or previous.get("done"):
        return None, None
    start_after = previous.get("checkpoint")
    print(f"mediaindex: resuming {source.describe()} after {start_after!r}", file=sys.stderr)
    return start_after, previous.get("totals")


def backfill(args: argparse.Namespace, app: Any, source: ListingSource, queue_url: str | None,
             rate: float | None) -> int:
    """Hand the files over to the queue at `queue_url`, or (None) to workers here; resumable from the state file."""
    state = app.checkpoint(source.describe(), args.state)
    start_after, carried = resume_point(args, state, source)
    if queue_url is None:
        sink: IndexRequestSink = bf.DirectSink(direct_handler(app, force=args.force), workers=args.workers)
    else:
        sink = app.queue_sink(queue_url)
    bar, progress = make_progress(args, "backfill")
    try:
        summary = bf.Backfill(
            source, app.index, sink, limiter=TokenBucket(rate) if rate else None, force=args.force,
            progress=progress, save=state.save,
        ).run(start_after=start_after, carried=carried)
    finally:
        if bar is not None:
            bar.close()
        sink.close()
    result = {**summary.to_dict(), "rate": rate, "state_file": str(state.path)}
    if args.json:
        print_json(result)
    else:
        print_summary(result)
    return 0 if summary.done else 1


def print_estimate(r: dict[str, Any]) -> None:
    e = r["to_index"]
    print(f"listed {r['listed']:,} files ({r['bytes_listed']:,} bytes); already indexed with the same ETag: "
          f"{r['skipped_unchanged']:,}; archived (Glacier): {r['skipped_archived']:,}")
    print(f"to index: {e['files']:,} files, {e['bytes']:,} bytes: {e['images']:,} images, {e['videos']:,} videos, "
          f"{e['other']:,} other (by extension)")
    for api, calls in e["rekognition_calls"].items():
        print(f"  {api:<24} {calls:>14,.0f} calls  ${e['list_price_usd'][api]:>12,.2f}")
    print(f"  {'total':<24} {e['rekognition_calls_total']:>14,.0f} calls  ${e['list_price_usd_total']:>12,.2f}")
    a = e["assumptions"]
    print(f"assuming {a['faces_per_image']} face(s) per image, videos of {a['video_seconds']:.0f} s "
          f"({a['video_frames_each']} frames each); {a['prices']}")
    if r["rate"] and e["files"]:
        seconds = e["files"] / r["rate"]
        took = f"{seconds / 3600:,.1f} hours" if seconds >= 3600 else f"{max(1, round(seconds / 60))} minute(s)"
        print(f"at {r['rate']} files/s: about {took}")


def print_summary(r: dict[str, Any]) -> None:
    verb = "enqueued" if r["mode"] == "queue" else "handled"
    print(f"{r['source']}: listed {r['listed']:,}, {verb} {r['sent']:,}, skipped {r['skipped_unchanged']:,} "
          f"unchanged and {r['skipped_archived']:,} archived in {r['elapsed_s']} s")
    if r["outcomes"]:
        print("outcomes: " + ", ".join(f"{k} {v:,}" for k, v in sorted(r["outcomes"].items())))
    for error in r["errors"][:20]:
        print(f"  error: {error['position']}: {error['error']}")
    print("done" if r["done"] else f"not finished: run the same command again to continue after {r['checkpoint']!r}")
