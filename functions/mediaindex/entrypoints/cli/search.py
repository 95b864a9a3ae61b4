"""`mediaindex search [QUERY]`: find files by what is in them.

QUERY is what you are looking for, in words ("a dog on the beach", "paris 2019"): the best matches come first. The
query syntax (field:value, AND, OR, NOT and parentheses) works too, and every flag narrows it further. Only indexed
files are shown; --failed adds the files that could not be analysed.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Literal

from mediaindex.domain.document import SearchDocument
from mediaindex.domain.expressions import FACETS, Concept, EmotionIs, FaceHas, walk
from mediaindex.domain.query import Query
from mediaindex.domain.vocabulary import Status
from mediaindex.entrypoints.cli.common import UsageError, add_backend_options, app_from, print_json, shown
from mediaindex.entrypoints.cli.query_flags import query_from_flags
from mediaindex.ports import SearchResult
from mediaindex.services import search as searching
from mediaindex.services.look_alikes import has_similar

EPILOG = """\
free text (the default: say it as you would; best matches first):
  a dog on the beach        stop words left out; "beach" also finds a seashore, "lake" a lakeside
  pictures of my car        words no file has are left out and named; with none having every word, the
                            files with most of them come first
  paris 2019, new york      where (from GPS: town, city, region, country) and when (a year, "december 2019",
  christmas, last summer    "summer 2020", "christmas", "last year") it was taken
  iphone, selfie, screenshots, videos     the camera; the kind of file

