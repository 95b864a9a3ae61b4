"""`mediaindex watch PATH`: keep the index in step with a folder until Ctrl-C.

Starts with a sync (index what is new or changed, remove what vanished, as `mediaindex index PATH --prune`), then
follows the folder: a new or modified file is indexed once it has stopped changing (--debounce seconds), a moved
file is removed at its old path and indexed at the new one (its analysis reused), a deleted file or folder leaves
the index.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from mediaindex.domain.errors import ConfigurationError
from mediaindex.domain.vocabulary import Action
from mediaindex.entrypoints.cli.common import storable, add_backend_options, settings_from, shown

EPILOG = """\
examples:
  mediaindex watch ~/Pictures
  mediaindex watch ~/Pictures --debounce 5          for slow copies over the network
  mediaindex watch ~/Pictures --json                one JSON object a line for each change handled
  mediaindex watch ~/Pictures --no-sync             skip the sync at start
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("watch", help="keep the index in step with a folder as files come, change, move and go",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", metavar="PATH", help="the folder to follow (recursively)")
    p.add_argument("--debounce", type=float, default=1.0, metavar="S",
                   help="index a file once it has been still for S seconds (default 1)")
    p.add_argument("--no-sync", action="store_true", help="do not sync the folder first")
    p.add_argument("--workers", type=int, metavar="N", help="workers for the first sync (default: as `index`)")
    p.add_argument("--pipeline-factory", help=argparse.SUPPRESS)  # see services/bulk.py
    add_backend_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from mediaindex import bootstrap
    from mediaindex.services import bulk

    try:
        from mediaindex.services.watching import FolderWatcher
    except ImportError:
        raise ConfigurationError("watching needs the watchdog package: pip install 'mediaindex[local]'") from None
    settings = settings_from(args)
    root = os.path.abspath(os.path.expanduser(args.path))
    if not os.path.isdir(root):
        raise ConfigurationError(f"{args.path}: not a folder")
    index = bootstrap.build_index(settings)
    index.ensure_ready()
    spec = bulk.WorkerSpec(settings, factory=args.pipeline_factory)
    handle = bulk.build_handle(spec)

    def say(line: str, record: dict[str, Any]) -> None:
        if args.json:
            print(json.dumps(storable(record), ensure_ascii=False), flush=True)
        else:
            print(shown(line), flush=True)

    def on_outcome(outcome: Any, path: str, error: Exception | None) -> None:
        if error is not None:
            say(f"error    {path}: {error}", {"action": Action.ERROR, "key": path, "reason": str(error)})
        elif outcome.action not in (Action.UNCHANGED, Action.DUPLICATE, Action.STALE, Action.GONE):
            reason = f": {outcome.reason}" if outcome.reason else ""
            say(f"{outcome.action:<8} {path}{reason}", outcome.to_dict())

    watcher = FolderWatcher(root, handle, index=index, debounce=args.debounce, on_outcome=on_outcome)
    watcher.start()  # before the sync: changes made while it runs are not missed
    try:
        if not args.no_sync:
            from mediaindex.entrypoints.cli.index import Progress

            progress = Progress(enabled=not args.json)
            runner = bulk.BulkIndexer(
                index=index, spec=spec, workers=args.workers or bulk.default_workers(settings.analyzer),
                threads=settings.analyzer == "rekognition", prune=True, handle=handle,
                analyzer_name=None if spec.factory else settings.analyzer, on_progress=progress,
            )
            try:
                summary = runner.run([bulk.Source("", root)]).to_dict()
            finally:
                progress.close()
            say(f"synced   {root}: indexed {summary['indexed']}, reused {summary['reused']}, unchanged "
                f"{summary['unchanged']}, failed {summary['failed']}, removed {summary['removed']}",
                {"action": "synced", **summary})
        if not args.json:
            print(f"watching {root} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
    counts = dict(watcher.counts)
    if args.json:
        print(json.dumps({"action": "stopped", "counts": counts}), flush=True)
    else:
        print("stopped: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no changes"),
              file=sys.stderr)
    return 0
