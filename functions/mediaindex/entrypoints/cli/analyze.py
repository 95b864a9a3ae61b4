"""`mediaindex analyze FILE [FILE...]`: show what the analyzer sees in pictures, without indexing them.

Runs the configured analyzer (local models by default, or Rekognition with --analyzer rekognition) on each file
and prints the labels, faces and their attributes, text and moderation score it found, with the known people
among the faces named as `index` names them. A video is sampled as `index` samples it and prints its timeline
(who and what appears when). A file that is neither gets a clear error on stderr; the others are still analysed
(exit status 1 if any failed). Nothing is written: not the index, not the face collection.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mediaindex.config import ALL_FEATURES, TEXT_MODES, Settings
from mediaindex.domain.document import DocumentFields
from mediaindex.domain.errors import BadMedia, ConfigurationError, MediaIndexError, MediaTooLarge
from mediaindex.media import sniff
from mediaindex.ports import Analyzer, FaceCollection, StoredObject
from mediaindex.services.indexing import name_faces
from mediaindex.entrypoints.cli.common import add_backend_options, app_from, print_json, settings_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="print what the analyzer finds in pictures (labels, faces, text) without indexing them",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  mediaindex analyze photo.jpg\n  mediaindex analyze --json --features labels,faces,text *.jpg"
               "\n  mediaindex analyze clip.mp4",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="image or video files")
    p.add_argument("--features", metavar="LIST",
                   help=f"comma list of analyses ({', '.join(f for f in ALL_FEATURES if f != 'people')}; "
                        "default: MEDIAINDEX_FEATURES, else labels,faces,people,text)")
    p.add_argument("--text", choices=TEXT_MODES, help="when text is read: auto (pictures likely to hold it), always, "
                                                     "never (default: MEDIAINDEX_TEXT, else auto)")
    p.add_argument("--min-confidence", type=float, metavar="N", help="drop labels below N percent")
    p.add_argument("--max-labels", type=int, metavar="N", help="at most N labels a picture")
    p.add_argument("--models-dir", type=Path, metavar="DIR", help="model files that replace the packaged ones")
    p.add_argument("--embeddings", action="store_true", help="include face embeddings in --json output")
    add_backend_options(p)
    p.set_defaults(func=run)


def _features(raw: str | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    features = tuple(f.strip().lower() for f in raw.split(",") if f.strip())
    unknown = sorted(set(features) - set(ALL_FEATURES))
    if unknown:
        raise ConfigurationError(f"--features: unknown {unknown}; choose from {', '.join(ALL_FEATURES)}")
    return features


def run(args: argparse.Namespace) -> int:
    from mediaindex.adapters.storage.folder import DEFAULT_MAX_OBJECT_BYTES, FolderStorage, ref_for
    from mediaindex.media.picture import Picture

    settings = settings_from(args).with_overrides(
        features=_features(args.features),
        text=args.text,
        min_confidence=args.min_confidence,
        max_labels=args.max_labels,
        models_dir=args.models_dir,
    )
    app = app_from(args, settings=settings)
    analyzer = app.analyzer
    # the known people, as `index` matches them (nothing enrolled: no collection is opened)
    collection = app.faces
    stored = getattr(collection, "path", None)  # the local collection: a file, never created just to look
    if collection is not None and stored is not None and not Path(stored).exists():
        collection = None
    # asked only when a picture has faces to name: Rekognition's collection is a paid round trip away
    results: list[dict[str, Any]] = []
    failed = 0
    # a FIFO or /dev/zero is refused, not read; a video stays in its file, hashed as it is read, never in memory
    storage = FolderStorage(DEFAULT_MAX_OBJECT_BYTES, any_link=True)
    for path in args.files:
        try:
            obj = storage.read(ref_for(path))
        except (MediaIndexError, OSError) as e:
            failed += 1
            code = e.code if isinstance(e, BadMedia) else "unreadable"
            _fail(args, results, path, code, f"cannot read the file: {getattr(e, 'strerror', None) or e}")
            continue
        try:
            with obj:
                if sniff.sniff(obj.head)[0] == sniff.VIDEO:
                    fields = _video_fields(settings, analyzer, collection, obj)
                    if args.json:
                        results.append({"file": str(path), **fields})
                    else:
                        print(_video_text(path, fields))
                    continue
                picture = Picture.from_bytes(obj.data, max_pixels=settings.max_pixels)
            analysis = analyzer.analyze(picture)
            if collection is not None and analysis.faces and not collection.is_empty():
                name_faces(collection, picture, analysis.faces)
        except BadMedia as e:
            failed += 1
            _fail(args, results, path, e.code, str(e))
            continue
        doc = analysis.to_dict()
        if not args.embeddings:
            for face in doc["faces"]:
                face.pop("embedding", None)
        if args.json:
            results.append({"file": str(path), "width": picture.width, "height": picture.height, **doc})
        else:
            print(_text(path, picture.width, picture.height, doc))
    if args.json:
        print_json(results)
    return 1 if failed else 0


def _video_fields(settings: Settings, analyzer: Analyzer, collection: FaceCollection | None,
                  obj: StoredObject) -> DocumentFields:
    """The document fields `index` would write for this video (its timeline included), without writing anything."""
    from mediaindex.services.video import make_video_indexer

    indexer = make_video_indexer(settings, analyzer, collection)  # no clock: one pass, no state store
    if obj.size > indexer.max_bytes:
        raise MediaTooLarge(f"video is {obj.size:,} bytes, above the limit of {indexer.max_bytes:,} "
                            "(MEDIAINDEX_MAX_VIDEO_BYTES)")
    return indexer.analyze(obj.open()).to_fields()  # not indexer(obj): that also remembers the faces


def _video_text(path: Path, fields: DocumentFields) -> str:
    from mediaindex.entrypoints.cli.search import clock

    video = fields["video"]
    lines = [f"{path}  (video {clock(video['duration'])}, {video['width']}x{video['height']}, {fields['analyzer']}; "
             f"{video['frames_analysed']} of {video['frames_sampled']} sampled frames analysed)"]
    for kind in ("people", "labels"):
        spans: dict[str, list[str]] = {}
        for s in video["segments"][kind]:
            spans.setdefault(s["name"], []).append(f"{clock(s['start'])}-{clock(s['end'])}")
        if spans:
            lines.append(f"  {kind}:")
            lines += [f"    {name}  {', '.join(times)}" for name, times in spans.items()]
    unnamed = sum(1 for f in fields["faces"] if not f.get("person"))
    lines.append(f"  faces: {len(fields['faces'])} distinct ({unnamed} nobody enrolled matches)")
    return "\n".join(lines)


def _fail(args: argparse.Namespace, results: list, path: Path, code: str, message: str) -> None:
    print(f"mediaindex: {path}: {message}", file=sys.stderr)
    if args.json:
        results.append({"file": str(path), "error": {"code": code, "message": message}})


def _text(path: Path, width: int, height: int, doc: dict[str, Any]) -> str:
    lines = [f"{path}  ({width}x{height}, {doc['analyzer']})"]
    if doc["labels"]:
        lines.append("  labels:")
        for label in doc["labels"]:
            extra = f"  < {', '.join(label['parents'][:4])}" if label["parents"] else ""
            boxes = f"  [{len(label['instances'])} found]" if label["instances"] else ""
            lines.append(f"    {label['confidence']:5.1f}  {label['name']}{boxes}{extra}")
    lines.append(f"  faces: {len(doc['faces'])}")
    for i, face in enumerate(doc["faces"], 1):
        box = face["box"]
        emotion = max(face["emotions"], key=lambda e: e["confidence"])["type"].lower() if face["emotions"] else "?"
        traits = [name for name in ("smile", "eyes_open", "mouth_open") if face.get(name)]
        person = f"  {face['person']} ({face['similarity']:.0f}%)" if face.get("person") else ""
        lines.append(
            f"    {i}. {face.get('gender') or '?'}, age {face.get('age_low')}-{face.get('age_high')}, {emotion}"
            f"{', ' + ', '.join(traits) if traits else ''}  at {box['left']:.2f},{box['top']:.2f} "
            f"size {box['width']:.2f}x{box['height']:.2f}{person}"
        )
    for celebrity in doc.get("celebrities") or []:
        lines.append(f"  celebrity: {celebrity['name']} ({celebrity['confidence']:.0f}%)"
                     + (f"  {' '.join(celebrity['urls'])}" if celebrity.get("urls") else ""))
    if doc["text"]:
        lines.append("  text: " + " | ".join(line["text"] for line in doc["text"]))
    if doc["moderation"] is not None:
        lines.append(f"  moderation: {doc['moderation']:.3f}")
    return "\n".join(lines)