query syntax (exact fields, as before):
  label:dog>=90             a label with at least 90% confidence
  person:"Barack Obama"     a known person; person:obama, person:bar (the start of a word) too
  person:obama person:biden only:people     both in one file, and nobody else known
  emotion:happy   smile:true   gender:female   age:20..30
  text:invoice              words in the picture's text, or in its path
  place:"new york"   camera:pixel   kind:screenshot
  type:video   path:/home/ada/Pictures/2024   taken:2024-06   taken:2023..2024
  similar:holidays/beach.jpg   files that look like that one (a path, s3://bucket/key or document id), most
                            alike first, combinable with the rest (similar:a.jpg type:image taken:2020);
                            needs the local analyzer's look vectors (`mediaindex duplicates` finds copies)
  "golden retriever"        exactly that name: no related labels, no stop words left out
  dog AND NOT cat           AND (the default between terms), OR, NOT, ( )

examples:
  mediaindex search dog on the beach
  mediaindex search paris 2019 --facets                 the places facet counts towns
  mediaindex search --person "Barack Obama" --limit 5
  mediaindex search 'label:dog>=90 OR label:cat>=90' --type image --sort=-taken_at
  mediaindex search --emotion happy --path ~/Pictures/2024 --facets
  mediaindex search --similar ~/Pictures/beach.jpg taken:2020   look-alikes of a photo, taken in 2020
  mediaindex search --failed 'status:failed'          files that could not be analysed, and why
  mediaindex search dog --json | jq -r '.hits[].key'    {"total": N, "hits": [...], "not_understood": [...]}

search by description (vectors; off unless turned on):
  Free text is matched by keywords (labels, people, places, text). To also find pictures by what the words mean
  ("a red car at night", "kids playing in the snow"), turn on an image-text model and index again:
    on one machine:  mediaindex models install openclip-vit-b-32    (a CLIP model, downloaded only then)
                     MEDIAINDEX_MODELS_DIR=DIR MEDIAINDEX_DESCRIPTIONS=clip:openclip-vit-b-32 mediaindex index PATH
    on AWS:          MEDIAINDEX_DESCRIPTIONS=bedrock (Amazon Titan Multimodal Embeddings; the stack's
                     `descriptions` setting, docs/deploy.md)
  The best keyword matches and the closest pictures are then blended (docs/search.md).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="find files by what is in them, where and when (free text, ranked)",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("query", nargs="*", default=[], metavar="QUERY",
                   help="what to find, in words or the query syntax (see below); optional")
    p.add_argument("--label", action="append", default=[], metavar="L", help="has this label (repeatable: all of them)")
    p.add_argument("--person", action="append", default=[], metavar="P", help="shows this known person (repeatable)")
    p.add_argument("--min-confidence", type=float, metavar="N",
                   help="labels count only at N percent confidence or more (0-100)")
    p.add_argument("--emotion", action="append", default=[], metavar="E",
                   help="a face shows this emotion: happy, sad, angry, confused, disgusted, surprised, calm, fear")
    p.add_argument("--text", metavar="T", help="these words occur in the picture's text or in its path")
    p.add_argument("--type", choices=("image", "video"), dest="media_type", help="only images or only videos")
    p.add_argument("--path", metavar="PREFIX", help="only files under this folder (or S3 key prefix)")
    p.add_argument("--similar", metavar="FILE",
                   help="files that look like this indexed one, most alike first (the same as similar:FILE)")
    p.add_argument("--limit", type=int, default=20, metavar="N", help="at most N hits (default 20)")
    p.add_argument("--offset", type=int, default=0, metavar="N", help="skip the first N hits (paging)")
    p.add_argument("--sort", metavar="FIELD",
                   help="relevance (the default: best match first; without search words, newest taken first), date (taken, newest first), taken_at, indexed_at or key; FIELD:desc or --sort=-FIELD for descending")
    p.add_argument("--facets", action="store_true", help=f"count matches by {', '.join(FACETS)}")
    p.add_argument("--failed", action="store_true", help="include files that could not be analysed")
    add_backend_options(p)
    p.set_defaults(func=run)


def path_prefix(text: str | None) -> str | None:
    """A folder as the index keys it (absolute, normalised); an S3 key prefix as given."""
    if not text:
        return None
    if text.startswith("s3://"):
        return text[len("s3://"):].partition("/")[2]
    if text.startswith(("/", "~", ".")) or os.path.exists(text):
        path = os.path.abspath(os.path.expanduser(text))
        return path + os.sep if os.path.isdir(path) and not path.endswith(os.sep) else path
    return text


from mediaindex.domain.capabilities import unsupported  # noqa: E402 - beside its one use


def build_query(args: argparse.Namespace) -> Query:
    try:
        return query_from_flags(
            " ".join(args.query) or None, labels=args.label, people=args.person, min_confidence=args.min_confidence,
            emotions=args.emotion, text=args.text, media_type=args.media_type, prefix=path_prefix(args.path),
            limit=args.limit, offset=args.offset, sort=args.sort, include_failed=args.failed, facets=args.facets,
            similar=args.similar,
        )
    except ValueError as e:  # ParseError included: its message points at the spot
        raise UsageError(f"search: {e}") from None


def query_has_words(query: Query) -> bool:
    """Free text to describe: only then is the description embedder built (a CLIP model checked and loaded)."""
    return any(isinstance(e, Concept) for e in walk(query.where))


def run(args: argparse.Namespace) -> int:
    query = build_query(args)
    app = app_from(args, read_only=True)
    index = app.index
    index.ensure_ready()
    try:
        similar, words = has_similar(query.where), query_has_words(query)
        answer = searching.run_search(
            index, query, describer=app.describer if words and not similar else None,
            vectors=app.vectors if similar or (words and app.settings.descriptions != "off") else None)
    except ValueError as e:  # what the backend refused of the query (the parser's limits catch the rest first)
        raise UsageError(f"search: {e}") from None
    result, query = answer.result, answer.query
    # what the analyzer never reports is only asked about faces and emotions (and asking loads the analyzer's table)
    faces = any(isinstance(e, (FaceHas, EmotionIs)) for e in walk(query.where))
    warnings = unsupported(query, app.capabilities) if faces else []
    for warning in warnings:  # an empty result would look like an answer; it is not one
        print(f"mediaindex: note: {warning}", file=sys.stderr)
    suggested = searching.suggestions(index, query) if not result.total else None
    try:
        if args.json:
            out: dict[str, Any] = {"total": result.total, "hits": result.hits}
            if args.facets:
                out["facets"] = result.facets
            if warnings:
                out["warnings"] = warnings
            if suggested and (suggested["labels"] or suggested["people"]):
                out["suggestions"] = suggested
            if answer.not_understood:
                out["not_understood"] = list(answer.not_understood)
            if answer.relaxed:
                out["relaxed"] = True
            if answer.described:
                out["described"] = answer.described
            print_json(out)
        else:
            print_hits(result, query, suggested=suggested)
            if answer.not_understood and result.total:  # with nothing found, "no matches" and the closest say it
                print(f"not understood, left out: {', '.join(answer.not_understood)}")
            if answer.relaxed:
                print(f"no file has all of {', '.join(answer.concepts)}: these have some of them, the most first")
            if answer.described and result.total:
                print(f"ranked by keywords and by description ({answer.described})")
        sys.stdout.flush()
    except BrokenPipeError:  # `mediaindex search dog | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def describe_hit(doc: SearchDocument, label_count: int = 4) -> str:
    where = shown(f"{doc['bucket']}/{doc['key']}" if doc.get("bucket") else doc.get("key"))
    if doc.get("status") == Status.FAILED:
        return f"{where}  FAILED: {shown(doc.get('error'))}"
    labels = sorted(doc.get("labels") or [], key=lambda label: -(label.get("confidence") or 0))[:label_count]
    parts = [", ".join(f"{label['name']} {label.get('confidence') or 0:.0f}%" for label in labels) or "no labels"]
    if doc.get("people"):
        spans = video_spans(doc, "people")
        parts.append("people: " + ", ".join(f"{name} {spans[name]}" if spans.get(name) else name for name in doc["people"]))
    faces = doc.get("face_count") or 0
    if faces and not doc.get("people"):
        parts.append(f"{faces} face{'s' if faces != 1 else ''}")
    if doc.get("media_type") == "video":
        parts.append("video")
    similarity: Any = doc.get("similarity")  # a `similar:` search: how alike (cosine of the look vectors)
    if similarity is not None:
        parts.append(f"similarity {float(similarity):.2f}")
    return f"{where}  [{'; '.join(parts)}]"


def clock(seconds: float) -> str:
    """0:07, 12:30, 1:02:03: a time in a video, to the second."""
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def video_spans(doc: SearchDocument, kind: Literal["people", "labels"]) -> dict[str, str]:
    """For a video: each name's segments as text ("0:00-0:06, 1:12-1:30"), so a search says when someone appears."""
    segments = ((doc.get("video") or {}).get("segments") or {}).get(kind) or []
    out: dict[str, list[str]] = {}
    for segment in segments:
        out.setdefault(segment["name"], []).append(f"{clock(segment['start'])}-{clock(segment['end'])}")
    return {name: "(" + ", ".join(spans) + ")" for name, spans in out.items()}


def print_hits(result: SearchResult, query: Query, out: Any = None, suggested: dict[str, list[str]] | None = None) -> None:
    out = out or sys.stdout
    reasons = searching.explain_hits(query, result.hits)
    only_words = 0
    for doc in result.hits:
        why = reasons.get(doc["id"])
        # a plain word found only in the file name or the text: say so, facets (labels, people) do not count it
        note = ""
        if why and not {"label", "person", "face", "place", "camera", "kind"} & set(why):
            note = f"  (matched by its {' and '.join(why)} only)"
            only_words += 1
        print(describe_hit(doc) + note, file=out)
    shown = len(result.hits)
    if not result.total:
        print("no matches", file=out)
        if suggested and (suggested["labels"] or suggested["people"]):
            closest = [f"label {n}" for n in suggested["labels"]] + [f'person "{n}"' for n in suggested["people"]]
            print("closest: " + ", ".join(closest), file=out)
    elif query.limit == 0:
        print(f"-- {result.total} match{'es' if result.total != 1 else ''}", file=out)
    else:
        first = query.offset + 1 if shown else query.offset
        more = "" if query.offset + shown >= result.total else f"; --offset {query.offset + shown} for more"
        print(f"-- {first}-{query.offset + shown} of {result.total} match{'es' if result.total != 1 else ''}{more}",
              file=out)
    if only_words and result.facets:
        print(f"({only_words} shown matched only by file name or text, which the label facets do not count)", file=out)
    for name, counts in result.facets.items():
        if counts:
            print(f"{name}: " + ", ".join(f"{value} ({n})" for value, n in counts.items()), file=out)
