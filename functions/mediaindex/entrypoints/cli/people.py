"""`mediaindex people ...`: enrol, list and forget known people; name clusters of faces nobody has named yet.

After every change the files already indexed are matched again (from the face vectors kept at indexing time with
the local analyzer; by searching each stored face box with Rekognition), so search results name the right people
without indexing anything again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mediaindex.adapters.storage.routing import RoutingStorage
from mediaindex.domain.errors import BadMedia, ConfigurationError, ObjectNotFound
from mediaindex.entrypoints.cli.common import add_backend_options, print_json, settings_from

EXAMPLES = """\
examples:
  mediaindex people add "Ada Lovelace" ada1.jpg ada2.jpg  enrol Ada from two photos, name her everywhere
  mediaindex people list                                  who is enrolled, with how many faces
  mediaindex people remove "Ada Lovelace"                 forget Ada: her faces and her name everywhere
  mediaindex people clusters                              groups of look-alike faces nobody has named
  mediaindex people name-cluster c12 "Charles Babbage"    name a whole group at once; its files follow
  mediaindex people rematch                               match every indexed face again (after a manual change)

On AWS, putting a photo under s3://BUCKET/people/<name>/ enrols it (MEDIAINDEX_PEOPLE_PREFIX changes the prefix);
deleting the photo forgets the faces it enrolled.
"""


class LazyAnalyzer:
    """Builds the analyzer (loading models takes seconds) only when a command really analyses a picture."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._real: Any = None

    @property
    def real(self) -> Any:
        if self._real is None:
            from mediaindex.bootstrap import build_analyzer

            self._real = build_analyzer(self.settings)
        return self._real

    @property
    def name(self) -> str:
        return self.real.name

    def analyze(self, picture: Any) -> Any:
        return self.real.analyze(picture)


def add_people_options(parser: argparse.ArgumentParser) -> None:
    add_backend_options(parser)
    parser.add_argument("--threshold", type=float, metavar="SIMILARITY",
                        help="minimum similarity 0-100 to call two faces the same person (default 80, "
                             "MEDIAINDEX_FACE_MATCH_THRESHOLD)")


def build_people_service(args: argparse.Namespace) -> Any:
    from mediaindex.bootstrap import build_people, build_pipeline

    settings = settings_from(args)
    threshold = getattr(args, "threshold", None)
    if threshold is not None:
        if not 0 <= threshold <= 100:
            raise ConfigurationError(f"--threshold {threshold}: a similarity between 0 and 100")
        settings = settings.with_overrides(face_match_threshold=threshold)
    if not settings.has("people"):
        settings = settings.with_overrides(features=(*settings.features, "people"))
    pipeline = build_pipeline(settings, storage=RoutingStorage(), analyzer=LazyAnalyzer(settings))
    if pipeline.faces is None:
        raise ConfigurationError("no face collection is available for this analyzer (install the local extra)")
    return build_people(settings, pipeline)


def read_picture(path: Path, max_pixels: int) -> Any:
    from mediaindex.media.picture import Picture

    try:
        data = path.expanduser().read_bytes()
    except FileNotFoundError:
        raise ObjectNotFound(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigurationError(f"{path} is a folder: give image files") from None
    return Picture.from_bytes(data, max_pixels)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "people", help="enrol, list and forget known people; name clusters of unnamed faces",
        description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="people_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    add = actions.add_parser(
        "add", help="enrol a person from one or more photos", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Enrol NAME from the largest face of each IMAGE, then name that person in every indexed file.",
        epilog='example:\n  mediaindex people add "Barack Obama" obama_1.jpg obama_2.jpg',
    )
    add.add_argument("name", help="the person's name, as search will show it")
    add.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="photos with the person's face")
    add_people_options(add)
    add.set_defaults(func=run_add)

    lst = actions.add_parser("list", help="enrolled people and how many faces each",
                             epilog="example:\n  mediaindex people list --json",
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    add_people_options(lst)
    lst.set_defaults(func=run_list)

    rm = actions.add_parser(
        "remove", help="forget a person: faces out of the collection, name out of every document",
        epilog='example:\n  mediaindex people remove "Barack Obama"', formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rm.add_argument("name")
    add_people_options(rm)
    rm.set_defaults(func=run_remove)

    cl = actions.add_parser(
        "clusters", help="groups of look-alike faces that nobody has named (local analyzer)",
        description="Faces of indexed files that match no enrolled person, grouped by likeness. Name a group with "
                    "`mediaindex people name-cluster ID NAME`.",
        epilog="example:\n  mediaindex people clusters --min-size 3", formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cl.add_argument("--min-size", type=int, default=2, metavar="N", help="only groups in at least N files (default 2)")
    add_people_options(cl)
    cl.set_defaults(func=run_clusters)

    nc = actions.add_parser(
        "name-cluster", help="name every face of a cluster at once (local analyzer)",
        epilog='example:\n  mediaindex people name-cluster c12 "Steve Wozniak"',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    nc.add_argument("cluster", help="a cluster id from `mediaindex people clusters`, e.g. c12")
    nc.add_argument("name")
    add_people_options(nc)
    nc.set_defaults(func=run_name_cluster)

    rematch = actions.add_parser(
        "rematch", help="match the faces of every indexed file again against the enrolled people",
        epilog="example:\n  mediaindex people rematch --threshold 85", formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_people_options(rematch)
    rematch.set_defaults(func=run_rematch)


def run_add(args: argparse.Namespace) -> int:
    people = build_people_service(args)
    results: list[dict[str, Any]] = []
    failed = 0
    for path in args.images:
        source = str(path.expanduser().absolute())
        try:
            picture = read_picture(path, people.settings.max_pixels)
            results.append({"image": source, **people.enroll(args.name, picture, source).to_dict()})
        except (BadMedia, ObjectNotFound) as e:
            failed += 1
            results.append({"image": source, "error": str(e)})
    if args.json:
        print_json({"name": " ".join(args.name.split()), "results": results})
    else:
        for r in results:
            if "error" in r:
                print(f"{r['image']}: not enrolled: {r['error']}", file=sys.stderr)
            else:
                print(f"{r['image']}: enrolled as {r['name']}; {r['documents_updated']} indexed file(s) updated")
    return 1 if failed else 0


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
    if args.json:
        print_json(result)
    else:
        print(f"{args.name}: {result['faces_removed']} face(s) forgotten; {result['documents_updated']} indexed file(s) updated")
    return 0 if result["faces_removed"] or result["documents_updated"] else 1


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
    if args.json:
        print_json(result)
    else:
        print(f"{result['cluster']} is now {result['name']} ({result['faces_enrolled']} face(s) enrolled); "
              f"{result['documents_updated']} indexed file(s) updated")
    return 0


def run_rematch(args: argparse.Namespace) -> int:
    report = build_people_service(args).rematch()
    if args.json:
        print_json(report.to_dict())
    else:
        print(f"{report.documents_checked} file(s) with faces checked, {report.documents_updated} updated, "
              f"{report.documents_skipped} could not be matched again")
    return 0

