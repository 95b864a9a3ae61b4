"""`mediaindex reconcile`: make the index agree with storage. Documents whose files are gone get tombstones (through
the pipeline's remove use case, so a file that is back by then is left alone); files the index lacks, or holds
with another ETag, are indexed (through the queue when one is configured, else here). --dry-run lists what it
would do and changes nothing."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mediaindex.domain.errors import ConfigurationError
from mediaindex.domain.locations import is_s3_uri, parse_s3_uri
from mediaindex.entrypoints.cli.backfill import direct_handler, make_progress
from mediaindex.entrypoints.cli.common import add_backend_options, app_from, print_json, shown
from mediaindex.services import backfill as bf
from mediaindex.services.estimate import default_rate
from mediaindex.services.throttle import TokenBucket
from mediaindex.services.reconcile import Reconcile, folder_prefix

EPILOG = """\
examples:
  mediaindex reconcile s3://my-media --dry-run          what is missing, changed or orphaned
  mediaindex reconcile s3://my-media/2019/ --json       fix it: index through MEDIAINDEX_QUEUE_URL, or here
  mediaindex reconcile ~/Pictures                       a folder, with the local models
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reconcile", help="remove documents of deleted files, index files the index lacks",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", help="s3://bucket[/prefix], or a folder")
    p.add_argument("--queue-url", metavar="URL", help="index through this SQS queue (default MEDIAINDEX_QUEUE_URL)")
    p.add_argument("--direct", action="store_true", help="index here even when a queue is configured")
    p.add_argument("--workers", type=int, default=4, metavar="N", help="worker threads (default 4)")
    p.add_argument("--rate", type=float, metavar="FILES_PER_S", help="at most this many files indexed a second")
    p.add_argument("--dry-run", action="store_true", help="list what would be done; change nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_backend_options(p)
    p.set_defaults(func=run, inventory=None)


def run(args: argparse.Namespace) -> int:
    app = app_from(args)
    settings = app.settings
    source = app.listing(args.source)
    if args.workers < 1:
        raise ConfigurationError("--workers must be at least 1")
    prefix = parse_s3_uri(args.source)[1] if is_s3_uri(args.source) else folder_prefix(args.source)
    queue_url = args.queue_url or settings.queue_url
    direct = args.direct or not queue_url or not source.bucket
    rate = args.rate
    if rate is None and (not direct or settings.analyzer == "rekognition"):
        rate = default_rate(settings.every_picture_features)
    app.index.ensure_ready()
    remove = feed = None
    if not args.dry_run:
        # removals go through the pipeline (a file that is back by then is left alone); nothing is analysed
        remove = app.handle_event
        feed = bf.DirectSink(direct_handler(app), workers=args.workers) if direct else app.queue_sink(queue_url)
    bar, progress = make_progress(args, "reconcile")
    try:
        report = Reconcile(
            index=app.index, source=source, prefix=prefix, remove=remove, feed=feed,
            limiter=TokenBucket(rate) if rate else None, workers=args.workers,
            progress=(lambda n: progress(n)) if progress else None,
        ).run(dry_run=args.dry_run)
    finally:
        if bar is not None:
            bar.close()
        if feed is not None:
            feed.close()
    result = {**report.to_dict(), "mode": "dry-run" if args.dry_run else ("direct" if direct else "queue")}
    if args.json:
        print_json(result)
    else:
        print_report(result)
    return 1 if report.errors else 0


def print_report(r: dict[str, Any]) -> None:
    would = "would " if r["dry_run"] else ""
    for action in r["actions"]:
        where = shown(f"s3://{action['bucket']}/{action['key']}" if action["bucket"] else action["key"])
        print(f"{would}{action['action']:<6} {action['reason']:<8} {where}")
    print(f"{r['source']}: {r['listed']:,} files, {r['documents']:,} documents; in sync {r['in_sync']:,}, "
          f"missing {r['missing']:,}, changed {r['changed']:,}, orphaned {r['orphaned']:,}", file=sys.stdout)
    if r["outcomes"]:
        print("outcomes: " + ", ".join(f"{k} {v:,}" for k, v in sorted(r["outcomes"].items())))
    for error in r["errors"][:20]:
        print(f"  error: {error['position']}: {error['error']}")
