"""`mediaindex people ...`: enrol, list and forget known people; name clusters of faces nobody has named yet.

After every change the files already indexed are matched again (from the face vectors kept at indexing time with
the local analyzer; by searching each stored face box with Rekognition), so search results name the right people
without indexing anything again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediaindex.adapters.storage.routing import RoutingStorage
from mediaindex.domain.document import storable_text
from mediaindex.domain.errors import ConfigurationError, ObjectNotFound
from mediaindex.entrypoints.cli.common import (
    add_action, add_backend_options, app_from, print_json, print_result, settings_from, shown,
)

if TYPE_CHECKING:
    from mediaindex.services.people import ReEmbedding

EXAMPLES = """\
examples:
  mediaindex people add "Ada Lovelace" ada1.jpg ada2.jpg  enrol Ada from two photos, name her everywhere
  mediaindex people add --from known/                     everyone at once: known/Ada Lovelace/*.jpg or known/Ada.jpg
  mediaindex people reembed                               after a face model change: enrol again from the photos
  mediaindex people list                                  who is enrolled, with how many faces
  mediaindex people remove "Ada Lovelace"                 forget Ada: her faces and her name everywhere
  mediaindex people merge "A. Lovelace" "Ada Lovelace"    one person under two names: the first becomes the second
  mediaindex people clusters                              groups of look-alike faces nobody has named
  mediaindex people name-cluster c12 "Charles Babbage"    name a whole group at once; its files follow
  mediaindex people split-cluster c12 b.jpg c.jpg:2       two people in one group: those faces go to a group apart
  mediaindex people rematch                               match every indexed face again (after a manual change)

On AWS, putting a photo under s3://BUCKET/people/<name>/ enrols it (MEDIAINDEX_PEOPLE_PREFIX changes the prefix);
deleting the photo forgets the faces it enrolled.
"""


def add_people_options(parser: argparse.ArgumentParser) -> None:
    add_backend_options(parser)
    parser.add_argument("--threshold", type=float, metavar="SIMILARITY",
                        help="minimum similarity 0-100 to call two faces the same person (default 80, "
                             "MEDIAINDEX_FACE_MATCH_THRESHOLD)")


def build_people_service(args: argparse.Namespace) -> Any:
    settings = settings_from(args)
    threshold = getattr(args, "threshold", None)
    if threshold is not None:
        if not 0 <= threshold <= 100:
            raise ConfigurationError(f"--threshold {threshold}: a similarity between 0 and 100")
        settings = settings.with_overrides(face_match_threshold=threshold)
    if not settings.has("people"):
        settings = settings.with_overrides(features=(*settings.features, "people"))
    people = app_from(args, settings=settings).people  # the analyzer loads its models only when a photo is read
    people.finish_pending()  # a change an earlier run made but was stopped before its files followed
    return people


def read_picture(path: Path, max_pixels: int) -> Any:
    from mediaindex.media.picture import Picture

    from mediaindex.adapters.storage.folder import DEFAULT_MAX_OBJECT_BYTES, read_regular_file

    if path.expanduser().is_dir():
        raise ConfigurationError(f"{path} is a folder: give image files")
    try:
        data, _ = read_regular_file(path.expanduser(), DEFAULT_MAX_OBJECT_BYTES)  # never a FIFO or a device
    except ObjectNotFound:
        raise ObjectNotFound(f"{path}: no such file") from None
    return Picture.from_bytes(data, max_pixels)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "people", help="enrol, list and forget known people; name clusters of unnamed faces",
        description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="people_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    add = add_action(
        actions, "add", run_add, help="enrol a person from one or more photos, or many people from a folder",
        description="Enrol NAME from the largest face of each IMAGE, then name that person in every indexed file.\n"
                    "With --from DIR, enrol everyone in DIR at once: a sub-folder per person (its name is the "
                    "person's, every image in it is theirs) or an image per person (its file name without the "
                    "extension is the name), as the face_recognition command line takes its known people. The "
                    "models load once and indexed files are matched again once, at the end.",
        epilog='examples:\n  mediaindex people add "Barack Obama" obama_1.jpg obama_2.jpg\n'
               '  mediaindex people add --from known_people/',
    )
    add.add_argument("name", nargs="?", help="the person's name, as search will show it")
    add.add_argument("images", nargs="*", type=Path, metavar="IMAGE", help="photos with the person's face")
    add.add_argument("--from", dest="from_dir", type=Path, metavar="DIR",
                     help="a folder of known people: DIR/NAME/*.jpg or DIR/NAME.jpg")
    add_people_options(add)

    reembed = add_action(
        actions, "reembed", run_reembed, help="enrol people again from their photos after the face model changed",
        description="Faces enrolled with another face model are never compared with the model in use. This "
                    "reads each of their enrolment photos again and enrols its face with the current model; a "
                    "photo that is gone is listed with what to do. `mediaindex index` does this by itself first.",
        epilog="example:\n  mediaindex people reembed --json",
    )
    add_people_options(reembed)

    lst = add_action(
        actions, "list", run_list, help="enrolled people and how many faces each",
        epilog="example:\n  mediaindex people list --json",
    )
    add_people_options(lst)

    rm = add_action(
        actions, "remove", run_remove,
        help="forget a person: faces out of the collection, name out of every document",
        epilog='example:\n  mediaindex people remove "Barack Obama"',
    )
    rm.add_argument("name")
    add_people_options(rm)

    mg = add_action(
        actions, "merge", run_merge,
        help="one person enrolled under two names: FROM's faces become INTO's (local analyzer)",
        description="Every face enrolled as FROM becomes INTO's, in one transaction, and every indexed file naming "
                    "FROM names INTO instead. INTO need not be enrolled yet (then it is a rename).",
        epilog='example:\n  mediaindex people merge "B. Obama" "Barack Obama"',
    )
    mg.add_argument("source", metavar="FROM", help="the name that goes")
    mg.add_argument("target", metavar="INTO", help="the name that stays")
    add_people_options(mg)

    cl = add_action(
        actions, "clusters", run_clusters, help="groups of look-alike faces that nobody has named (local analyzer)",
        description="Faces of indexed files that match no enrolled person, grouped by likeness. Name a group with "
                    "`mediaindex people name-cluster ID NAME`.",
        epilog="example:\n  mediaindex people clusters --min-size 3",
    )
    cl.add_argument("--min-size", type=int, default=2, metavar="N", help="only groups in at least N files (default 2)")
    add_people_options(cl)

    nc = add_action(
        actions, "name-cluster", run_name_cluster, help="name every face of a cluster at once (local analyzer)",
        epilog='example:\n  mediaindex people name-cluster c12 "Steve Wozniak"',
    )
    nc.add_argument("cluster", help="a cluster id from `mediaindex people clusters`, e.g. c12")
    nc.add_argument("name")
    add_people_options(nc)

    sc = add_action(
        actions, "split-cluster", run_split_cluster,
        help="move faces out of a cluster that holds two people (local analyzer)",
        description="Move the faces given out of cluster ID into a new cluster, which later clustering keeps apart "
                    "from the rest. A FACE is a file as `mediaindex show` takes it (every face of it in the "
                    "cluster), or FILE:N for its face N (from 1, as `people clusters` lists it).",
        epilog="example:\n  mediaindex people split-cluster c12 ~/Pictures/b.jpg ~/Pictures/group.jpg:3",
    )
    sc.add_argument("cluster", help="a cluster id from `mediaindex people clusters`, e.g. c12")
    sc.add_argument("faces", nargs="+", metavar="FACE", help="FILE or FILE:N")
    add_people_options(sc)

    rematch = add_action(
        actions, "rematch", run_rematch,
        help="match the faces of every indexed file again against the enrolled people",
        epilog="example:\n  mediaindex people rematch --threshold 85",
    )
    add_people_options(rematch)


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".heic", ".heif"}


def known_people(folder: Path) -> list[tuple[str, Path]]:
    """(name, photo) for a folder of known people: a sub-folder per person, or an image per person."""
    folder = folder.expanduser()
    if not folder.is_dir():
        raise ConfigurationError(f"--from {folder}: not a folder (give DIR/NAME/*.jpg or DIR/NAME.jpg)")
    found: list[tuple[str, Path]] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            found.extend((entry.name, p) for p in sorted(entry.iterdir())
                         if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES:
            found.append((entry.stem, entry))
    if not found:
        raise ConfigurationError(f"--from {folder}: no images in it (give DIR/NAME/*.jpg or DIR/NAME.jpg)")
    return found


def run_add(args: argparse.Namespace) -> int:
    if args.from_dir is not None:
        if args.name or args.images:
            raise ConfigurationError("give either NAME IMAGE... or --from DIR, not both")
        photos = known_people(args.from_dir)
    elif not args.name or not args.images:
        raise ConfigurationError('give a name and photos (people add "Ada Lovelace" ada.jpg) or --from DIR')
    else:
        photos = [(args.name, path) for path in args.images]
    people = build_people_service(args)
    limit = people.settings.max_pixels
    # a name's non-UTF-8 bytes as \xNN, as in keys
    batch = [(name, (lambda p=path: read_picture(p, limit)), storable_text(str(path.expanduser().absolute())))
             for name, path in photos]
    report = people.enroll_many(batch)
    if args.json:
        print_json(report.to_dict())
    else:
        for r in report.results:
            if "error" in r:
                print(f"{shown(r['image'])}: not enrolled: {shown(r['error'])}", file=sys.stderr)
            else:
                print(f"{shown(r['image'])}: enrolled as {shown(r['name'])}")
        print(f"{report.enrolled} photo(s) enrolled, {report.failed} not; "
              f"{report.rematch.documents_updated} indexed file(s) updated")
    return 1 if report.failed else 0


def run_reembed(args: argparse.Namespace) -> int:
    people = build_people_service(args)
    report = people.re_embed(lambda source: read_source(source, people.settings.max_pixels))
    if args.json:
        print_json(report.to_dict())
    else:
        print_re_embedding(report, always=True)
    return 1 if report.cannot else 0


def read_source(source: str, max_pixels: int) -> Any:
    """An enrolment photo again: a path on this machine, or an S3 object (`bucket/key` or s3://)."""
    from mediaindex.media.picture import Picture
    from mediaindex.ports import ObjectRef

    path = Path(source)
    if path.is_absolute() or not source.count("/"):
        return read_picture(path, max_pixels)
    bucket, _, key = source.removeprefix("s3://").partition("/")
    with RoutingStorage().read(ObjectRef(bucket, key)) as obj:
        return Picture.from_bytes(obj.data, max_pixels)


def print_re_embedding(report: ReEmbedding, always: bool = False) -> None:
    if report.re_embedded or always:
        print(f"{len(report.re_embedded)} enrolment photo(s) enrolled again with the face model "
              f"{report.face_model}", file=sys.stderr)
    for item in report.cannot:
        print(f"cannot enrol {shown(item['name'])} again from {shown(item['source'])}: {shown(item['reason'])}",
              file=sys.stderr)
    if always and report.remembered_faces_of_other_models:
        print(f"{report.remembered_faces_of_other_models} face(s) of indexed files were made by another model: "
              "`mediaindex index` on their folders analyses them again", file=sys.stderr)


def run_list(args: argparse.Namespace) -> int:
    from mediaindex.domain.query import Query

    people = build_people_service(args)
    listing = people.list_people()
    # the files each person is in, as `stats` and search count them (enrolled faces are another number)
    files = people.pipeline.index.search(Query(limit=0, facets=("people",), facet_size=10_000)).facets.get("people", {})
    if args.json:
        print_json({"people": [{"name": n, "faces": c, "files": files.get(n, 0)} for n, c in listing.items()]})
    elif not listing:
        print("nobody is enrolled yet: mediaindex people add NAME IMAGE...")
    else:
        for name, count in listing.items():
            n = files.get(name, 0)
            print(f"{name}\t{count} enrolled face{'s' if count != 1 else ''}, in {n} indexed file{'s' if n != 1 else ''}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    result = build_people_service(args).remove_person(args.name)
    print_result(args, result, lambda r: f"{args.name}: {r['faces_removed']} face(s) forgotten; "
                                         f"{r['documents_updated']} indexed file(s) updated")
    return 0 if result["faces_removed"] or result["documents_updated"] else 1


def run_merge(args: argparse.Namespace) -> int:
    result = build_people_service(args).merge_people(args.source, args.target)
    print_result(args, result, lambda r: f"{r['from']} is now {r['into']}: {r['faces_moved']} face(s) moved; "
                                         f"{r['documents_updated']} indexed file(s) updated")
    return 0


def run_clusters(args: argparse.Namespace) -> int:
    clusters = build_people_service(args).clusters(min_size=args.min_size)
    if args.json:
        print_json({"clusters": clusters})
        return 0
    if not clusters:
        print(f"no group of unnamed faces in {args.min_size} or more files")
    for c in clusters:
        print(f"{c['cluster']}\t{len(c['files'])} file(s)")
        for f in c["files"][:10]:
            print(f"    {f['key']}  (face {f['face_index'] + 1})")  # from 1, as show and the gallery
        if len(c["files"]) > 10:
            print(f"    ... {len(c['files']) - 10} more")
    return 0


def run_name_cluster(args: argparse.Namespace) -> int:
    result = build_people_service(args).name_cluster(args.cluster, args.name)
    print_result(args, result, lambda r: f"{r['cluster']} is now {r['name']} ({r['faces_enrolled']} face(s) enrolled); "
                                         f"{r['documents_updated']} indexed file(s) updated")
    return 0


def face_argument(index: Any, text: str) -> tuple[str, int | None]:
    """FILE or FILE:N (face N from 1) as (document id, face index from 0 or None)."""
    from mediaindex.services.index_io import find_document as find

    head, colon, tail = text.rpartition(":")
    if colon and tail.isdigit():
        doc = find(index, head)
        if doc is not None:
            if int(tail) < 1:
                raise ConfigurationError(f"{text}: faces are numbered from 1")
            return doc["id"], int(tail) - 1
    doc = find(index, text)
    if doc is None:
        raise ObjectNotFound(f"{shown(text)} is not in the index")
    return doc["id"], None


def run_split_cluster(args: argparse.Namespace) -> int:
    people = build_people_service(args)
    faces = [face_argument(people.pipeline.index, text) for text in args.faces]
    result = people.split_cluster(args.cluster, faces)
    print_result(args, result, lambda r: f"{r['faces_moved']} face(s) of {r['cluster']} moved to {r['moved_to']}; "
                                         f"the rest is {r['rest']}")
    return 0


def run_rematch(args: argparse.Namespace) -> int:
    report = build_people_service(args).rematch().to_dict()
    print_result(args, report, lambda r: f"{r['documents_checked']} file(s) with faces checked, "
                                         f"{r['documents_updated']} updated, {r['documents_skipped']} could not be "
                                         "matched again")
    return 0

