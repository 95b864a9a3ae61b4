"""`mediaindex faces ...`: compare the faces of two pictures, find the indexed files a face appears in, or hide
a face that is not one.

Compare and search need nobody enrolled. Similarity is 0-100; two faces at or above the match threshold (default 80,
MEDIAINDEX_FACE_MATCH_THRESHOLD, or --threshold) are taken for the same person.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediaindex.domain.document import SearchDocument
from mediaindex.domain.errors import ConfigurationError
from mediaindex.entrypoints.cli.common import add_action, print_json, print_result, shown
from mediaindex.entrypoints.cli.people import add_people_options, build_people_service, read_picture

if TYPE_CHECKING:
    from mediaindex.services.people import People

EXAMPLES = """\
examples:
  mediaindex faces compare me.jpg passport.jpg          is it the same person? (best pair and all pairs)
  mediaindex faces search stranger.jpg                  every indexed file in which this face appears
  mediaindex faces search group.jpg --all-faces --json  every face of a group photo, as JSON
  mediaindex faces hide photos/cat.jpg 2                face 2 of that file is not a face: hide it for good
  mediaindex faces unhide photos/cat.jpg                show that file's hidden faces again (it is analysed again)
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "faces", help="compare two pictures' faces; find the files a face appears in",
        description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="faces_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    compare = add_action(
        actions, "compare", run_compare, help="similarity of every face of A to every face of B",
        description="Detect the faces of both pictures and score every pair (0-100); the best pair comes first.",
        epilog="example:\n  mediaindex faces compare guido_1.jpg guido_2.jpg --json",
    )
    compare.add_argument("a", type=Path, metavar="A", help="a picture")
    compare.add_argument("b", type=Path, metavar="B", help="another picture")
    add_people_options(compare)

    search = add_action(
        actions, "search", run_search, help="indexed files in which the face of IMAGE appears (local analyzer)",
        description="Find every indexed file with a face like the largest face of IMAGE (or each of its faces), "
                    "from the face vectors kept at indexing time; nobody needs to be enrolled.",
        epilog="example:\n  mediaindex faces search obama_2.jpg --limit 20",
    )
    search.add_argument("image", type=Path, metavar="IMAGE")
    search.add_argument("--limit", type=int, default=50, metavar="N", help="at most N files (default 50)")
    search.add_argument("--all-faces", action="store_true", help="search with every face of IMAGE, not the largest")
    add_people_options(search)

    hide = add_action(
        actions, "hide", run_hide, help="mark one face of an indexed file as not a face (local analyzer)",
        description="Face FACE_NUMBER (from 1, as `mediaindex show` numbers them) of the file KEY is not a face: it "
                    "leaves the file's faces and people and the clusters, and stays hidden when the file is indexed "
                    "again (its box is kept by the file's content_sha256 in the face collection, faces.db).",
        epilog="example:\n  mediaindex faces hide ~/Pictures/2024/cat.jpg 2",
    )
    hide.add_argument("key", metavar="KEY", help="a path, s3://bucket/key, bucket/key, or a document id")
    hide.add_argument("face", type=int, metavar="FACE_NUMBER", help="the face's number, from 1")
    add_people_options(hide)

    unhide = add_action(
        actions, "unhide", run_unhide, help="show the faces hidden in a file again (analyses it again)",
        description="Undo `faces hide` for every face of the file KEY (and its copies): they are analysed again, so "
                    "all their faces come back, named as they are now.",
        epilog="example:\n  mediaindex faces unhide ~/Pictures/2024/cat.jpg",
    )
    unhide.add_argument("key", metavar="KEY", help="a path, s3://bucket/key, bucket/key, or a document id")
    add_people_options(unhide)


def run_compare(args: argparse.Namespace) -> int:
    people = build_people_service(args)
    a = read_picture(args.a, people.settings.max_pixels)
    b = read_picture(args.b, people.settings.max_pixels)
    result = {"a": str(args.a), "b": str(args.b), **people.compare(a, b)}
    if args.json:
        print_json(result)
        return 0
    print(f"{len(result['faces_a'])} face(s) in {args.a}, {len(result['faces_b'])} face(s) in {args.b}")
    best = result["best"]
    if best is None:
        print("nothing to compare: a picture has no face")
        return 1
    verdict = "same person" if best["same_person"] else "different people"
    # faces are numbered from 1 in text, as `show` and the gallery number them; JSON keeps 0-based indexes
    print(f"best pair: face {best['a'] + 1} of A and face {best['b'] + 1} of B, similarity {best['similarity']:.1f} "
          f"({verdict})")
    for pair in result["pairs"][1:]:
        print(f"  face {pair['a'] + 1} of A, face {pair['b'] + 1} of B: {pair['similarity']:.1f}")
    return 0


def run_search(args: argparse.Namespace) -> int:
    people = build_people_service(args)
    picture = read_picture(args.image, people.settings.max_pixels)
    result = people.search_by_face(picture, limit=args.limit, all_faces=args.all_faces)
    if args.json:
        print_json(result)
        return 0
    if not result["hits"]:
        print(f"no indexed file has a face like this one (similarity >= {result['threshold']:g})")
    if args.all_faces:
        for i, box in enumerate(result["query_faces"], 1):
            print(f"face {i} of {args.image.name}: {box['left']:.0%} from the left, {box['top']:.0%} from the top, "
                  f"{box['width']:.0%} wide")
    for hit in result["hits"]:
        who = f"  [{hit['person']}]" if hit.get("person") else ""
        # numbered from 1, as `show` and the gallery do; JSON keeps the 0-based indexes
        which = f"face {hit['query_face'] + 1} of {args.image.name} ~ " if args.all_faces else ""
        print(f"{hit['similarity']:5.1f}  {hit['key']}  ({which}face {hit['face_index'] + 1}){who}")
    return 0


def _indexed(people: People, key: str) -> SearchDocument | None:
    """The document of KEY (a path, s3:// key or id), or None after saying it is not in the index."""
    from mediaindex.services.index_io import find_document as find

    doc = find(people.pipeline.index, key)
    if doc is None:
        print(f"mediaindex: {shown(key)} is not in the index (index it with: mediaindex index PATH)", file=sys.stderr)
    return doc


def run_hide(args: argparse.Namespace) -> int:
    people = build_people_service(args)
    doc = _indexed(people, args.key)
    if doc is None:
        return 1
    if args.face < 1:
        raise ConfigurationError(f"FACE_NUMBER {args.face}: faces are numbered from 1")

    def said(result: dict[str, Any]) -> str:
        was = f" (named {result['person']})" if result.get("person") else ""
        return (f"face {args.face} of {shown(doc['key'])}{was} hidden; {result['documents_updated']} indexed file(s) "
                "updated")

    print_result(args, people.hide_face(doc["id"], args.face - 1), said)
    return 0


def run_unhide(args: argparse.Namespace) -> int:
    people = build_people_service(args)
    doc = _indexed(people, args.key)
    if doc is None:
        return 1

    def said(result: dict[str, Any]) -> str:
        if not result["faces_shown_again"]:
            return f"no face of {shown(doc['key'])} is hidden"
        return (f"{result['faces_shown_again']} hidden face(s) of {shown(doc['key'])} shown again; "
                f"{result['files_analysed']} file(s) analysed again")

    print_result(args, people.unhide_faces(doc["id"]), said)
    return 0
