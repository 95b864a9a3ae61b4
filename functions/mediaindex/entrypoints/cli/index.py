"""`mediaindex index PATH...`: make folders, files and S3 prefixes searchable.

Folders are walked recursively (hidden files and sidecars such as .AAE and .XMP skipped); images and videos are
analysed, anything else gets a `failed` document that says why. Files already indexed and unchanged since (same
size and modification time, or the same S3 ETag) are skipped without being read, so running the command again is
cheap: after Ctrl-C or a crash, the same command goes on where it stopped. With the local models the work is spread
over worker processes (one per core by default, each loading the models once); with Rekognition over threads.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from typing import TYPE_CHECKING, Any

from mediaindex.domain.errors import ConfigurationError
from mediaindex.domain.vocabulary import Action
from mediaindex.entrypoints.cli.common import add_backend_options, print_json, settings_from, shown

if TYPE_CHECKING:
    from mediaindex.bootstrap import App
    from mediaindex.services.people import ReEmbedding

EPILOG = """\
examples:
  mediaindex index ~/Pictures                      every picture and video under ~/Pictures
  mediaindex index ~/Pictures/2024 ~/Videos/trip.mp4
  mediaindex index ~/Pictures --prune              also forget files deleted since the last run
  mediaindex index s3://my-bucket/photos/          an S3 prefix (boto3's usual credentials and region)
  mediaindex index ~/Pictures --workers 2 --json   two worker processes; a JSON summary on stdout
  MEDIAINDEX_ANALYZER=rekognition mediaindex index ~/Pictures
  mediaindex index ~/Pictures --index http://localhost:9200    into OpenSearch instead of ~/.mediaindex

Interrupted (Ctrl-C, a crash, a reboot)? Run the same command again: finished files are skipped.
Exit status: 0 when every file was indexed (or skipped as unchanged), 1 if some failed, 130 if interrupted.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="index folders, files or s3:// prefixes (parallel, resumable)",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="PATH", help="a folder, a file, or s3://bucket[/prefix]")
    p.add_argument("--workers", type=int, metavar="N",
                   help="files analysed at once (default: one process per core for the local models, as memory "
                        "allows; 4 threads per core for Rekognition)")
    p.add_argument("--prune", action="store_true",
                   help="remove from the index files under PATH that no longer exist (after a complete listing)")
    p.add_argument("--force", action="store_true", help="analyse every file again, even unchanged ones")
    p.add_argument("--retry-failed", action="store_true", help="analyse files that failed before again")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="log each file's problem as it happens (and let worker processes write to the terminal "
                        "rather than to $MEDIAINDEX_HOME/logs/index-workers.log)")
    # Plug-in point and test hook: "module:function" returning the per-file handler; see entrypoints/workers.py.
    p.add_argument("--app-factory", help=argparse.SUPPRESS)
    add_backend_options(p)
    p.set_defaults(func=run)


class Progress:
    """A tqdm bar on stderr with files/s and ETA; nothing when tqdm is missing, with --json, or off a terminal.
    While videos are analysed, the bar also says how far into each it is (`clip.mp4 0:12/1:00`)."""

    def __init__(self, enabled: bool, file: Any = None) -> None:
        self.bar = None
        self.failed = 0
        self.videos: dict[str, tuple[float, float]] = {}  # key -> (seconds done, duration) of videos in hand
        self.finished: set[str] = set()  # files done (a late report of their progress is dropped)
        self._lock = threading.Lock()  # video progress comes from another thread
        out = file or sys.stderr
        if not enabled or not (file is not None or out.isatty()):
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self.bar = tqdm(total=0, desc="indexing", unit="file", file=out, dynamic_ncols=True, smoothing=0.1)

    def __call__(self, kind: str, value: Any) -> None:
        if self.bar is None:
            return
        with self._lock:
            if kind == "total":
                self.bar.total += value
                self.bar.refresh()
            elif kind == "video":
                if value["key"] in self.finished:  # relayed from a worker process after its file was done
                    return
                self.videos[value["key"]] = (value["done"], value["duration"])
                self._postfix(refresh=True)
            else:
                if value["action"] in (Action.FAILED, Action.ERROR):
                    self.failed += 1
                self.videos.pop(value.get("key"), None)
                if len(self.finished) < 100_000:
                    self.finished.add(value.get("key"))
                self._postfix(refresh=False)
                self.bar.update(1)

    def postfix(self) -> str:
        """What the bar shows after the counts: failures, and each video in hand with its time done."""
        parts = [f"failed={self.failed}"] if self.failed else []
        for key, (done, duration) in list(self.videos.items())[-2:]:  # the last two: the bar stays one line
            name = key.rstrip("/").rsplit("/", 1)[-1]
            name = name if len(name) <= 24 else name[:23] + "…"
            total = f"/{_clock(duration)}" if duration > 0 else ""
            parts.append(f"{name} {_clock(done)}{total}")
        return ", ".join(parts)

    def _postfix(self, refresh: bool) -> None:
        assert self.bar is not None
        self.bar.set_postfix_str(self.postfix(), refresh=refresh)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def run(args: argparse.Namespace) -> int:
    from mediaindex import bootstrap
    from mediaindex.entrypoints import workers as bulk_workers
    from mediaindex.services.bulk import IndexRoot

    settings = settings_from(args)
    if args.workers is not None and args.workers < 1:
        raise ConfigurationError("--workers must be at least 1")
    roots = [IndexRoot.parse(p) for p in args.paths]
    workers = args.workers or bulk_workers.default_workers(settings.analyzer)
    # without --verbose, problems are told once, in the summary, and never break the progress bar
    log_level = logging.WARNING if args.verbose else logging.ERROR
    logging.getLogger("mediaindex").setLevel(log_level)
    worker_log = None if args.verbose else str(settings.home / "logs" / "index-workers.log")
    spec = bulk_workers.WorkerSpec(settings, factory=args.app_factory, log_level=log_level,
                                   stderr_path=worker_log, reuse_analysis=not args.force)
    app = bootstrap.build_app(settings)
    index = app.index
    index.ensure_ready()
    re_embedding = None if spec.factory else re_embed_enrolments(app)
    places_added = add_missing_places(app)
    progress = Progress(enabled=not (args.json or args.no_progress))
    runner = bulk_workers.bulk_indexer(
        index, spec, workers=workers, threads=settings.analyzer == "rekognition",
        force=args.force, retry_failed=args.retry_failed, prune=args.prune,
        analyzer_name=None if spec.factory else settings.analyzer,
        reads_text=not spec.factory and settings.has("text"),
        face_model=None if spec.factory else bootstrap.face_model(settings), on_progress=progress,
        meaning_model=None if spec.factory else bootstrap.meaning_model(settings),
        needs_analysis=None if spec.factory or app.vectors is None else app.pipeline.look_missing,
    )
    try:
        summary = runner.run(roots)
    finally:
        progress.close()
    result = summary.to_dict()
    result["index"] = settings.resolved_index_url
    if re_embedding is not None:
        result["re_embedded_enrolments"] = re_embedding.to_dict()
    if places_added is not None:
        result["places_added"] = places_added
    if args.json:
        print_json(result)
    else:
        print_summary(result)
    if summary.interrupted:
        return 130
    return 1 if result["failed"] or result["errors"] else 0


