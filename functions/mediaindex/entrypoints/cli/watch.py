"""`mediaindex watch PATH`: keep the index in step with a folder until Ctrl-C.

Starts with a sync (index what is new or changed, remove what vanished, as `mediaindex index PATH --prune`), then
follows the folder: a new or modified file is indexed once it has stopped changing (--debounce seconds), a moved
file is removed at its old path and indexed at the new one (its analysis reused), a deleted file or folder leaves
the index.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from typing import Any, Callable

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
    p.add_argument("--app-factory", help=argparse.SUPPRESS)  # see entrypoints/workers.py
    add_backend_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mediaindex import bootstrap
    from mediaindex.entrypoints.workers import WorkerSpec, build_handle

    if importlib.util.find_spec("watchdog") is None:
        raise ConfigurationError("watching needs the watchdog package: pip install 'mediaindex[local]'")
    from mediaindex.services.watching import FolderWatcher

    settings = settings_from(args)
    root = os.path.abspath(os.path.expanduser(args.path))
    if not os.path.isdir(root):
        raise ConfigurationError(f"{args.path}: not a folder")
    index = bootstrap.build_app(settings).index
    index.ensure_ready()
    spec = WorkerSpec(settings, factory=args.app_factory)
    handle = build_handle(spec)
    say = printer(args.json)
    watcher = FolderWatcher(root, handle, index=index, debounce=args.debounce, on_outcome=outcome_printer(say))
    watcher.start()  # before the sync: changes made while it runs are not missed
    try:
        if not args.no_sync:
            sync(args, settings, index, spec, handle, root, say)
        if not args.json:
            print(f"watching {root} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
    print_stopped(dict(watcher.counts), args.json)
    return 0


Say = Callable[[str, dict[str, Any]], None]


def printer(as_json: bool) -> Say:
    """A line for people, or (--json) the record as one JSON object a line."""
    def say(line: str, record: dict[str, Any]) -> None:
        if as_json:
            print(json.dumps(storable(record), ensure_ascii=False), flush=True)
        else:
            print(shown(line), flush=True)

    return say


def outcome_printer(say: Say) -> Callable[[Any, str, Exception | None], None]:
    """What the watcher reports of each change it handled; files left as they were say nothing."""
    def on_outcome(outcome: Any, path: str, error: Exception | None) -> None:
        if error is not None:
            say(f"error    {path}: {error}", {"action": Action.ERROR, "key": path, "reason": str(error)})
        elif outcome.action not in (Action.UNCHANGED, Action.DUPLICATE, Action.STALE, Action.GONE):
            reason = f": {outcome.reason}" if outcome.reason else ""
            say(f"{outcome.action:<8} {path}{reason}", outcome.to_dict())

    return on_outcome


def sync(args: argparse.Namespace, settings: Any, index: Any, spec: Any, handle: Any, root: str, say: Say) -> None:
    """The folder and the index made to agree first, as `mediaindex index PATH --prune`."""
    from mediaindex.entrypoints.cli.index import Progress
    from mediaindex.entrypoints.workers import bulk_indexer, default_workers
    from mediaindex.services.bulk import IndexRoot

    progress = Progress(enabled=not args.json)
    runner = bulk_indexer(
        index, spec, workers=args.workers or default_workers(settings.analyzer),
        threads=settings.analyzer == "rekognition", prune=True, handle=handle,
        analyzer_name=None if spec.factory else settings.analyzer,
        reads_text=not spec.factory and settings.has("text"), on_progress=progress,
    )
    try:
        summary = runner.run([IndexRoot("", root)]).to_dict()
    finally:
        progress.close()
    say(f"synced   {root}: indexed {summary['indexed']}, reused {summary['reused']}, unchanged "
        f"{summary['unchanged']}, failed {summary['failed']}, removed {summary['removed']}",
        {"action": "synced", **summary})


def print_stopped(counts: dict[str, int], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"action": "stopped", "counts": counts}), flush=True)
    else:
        print("stopped: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no changes"),
              file=sys.stderr)
