"""`mediaindex show KEY`: print the whole document of one file: a path on this machine, s3://bucket/key (or
bucket/key), or a document id."""

from __future__ import annotations

import argparse
import sys

from mediaindex.domain.document import SearchDocument
from mediaindex.domain.vocabulary import Status
from mediaindex.entrypoints.cli.common import add_backend_options, app_from, print_json, shown
from mediaindex.services.index_io import find_document

EPILOG = """\
examples:
  mediaindex show ~/Pictures/2024/beach.jpg
  mediaindex show s3://my-bucket/photos/cat.jpg
  mediaindex show --json ./beach.jpg | jq '.labels[].name'
Exit status 1 when the index holds no document for KEY.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="print the indexed document of one file",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("key", metavar="KEY", help="a path, s3://bucket/key, bucket/key, or a document id")
    add_backend_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    index = app_from(args, read_only=True).index
    index.ensure_ready()
    doc = find_document(index, args.key)
    if doc is None:
        print(f"mediaindex: {shown(args.key)} is not in the index (index it with: mediaindex index PATH)", file=sys.stderr)
        return 1
    if args.json:
        print_json(doc)
    else:
        print(describe(doc))
    return 0


def describe(doc: SearchDocument) -> str:
    where = shown(f"s3://{doc['bucket']}/{doc['key']}" if doc.get("bucket") else doc.get("key"))
    lines = [where, f"  status: {doc.get('status')}" + (f" ({doc['error']})" if doc.get("error") else "")]
    if doc.get("status") == Status.DELETED:
        return "\n".join(lines + ["  the file was removed; this tombstone keeps a late event from bringing it back"])
    size = f"{doc.get('width')}x{doc.get('height')}, " if doc.get("width") else ""
    lines.append(f"  {doc.get('media_type') or '?'} ({doc.get('content_type')}), {size}{doc.get('size') or 0:,} bytes")
    for name in ("taken_at", "camera", "lens", "location", "place", "analyzer", "indexed_at"):
        value = doc.get(name)
        if name == "place" and isinstance(value, dict):
            lines.append(f"  place: {shown(value.get('label') or '')}")
        elif value:
            source = f" ({doc['taken_at_source']})" if name == "taken_at" and doc.get("taken_at_source") else ""
            lines.append(f"  {name}: {value}{source}")
    if doc.get("labels"):
        lines.append("  labels:")
        for label in sorted(doc["labels"], key=lambda item: -(item.get("confidence") or 0)):
            parents = f"  < {', '.join(label['parents'][:4])}" if label.get("parents") else ""
            lines.append(f"    {label.get('confidence') or 0:5.1f}  {label['name']}{parents}")
    faces = doc.get("faces") or []
    if faces:
        lines.append(f"  faces: {len(faces)}")
        for i, face in enumerate(faces, 1):
            who = f"{face['person']} ({face.get('similarity') or 0:.0f}%), " if face.get("person") else ""
            lines.append(f"    {i}. {who}{face.get('gender') or '?'}, age {face.get('age_low')}-{face.get('age_high')}, "
                         f"{(face.get('emotion') or '?').lower()}")
    if doc.get("text"):
        lines.append(f"  text: {doc['text']}")
    if doc.get("video"):
        video = doc["video"]
        lines.append(f"  video: {video.get('duration', '?')} s")
    return "\n".join(lines)
