"""`mediaindex stats`: what the index holds: documents by status and media type, the commonest labels, the
people found most often, and the latest files that could not be analysed (with why)."""

from __future__ import annotations

import argparse
from typing import Any

from mediaindex.entrypoints.cli.common import add_backend_options, app_from, print_json, shown

EPILOG = """\
examples:
  mediaindex stats
  mediaindex stats --json | jq .failures
  mediaindex stats --index http://localhost:9200
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="counts, top labels, people and failures of the index",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_backend_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    app = app_from(args, read_only=True)
    app.index.ensure_ready()
    stats = dict(app.index.stats())
    stats["index"] = app.settings.resolved_index_url
    if args.json:
        print_json(stats)
    else:
        print(describe(stats))
    return 0


def describe(s: dict[str, Any]) -> str:
    lines = [f"index: {s['index']}",
             f"documents: {s['documents']:,} ({s['indexed']:,} indexed, {s['failed']:,} failed; "
             f"{s['deleted']:,} removed files remembered)"]
    if s.get("media_types"):
        lines.append("media: " + ", ".join(f"{k} {v:,}" for k, v in s["media_types"].items()))
    if s.get("top_labels"):
        lines.append("top labels (files): " + ", ".join(f"{name} ({n})" for name, n in s["top_labels"]))
    lines.append("people (files they are in): " + (", ".join(f"{name} ({n})" for name, n in s["people"]) if s.get("people") else "none yet"
                               " (enrol with: mediaindex people add NAME PHOTO...)"))
    if s.get("failures"):
        lines.append("latest failures:")
        lines += [f"  {shown(f['key'])}: {shown(f['error'])}" for f in s["failures"]]
    return "\n".join(lines)
