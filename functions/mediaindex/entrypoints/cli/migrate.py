"""`mediaindex migrate --to URL`: copy the embedded index into OpenSearch, for when one machine is no longer enough.

Copies every document (tombstones of removed files too, so a late event cannot bring a file back), and with the
local analyzer the face collection's vectors: every remembered face and every enrolled person's faces go into
`<name>-faces` as OpenSearch k-NN vectors. All in bulk, and resumable: stop it any time (Ctrl-C) and run the same
command again to continue after the last batch copied; --restart copies everything again. At the end the counts
of both sides are compared per kind (documents indexed / failed / deleted, faces, people), and any difference
fails the command (exit status 1).

Stop `mediaindex index` and `watch` on the source while it runs. Afterwards point the CLI at the new index
(MEDIAINDEX_INDEX=URL, or --index URL); docs/scale.md says when to move, what it costs and how to switch the stack.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediaindex.entrypoints.cli.common import add_backend_options, app_from, print_json

if TYPE_CHECKING:
    from mediaindex.services.migrate import Copied, Plan

EPILOG = """\
examples:
  mediaindex migrate --to https://search-media-abc.eu-west-1.es.amazonaws.com --dry-run
  mediaindex migrate --to https://search-media-abc.eu-west-1.es.amazonaws.com
  mediaindex migrate --to http://localhost:9200 --index sqlite:////data/index.db --to-name photos
  mediaindex migrate --to http://localhost:9200 --restart --json

the source is the index the settings name (MEDIAINDEX_INDEX, or --index); credentials for the target are those of
every OpenSearch command (SigV4 on *.amazonaws.com, MEDIAINDEX_OPENSEARCH_USER/_PASSWORD for basic auth).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("migrate", help="copy the embedded index (documents, face vectors, people) into OpenSearch",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--to", required=True, metavar="URL", help="the OpenSearch cluster to copy into (http(s)://...)")
    p.add_argument("--to-name", metavar="NAME", help="the index name there (default: the source's, media)")
    p.add_argument("--dry-run", action="store_true", help="say what would be copied and about how big, copy nothing")
    p.add_argument("--restart", action="store_true", help="forget the checkpoint and copy everything again")
    p.add_argument("--batch-size", type=int, default=500, metavar="N", help="documents a bulk request (default 500)")
    p.add_argument("--state", type=Path, metavar="FILE", help="where the checkpoint is kept "
                   "(default: under MEDIAINDEX_HOME/migrate, one file per source and target)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_backend_options(p)
    p.set_defaults(func=run)


def make_progress(args: argparse.Namespace) -> tuple[Any, Any]:
    """A tqdm bar on stderr (when installed, on a terminal, without --json) and the callback that advances it."""
    if args.no_progress or args.json:
        return None, None
    try:
        from tqdm import tqdm
    except ImportError:
        return None, None
    bar = tqdm(desc="migrate", unit=" items", file=sys.stderr, disable=None, dynamic_ncols=True)

    def advance(what: str, n: int) -> None:
        bar.set_description(f"migrate {what}", refresh=False)
        bar.update(n)

    return bar, advance


def run(args: argparse.Namespace) -> int:
    from mediaindex.services.migrate import CountMismatch

    app = app_from(args, read_only=True)  # the source must exist: migrating a mistyped path copies nothing
    bar, progress = (None, None) if args.dry_run else make_progress(args)
    migration = app.migration(args.to, to_name=args.to_name, batch_size=args.batch_size, progress=progress,
                              state_path=args.state)
    if args.dry_run:
        plan = migration.plan()
        if args.json:
            print_json(plan.to_dict())
        else:
            print(describe_plan(plan, args.to))
        return 0
    if bar is not None:
        counts = migration.source_counts()
        bar.total = sum(counts.values())
    try:
        report = migration.run(restart=args.restart)
    except CountMismatch as e:
        if args.json:
            print_json({**e.report.to_dict(), "error": str(e)})
        raise
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print_json(report.to_dict())
    else:
        print(describe(report, args.to))
    return 0


def _counts(counts: dict[str, int]) -> str:
    return (f"{counts['indexed']:,} indexed, {counts['failed']:,} failed, {counts['deleted']:,} removed-file "
            f"tombstones; {counts['faces']:,} face vectors, {counts['people']:,} enrolled faces")


def describe_plan(plan: Plan, to: str) -> str:
    lines = [f"would copy to {to}: {_counts(plan.source)}",
             f"about {plan.estimated_document_bytes / 1e6:,.1f} MB of documents"
             + (f" and {plan.estimated_vector_bytes / 1e6:,.1f} MB of face vectors (k-NN graph included)"
                if plan.face_vectors else " (no face vectors: none kept here, or Rekognition keeps them)")]
    if plan.resume and not plan.resume["done"]:
        lines.append(f"a run stopped earlier would continue after {plan.resume['copied']}")
    return "\n".join(lines)


def describe(report: Copied, to: str) -> str:
    done = "resumed and copied" if report.resumed else "copied"
    copied = report.copied
    return "\n".join([
        f"{done} {copied['documents']:,} documents, {copied['faces']:,} face vectors, {copied['people']:,} enrolled "
        f"faces to {to}",
        f"verified: the target holds {_counts(report.counts.target)}, as the source",
        f"next: MEDIAINDEX_INDEX={to} mediaindex stats",
    ])