def add_missing_places(app: Any) -> dict[str, int] | None:
    """Give documents indexed before places were found (or without the place data) their place, from their GPS
    position, without analysing the files again (services/places.py). Once per index and place data: the next
    run only reads a note. None when there was nothing to do; never an error that stops the indexing."""
    from mediaindex.services import places

    finder = app.places
    if finder is None:
        return None
    settings = app.settings
    note = places.note_path(settings.home, settings.resolved_index_url, settings.index_name)
    try:
        report = places.add_missing_places_once(
            app.index, finder, note, getattr(finder, "version", None),
            described=f"{settings.resolved_index_url} {settings.index_name}")
    except Exception as e:  # noqa: BLE001 - places are a nicety; the files are indexed all the same
        logging.getLogger(__name__).warning("could not add places to documents indexed before: %s", e)
        return None
    if report is None or not report.documents_checked:
        return None
    return report.to_dict()


def re_embed_enrolments(app: App) -> ReEmbedding | None:
    """Before indexing with a new face model, enrol known people again from their photos, so the files analysed
    now are named. Nothing happens (and nothing loads) when every enrolled face is of the model in use."""
    from mediaindex.adapters.faces.local import default_path
    from mediaindex.ports import FaceMemory

    settings = app.settings
    if settings.analyzer != "local" or not settings.has("people") or not default_path(settings).exists():
        return None
    if not isinstance(app.faces, FaceMemory) or not app.faces.stale()["enrolments"]:
        return None
    from mediaindex.entrypoints.cli.people import print_re_embedding, read_source

    report = app.people.re_embed(lambda s: read_source(s, settings.max_pixels))
    print_re_embedding(report)
    return report
def rate(r: dict[str, Any]) -> str:
    """"3.40 files/s, " or "1.41 s a file, "; nothing when no file needed analysing (a rerun: all unchanged)."""
    worked = r["indexed"] + r["reused"] + r["failed"] + r["errors"]
    if not worked or not r["files_per_s"]:
        return "nothing to analyse, " if r["listed"] else ""
    if r["files_per_s"] < 1:
        return f"{1 / r['files_per_s']:.2f} s a file, "
    return f"{r['files_per_s']:.2f} files/s, "


def print_summary(r: dict[str, Any], out: Any = None) -> None:
    out = out or sys.stdout
    w = lambda line="": print(line, file=out)  # noqa: E731
    w(f"indexed {r['indexed']:,}, reused {r['reused']:,}, unchanged {r['unchanged']:,}, failed {r['failed']:,}"
      + (f", errors {r['errors']:,}" if r["errors"] else "")
      + (f", removed {r['removed']:,}" if r["removed"] else "")
      + f" of {r['listed']:,} files in {r['elapsed_s']:.1f} s ({rate(r)}"
      f"{r['workers']} {'worker' if r['workers'] == 1 else 'workers'}, {r['mode']})")
    if r["failures"]:
        w("failed files:")
        for f in r["failures"][:50]:
            w(f"  {shown(f['key'])}: {shown(f['reason'])}")
        more = r["failed"] + r["errors"] - min(50, len(r["failures"]))
        if more > 0:
            w(f"  ... and {more:,} more (mediaindex search --failed, or --json for all)")
    if r["errors"]:
        w("files with errors were not indexed: run the same command again to retry them")
    added = r.get("places_added")
    if added and added["documents_updated"]:
        w(f"places: {added['with_place']:,} of {added['documents_updated']:,} files indexed before with a GPS "
          "position now have a place")
    if r["interrupted"]:
        w("interrupted: every finished file is in the index; run the same command again to go on")
    w(f"index: {r['index']}")
